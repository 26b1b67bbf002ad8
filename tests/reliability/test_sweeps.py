"""Sweeps and the batched engine keep the single-run guarantees: thread counts, damaged files, time-based saves."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import warnings

import pytest
import torch

from egd.grokking import cli, runner
from egd.grokking import registry as methods
from egd.grokking.batched import batch_signature, train_batch
from egd.grokking.config import make_config, run_name
from egd.grokking.runner import train
from egd.grokking.store import StoreWarning, checkpoint_path, find_run, load_checkpoint, load_run
from egd.grokking.sweep import plan_tasks, run_sweep, run_task, task_threads


def smoke(method="vanilla", seed=0, threads=1, **overrides):
    overrides.setdefault("max_epochs", 3)
    return make_config("mod-add", method, preset="smoke", p=23, seed=seed, patience=None, threads=threads,
                       **overrides)


# ----------------------------------------------------------------------------- thread counts


def test_runs_at_other_thread_counts_never_share_a_batch():
    one = [smoke(seed=s) for s in range(2)]
    two = [smoke(seed=s, threads=2) for s in range(2)]
    assert batch_signature(one[0]) != batch_signature(two[0])
    assert plan_tasks(one + two, batch=4) == [one, two]
    assert [task_threads(t) for t in plan_tasks(one + two, batch=4)] == [1, 2]


def test_cuda_runs_take_the_sweeps_thread_count_and_cpu_runs_their_own():
    gpu = make_config("mod-add", "vanilla", preset="smoke", p=23, device="cuda")
    assert gpu.threads is None
    assert task_threads([gpu]) == 1 and task_threads([gpu], 3) == 3
    assert task_threads([smoke(threads=2)]) == 2 and task_threads([smoke(threads=2)], 2) == 2
    with pytest.raises(ValueError, match=r"threads: asked for 2 torch threads but the configs say 1"):
        task_threads([smoke()], 2)
    with pytest.raises(ValueError, match=r"threads: the runs of one task must share a thread count, got \[1, 2\]"):
        task_threads([smoke(), smoke(seed=1, threads=2)])
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        task_threads([smoke()], 0)


@pytest.mark.parametrize("batch", [1, 2], ids=["single", "batched"])
def test_a_sweep_task_computes_with_its_runs_thread_count(tmp_path, batch):
    configs = [smoke(seed=s, threads=2) for s in range(batch)]
    rows = run_task(configs, tmp_path)
    assert [r["name"] for r in rows] == [run_name(c) for c in configs] and all("-t2-" in r["name"] for r in rows)
    for config in configs:
        stored = find_run(config, tmp_path)
        assert stored.env["threads"] == 2 and stored.config.threads == 2
        assert stored.env.get("engine", "single") == ("batched" if batch > 1 else "single")
    assert find_run(dataclasses.replace(configs[0], threads=1), tmp_path) is None  # never the 1-thread file


def test_a_sweep_refuses_a_thread_count_its_configs_do_not_record_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="threads: asked for 2 torch threads but the configs say 1"):
        run_sweep([smoke(), smoke(seed=1)], out, threads=2, workers=1, progress=False)
    assert not out.exists()


def test_a_sweep_trains_runs_at_several_thread_counts_each_at_its_own(tmp_path):
    configs = [smoke(), smoke(threads=2)]
    report = run_sweep(configs, tmp_path, workers=1, progress=False, echo=lambda line: None)
    assert not report.failed and len(report.finished) == 2
    assert [find_run(c, tmp_path).env["threads"] for c in configs] == [1, 2]


def test_the_batched_engine_refuses_a_thread_count_mismatch_before_any_work(tmp_path):
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match=r"threads: the config says 2 but torch computes with 1 threads"):
        train_batch([smoke(threads=2), smoke(seed=1, threads=2)], out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_cli_sweep_threads_reach_the_batched_engine(tmp_path, capsys):
    argv = ["sweep", "--task", "mod-add", "--methods", "vanilla", "--seeds", "0", "1", "--p", "23", "--preset",
            "smoke", "--max-epochs", "2", "--device", "cpu", "--no-progress", "--jobs", "1", "--batch-runs", "2",
            "--threads", "2", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "in this process, in batches of up to 2" in capsys.readouterr().out
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert len(records) == 2
    for record in records:
        assert "-t2-" in record["name"] and record["env"]["threads"] == 2 and record["env"]["engine"] == "batched"


# ----------------------------------------------------------------------------- damage, saves, races


def test_the_batched_engine_moves_a_damaged_checkpoint_aside(tmp_path):
    configs = [smoke(seed=s) for s in range(2)]
    checkpoint_path(configs[0], tmp_path).write_bytes(b"\x00not a checkpoint")
    with pytest.warns(StoreWarning, match="moved aside"):
        results = train_batch(configs, out_dir=tmp_path)
    assert all(r.summary["epochs_run"] == 3 for r in results)
    assert len(list(tmp_path.glob("*.ckpt.pt.damaged-*"))) == 1 and not list(tmp_path.glob("*.ckpt.pt"))


def test_a_sweep_task_gets_past_a_damaged_checkpoint(tmp_path):
    config = smoke()
    checkpoint_path(config, tmp_path).write_text("")
    with pytest.warns(StoreWarning, match="moved aside"):
        rows = run_task([config], tmp_path)
    assert rows[0]["resumed_from"] == 0 and rows[0]["epochs_run"] == 3
    assert len(list(tmp_path.glob("*.damaged-*"))) == 1


def test_the_batched_engine_saves_by_time_and_resumes_to_the_uninterrupted_results(tmp_path):
    configs = [smoke("egd-svd", seed=s, max_epochs=6, threshold=1.0) for s in range(2)]
    reference = train_batch(configs)
    train_batch(configs, out_dir=tmp_path, checkpoint_every=10**6, checkpoint_seconds=1e-9, stop_after=4)
    saved = [checkpoint_path(c, tmp_path) for c in configs]
    assert all(p.exists() for p in saved) and not list(tmp_path.glob("*.json"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        resumed = train_batch(configs, out_dir=tmp_path, checkpoint_every=10**6, checkpoint_seconds=1e-9)
    for a, b in zip(resumed, reference):
        for name in ("train_loss", "test_loss", "train_correct", "test_correct"):
            assert (a.history[name] == b.history[name]).all(), name
    assert not any(p.exists() for p in saved)


def test_a_checkpoint_removed_by_another_process_does_not_fail_the_run(tmp_path, monkeypatch):
    config = smoke(max_epochs=4)
    ckpt = checkpoint_path(config, tmp_path)
    save_run = runner.save_run

    def save_then_lose_checkpoint(result, out_dir):
        path = save_run(result, out_dir)
        ckpt.unlink(missing_ok=True)  # a second copy of the task finished first and cleaned up
        return path

    monkeypatch.setattr(runner, "save_run", save_then_lose_checkpoint)
    result = train(config, out_dir=tmp_path, checkpoint_every=1)
    assert load_run(tmp_path / f"{result.name}.json").summary["epochs_run"] == 4


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_the_batched_engine_records_divergence_and_the_batch_goes_on(method):
    rank = {"rank": 4} if methods.METHODS[method].needs_rank else {}
    if methods.METHODS[method].needs_cutoff:
        rank["spectral_cutoff"] = 0.01
    healthy = smoke(method, seed=0, max_epochs=4, **rank)
    diverging = smoke(method, seed=1, max_epochs=4, weight_decay=1e30, **rank)
    alone = train(healthy)
    results = train_batch([healthy, diverging])
    assert results[1].summary["status"] == "diverged" and results[1].summary["epochs_run"] <= 2
    assert results[0].summary["status"] == "max_epochs" and results[0].summary["epochs_run"] == 4
    assert results[0].summary["final_test_acc"] == pytest.approx(alone.summary["final_test_acc"], abs=0.05)


@pytest.mark.parametrize("where", ["first epoch", "last epoch"])
def test_ctrl_c_in_a_batch_saves_every_run_and_raises(tmp_path, where, monkeypatch):
    """As for one run: SIGINT during an epoch is taken at its end, each running run checkpointed."""
    from egd.grokking import batched, engine

    configs = [smoke("egd-svd", seed=s, max_epochs=4, threshold=1.0) for s in range(2)]
    target = 1 if where == "first epoch" else 4
    original = batched.BatchedTrainer.train_epoch

    def train_epoch(self):
        original(self)
        if max(self.states[i].epoch for i in self.alive) + 1 == target:
            os.kill(os.getpid(), signal.SIGINT)  # arrives mid-epoch, before the evaluation

    monkeypatch.setattr(batched.BatchedTrainer, "train_epoch", train_epoch)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(engine.Interrupted) as exc:
            train_batch(configs, out_dir=tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert exc.value.epoch == target
    if where == "first epoch":
        assert exc.value.checkpointed and not exc.value.finished
        assert all(load_checkpoint(checkpoint_path(c, tmp_path))["state"]["epoch"] == 1 for c in configs)
        assert not list(tmp_path.glob("*.json"))
    else:  # the batch's last epoch: the finished results are saved first
        assert exc.value.finished and all(find_run(c, tmp_path) is not None for c in configs)
        assert not list(tmp_path.glob("*.ckpt.pt"))
    monkeypatch.setattr(batched.BatchedTrainer, "train_epoch", original)
    for a, b in zip(train_batch(configs, out_dir=tmp_path), train_batch(configs)):
        assert (a.history["test_loss"] == b.history["test_loss"]).all()


def test_a_result_of_the_other_engine_is_never_reused_silently(tmp_path):
    single, batched = smoke(seed=0), smoke(seed=1)
    train(single, out_dir=tmp_path)
    train_batch([batched, smoke(seed=2)], out_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # same engine: reused quietly
        train(single, out_dir=tmp_path)
        train_batch([batched], out_dir=tmp_path)
    with pytest.warns(StoreWarning, match=r"trained by the batched engine, for the single engine"):
        assert train(batched, out_dir=tmp_path).env["engine"] == "batched"
    with pytest.warns(StoreWarning, match=r"trained by the single engine, for the batched engine"):
        train_batch([single, batched], out_dir=tmp_path)


@pytest.mark.parametrize("threads, jobs, workers", [(1, None, 4), (2, None, 2), (3, None, 1), (8, None, 1),
                                                     (2, 3, 3)])
def test_the_embedded_cluster_fits_its_workers_threads_to_the_cores(tmp_path, monkeypatch, threads, jobs, workers):
    from egd.grokking import sweep

    seen = {}
    monkeypatch.setattr(sweep, "default_workers", lambda configs=(): 4)
    monkeypatch.setattr(sweep, "run_sweep", lambda configs, out, **kw: seen.update(kw) or sweep.SweepReport())
    argv = ["sweep", "--task", "mod-add", "--methods", "vanilla", "--p", "23", "--preset", "smoke", "--device", "cpu",
            "--no-progress", "--threads", str(threads), "--out", str(tmp_path)]
    argv += ["--jobs", str(jobs)] if jobs else []
    assert cli.main(argv) == 0
    assert seen["workers"] == workers and seen["threads"] == threads


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    import dask

    argv = ["sweep", "--task", "mod-add", "--methods", "vanilla", "--p", "23", "--preset", "smoke", "--device", "cpu",
            "--no-progress", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "out")]
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert "scheduler: cannot connect to the Dask scheduler at 'tcp://127.0.0.1:9'" in err[-1]
    assert not list((tmp_path / "out").glob("*.json"))
