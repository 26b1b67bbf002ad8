"""The examples in the docstrings of ``toymodel`` and ``egd`` run, and print what they show.

Every module of the two packages whose source holds a ``>>>`` example is run through
``doctest`` (one test per module), so the examples of the API reference in the book cannot
go stale. Examples are small, seeded and print rounded values.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("toymodel", "egd")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def modules_with_examples() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if ">>>" not in path.read_text(encoding="utf-8"):
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = modules_with_examples()


def test_the_packages_have_examples():
    assert {"toymodel.plateau", "egd.transforms", "egd.optim"} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    import torch

    torch.set_num_threads(1)
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    tests = [t for t in finder.find(module, module_name) if t.examples]
    # only the module's own objects (imported names are tested in their home module)
    tests = [t for t in tests if t.filename and Path(t.filename).resolve() == Path(module.__file__).resolve()]
    assert tests, f"{module_name}: no examples found although its source has '>>>'"
    for test in tests:
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()
