"""Train one configured run with the results store: reuse, resume, save.

:func:`train` is the harness's front door: it looks the run up by its key in ``out_dir``
(a finished run is loaded, not retrained), resumes an interrupted one from its checkpoint,
trains with :class:`egd.grokking.engine.Trainer`, and writes the result files
(:mod:`egd.grokking.store`).

Everything that can be checked is checked before any training: the output folder is
writable, the device exists, torch computes with the config's thread count. A damaged
result or checkpoint under the run's name is moved aside with a warning naming it (the
run is then trained again, or resumed from nothing), never a reason to fail forever.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from egd._checks import check_int, check_real

from .config import DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_SECONDS, RunConfig, config_key
from .engine import Interrupted, Trainer, TrainState, build_model
from .environment import environment, require_device, require_threads
from .files import check_output_dir
from .store import (
    DamagedFileError,
    RunResult,
    StoreWarning,
    checkpoint_path,
    find_run,
    load_checkpoint,
    move_aside,
    save_checkpoint,
    save_run,
    warn_other_engine,
)
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
    checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS,
    progress: bool = False,
    stop_after: int | None = None,
) -> RunResult:
    """Build the task and model of ``config``, train, and save the result in ``out_dir``.

    With ``out_dir``: a finished run with the same key is loaded instead of retrained
    (``reuse``); an unfinished one resumes from its checkpoint (``resume``; ``False``
    starts afresh and overwrites it). Checkpoints are written every ``checkpoint_every``
    epochs and every ``checkpoint_seconds`` of training, so a kill loses at most about that
    much work. ``stop_after`` (tests): interrupt after that many epochs, leaving a
    checkpoint and no result file; the returned result is the partial run.

    Before any training: ``out_dir`` must be a writable folder, ``config.device`` must
    exist, and for a CPU run ``torch.get_num_threads()`` must equal ``config.threads``
    (results depend on it; only entry points set it). Each failure is a ``ValueError``.
    Ctrl-C saves a checkpoint at the end of the epoch and raises
    ``egd.grokking.engine.Interrupted`` (a ``KeyboardInterrupt``).

    Args:
        config: the run (:func:`make_config`).
        out_dir: results folder (JSON + NPZ per run, checkpoints); ``None``: nothing is saved.
        resume: continue an unfinished run from its checkpoint in ``out_dir``.
        reuse: return a finished run of the same key from ``out_dir`` instead of training.
        checkpoint_every: epochs between checkpoints, ``>= 1``.
        checkpoint_seconds: seconds of training between checkpoints as well.
        progress: show a progress bar.
        stop_after: stop after this many epochs (for tests).

    Returns:
        The :class:`RunResult`.

    Raises:
        ValueError: ``checkpoint_every`` below 1, ``out_dir`` not a writable folder, a device
            that does not exist, or a CPU thread count other than ``config.threads``.
        KeyboardInterrupt: on Ctrl-C, after saving a checkpoint (``egd.grokking.engine.Interrupted``).

    Examples:
        >>> import tempfile
        >>> from egd.grokking import make_config, train
        >>> config = make_config("parity", "egd-svd", preset="smoke", max_epochs=3)
        >>> with tempfile.TemporaryDirectory() as results:
        ...     result = train(config, out_dir=results)
        ...     again = train(config, out_dir=results)  # found by its key, not retrained
        >>> result.epochs.tolist(), again.key == result.key
        ([1, 2, 3], True)
    """
    check_int("checkpoint_every", checkpoint_every, minimum=1)
    if checkpoint_seconds is not None:
        check_real("checkpoint_seconds", checkpoint_seconds, low=0.0, low_open=True)
    if stop_after is not None:
        check_int("stop_after", stop_after, minimum=1)
    if out_dir is not None and reuse:
        done = find_run(config, out_dir)
        if done is not None:
            warn_other_engine(done, "single")
            return done
    if out_dir is not None:
        check_output_dir(out_dir, name="out_dir")
    require_device(config.device)
    require_threads(config)
    data = config.build_task().build(config.device)
    snapshot, ckpt, save = None, None, None
    if out_dir is not None:
        ckpt = checkpoint_path(config, out_dir)
        if resume and ckpt.exists():
            snapshot = _usable_checkpoint(config, ckpt, data)

        def save(snap: dict) -> None:
            snap["key"] = config_key(config)
            save_checkpoint(snap, ckpt)

    model = build_model(config, data).to(config.device)
    trainer = Trainer(model, data, config, snapshot=snapshot)
    try:
        state = trainer.run(checkpoint=save, checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                            progress=progress, stop_after=stop_after)
    except Interrupted as exc:
        exc.where = str(ckpt) if exc.checkpointed and ckpt is not None else None
        raise
    result = result_from_state(config, data, state)
    if out_dir is not None:
        if state.status == "running":  # interrupted on purpose: keep a checkpoint, no result
            save(trainer.snapshot())
        else:
            save_run(result, out_dir)
            ckpt.unlink(missing_ok=True)  # another process (a second copy of a sweep task) may have removed it
    if trainer.interrupt_requested:  # Ctrl-C in the run's last epoch: the result is saved, now stop
        raise Interrupted(state.epoch, False, None, finished=out_dir is not None)
    return result


def _usable_checkpoint(config: RunConfig, ckpt, data: TaskData) -> dict | None:
    """The checkpoint's snapshot if it belongs to ``config`` and restores; else move it aside (warning), None."""
    try:
        snapshot = load_checkpoint(ckpt)
        if snapshot.get("key") != config_key(config):
            raise DamagedFileError(ckpt, f"checkpoint of key {snapshot.get('key')!r}, not {config_key(config)}")
        Trainer(build_model(config, data).to(config.device), data, config, snapshot=snapshot)  # a trial restore
        return snapshot
    except FileNotFoundError:  # removed since it was seen (its run finished in another process)
        return None
    except DamagedFileError as exc:
        reason = str(exc)
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError) as exc:
        reason = f"{ckpt}: checkpoint does not restore ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    moved = move_aside(ckpt)
    warnings.warn(f"{reason}; moved aside to {moved.name}, the run starts from epoch 0", StoreWarning, stacklevel=3)
    return None
