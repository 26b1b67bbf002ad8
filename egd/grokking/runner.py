"""Train one configured run with the results store: reuse, resume, save.

:func:`train` is the harness's front door: it looks the run up by its key in ``out_dir``
(a finished run is loaded, not retrained), resumes an interrupted one from its checkpoint,
trains with :class:`egd.grokking.engine.Trainer`, and writes the result files
(:mod:`egd.grokking.store`).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .config import DEFAULT_CHECKPOINT_EVERY, RunConfig, config_key
from .engine import Trainer, TrainState, build_model
from .environment import environment, require_device
from .store import RunResult, checkpoint_path, find_run, load_checkpoint, save_checkpoint, save_run
from .tasks import TaskData

__all__ = ["train", "summarize", "result_from_state"]


def summarize(config: RunConfig, history: dict[str, np.ndarray], data: TaskData, status: str) -> dict:
    """Epochs, steps and seconds to ``threshold`` test accuracy (first epoch with acc >= it).

    An epoch is ``steps_per_epoch = n_train // batch_size`` optimizer steps (the last partial
    batch is dropped), so ``steps_to_threshold = epochs_to_threshold * steps_per_epoch``: the
    step after which the accuracy was measured.
    """
    test_acc = np.asarray(history["test_correct"], dtype=np.float64) / data.n_test
    hit = np.flatnonzero(test_acc >= config.threshold)
    reached = int(hit[0]) + 1 if hit.size else None
    steps_per_epoch = data.n_train // config.batch_size
    return {
        "status": status,
        "epochs_run": int(len(test_acc)),
        "epochs_to_threshold": reached,
        "seconds_to_threshold": float(history["seconds"][reached - 1]) if reached else None,
        "steps_per_epoch": steps_per_epoch,
        "steps_to_threshold": reached * steps_per_epoch if reached else None,
        "final_train_acc": float(history["train_correct"][-1]) / data.n_train if len(test_acc) else None,
        "final_test_acc": float(test_acc[-1]) if len(test_acc) else None,
        "max_test_acc": float(test_acc.max()) if len(test_acc) else None,
        "n_train": data.n_train,
        "n_test": data.n_test,
    }


def result_from_state(config: RunConfig, data: TaskData, state: TrainState | dict) -> RunResult:
    """The :class:`RunResult` of a run's state (a :class:`TrainState` or a snapshot dict)."""
    if isinstance(state, dict):
        state = TrainState.from_plain(state["state"])
    history = state.history.to_arrays()
    width = min(config.width, data.in_features)
    spectra = (torch.stack(state.spectra).cpu().numpy() if state.spectra
               else np.zeros((0, width), dtype=np.float32))
    return RunResult(config, history, spectra, np.asarray(state.spectra_epochs, dtype=np.int32),
                     summarize(config, history, data, state.status), environment(config.device))


def train(
    config: RunConfig,
    *,
    out_dir: str | os.PathLike | None = None,
    resume: bool = True,
    reuse: bool = True,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    progress: bool = False,
    stop_after: int | None = None,
) -> RunResult:
    """Build the task and model of ``config``, train, and save the result in ``out_dir``.

    With ``out_dir``: a finished run with the same key is loaded instead of retrained
    (``reuse``); an unfinished one resumes from its checkpoint (``resume``), losing at most
    ``checkpoint_every`` epochs. ``stop_after`` (tests): interrupt after that many epochs,
    leaving a checkpoint and no result file; the returned result is the partial run.
    """
    if out_dir is not None and reuse:
        done = find_run(config, out_dir)
        if done is not None:
            return done
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an integer >= 1, got {checkpoint_every!r}")
    require_device(config.device)
    data = config.build_task().build(config.device)
    model = build_model(config, data).to(config.device)
    snapshot, ckpt, save = None, None, None
    if out_dir is not None:
        ckpt = checkpoint_path(config, out_dir)
        if resume and ckpt.exists():
            snapshot = load_checkpoint(ckpt)
            if snapshot.get("key") != config_key(config):
                snapshot = None

        def save(snap: dict) -> None:
            snap["key"] = config_key(config)
            save_checkpoint(snap, ckpt)

    trainer = Trainer(model, data, config, snapshot=snapshot)
    state = trainer.run(checkpoint=save, checkpoint_every=checkpoint_every, progress=progress, stop_after=stop_after)
    result = result_from_state(config, data, state)
    if out_dir is not None:
        if state.status == "running":  # interrupted on purpose: keep a checkpoint, no result
            save(trainer.snapshot())
        else:
            save_run(result, out_dir)
            if ckpt.exists():
                ckpt.unlink()
    return result
