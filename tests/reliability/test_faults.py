"""Kills and Ctrl-C at seeded random moments: resumed runs equal uninterrupted ones, little work is lost.

A training run, a sequential sweep and a sequential sweep of batched runs are started as
``egd-grok`` processes (forked from a server that has imported the package once, so that
no start pays torch's import), killed (SIGKILL, or SIGINT = Ctrl-C) a seeded random time
after training has begun, and started again; at the end every result must equal, metric
by metric, a run of the same engine that was never interrupted. The work lost per kill is
the wall time since the last checkpoint was written, which must stay within the
checkpoint interval (``--checkpoint-seconds``) plus an allowance for one epoch and a
loaded machine. Ctrl-C must exit with status 130 and one line saying that (and, for one
run, where) progress was saved.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from egd.grokking import cli
from egd.grokking.config import make_config
from egd.grokking.runner import train
from egd.grokking.store import checkpoint_path, find_run, load_checkpoint

SEED = 20260
CHECKPOINT_SECONDS = 0.3
#: Allowance on top of the checkpoint interval: one epoch, one checkpoint write, and a
#: process that the shared machine leaves without a CPU for a while.
SLACK_SECONDS = 5.0
#: The kill comes a seeded random time within this window after a fresh checkpoint.
KILL_WINDOW_SECONDS = 0.25
STARTUP_TIMEOUT = 240.0  # importing torch on a loaded 2-core machine takes a while
METRICS = ("train_correct", "test_correct", "train_loss", "test_loss", "hidden_norm", "output_norm",
           "transform_active")
RUN_ARGS = ["--p", "23", "--preset", "smoke", "--patience", "-1", "--threshold", "1.0", "--device", "cpu",
            "--no-progress", "--threads", "1", "--checkpoint-every", "100000",
            "--checkpoint-seconds", str(CHECKPOINT_SECONDS)]
#: Where the measured figures go (the README's "Reliability" section quotes a run of this suite).
REPORT_ENV = "EGD_FAULT_REPORT"


def _same(a, b) -> None:
    for key in METRICS:
        np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)
    assert a.summary["epochs_run"] == b.summary["epochs_run"]


_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["egd.grokking.cli", "egd.grokking.runner"])


def _egd_grok(argv: list[str], err_path: str) -> None:
    """A child process running ``egd-grok argv`` (stdout dropped, stderr to ``err_path``).

    Ctrl-C gets Python's default handler, as in a terminal, even where the test runner
    itself was started with SIGINT ignored (a background job, ``nohup``).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.stdout = open(os.devnull, "w")
    sys.stderr = open(err_path, "w", buffering=1)
    sys.exit(cli.main(argv))


class _Process:
    """An ``egd-grok`` process: ``poll``, ``send_signal``, ``communicate`` like ``subprocess.Popen``."""

    def __init__(self, argv: list[str], err_path: Path) -> None:
        self.err_path = err_path
        self.proc = _CONTEXT.Process(target=_egd_grok, args=(argv, str(err_path)))
        self.proc.start()

    def poll(self) -> int | None:
        return self.proc.exitcode

    def send_signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.proc.join(timeout)
        return "", self.err_path.read_text() if self.err_path.exists() else ""

    @property
    def returncode(self) -> int | None:
        return self.proc.exitcode


def _launch(argv: list[str], err_path: Path) -> _Process:
    return _Process(argv, err_path)


def _newest_checkpoint(out: Path) -> tuple[Path, float] | None:
    found = [(p, p.stat().st_mtime) for p in out.glob("*.ckpt.pt")]
    return max(found, key=lambda pm: pm[1]) if found else None


def _last_save(out: Path) -> float | None:
    """When progress was last stored: the newest checkpoint or finished result (a finished
    run's checkpoint is deleted, so between two runs of a sweep the result is the last save)."""
    found = [p.stat().st_mtime for pattern in ("*.ckpt.pt", "*.json") for p in out.glob(pattern)]
    return max(found) if found else None


def _kill_once(argv: list[str], out: Path, rng: random.Random, sig: int, record: list[dict]) -> bool:
    """Start ``argv``, wait for a fresh checkpoint, wait a seeded random time, send ``sig``.

    Returns False when the process finished before it could be interrupted.
    """
    before = {p: p.stat().st_mtime for p in out.glob("*.ckpt.pt")}
    proc = _launch(argv, out.parent / f"stderr-{len(record)}.txt")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:  # training has begun: a checkpoint was written
        newest = _newest_checkpoint(out)
        if newest and before.get(newest[0]) != newest[1]:
            break
        time.sleep(0.02)
    # kill within one checkpoint interval of that checkpoint: a random moment, yet early enough
    # that even a fast machine has training left to interrupt
    time.sleep(rng.uniform(0.0, KILL_WINDOW_SECONDS))
    if proc.poll() is not None:
        proc.communicate()
        return False
    last = _last_save(out)
    t_kill = time.time()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    entry = {"signal": signal.Signals(sig).name, "returncode": proc.returncode,
             "seconds_since_checkpoint": t_kill - last if last is not None else None}
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "interrupted after epoch" in lines[0] and "Traceback" not in err, err
        if "progress saved in" in lines[0]:
            saved = Path(lines[0].split("progress saved in ")[1].split(" (")[0])
            epoch = int(lines[0].split("interrupted after epoch ")[1].split(";")[0])
            assert load_checkpoint(saved)["state"]["epoch"] == epoch
            entry["seconds_since_checkpoint"] = 0.0  # Ctrl-C saves the epoch it stops at
    else:
        assert proc.returncode == -signal.SIGKILL
        assert entry["seconds_since_checkpoint"] is not None
        assert entry["seconds_since_checkpoint"] <= CHECKPOINT_SECONDS + SLACK_SECONDS, entry
    record.append(entry)
    return True


def _write_report(name: str, record: list[dict]) -> None:
    target = os.environ.get(REPORT_ENV)
    if target:
        path = Path(target)
        doc = json.loads(path.read_text()) if path.exists() else {}
        doc[name] = record
        path.write_text(json.dumps(doc, indent=1) + "\n")


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    config = make_config("mod-add", "egd-rsvd", preset="smoke", p=23, rank=4, max_epochs=1000, patience=None,
                         threshold=1.0)
    reference = train(config)
    argv = ["train", "--task", "mod-add", "--method", "egd-rsvd", "--rank", "4", "--max-epochs", "1000",
            "--out", str(tmp_path)] + RUN_ARGS
    rng = random.Random(SEED)
    record: list[dict] = []
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGKILL):
        if not _kill_once(argv, tmp_path, rng, sig, record):
            break
    assert len(record) >= 2, "the run finished before it could be interrupted; raise max_epochs"
    assert find_run(config, tmp_path) is None  # not finished yet: only a checkpoint
    resumed = train(config, out_dir=tmp_path, checkpoint_seconds=CHECKPOINT_SECONDS)
    _same(resumed, reference)
    assert not checkpoint_path(config, tmp_path).exists()
    assert not list(tmp_path.glob("*.damaged-*"))
    _write_report("run", record)


def test_killed_sequential_sweep_resumes_to_the_uninterrupted_results(tmp_path):
    methods = ["vanilla", "egd-svd", "colnorm"]
    configs = [make_config("mod-add", m, preset="smoke", p=23, max_epochs=600, patience=None, threshold=1.0)
               for m in methods]
    references = [train(c) for c in configs]
    argv = ["sweep", "--task", "mod-add", "--methods", *methods, "--max-epochs", "600", "--jobs", "1",
            "--out", str(tmp_path)] + RUN_ARGS
    rng = random.Random(SEED + 1)
    record: list[dict] = []
    for sig in (signal.SIGKILL, signal.SIGKILL, signal.SIGINT):
        if not _kill_once(argv, tmp_path, rng, sig, record):
            break
    assert len(record) >= 2, "the sweep finished before it could be interrupted; raise max_epochs"
    finished_before = sum(find_run(c, tmp_path) is not None for c in configs)
    assert finished_before < len(configs)
    assert cli.main(argv) == 0  # the same command finishes what is left
    for config, reference in zip(configs, references):
        _same(find_run(config, tmp_path), reference)
    assert not list(tmp_path.glob("*.ckpt.pt")) and not list(tmp_path.glob("*.damaged-*"))
    _write_report("sweep", record)


def test_killed_batched_sweep_resumes_to_the_uninterrupted_results(tmp_path):
    from egd.grokking.batched import train_batch

    methods = ["vanilla", "egd-svd", "colnorm"]
    configs = [make_config("mod-add", m, preset="smoke", p=23, max_epochs=1000, patience=None, threshold=1.0)
               for m in methods]
    references = train_batch(configs)
    argv = ["sweep", "--task", "mod-add", "--methods", *methods, "--max-epochs", "1000", "--jobs", "1",
            "--batch-runs", "3", "--out", str(tmp_path)] + RUN_ARGS
    rng = random.Random(SEED + 2)
    record: list[dict] = []
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGKILL):
        if not _kill_once(argv, tmp_path, rng, sig, record):
            break
    assert len(record) >= 2, "the sweep finished before it could be interrupted; raise max_epochs"
    assert sum(find_run(c, tmp_path) is not None for c in configs) < len(configs)
    assert cli.main(argv) == 0  # the same command finishes what is left
    for config, reference in zip(configs, references):
        _same(find_run(config, tmp_path), reference)
    assert not list(tmp_path.glob("*.ckpt.pt")) and not list(tmp_path.glob("*.damaged-*"))
    _write_report("batched sweep", record)


@pytest.mark.parametrize("where", ["first epoch", "last epoch"])
def test_ctrl_c_in_process_saves_and_raises(tmp_path, where, monkeypatch):
    """The same path without a subprocess: SIGINT during an epoch is taken at its end."""
    from egd.grokking import engine

    config = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=4, patience=None)
    target = 1 if where == "first epoch" else config.max_epochs
    original = engine.Trainer.train_epoch

    def train_epoch(self):
        original(self)
        if self.state.epoch + 1 == target:
            os.kill(os.getpid(), signal.SIGINT)  # arrives mid-epoch, before the evaluation

    monkeypatch.setattr(engine.Trainer, "train_epoch", train_epoch)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(engine.Interrupted) as exc:
            train(config, out_dir=tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert exc.value.epoch == target
    if where == "first epoch":
        assert exc.value.where == str(checkpoint_path(config, tmp_path))
        assert load_checkpoint(checkpoint_path(config, tmp_path))["state"]["epoch"] == 1
        assert find_run(config, tmp_path) is None
    else:  # the run's last epoch: the finished result is saved first
        assert exc.value.finished and find_run(config, tmp_path) is not None
        assert not checkpoint_path(config, tmp_path).exists()
    monkeypatch.setattr(engine.Trainer, "train_epoch", original)
    _same(train(config, out_dir=tmp_path), train(config))


def test_checkpoints_are_written_by_time_as_well_as_by_epochs():
    from egd.grokking.engine import Trainer, build_model

    config = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=60, patience=None)
    data = config.build_task().build("cpu")
    seen: list[int] = []
    t0 = time.monotonic()
    Trainer(build_model(config, data), data, config).run(checkpoint=lambda snap: seen.append(snap["state"]["epoch"]),
                                                         checkpoint_every=10_000, checkpoint_seconds=0.05)
    total = time.monotonic() - t0
    assert len(seen) >= 2  # by epochs alone there would be none at all
    assert len(seen) <= total / 0.05 + 1  # and none before its time
    assert seen == sorted(set(seen))
