"""Sweeps on Dask: tasks, locks, an existing cluster, and a worker killed in the middle of a run.

The fault test runs a sweep of six short runs on a local cluster of two worker processes,
kills the worker process that is training a run which already has a checkpoint, and checks
that every run is finished exactly once (one JSON + NPZ each, no checkpoint, lock or
temporary file left), that the killed run was resumed from its checkpoint, and that every
history equals the one of the same run trained on its own, in this process, bit for bit.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

from egd.grokking import cli
from egd.grokking.config import make_config, run_name
from egd.grokking.runner import train
from egd.grokking.store import HISTORY_DTYPES, load_run, load_runs
from egd.grokking.sweep import plan_tasks, run_locks, run_sweep, run_task

MODULAR = dict(p=23)
#: Seconds the fault test waits for a checkpoint, and for the sweep to end, before failing.
PATIENCE_S = 180


def smoke(method="vanilla", seed=0, rank=None, **overrides):
    return make_config("mod-add", method, preset="smoke", seed=seed, rank=rank, **MODULAR, **overrides)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_tasks_hold_each_run_once_and_batch_runs_of_one_shape():
    runs = [smoke(seed=s) for s in range(3)]
    parity = make_config("parity", "vanilla", preset="smoke", n=10, k=2)
    assert plan_tasks(runs + [runs[0], parity]) == [[r] for r in runs] + [[parity]]
    assert plan_tasks(runs + [parity, runs[1]], batch=2) == [runs[:2], [runs[2]], [parity]]


def test_a_run_is_trained_by_one_task_at_a_time(tmp_path):
    config = smoke(max_epochs=2)
    stale = tmp_path / f".{run_name(config)}.npz.k1ll3d.tmp"  # what a killed writer leaves behind
    rows = []
    with run_locks([config], tmp_path):
        stale.write_bytes(b"half a file")
        second = threading.Thread(target=lambda: rows.extend(run_task([config], tmp_path)))
        second.start()
        second.join(0.5)
        assert second.is_alive() and not list(tmp_path.glob("*.json"))  # waits for the lock
        train(config, out_dir=tmp_path)  # the holder trains the run
    second.join(60)
    assert rows and rows[0]["reused"] and rows[0]["epochs_run"] == 2  # the second task found it finished
    name = run_name(config)  # and left neither lock file nor the stale piece
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.json", f"{name}.npz"]


def test_a_failing_task_is_reported_and_the_others_finish(tmp_path, monkeypatch, capsys):
    from egd.grokking import runner

    real = runner.train

    def flaky(config, **kwargs):
        if config.seed == 1:
            raise RuntimeError("out of luck")
        return real(config, **kwargs)

    monkeypatch.setattr(runner, "train", flaky)
    argv = ["sweep", "--task", "mod-add", "--methods", "vanilla", "--seeds", "0", "1", "2", "--jobs", "1",
            "--out", str(tmp_path), "--preset", "smoke", "--p", "23", "--max-epochs", "2", "--no-progress"]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "failed: mod-add-p23-vanilla-s1-" in captured.out and "RuntimeError: out of luck" in captured.out
    assert "1 task(s) failed" in captured.err
    assert sorted(r.config.seed for r in load_runs(tmp_path)) == [0, 2]


def test_sweep_on_an_existing_cluster_in_batches(cluster, tmp_path, capsys):
    argv = ["sweep", "--task", "mod-add", "--methods", "vanilla", "egd-svd", "--seeds", "0", "1", "--p", "23",
            "--preset", "smoke", "--max-epochs", "3", "--batch-runs", "2", "--scheduler", cluster.scheduler_address,
            "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    assert f"on the Dask cluster at {cluster.scheduler_address}, in batches of up to 2" in capsys.readouterr().out
    runs = load_runs(tmp_path)
    assert len(runs) == 4 and all(r.env["engine"] == "batched" and r.env["batch_runs"] == 2 for r in runs)
    with pytest.raises(SystemExit):
        cli.main(argv + ["--jobs", "2"])  # the cluster's own workers decide, not --jobs


def _checkpointed_run_in_progress(client, out, names):
    """(worker address, run name) of a task being trained whose run has a checkpoint, or None."""
    for worker, keys in client.processing().items():
        for key in keys:
            name = next((n for n in names if n in str(key)), None)
            if name is not None and (out / f"{name}.ckpt.pt").exists():
                return worker, name
    return None


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, tmp_path):
    methods = [("vanilla", None), ("egd-rsvd", 4), ("egd-svd", None)]
    configs = [smoke(m, seed=s, rank=r, max_epochs=40, patience=None)
               for s, (m, r) in enumerate(methods * 2)]
    names = [run_name(c) for c in configs]
    out = tmp_path / "sweep"
    outcome, lines = {}, []
    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=PATIENCE_S)
        pids = client.run(os.getpid)
        sweep = threading.Thread(target=lambda: outcome.update(report=run_sweep(
            configs, out, client=client, checkpoint_every=5, progress=False, echo=lines.append)))
        sweep.start()
        deadline = time.monotonic() + PATIENCE_S
        victim = None
        while victim is None and time.monotonic() < deadline and sweep.is_alive():
            victim = _checkpointed_run_in_progress(client, out, names)
            time.sleep(0.02)
        assert victim is not None, "no run reached a checkpoint while a worker was training it"
        worker, killed_run = victim
        os.kill(pids[worker], signal.SIGKILL)
        sweep.join(PATIENCE_S)
        assert not sweep.is_alive()
    report = outcome["report"]
    assert not report.failed, report.failed
    assert sorted(row["name"] for row in report.finished) == sorted(names)  # each run once
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}{ext}" for n in names for ext in (".json", ".npz"))
    resumed = {row["name"]: row["resumed_from"] for row in report.finished}
    assert resumed[killed_run] >= 5, (killed_run, resumed)  # the killed run went on from its checkpoint
    for config, name in zip(configs, names):
        swept, alone = load_run(out / f"{name}.json"), train(config)
        assert swept.summary["epochs_run"] == 40
        for column in HISTORY_DTYPES:
            if column != "seconds":
                np.testing.assert_array_equal(swept.history[column], alone.history[column], err_msg=f"{name} {column}")
