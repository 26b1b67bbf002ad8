"""Old import paths of the harness, kept working for now with a ``DeprecationWarning``.

Before the library and the paper harness were split, ``egd`` was one flat package:
``egd.train``, ``egd.config``, ``egd.results`` ... and ``egd.make_config``,
``egd.train(...)`` etc. Those modules now live in :mod:`egd.grokking` (harness),
:mod:`egd.validation` and :mod:`egd.bench`. This module maps each old path to its new
home, without importing anything until an old path is actually used, so ``import egd``
stays the library alone.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: Old module -> the modules that hold its names now (looked up in this order).
MOVED_MODULES: dict[str, tuple[str, ...]] = {
    "egd.methods": ("egd.grokking.registry",),
    "egd.config": ("egd.grokking.config", "egd.grokking.environment"),
    "egd.tasks": ("egd.grokking.tasks",),
    "egd.models": ("egd.grokking.models",),
    "egd.train": ("egd.grokking.engine", "egd.grokking.runner", "egd.grokking.environment"),
    "egd.results": ("egd.grokking.store", "egd.grokking.files"),
    "egd.experiments": ("egd.grokking.runsets",),
    "egd.tables": ("egd.grokking.tables",),
    "egd.paper_numbers": ("egd.grokking.paper_numbers",),
    "egd.cli": ("egd.grokking.cli",),
    "egd.cpu_allocator": ("egd.grokking.cpu_allocator",),
    "egd.toy_torch": ("egd.validation.toy_torch",),
    "egd.toy_mlp": ("egd.validation.toy_mlp",),
    "egd.anisotropy": ("egd.validation.anisotropy",),
    "egd.bench_epoch": ("egd.bench.epoch",),
}

#: Harness names that ``egd.NAME`` used to give -> their new module.
MOVED_NAMES: dict[str, str] = {
    "RunConfig": "egd.grokking.config", "make_config": "egd.grokking.config",
    "TwoLayerMLP": "egd.grokking.models",
    "RunResult": "egd.grokking.store", "find_run": "egd.grokking.store", "load_run": "egd.grokking.store",
    "load_runs": "egd.grokking.store",
    "ModularArithmetic": "egd.grokking.tasks", "SparseParity": "egd.grokking.tasks",
    "fit": "egd.grokking.engine", "train": "egd.grokking.runner",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} has moved to {new}; the old path will be removed in a later release",
                  DeprecationWarning, stacklevel=3)


def moved_name(name: str):
    """The object ``egd.<name>`` used to be (with a DeprecationWarning), or AttributeError."""
    if name not in MOVED_NAMES:
        raise AttributeError(f"module 'egd' has no attribute {name!r}")
    _warn(f"egd.{name}", f"{MOVED_NAMES[name]}.{name}")
    return getattr(importlib.import_module(MOVED_NAMES[name]), name)


class _ForwardingModule(types.ModuleType):
    """An old module path whose attributes are looked up in the new modules."""

    def __getattr__(self, name: str):
        for target in MOVED_MODULES[self.__name__]:
            module = importlib.import_module(target)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} (moved to {MOVED_MODULES[self.__name__]}) has no attribute "
                             f"{name!r}")

    def __dir__(self):
        names = set()
        for target in MOVED_MODULES[self.__name__]:
            names.update(dir(importlib.import_module(target)))
        return sorted(names)


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return _ForwardingModule(spec.name)

    def exec_module(self, module):
        targets = MOVED_MODULES[module.__name__]
        _warn(module.__name__, " and ".join(targets))
        module.__doc__ = f"Moved: see {', '.join(targets)}."


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
