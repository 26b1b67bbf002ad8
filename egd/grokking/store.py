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

Damage is named, never fatal and never destructive: a result or checkpoint that cannot
be read raises :class:`DamagedFileError` naming the file and what is wrong with it;
:func:`find_run` and the runner move such a file aside (``<name>.json.damaged-<time>``,
see :func:`move_aside`, with a :class:`StoreWarning`) so that the run can be trained
again, and :func:`scan_runs` (behind ``egd-grok report``) skips unreadable and foreign
files, listing each with its reason.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from collections.abc import Callable
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


class DamagedFileError(ValueError):
    """A file of a results folder that cannot be used, and why (the message names the file).

    ``kind``: ``"foreign"`` for a readable JSON that is not a run record (another tool's
    file, a cached table), ``"damaged"`` for a run record or checkpoint that is truncated,
    corrupt, incomplete (its ``.npz`` is missing) or inconsistent with its name.
    """

    def __init__(self, path: str | os.PathLike, reason: str, kind: str = "damaged") -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.kind = Path(path), reason, kind


class StoreWarning(UserWarning):
    """A damaged or foreign file was moved aside or skipped (the message names it)."""


#: Keys every run record has (written by :func:`save_run`).
RECORD_KEYS = ("schema", "name", "key", "config", "summary", "env")
SUMMARY_KEYS = ("status", "epochs_run", "epochs_to_threshold", "seconds_to_threshold", "n_train", "n_test")


def _read_record(path: Path) -> dict:
    """The JSON record of a run, or :class:`DamagedFileError` (foreign or damaged)."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        raise  # not there (never written, moved aside by another process): not a damaged file
    except UnicodeDecodeError:
        raise DamagedFileError(path, "not a text file", "foreign") from None
    except OSError as exc:
        raise DamagedFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise DamagedFileError(path, "empty file")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DamagedFileError(path, f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
    if not isinstance(record, dict) or "config" not in record or "schema" not in record:
        raise DamagedFileError(path, "not a run record (no 'schema' and 'config' entries)", "foreign")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise DamagedFileError(path, f"run record without {missing}")
    if record["schema"] != SCHEMA_VERSION:
        raise DamagedFileError(path, f"run record of schema {record['schema']!r}; this version reads "
                               f"{SCHEMA_VERSION}", "foreign")
    return record


def load_run(path: str | os.PathLike) -> RunResult:
    """Read a run from its ``.json`` path (the ``.npz`` next to it holds the arrays).

    Args:
        path: the run's JSON file.

    Returns:
        The :class:`RunResult`.

    Raises:
        ValueError: ``DamagedFileError`` (a ``ValueError`` naming the file and the fault) for a
            missing, truncated, empty, foreign or inconsistent JSON, a missing or corrupt NPZ,
            or a config this version refuses.

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
    return _load(Path(path))


def _load(path: Path, select: Callable[[RunConfig], bool] | None = None) -> RunResult | None:
    """:func:`load_run`; None (arrays not read) when ``select`` rejects the run's config."""
    record = _read_record(path)
    try:
        config = RunConfig(**record["config"])
    except (TypeError, ValueError) as exc:
        raise DamagedFileError(path, f"invalid config: {exc}") from None
    if record["key"] != config_key(config) or record["name"] != run_name(config):
        raise DamagedFileError(path, f"its config has key {config_key(config)}, the record says {record['key']!r}")
    if select is not None and not select(config):
        return None
    summary = record["summary"]
    if not isinstance(summary, dict) or any(k not in summary for k in SUMMARY_KEYS):
        raise DamagedFileError(path, f"summary without {[k for k in SUMMARY_KEYS if k not in summary]}")
    npz_path = path.with_suffix(".npz")
    try:
        with np.load(npz_path) as npz:
            history = {k: npz[k] for k in HISTORY_DTYPES}
            spectra, spectra_epochs = npz["spectra"], npz["spectra_epochs"]
    except FileNotFoundError:
        raise DamagedFileError(path, f"its arrays {npz_path.name} are missing") from None
    except Exception as exc:  # zipfile, zlib, pickle refusal, missing key: all mean a damaged NPZ
        raise DamagedFileError(path, f"its arrays {npz_path.name} cannot be read ({type(exc).__name__}: {exc})") \
            from None
    lengths = {len(v) for v in history.values()}
    if lengths != {summary["epochs_run"]}:
        raise DamagedFileError(path, f"history lengths {sorted(lengths)} differ from epochs_run "
                               f"{summary['epochs_run']}")
    return RunResult(config, history, spectra, spectra_epochs, summary, record["env"])


@dataclass
class RunScan:
    """What :func:`scan_runs` found: the readable runs and every file it skipped, with why.

    ``skipped``: ``(path, kind, reason)`` with ``kind`` ``"damaged"``, ``"foreign"`` or
    ``"duplicate"`` (the same run, by key, as a file read before it). ``subfolders``: folders
    below the results folder that were not read (``recursive=False``).
    """

    runs: list[RunResult] = field(default_factory=list)
    skipped: list[tuple[Path, str, str]] = field(default_factory=list)
    subfolders: list[Path] = field(default_factory=list)


def scan_runs(results_dir: str | os.PathLike, *, recursive: bool = False,
              select: Callable[[RunConfig], bool] | None = None) -> RunScan:
    """Every readable run in ``results_dir`` (and its subfolders when ``recursive``).

    Never raises for a file's content: unreadable or foreign ``.json`` files are listed in
    ``skipped``. ``select(config)``: keep only the runs it accepts (the others' arrays are
    not read). Raises ``ValueError`` when ``results_dir`` is not a folder.
    """
    root = Path(results_dir)
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise ValueError(f"results must be a folder of run files; {root} {what}")
    scan = RunScan()
    paths = sorted(root.rglob("*.json") if recursive else root.glob("*.json"))
    if not recursive:
        scan.subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    seen: dict[str, Path] = {}
    for path in paths:
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # hidden files and folders (temporary files of an atomic write)
        try:
            run = _load(path, select)
        except FileNotFoundError:  # moved aside or replaced by another process since it was listed
            continue
        except DamagedFileError as exc:
            scan.skipped.append((path, exc.kind, exc.reason))
            continue
        if run is None:
            continue
        if run.key in seen:
            scan.skipped.append((path, "duplicate", f"the same run (key {run.key}) as {seen[run.key]}"))
            continue
        seen[run.key] = path
        scan.runs.append(run)
    return scan


def load_runs(results_dir: str | os.PathLike, **where) -> list[RunResult]:
    """Every finished run in ``results_dir`` whose config matches ``where`` (field=value).

    Files that are not readable runs are skipped with a :class:`StoreWarning` naming each.
    """
    scan = scan_runs(results_dir, select=lambda c: all(getattr(c, k, None) == v for k, v in where.items()))
    for path, kind, reason in scan.skipped:
        warnings.warn(f"skipped {path} ({kind}): {reason}", StoreWarning, stacklevel=2)
    return scan.runs


def move_aside(path: str | os.PathLike, *companions: str | os.PathLike) -> Path:
    """Rename ``path`` (and each existing companion) to ``<name>.damaged-<time>``; return the new path.

    Nothing is deleted: the file stays next to where it was, out of the store's way.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = None
    for p in (Path(path), *map(Path, companions)):
        target = p.with_name(f"{p.name}.damaged-{stamp}")
        n = 1
        while target.exists():
            target = p.with_name(f"{p.name}.damaged-{stamp}-{n}")
            n += 1
        try:
            os.replace(p, target)
        except FileNotFoundError:  # absent, or already moved by another process
            continue
        except OSError as exc:
            raise ValueError(f"{p} is damaged and cannot be moved aside ({exc.strerror or exc}); "
                             f"move or delete it, then run again") from None
        moved = moved or target
    return moved if moved is not None else Path(path)


def find_run(config: RunConfig, results_dir: str | os.PathLike, *, move_damaged: bool = True) -> RunResult | None:
    """The finished run of exactly this config (by key) in ``results_dir``, or None.

    A damaged file under the run's name is moved aside (:func:`move_aside`, with a
    :class:`StoreWarning` naming it) and None is returned, so the run can be trained again;
    with ``move_damaged=False`` it raises :class:`DamagedFileError` instead.
    """
    path = Path(results_dir) / f"{run_name(config)}.json"
    try:
        run = load_run(path)
        if run.key != config_key(config):
            raise DamagedFileError(path, f"holds the run of key {run.key}, not {config_key(config)}")
    except (FileNotFoundError, NotADirectoryError):  # never written, or moved aside by another process since
        return None
    except DamagedFileError as exc:
        if not move_damaged:
            raise
        moved = move_aside(path, path.with_suffix(".npz"))
        warnings.warn(f"{exc}; moved aside to {moved.name}, the run will be trained again", StoreWarning,
                      stacklevel=2)
        return None
    return run


def warn_other_engine(run: RunResult, engine: str, stacklevel: int = 3) -> None:
    """A :class:`StoreWarning` when ``run`` was trained by another engine than ``engine``
    (``"single"`` or ``"batched"``): the key does not hold the engine, and in float32 the two
    engines' numbers differ in the last bits, which these runs amplify. Reusing is allowed,
    silently reusing is not."""
    made_by = run.env.get("engine", "single")
    if made_by != engine:
        warnings.warn(f"reusing {run.name}, trained by the {made_by} engine, for the {engine} engine (float32 "
                      f"numbers differ between engines); retrain it to get this engine's numbers",
                      StoreWarning, stacklevel=stacklevel)


def checkpoint_path(config: RunConfig, results_dir: str | os.PathLike) -> Path:
    return Path(results_dir) / f"{run_name(config)}.ckpt.pt"


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    """``torch.save`` of the engine state, atomically."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, read with ``weights_only=True``: tensors
    and plain Python types only, so a crafted file cannot run code.

    Raises :class:`DamagedFileError` naming the file when it is empty, truncated, corrupt,
    holds anything but tensors and plain types, or is not a dict.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip errors, EOF, the weights-only unpickler's refusal
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DamagedFileError(path, f"checkpoint cannot be read ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(state, dict):
        raise DamagedFileError(path, f"checkpoint holds a {type(state).__name__}, not a dict")
    return state
