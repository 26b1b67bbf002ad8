"""The book's settings: the profile, and where committed results and benchmarks are.

* ``EGD_PROFILE``: ``quick`` (default; what CI builds) or ``full`` (paper scale).
* ``EGD_RESULTS_DIR``: the results folder; default ``results/`` of the repository that
  contains the working directory (the chapters execute in ``book/notebooks``).
* ``EGD_BENCHMARKS_DIR``: the benchmark JSON folder; default ``benchmarks/results/`` there.

Nothing is derived from the package's own location, so an installed package reads the
results of whichever checkout the book is built in.
"""

from __future__ import annotations

import os
from pathlib import Path

from egd.grokking.runsets import RESULTS_ENV

__all__ = ["PROFILES", "PROFILE_ENV", "BENCHMARKS_ENV", "profile", "repo_root", "results_dir", "benchmarks_dir"]

PROFILES = ("quick", "full")
PROFILE_ENV = "EGD_PROFILE"
BENCHMARKS_ENV = "EGD_BENCHMARKS_DIR"
#: A folder is the repository root when it holds all of these.
ROOT_MARKERS = ("pyproject.toml", "results", "book")


def profile() -> str:
    """``$EGD_PROFILE`` (default ``quick``); ``ValueError`` for anything but quick or full."""
    value = os.environ.get(PROFILE_ENV) or "quick"
    if value not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {PROFILES}, got {value!r}")
    return value


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds
    ``pyproject.toml``, ``results/`` and ``book/``; ``FileNotFoundError`` if there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    raise FileNotFoundError(f"no repository root (a folder with {', '.join(ROOT_MARKERS)}) at or above {here}; "
                            f"set {RESULTS_ENV} and {BENCHMARKS_ENV}")


def results_dir() -> Path:
    """``$EGD_RESULTS_DIR``, else ``results/`` of :func:`repo_root`."""
    value = os.environ.get(RESULTS_ENV)
    return Path(value) if value else repo_root() / "results"


def benchmarks_dir() -> Path:
    """``$EGD_BENCHMARKS_DIR``, else ``benchmarks/results/`` of :func:`repo_root`."""
    value = os.environ.get(BENCHMARKS_ENV)
    return Path(value) if value else repo_root() / "benchmarks" / "results"
