"""Sweeps on Dask: runs, or batches of runs, as tasks on a cluster, results in one shared folder.

``egd-grok sweep`` and ``egd-grok reproduce`` call :func:`run_sweep`. Each task is
:func:`run_task` on one run (the single-run engine, :func:`egd.grokking.runner.train`) or
on a batch of up to ``batch`` runs of one shape (the batched engine,
:func:`egd.grokking.batched.train_batch`); it writes the standard result files into the
results folder, which every worker must see (a local folder for the embedded cluster, a
shared file system for a real one).

* Default: an embedded ``distributed.LocalCluster`` with one single-threaded worker
  process per core; ``scheduler="tcp://host:8786"`` uses an existing cluster instead
  (``dask scheduler`` / ``dask worker``, or dask-jobqueue on SLURM/PBS); ``workers=1``
  runs the tasks in this process, one after the other, without Dask.
* Every task sets torch to its runs' thread count (``config.threads``, which is part of a
  CPU run's key; runs at different counts never share a batch) when it starts: a Dask
  worker is an entry point like the command line. ``threads`` sets the count of CUDA runs
  (whose configs hold none) and, when given, must agree with every CPU config's.
* A worker that dies (killed, out of memory, node lost) has its task rescheduled by Dask
  on another worker; the task takes the runs' locks (below), finds the finished ones and
  resumes the others from their checkpoints in the results folder, so at most
  ``checkpoint_every`` epochs or ``checkpoint_seconds`` of training (60 s by default) are
  repeated. A task that raises is reported as failed and the sweep goes on.
* No result is lost or written twice: result and checkpoint files are written atomically
  (:mod:`egd.grokking.files`), and a task holds an exclusive lock on each of its runs
  (``fcntl.flock`` on ``.<run name>.lock`` in the results folder, released by the kernel
  when a process dies) while it trains them, so a second copy of a task (a worker declared
  dead that was only slow) waits, then finds the result and reuses it.
* A progress bar over runs shows finished / running / failed counts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from egd._checks import check_int, check_real

from .config import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_SECONDS,
    DEFAULT_THREADS,
    RunConfig,
    config_key,
    run_name,
)

__all__ = ["default_workers", "plan_tasks", "task_threads", "run_task", "run_sweep", "SweepReport", "dask_client",
           "describe", "DEFAULT_THREADS"]

#: Seconds between two looks at the cluster (progress bar, running count).
POLL_SECONDS = 0.5


def default_workers(configs: Sequence[RunConfig] = ()) -> int:
    """Worker processes of the embedded cluster: one per core this process may use, or one
    when the runs are on a CUDA device (one process per GPU)."""
    if any(torch.device(c.device).type == "cuda" for c in configs):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_tasks(configs: Sequence[RunConfig], batch: int = 1) -> list[list[RunConfig]]:
    """The tasks of a sweep: each config once (by key), one per task (``batch=1``) or in
    batches of up to ``batch`` runs of one shape (:func:`egd.grokking.batched.group_configs`)."""
    from .batched import group_configs

    unique: dict[str, RunConfig] = {}
    for config in configs:
        unique.setdefault(config_key(config), config)
    return group_configs(list(unique.values()), batch)


def task_threads(configs: Sequence[RunConfig], threads: int | None = None) -> int:
    """The torch thread count a task of ``configs`` computes with: their ``config.threads``
    (CPU runs; one count per task), or for CUDA runs (``threads`` None in their configs)
    ``threads``, default :data:`DEFAULT_THREADS`.

    ``ValueError`` when the CPU configs disagree, or when ``threads`` is given and differs
    from theirs: results depend on the count, and a run is stored under the count its
    config records.
    """
    if threads is not None:
        check_int("threads", threads, minimum=1)
    fixed = sorted({c.threads for c in configs if c.threads is not None})
    if len(fixed) > 1:
        raise ValueError(f"threads: the runs of one task must share a thread count, got {fixed}")
    if not fixed:
        return threads if threads is not None else DEFAULT_THREADS
    if threads is not None and threads != fixed[0]:
        raise ValueError(f"threads: asked for {threads} torch threads but the configs say {fixed[0]} (results "
                         f"depend on it, and runs are stored under their config's count); build the configs with "
                         f"threads={threads}, or pass threads={fixed[0]}")
    return fixed[0]


# ----------------------------------------------------------------------------- one task


@contextlib.contextmanager
def run_locks(configs: Sequence[RunConfig], out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on every run of ``configs`` (taken in name order, so two tasks
    never wait on each other crosswise). A run's lock file is removed once its result
    exists: whoever takes the lock after that finds the result and writes nothing."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): atomic writes still keep every file whole
        yield
        return
    held = []
    try:
        for name in sorted(run_name(c) for c in configs):
            path = out_dir / f".{name}.lock"
            fh = open(path, "a+b")  # held until the runs are done
            held.append((name, path, fh))
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError:  # a file system without locks (old NFS): atomic writes still keep files whole
                pass
        yield
    finally:
        for name, path, fh in reversed(held):
            if (out_dir / f"{name}.json").exists():
                path.unlink(missing_ok=True)
            fh.close()


def _resumable_epoch(config: RunConfig, out_dir: Path) -> int:
    """Epochs done by the run's checkpoint in ``out_dir`` (0 when there is none for this key)."""
    from .store import checkpoint_path, load_checkpoint

    ckpt = checkpoint_path(config, out_dir)
    if not ckpt.exists():
        return 0
    try:
        snap = load_checkpoint(ckpt)
    except (OSError, RuntimeError, EOFError, ValueError):  # damaged: the run moves it aside and starts afresh
        return 0
    return int(snap["state"]["epoch"]) if snap.get("key") == config_key(config) else 0


def _row(result, resumed_from: int, reused: bool) -> dict:
    s = result.summary
    return {"name": result.name, "key": result.key, "status": s["status"], "epochs_run": s["epochs_run"],
            "epochs_to_threshold": s["epochs_to_threshold"], "seconds_to_threshold": s["seconds_to_threshold"],
            "final_train_acc": s["final_train_acc"], "final_test_acc": s["final_test_acc"],
            "threshold": result.config.threshold, "engine": result.env.get("engine", "single"),
            "resumed_from": resumed_from, "reused": reused}


def describe(row: dict) -> str:
    """One line per finished run, as ``egd-grok train`` prints it (plus where it resumed)."""
    reached = row["epochs_to_threshold"]
    when = f"{reached} epochs / {row['seconds_to_threshold']:.1f} s" if reached else "never"
    line = (f"{row['name']}: {row['status']}, {row['epochs_run']} epochs, threshold {row['threshold']} "
            f"reached: {when}; final train {row['final_train_acc']:.4f} test {row['final_test_acc']:.4f}")
    if row["resumed_from"]:
        line += f" (resumed from epoch {row['resumed_from']})"
    return line


def run_task(configs: Sequence[RunConfig], out_dir: str | os.PathLike | None, *, threads: int | None = None,
             checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
             checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, reuse: bool = True, resume: bool = True,
             progress: bool = False) -> list[dict]:
    """Train ``configs`` (one run, or a batch of one shape) into ``out_dir``; one summary row per run.

    What a Dask worker runs. It sets torch to the runs' thread count first
    (:func:`task_threads`; a worker is an entry point), then, holding the runs' locks,
    reuses finished runs (``reuse``), resumes from checkpoints (``resume``), trains the rest
    (one run: the single-run engine; several: the batched engine; checkpoints every
    ``checkpoint_every`` epochs and ``checkpoint_seconds`` of training) and removes
    temporary files an earlier, killed attempt left behind. ``out_dir=None``: train
    without any file (benchmarks).
    """
    from .batched import train_batch
    from .cpu_allocator import keep_freed_memory
    from .runner import train
    from .store import find_run

    configs = list(configs)
    torch.set_num_threads(task_threads(configs, threads))
    keep_freed_memory()
    if out_dir is None:
        results = ([train(configs[0], progress=progress)] if len(configs) == 1
                   else train_batch(configs, progress=progress))
        return [_row(r, 0, False) for r in results]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with run_locks(configs, out):
        reused = [reuse and find_run(c, out) is not None for c in configs]
        resumed = [0 if done else _resumable_epoch(c, out) for c, done in zip(configs, reused)]
        kwargs = dict(out_dir=out, reuse=reuse, resume=resume, checkpoint_every=checkpoint_every,
                      checkpoint_seconds=checkpoint_seconds, progress=progress)
        results = [train(configs[0], **kwargs)] if len(configs) == 1 else train_batch(configs, **kwargs)
        for config in configs:  # pieces of atomic writes that a killed process could not remove
            for tmp in out.glob(f".{run_name(config)}.*.tmp"):
                tmp.unlink(missing_ok=True)
    return [_row(r, e, u) for r, e, u in zip(results, resumed, reused)]


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    """``finished``: one row per run (:func:`run_task`); ``failed``: ``(run names, error)`` per task."""

    finished: list[dict] = field(default_factory=list)
    failed: list[tuple[list[str], str]] = field(default_factory=list)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``), or to an embedded ``LocalCluster`` of ``workers``
    single-threaded worker processes (default: :func:`default_workers`)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:  # unreachable, or not an address
            raise ValueError(f"scheduler: cannot connect to the Dask scheduler at {scheduler!r} "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); nothing was "
                             f"started") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or default_workers()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def _task_key(task: Sequence[RunConfig]) -> str:
    more = f"+{len(task) - 1}" if len(task) > 1 else ""
    return f"train-{run_name(task[0])}{more}-{uuid.uuid4().hex[:8]}"


def run_sweep(configs: Sequence[RunConfig], out_dir: str | os.PathLike, *, batch: int = 1,
              workers: int | None = None, scheduler: str | None = None, threads: int | None = None,
              checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
              checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, reuse: bool = True,
              resume: bool = True, progress: bool = True, echo: Callable[[str], None] = print,
              client=None) -> SweepReport:
    """Train every config into ``out_dir``: on Dask (an embedded cluster of ``workers``
    processes, default :func:`default_workers`; the cluster at ``scheduler``; or an open
    ``client``), or in this process when there is one worker and no scheduler.

    ``batch``: runs per task, trained together by the batched engine (1: the single-run
    engine). Each task computes with its runs' thread count (:func:`task_threads`;
    ``threads`` for CUDA runs, and when given it must agree with every CPU config's).
    Everything is checked before the first task starts: the options, the thread counts,
    the output folder and (on this machine's workers) the devices. ``echo``: receives one
    line per finished run (:func:`describe`) and per failed task. Returns what finished and
    what failed; failures do not stop the others.
    """
    from .environment import require_device
    from .files import check_output_dir

    check_int("checkpoint_every", checkpoint_every, minimum=1)
    if checkpoint_seconds is not None:
        check_real("checkpoint_seconds", checkpoint_seconds, low=0.0, low_open=True)
    if workers is not None:
        check_int("workers", workers, minimum=1)
    tasks = plan_tasks(configs, batch)
    for task in tasks:  # every task's thread count, before any task starts
        task_threads(task, threads)
    if client is None and scheduler is None:  # this machine's workers: its devices must do
        for device in sorted({c.device for c in configs}):
            require_device(device)
    check_output_dir(out_dir, name="out_dir")
    out = Path(out_dir).resolve()  # workers may start elsewhere: give them an absolute path
    out.mkdir(parents=True, exist_ok=True)
    task_kwargs = dict(threads=threads, checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                       reuse=reuse, resume=resume)
    if client is not None:
        return _follow(client, tasks, out, task_kwargs, progress, echo)
    workers = workers or default_workers(configs)
    if scheduler is None and workers == 1:
        return _run_here(tasks, out, task_kwargs, progress, echo)
    with dask_client(scheduler, workers) as opened:
        return _follow(opened, tasks, out, task_kwargs, progress, echo)


def _run_here(tasks, out: Path, task_kwargs: dict, progress: bool, echo) -> SweepReport:
    report = SweepReport()
    for task in tasks:
        try:
            rows = run_task(task, out, progress=progress, **task_kwargs)
        except Exception as exc:  # reported, and the sweep goes on
            report.failed.append(([run_name(c) for c in task], f"{type(exc).__name__}: {exc}"))
            echo(f"failed: {', '.join(run_name(c) for c in task)}: {type(exc).__name__}: {exc}")
            continue
        report.finished.extend(rows)
        for row in rows:
            echo(describe(row))
    return report


def _follow(client, tasks, out: Path, task_kwargs: dict, progress: bool, echo) -> SweepReport:
    """Submit one Dask task per entry of ``tasks`` and follow them to the end."""
    from distributed import wait

    report = SweepReport()
    pending = {client.submit(run_task, task, str(out), key=_task_key(task), retries=0, **task_kwargs): task
               for task in tasks}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(len(t) for t in tasks), unit="run", desc="sweep", dynamic_ncols=True)
        write = bar.write
    else:
        write = echo
    failed_runs = 0
    try:
        while pending:
            try:
                wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            for future in [f for f in pending if f.done()]:
                task = pending.pop(future)
                names = [run_name(c) for c in task]
                if future.status == "finished":
                    rows = future.result()
                    report.finished.extend(rows)
                    for row in rows:
                        write(describe(row))
                else:
                    try:
                        error = future.exception()
                        message = f"{type(error).__name__}: {error}"
                    except Exception as exc:  # a cancelled or lost future
                        message = f"{future.status}: {exc}"
                    report.failed.append((names, message))
                    failed_runs += len(task)
                    write(f"failed: {', '.join(names)}: {message}")
                if bar is not None:
                    bar.update(len(task))
            if bar is not None:
                running = _running_runs(client, {str(f.key): len(t) for f, t in pending.items()})
                bar.set_postfix_str(f"finished {len(report.finished)}, running {running}, failed {failed_runs}")
    except BaseException:
        client.cancel(list(pending))  # interrupted: checkpoints stay, a rerun resumes from them
        raise
    finally:
        if bar is not None:
            bar.close()
    return report


def _running_runs(client, sizes: dict[str, int]) -> int:
    """Runs of the tasks being executed now: the scheduler assigns a worker a few tasks ahead
    of its threads, so each worker counts for at most its number of threads."""
    threads = client.nthreads()
    running = 0
    for worker, keys in client.processing().items():
        mine = [sizes[str(k)] for k in keys if str(k) in sizes]
        running += sum(mine[:threads.get(worker, 1)])
    return running
