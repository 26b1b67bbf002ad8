"""The layout's import rules, read from the code's own import statements and checked live.

Layers, bottom up (a layer may import only from the layers below it):

* ``toymodel`` — numpy/scipy/sympy; imports neither ``egd`` nor ``torch``;
* ``egd`` (the library: every module directly under ``egd/``) — torch and numpy only;
* ``egd.grokking`` — the paper harness, on the library;
* ``egd.validation`` — the harness and the library against ``toymodel`` (the only part of
  ``egd`` that imports ``toymodel``);
* ``egd.bench`` — benchmarks, on the harness and the library;
* ``egd.book`` — what the chapters call, on everything; nothing imports it.

One named exception: the ``egd-grok`` command line (``egd.grokking.cli``) is the top of the
application and may call the epoch benchmark for its ``bench`` subcommand.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: part -> the project parts it may import
ALLOWED = {
    "toymodel": {"toymodel"},
    "egd": {"egd"},
    "egd.grokking": {"egd", "egd.grokking"},
    "egd.validation": {"egd", "egd.grokking", "egd.validation", "toymodel"},
    "egd.bench": {"egd", "egd.grokking", "egd.bench"},
    "egd.book": {"egd", "egd.grokking", "egd.validation", "egd.bench", "egd.book", "toymodel"},
}
SUBPACKAGES = ("egd.grokking", "egd.validation", "egd.bench", "egd.book")
EXCEPTIONS = {"egd.grokking.cli": {"egd.bench"}}


def part_of(module: str) -> str | None:
    if module == "toymodel" or module.startswith("toymodel."):
        return "toymodel"
    for sub in SUBPACKAGES:
        if module == sub or module.startswith(sub + "."):
            return sub
    if module == "egd" or module.startswith("egd."):
        return "egd"
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of the project modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from egd import grokking`
    return {name for name in found if part_of(name) is not None}


SOURCES = sorted(p for pkg in ("egd", "toymodel") for p in (REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_each_module_imports_only_from_the_layers_below(path):
    mine = part_of(module_name(path))
    allowed = ALLOWED[mine] | EXCEPTIONS.get(module_name(path), set())
    # (egd/_moved.py names the harness modules only as strings, imported on demand for old paths)
    bad = sorted(name for name in imports_of(path) if part_of(name) not in allowed)
    assert not bad, f"{path.relative_to(REPO)} ({mine}) imports {bad}"


def test_toymodel_imports_no_torch_and_no_egd():
    for path in (REPO / "toymodel").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {n for n in names if n.split(".")[0] in ("torch", "egd")}, path


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_egd_loads_the_library_only():
    loaded = run_python("import sys, egd; print(sorted(m for m in sys.modules if m.startswith(('egd', 'toymodel'))))")
    assert not any(part_of(m) in SUBPACKAGES or part_of(m) == "toymodel" for m in eval(loaded)), loaded


def test_import_toymodel_loads_neither_torch_nor_egd():
    assert run_python("import sys, toymodel; print(any(m.split('.')[0] in ('torch', 'egd') for m in sys.modules))") \
        == "False"


def test_the_harness_does_not_load_toymodel():
    assert run_python("import sys, egd.grokking, egd.grokking.cli, egd.bench.epoch; "
                      "print('toymodel' in sys.modules)") == "False"


def test_old_import_paths_still_work_with_a_deprecation_warning():
    import importlib
    import warnings

    import egd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_config = egd.make_config
        old = importlib.import_module("egd.results")
        assert old.load_run is importlib.import_module("egd.grokking.store").load_run
    assert make_config is importlib.import_module("egd.grokking.config").make_config
    assert any(issubclass(w.category, DeprecationWarning) and "egd.grokking" in str(w.message) for w in caught)
    with pytest.raises(AttributeError):
        egd.no_such_name  # noqa: B018
