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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig, config_key, run_name

#: History columns and their on-disk dtypes. ``*_correct`` are counts of correct
#: predictions (exact, 2 bytes each for up to 65,535 examples).
HISTORY_DTYPES: dict[str, str] = {
    "train_correct": "uint16",
    "test_correct": "uint16",
    "train_loss": "float32",
    "test_loss": "float32",
    "hidden_norm": "float32",
    "output_norm": "float32",
    "seconds": "float32",
    "transform_active": "bool",
}
SCHEMA_VERSION = 1


@dataclass
class RunResult:
    """A finished (or interrupted) run.

    ``history[name]``: arrays of length ``epochs_run``, entry ``e`` measured after
    epoch ``e + 1``. ``spectra``: ``(R, min(m, n))`` singular values (descending) of
    the hidden layer's gradient at the first step of epochs ``spectra_epochs`` (0-based
    epoch index, i.e. before that epoch's first update). ``summary``: see
    :func:`egd.train.summarize`.
    """

    config: RunConfig
    history: dict[str, np.ndarray]
    spectra: np.ndarray
    spectra_epochs: np.ndarray
    summary: dict
    env: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return run_name(self.config)

    @property
    def key(self) -> str:
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
        return self.summary["epochs_to_threshold"]

    @property
    def seconds_to_threshold(self) -> float | None:
        return self.summary["seconds_to_threshold"]


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_run(result: RunResult, out_dir: str | os.PathLike) -> Path:
    """Write ``<name>.npz`` then ``<name>.json`` atomically; return the JSON path."""
    out = Path(out_dir)
    stem = result.name
    buf = io.BytesIO()
    arrays = {k: np.asarray(result.history[k], dtype=HISTORY_DTYPES[k]) for k in HISTORY_DTYPES}
    arrays["spectra"] = np.asarray(result.spectra, dtype=np.float32)
    arrays["spectra_epochs"] = np.asarray(result.spectra_epochs, dtype=np.int32)
    np.savez_compressed(buf, **arrays)
    _atomic_write_bytes(out / f"{stem}.npz", buf.getvalue())
    record = {
        "schema": SCHEMA_VERSION,
        "name": stem,
        "key": result.key,
        "config": result.config.to_dict(),
        "summary": result.summary,
        "env": result.env,
    }
    json_path = out / f"{stem}.json"
    _atomic_write_bytes(json_path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return json_path


def load_run(path: str | os.PathLike) -> RunResult:
    """Read a run from its ``.json`` path (the ``.npz`` next to it holds the arrays)."""
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
    _atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)
