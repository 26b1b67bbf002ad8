"""Fake finished runs for the chapters' analyses: exact numbers, no training (``make_run``)."""

from __future__ import annotations

import numpy as np

from egd.grokking.config import make_config
from egd.grokking.store import RunResult


def fake_run(task: str = "mod-add", method: str = "vanilla", *, rank: int | None = None, seed: int = 0,
             t95: int | None = 100, seconds: float | None = None, epochs: int | None = None,
             test_acc=None, train_acc=None, active=None, hidden_norm=None, spectra=None, spectra_epochs=None,
             sec_per_epoch: float = 0.1, **overrides) -> RunResult:
    """A :class:`RunResult` with the given time to threshold (None: never) and histories.

    ``epochs`` defaults to ``t95 + 50`` (or the config's ``max_epochs`` for a run that never
    reached the threshold); histories default to a step from 0.5 to 1.0 at ``t95``.
    """
    shape = {"p": overrides.pop("p", 97)} if task != "parity" else {"n": overrides.pop("n", 100),
                                                                    "k": overrides.pop("k", 3)}
    config = make_config(task, method, rank=rank, seed=seed, **shape, **overrides)
    n = epochs or (t95 + 50 if t95 is not None else config.max_epochs)
    e = np.arange(1, n + 1)
    if test_acc is None:
        test_acc = np.where(t95 is not None and e >= (t95 or 0), 1.0, 0.5) if t95 is not None else np.full(n, 0.5)
    if train_acc is None:
        train_acc = np.ones(n)
    if active is None:
        on = method != "vanilla"
        active = np.array([on and (t95 is None or i <= t95) for i in e], dtype=bool)
    n_train, n_test = 1000, 1000
    history = {
        "train_correct": np.round(np.asarray(train_acc) * n_train).astype("uint32"),
        "test_correct": np.round(np.asarray(test_acc) * n_test).astype("uint32"),
        "train_loss": np.zeros(n, dtype="float32"), "test_loss": np.zeros(n, dtype="float32"),
        "hidden_norm": np.asarray(hidden_norm if hidden_norm is not None else np.ones(n), dtype="float32"),
        "output_norm": np.ones(n, dtype="float32"),
        "seconds": (e * sec_per_epoch).astype("float32"),
        "transform_active": np.asarray(active, dtype=bool),
    }
    if spectra is None:
        spectra = np.ones((1, 4))
        spectra_epochs = np.array([0])
    if seconds is None and t95 is not None:
        seconds = t95 * sec_per_epoch
    summary = {"epochs_run": n, "epochs_to_threshold": t95, "seconds_to_threshold": seconds if t95 else None,
               "n_train": n_train, "n_test": n_test, "status": "stopped"}
    return RunResult(config, history, np.asarray(spectra, dtype=np.float32),
                     np.asarray(spectra_epochs, dtype=np.int32), summary, {"device_name": "test CPU"})


make_run = fake_run
