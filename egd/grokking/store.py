"""Run results as data: one JSON + one NPZ per run, keyed by config; checkpoints.

Layout in a results directory, for a run named ``run_name(config)`` (see
:mod:`egd.config`):

* ``<name>.json`` — config, summary (epochs/seconds to threshold, status), environment
  (torch version, device name, git commit). Written last: its presence marks a finished
  run.
* ``<name>.npz`` — per-epoch history (compact: correct-prediction *counts* as integers,
  losses/norms/seconds as float32) and the recorded gradient spectra.
* ``<name>.ckpt.pt`` — checkpoint of an unfinished run (deleted when the run finishes).

Every file is written to a temporary name in the same directory and moved into place
with :func:`os.replace`, so a kill never leaves a half-written file under the final name.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig, config_key, run_name
from .files import atomic_write_bytes, atomic_write_json

#: History columns and their on-disk dtypes. ``*_correct`` are counts of correct
#: predictions (exact integers; files written before 2026-12 store them as ``uint16``,
#: which numpy widens on arithmetic, so old and new files read alike).
HISTORY_DTYPES: dict[str, str] = {
    "train_correct": "uint32",
    "test_correct": "uint32",
    "train_loss": "float32",
    "test_loss": "float32",
    "hidden_norm": "float32",
    "output_norm": "float32",
    "seconds": "float32",
    "transform_active": "bool",
}


@dataclass
class History:
    """Per-epoch measurements of a run, one list per :data:`HISTORY_DTYPES` column.

    Entry ``e`` of each list is measured after epoch ``e + 1``: correct-prediction counts
    on the train and test sets, mean losses, Frobenius norms of the model's
    ``hidden_weight()`` and ``output_weight()``, seconds since the start, and whether the
    transform was on during that epoch.
    """

    train_correct: list[int] = field(default_factory=list)
    test_correct: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    hidden_norm: list[float] = field(default_factory=list)
    output_norm: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    transform_active: list[bool] = field(default_factory=list)

    def append(self, **row) -> None:
        if row.keys() != HISTORY_DTYPES.keys():
            raise ValueError(f"a history row needs exactly the columns {sorted(HISTORY_DTYPES)}, got {sorted(row)}")
        for name, value in row.items():
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.test_correct)

    def to_lists(self) -> dict[str, list]:
        return {name: list(getattr(self, name)) for name in HISTORY_DTYPES}

    @classmethod
    def from_lists(cls, lists: dict[str, list]) -> History:
        return cls(**{name: list(lists[name]) for name in HISTORY_DTYPES})

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name), dtype=HISTORY_DTYPES[name]) for name in HISTORY_DTYPES}


SCHEMA_VERSION = 1


@dataclass
class RunResult:
    """A finished (or interrupted) run.

    ``history[name]``: arrays of length ``epochs_run``, entry ``e`` measured after
    epoch ``e + 1``. ``spectra``: ``(R, min(m, n))`` singular values (descending) of
    the hidden layer's gradient at the first step of epochs ``spectra_epochs`` (0-based
    epoch index, i.e. before that epoch's first update). ``summary``: epochs and seconds to
    the threshold, the final accuracies, the number of train and test examples, the status.

    Returned by :func:`egd.grokking.train` and :func:`egd.grokking.load_run`.

    Examples:
        >>> from egd.grokking import make_config, train
        >>> result = train(make_config("parity", "vanilla", preset="smoke", max_epochs=2))
        >>> result.epochs.tolist(), result.test_acc.shape, result.name.startswith("parity-n100k3-vanilla-s0-")
        ([1, 2], (2,), True)
    """

    config: RunConfig
    history: dict[str, np.ndarray]
    spectra: np.ndarray
    spectra_epochs: np.ndarray
    summary: dict
    env: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """File stem of the run: task, shape, method, seed and key."""
        return run_name(self.config)

    @property
    def key(self) -> str:
        """Hash of the config: equal configs have equal keys."""
        return config_key(self.config)

    @property
    def epochs(self) -> np.ndarray:
        """1-based epoch numbers of the history rows."""
        return np.arange(1, len(self.history["test_correct"]) + 1)

    @property
    def train_acc(self) -> np.ndarray:
        return self.history["train_correct"] / self.summary["n_train"]

    @property
    def test_acc(self) -> np.ndarray:
        return self.history["test_correct"] / self.summary["n_test"]

    @property
    def epochs_to_threshold(self) -> int | None:
        """First epoch whose test accuracy reached the config's threshold; ``None``: never."""
        return self.summary["epochs_to_threshold"]

    @property
    def seconds_to_threshold(self) -> float | None:
        """Training seconds until then; ``None``: never."""
        return self.summary["seconds_to_threshold"]


def save_run(result: RunResult, out_dir: str | os.PathLike) -> Path:
    """Write ``<name>.npz`` then ``<name>.json`` atomically; return the JSON path."""
    out = Path(out_dir)
    stem = result.name
    buf = io.BytesIO()
    arrays = {k: np.asarray(result.history[k], dtype=HISTORY_DTYPES[k]) for k in HISTORY_DTYPES}
    arrays["spectra"] = np.asarray(result.spectra, dtype=np.float32)
    arrays["spectra_epochs"] = np.asarray(result.spectra_epochs, dtype=np.int32)
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(out / f"{stem}.npz", buf.getvalue())
    record = {
        "schema": SCHEMA_VERSION,
        "name": stem,
        "key": result.key,
        "config": result.config.to_dict(),
        "summary": result.summary,
        "env": result.env,
    }
    json_path = out / f"{stem}.json"
    atomic_write_json(json_path, record)
    return json_path


def load_run(path: str | os.PathLike) -> RunResult:
    """Read a run from its ``.json`` path (the ``.npz`` next to it holds the arrays).

    Args:
        path: the run's JSON file.

    Returns:
        The :class:`RunResult`.

    Raises:
        FileNotFoundError: the JSON or the NPZ file is missing.
        ValueError: the stored config is no longer valid.

    Examples:
        >>> import pathlib, tempfile
        >>> from egd.grokking import load_run, make_config, train
        >>> config = make_config("parity", "vanilla", preset="smoke", max_epochs=2)
        >>> with tempfile.TemporaryDirectory() as results:
        ...     result = train(config, out_dir=results)
        ...     loaded = load_run(pathlib.Path(results) / f"{result.name}.json")
        >>> loaded.config == config, loaded.test_acc.shape
        (True, (2,))
    """
    path = Path(path)
    record = json.loads(path.read_text())
    with np.load(path.with_suffix(".npz")) as npz:
        history = {k: npz[k] for k in HISTORY_DTYPES}
        spectra, spectra_epochs = npz["spectra"], npz["spectra_epochs"]
    return RunResult(RunConfig(**record["config"]), history, spectra, spectra_epochs,
                     record["summary"], record["env"])


def load_runs(results_dir: str | os.PathLike, **where) -> list[RunResult]:
    """Every finished run in ``results_dir`` whose config matches ``where`` (field=value)."""
    runs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        config = json.loads(path.read_text())["config"]
        if all(config.get(k) == v for k, v in where.items()):
            runs.append(load_run(path))
    return runs


def find_run(config: RunConfig, results_dir: str | os.PathLike) -> RunResult | None:
    """The finished run of exactly this config (by key) in ``results_dir``, or None."""
    path = Path(results_dir) / f"{run_name(config)}.json"
    return load_run(path) if path.exists() else None


def checkpoint_path(config: RunConfig, results_dir: str | os.PathLike) -> Path:
    return Path(results_dir) / f"{run_name(config)}.ckpt.pt"


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    """``torch.save`` of the engine state, atomically."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, read with ``weights_only=True``: tensors
    and plain Python types only, so a crafted file cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)
