"""Sphinx extension: links from the API reference back to the chapters, and a completeness check.

* Backlinks. Chapters link the reference entries of the functions they call with roles such as
  ``{py:func}`toymodel.plateau_length```. When the book is read, this extension scans every
  page outside ``api/`` for those roles and appends "Used in: <chapter>, ..." to the docstring
  of each entry named, so the links back are computed from the chapters and cannot drift.
* Completeness. After reading, every name of ``toymodel.__all__`` and ``egd.__all__`` must
  have an entry in the reference (a module, function, class or data object of that name);
  a missing one is a warning, which ``-W`` turns into a failed build.

:func:`chapter_uses` and :func:`missing_public_names` are plain functions, tested in
``tests/book/test_api_reference.py``.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The packages whose ``__all__`` the reference must cover.
PUBLIC_PACKAGES = ("toymodel", "egd")
#: Pages of the reference itself (their roles are not chapter uses).
API_DIR = "api"

_ROLE = re.compile(r"\{py:(?:func|class|mod|meth|obj|data|attr|exc)\}`([^`]+)`")


def role_target(text: str) -> str:
    """The target of a role's text: ``title <target>`` -> target, ``~a.b`` -> ``a.b``."""
    match = re.search(r"<([^<>]+)>\s*$", text)
    target = match.group(1) if match else text
    return target.strip().lstrip("~!").removesuffix("()")


def chapter_uses(srcdir: str | Path, exclude_dirs: Iterable[str] = (API_DIR, "_build")) -> dict[str, list[str]]:
    """Python target -> the docnames (sorted) of the pages outside the reference whose text names it."""
    srcdir = Path(srcdir)
    uses: dict[str, set[str]] = {}
    # os.walk follows the book's link to ../notebooks (Path.rglob does not)
    paths = [Path(root) / name for root, _, files in os.walk(srcdir, followlinks=True)
             for name in files if name.endswith(".md")]
    for path in sorted(paths):
        rel = path.relative_to(srcdir)
        if rel.parts[0] in exclude_dirs or any(part.startswith((".", "_")) for part in rel.parts):
            continue
        docname = rel.with_suffix("").as_posix()
        for match in _ROLE.finditer(path.read_text(encoding="utf-8")):
            uses.setdefault(role_target(match.group(1)), set()).add(docname)
    return {target: sorted(docs) for target, docs in uses.items()}


def backlink_lines(docnames: Iterable[str]) -> list[str]:
    links = ", ".join(f":doc:`/{doc}`" for doc in docnames)
    return ["", f"*Used in:* {links}", ""] if links else []


def public_names(packages: Iterable[str] = PUBLIC_PACKAGES) -> list[str]:
    """``package.name`` for every name of each package's ``__all__`` (``__version__`` left out)."""
    names = []
    for package in packages:
        module = importlib.import_module(package)
        names += [f"{package}.{name}" for name in module.__all__ if not name.startswith("__")]
    return names


def missing_public_names(documented: Mapping[str, object] | Iterable[str],
                         packages: Iterable[str] = PUBLIC_PACKAGES) -> list[str]:
    """The public names that have no entry among ``documented`` (full Python names)."""
    documented = set(documented)
    return [name for name in public_names(packages) if name not in documented]


def _add_backlinks(app, what, name, obj, options, lines) -> None:
    docs = app.env.api_chapter_uses.get(name, []) if hasattr(app.env, "api_chapter_uses") else []
    lines.extend(backlink_lines(docs))


def _scan(app) -> None:
    app.env.api_chapter_uses = chapter_uses(app.srcdir)


def _reference_outdated(app, env, added, changed, removed):
    # a chapter's roles feed the reference's backlinks: reread the reference whenever a page changes
    if added or changed or removed:
        return [doc for doc in env.found_docs if doc.startswith(API_DIR + "/")]
    return []


def _check_complete(app, env) -> None:
    documented = env.get_domain("py").objects
    for name in missing_public_names(documented):
        logger.warning("public name %s has no entry in the API reference (book/%s/)", name, API_DIR,
                       type="api_reference", subtype="missing")


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("builder-inited", _scan)
    app.connect("env-get-outdated", _reference_outdated)
    # after napoleon (priority 500) turned the numpy sections into reST
    app.connect("autodoc-process-docstring", _add_backlinks, priority=900)
    app.connect("env-check-consistency", _check_complete)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
