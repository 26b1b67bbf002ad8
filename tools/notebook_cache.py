"""Drop a chapter's cached execution when the package code it imports has changed.

jupyter-cache keys a notebook's cached outputs on its code cells only, so a change to
``egd`` or ``toymodel`` that breaks a chapter would go unnoticed while the chapter's own
code stays the same. This script keeps, next to the cache, the digest of the package
sources each chapter imports (``package-stamps.json``); where a digest changed it removes
that chapter's cached execution, so ``make test`` and ``make book`` execute it again.

A chapter that imports ``egd`` depends on all of ``egd`` (and on ``toymodel`` too when it
imports :mod:`egd.validation` or :mod:`egd.book`, which import it); one that imports
``toymodel`` depends on ``toymodel``.

The book's pages outside ``notebooks/`` that are executed (:data:`PAGES`: the landing page's
findings, the status page's scoreboard) summarise the committed results, and the chapters that
read committed files show them (their code calls ``results_dir()`` or ``benchmarks_dir()``, or
imports a module of ``egd.book`` that calls them itself, such as ``toy_simulation``), so their
digest also covers the files under ``results/`` and ``benchmarks/results/``: a new or changed
result or benchmark file executes them again. Only files git tracks or would track count:
checkpoints, locks, temporary files and logs that training writes there (git-ignored) change
nothing the book shows, so a build during training keeps its cache.

Usage: ``python tools/notebook_cache.py CACHE_DIR`` (the Makefile and the notebook tests
call it; it prints one line per chapter it invalidated).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
BOOK_NOTEBOOKS = REPO / "book" / "notebooks"  # the book reads the chapters through this symlink
STAMPS = "package-stamps.json"
PACKAGES = ("egd", "toymodel")
#: Executed pages of the book outside notebooks/ (read by the book where they are); they read results/.
PAGES = (REPO / "book" / "intro.md", REPO / "book" / "status.md")
RESULTS = REPO / "results"
BENCHMARKS = REPO / "benchmarks" / "results"
#: A call that reads the committed results or benchmark records (egd.book.settings defines them).
READS = re.compile(r"\b(?:results_dir|benchmarks_dir)\s*\(")


def reading_modules(root: Path = REPO) -> set[str]:
    """The modules of ``egd.book`` that read committed files, by module name: those that call
    :data:`READS` outside a ``def`` of that name, and those that import such a module (closed over
    the package's own imports)."""
    code = {path.stem: path.read_text() for path in sorted((root / "egd" / "book").glob("*.py"))}
    found = {name for name, text in code.items()
             if READS.search(re.sub(r"^\s*def\s+(?:results_dir|benchmarks_dir)\s*\(", "", text, flags=re.M))}
    imports = {name: imported_book_modules(text) for name, text in code.items()}
    while True:
        more = {name for name in code if name not in found and imports[name] & found}
        if not more:
            return found
        found |= more


def code_of(text: str) -> str:
    """The code cells of a MyST chapter (their options header and IPython magics left out), or ``text``
    itself when it has no code cells (plain Python)."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    if not cells:
        return text
    # a cell's options: a YAML header between --- lines, or short ":key: value" lines at its top
    cells = [re.sub(r"\A(?:---\n.*?^---\n|(?::[\w-]+:[^\n]*\n)+)", "", c, flags=re.M | re.S) for c in cells]
    return "\n".join(line for c in cells for line in c.splitlines() if not line.lstrip().startswith(("%", "!")))


def imported_book_modules(code: str) -> set[str]:
    """The modules of ``egd.book`` that Python ``code`` imports (``from egd.book import x``,
    ``import egd.book.x``, ``from egd.book.x import y``, and inside the package ``from . import x``
    or ``from .x import y``), in any layout; nothing for code that does not parse."""
    try:
        nodes = list(ast.walk(ast.parse(code)))
    except SyntaxError:
        return set()
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("egd.book.")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if (node.level == 1 and not module) or (node.level == 0 and module == "egd.book"):
                found |= {a.name for a in node.names}
            elif node.level == 1:
                found.add(module.split(".")[0])
            elif node.level == 0 and module.startswith("egd.book."):
                found.add(module.split(".")[2])
    return found


def reads_committed_files(text: str, modules: set[str] = frozenset()) -> bool:
    """Whether a chapter's code reads the committed results or benchmark records: it calls
    :data:`READS`, or imports one of ``modules`` (:func:`reading_modules`)."""
    return READS.search(text) is not None or bool(imported_book_modules(code_of(text)) & set(modules))


def imported_packages(text: str) -> set[str]:
    """The project packages a chapter's code imports (directly or through egd.validation / egd.book)."""
    found = {m.group(1) for m in re.finditer(r"^\s*(?:from|import)\s+(egd|toymodel)\b", text, flags=re.M)}
    if re.search(r"^\s*(?:from|import)\s+egd\.(?:validation|book)\b"
                 r"|^\s*from\s+egd\s+import\s+.*\b(?:validation|book)\b", text, flags=re.M):
        found.add("toymodel")
    return found


def package_digest(packages: set[str], root: Path = REPO) -> str:
    """sha256 over the paths and bytes of every ``.py`` file of ``packages``."""
    digest = hashlib.sha256()
    for name in sorted(packages):
        for path in sorted((root / name).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def shown_files(folder: Path) -> list[Path]:
    """The files under ``folder`` that git tracks or would track (not ignored), sorted; every file
    when ``folder`` is not in a git work tree."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    # the work tree is found from the folder, not from a GIT_DIR a caller (a git hook) may have set
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "."],
                             cwd=folder, capture_output=True, check=True, env=env).stdout
    except (OSError, subprocess.CalledProcessError):  # no git, or not a work tree
        return sorted(p for p in folder.rglob("*") if p.is_file())
    paths = {folder / os.fsdecode(name) for name in out.split(b"\0") if name}
    return sorted(p for p in paths if p.is_file())  # a tracked file deleted in the work tree is gone


def folder_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of :func:`shown_files` of ``folder`` (empty if missing)."""
    digest = hashlib.sha256()
    for path in shown_files(folder):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def invalidate_stale(cache_dir: str | Path, *, notebooks: Path = NOTEBOOKS, book_notebooks: Path = BOOK_NOTEBOOKS,
                     root: Path = REPO, pages: tuple[Path, ...] = PAGES, results: Path = RESULTS,
                     benchmarks: Path = BENCHMARKS) -> list[str]:
    """Remove the cached execution of every chapter whose package digest changed, and of every
    page of ``pages`` or chapter that reads committed files (:func:`reads_committed_files`)
    whose package, ``results`` or ``benchmarks`` digest changed; return their names.

    ``notebooks``: the chapters' sources; ``book_notebooks``: the folder the cache knows
    them by; ``root``: where the packages are; ``pages``: executed pages read where they are.
    """
    cache_dir = Path(cache_dir)
    # a missing cache still gets its stamps: what is executed into it next runs the code as it is
    # now, so a later call (make book after make test on a fresh clone) must find it current
    cache_dir.mkdir(parents=True, exist_ok=True)
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    stamp_path = cache_dir / STAMPS
    stamps = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    dropped = []
    modules = reading_modules(root)
    sources = [(path, Path(book_notebooks) / path.name, reads_committed_files(path.read_text(), modules))
               for path in sorted(Path(notebooks).glob("*.md"))]
    sources += [(path, path, True) for path in pages if path.is_file()]
    results_digest = (folder_digest(results) + ":" + folder_digest(benchmarks)
                      if any(reads for *_, reads in sources) else "")
    for path, where, reads_results in sources:
        uri = str(where.absolute())
        digest = package_digest(imported_packages(path.read_text()), root)
        if reads_results:
            digest += ":" + results_digest
        if stamps.get(path.stem) == digest:
            continue
        try:
            record = cache.get_cached_project_nb(uri)
        except Exception:  # not in the project yet: nothing cached to drop
            record = None
        if record is not None:
            cache.remove_cache(record.pk)
            dropped.append(path.stem)
        stamps[path.stem] = digest
    stamp_path.write_text(json.dumps(stamps, indent=1, sort_keys=True) + "\n")
    return dropped


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/notebook_cache.py CACHE_DIR")
    for name in invalidate_stale(sys.argv[1]):
        print(f"[notebook cache] {name}: package code (or, where it reads them, the committed results or "
              "benchmark records) changed, will execute again")
