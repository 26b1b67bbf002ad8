"""Benchmark: runs per hour, one run at a time vs the batched engine vs Dask.

For each case (Parity(100, 3) vanilla, Mod(97, +) vanilla, Mod(97, +) exact EGD, the
paper's presets with the transform kept on), it times blocks of fresh runs of a fixed
number of epochs, in these modes:

* ``one at a time``: :func:`egd.grokking.runner.train`, one run after the other, in this
  process at one torch thread;
* ``batched R=3`` and ``batched R=10``: :func:`egd.grokking.batched.train_batch` on R runs
  (seeds 0..R-1) in this process at one torch thread;
* ``dask 2 workers``: four runs as four tasks (:func:`egd.grokking.sweep.run_task`) on a
  local Dask cluster of two single-threaded worker processes (started, and warmed up, before
  the clock runs).

Runs per hour = runs of the block / wall seconds x 3600, for runs of ``epochs_per_run``
epochs (a full run is longer; the ratios do not depend on it beyond each run's small
set-up). The modes are timed in turn, round after round, so drift of a shared machine's
load falls on all of them; each round's ratio to ``one at a time`` is taken within the
round, and the verdicts use the median over rounds. The 1-minute load average is recorded
with every block, and the process CPU seconds of the in-process modes (less sensitive to
other processes than wall time). With a CUDA device, a GPU section times one at a time
against batches of 10 and 64 on it.

Run: ``python -m egd.bench.throughput`` (writes ``benchmarks/results/throughput_cpu.json``,
or ``throughput_cuda.json`` on a machine with a GPU; ``--rounds``, ``--out``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from egd.grokking.batched import train_batch
from egd.grokking.config import make_config
from egd.grokking.cpu_allocator import keep_freed_memory
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json, check_output_file
from egd.grokking.runner import train

DEFAULT_OUT_DIR = Path("benchmarks/results")
DEFAULT_ROUNDS = 3
ONE_AT_A_TIME = "one at a time"
#: Runs per block of the one-at-a-time and Dask modes.
SINGLE_RUNS = 2
DASK_RUNS = 4
DASK_WORKERS = 2


@dataclass(frozen=True)
class Case:
    """One benchmark case: a task and method on the paper's preset, runs of ``epochs`` epochs."""

    name: str
    task: str
    method: str
    shape: dict = field(default_factory=dict)
    epochs: int = 3
    preset: str = "paper"

    def config(self, seed: int, device: str = "cpu"):
        # the transform stays on and nothing stops early: every block does the same work
        return make_config(self.task, self.method, preset=self.preset, seed=seed, device=device,
                           max_epochs=self.epochs, patience=None, switch_off=False, **self.shape)


CASES = (
    Case("parity (100,3) vanilla", "parity", "vanilla", dict(n=100, k=3), epochs=10),
    Case("mod-add p=97 vanilla", "mod-add", "vanilla", dict(p=97), epochs=4),
    Case("mod-add p=97 exact EGD", "mod-add", "egd-svd", dict(p=97), epochs=4),
)

#: (claim, case, mode, target ratio of runs per hour to one at a time), checked on the CPU.
CPU_TARGETS = (
    ("parity (100,3) vanilla: batched R=10 at least 4x the runs per hour of one at a time",
     "parity (100,3) vanilla", "batched R=10", 4.0),
    ("mod-add p=97 vanilla: batched R=3 at least 1.3x", "mod-add p=97 vanilla", "batched R=3", 1.3),
    ("mod-add p=97 exact EGD: batched R=3 no slower per run", "mod-add p=97 exact EGD", "batched R=3", 1.0),
    ("mod-add p=97 exact EGD: batched R=10 no slower per run", "mod-add p=97 exact EGD", "batched R=10", 1.0),
)
GPU_TARGETS = (
    ("parity (100,3) vanilla on the GPU: batched R=64 at least 30x one at a time",
     "parity (100,3) vanilla", "batched R=64", 30.0),
)


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _timed(block: Callable[[], int], device: str) -> dict:
    """Run ``block`` (it returns the number of runs it trained); wall and CPU seconds, load."""
    load = _load()
    _sync(device)
    c0, t0 = time.process_time(), time.perf_counter()
    runs = block()
    _sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"runs": runs, "wall_seconds": wall, "cpu_seconds": cpu, "load_avg_1min": load}


def one_at_a_time(case: Case, device: str, runs: int = SINGLE_RUNS) -> Callable[[], int]:
    def block() -> int:
        for seed in range(runs):
            train(case.config(seed, device))
        return runs
    return block


def batched(case: Case, device: str, R: int) -> Callable[[], int]:
    def block() -> int:
        train_batch([case.config(seed, device) for seed in range(R)])
        return R
    return block


def on_dask(case: Case, client, runs: int = DASK_RUNS) -> Callable[[], int]:
    from distributed import wait

    from egd.grokking.sweep import run_task

    def block() -> int:
        futures = [client.submit(run_task, [case.config(seed)], None, pure=False) for seed in range(runs)]
        wait(futures)
        for f in futures:
            f.result()  # raise a task's error here
        return runs
    return block


def measure(cases: Sequence[Case], modes: dict[str, Callable[[Case], Callable[[], int]]], *, rounds: int,
            device: str = "cpu", echo: Callable[[str], None] = print) -> dict:
    """Time every mode on every case, ``rounds`` times, modes in turn (rotated each round).

    Returns ``{case: {"epochs_per_run", "modes": {mode: {"blocks": [...], "runs_per_hour": [...],
    "ratio_to_one_at_a_time": [...], "runs_per_hour_median", "ratio_median", ...}}}}``.
    """
    names = list(modes)
    blocks = {c.name: {m: [] for m in names} for c in cases}
    for c in cases:  # one untimed epoch of every mode first: imports, allocator, worker start-up
        warm = Case(c.name, c.task, c.method, c.shape, 1, c.preset)
        for m in names:
            modes[m](warm)()
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for c in cases:
            for m in order:
                result = _timed(modes[m](c), device)
                blocks[c.name][m].append(result)
                echo(f"round {r + 1}/{rounds}  {c.name:<24s} {m:<16s} {result['runs']:3d} runs in "
                     f"{result['wall_seconds']:7.2f} s  (load {result['load_avg_1min']})")
    out = {}
    for c in cases:
        per_mode = {}
        base = [b["runs"] / b["wall_seconds"] * 3600 for b in blocks[c.name][ONE_AT_A_TIME]]
        base_cpu = [b["cpu_seconds"] / b["runs"] for b in blocks[c.name][ONE_AT_A_TIME]]
        for m in names:
            bs = blocks[c.name][m]
            rate = [b["runs"] / b["wall_seconds"] * 3600 for b in bs]
            ratio = [x / y for x, y in zip(rate, base)]
            entry = {"runs_per_block": bs[0]["runs"], "blocks": bs, "runs_per_hour": rate,
                     "runs_per_hour_median": statistics.median(rate),
                     "ratio_to_one_at_a_time": ratio, "ratio_median": statistics.median(ratio)}
            if not m.startswith("dask"):  # in-process: CPU seconds per run, a load-robust view
                cpu_ratio = [y / (b["cpu_seconds"] / b["runs"]) for b, y in zip(bs, base_cpu)]
                entry["cpu_seconds_per_run_median"] = statistics.median(b["cpu_seconds"] / b["runs"] for b in bs)
                entry["cpu_ratio_median"] = statistics.median(cpu_ratio)
            per_mode[m] = entry
        out[c.name] = {"task": c.task, "method": c.method, "shape": c.shape, "epochs_per_run": c.epochs,
                       "modes": per_mode}
    return out


def acceptance(results: dict, targets: Sequence[tuple[str, str, str, float]]) -> list[dict]:
    """One row per target: the claim, the target ratio, the measured median ratio, and whether it holds
    (missing cases or modes are left out)."""
    rows = []
    for claim, case, mode, target in targets:
        entry = results.get(case, {}).get("modes", {}).get(mode)
        if entry is None:
            continue
        measured = entry["ratio_median"]
        rows.append({"claim": claim, "target": target, "measured": measured, "holds": measured >= target,
                     "rounds": entry["ratio_to_one_at_a_time"]})
    return rows


def cpu_modes(client=None) -> dict[str, Callable[[Case], Callable[[], int]]]:
    modes = {ONE_AT_A_TIME: lambda c: one_at_a_time(c, "cpu"),
             "batched R=3": lambda c: batched(c, "cpu", 3),
             "batched R=10": lambda c: batched(c, "cpu", 10)}
    if client is not None:
        modes[f"dask {DASK_WORKERS} workers"] = lambda c: on_dask(c, client)
    return modes


def gpu_modes(device: str = "cuda") -> dict[str, Callable[[Case], Callable[[], int]]]:
    return {ONE_AT_A_TIME: lambda c: one_at_a_time(c, device),
            "batched R=10": lambda c: batched(c, device, 10),
            "batched R=64": lambda c: batched(c, device, 64)}


def _print_summary(title: str, results: dict, checks: list[dict]) -> None:
    print(title)
    for case, entry in results.items():
        for mode, m in entry["modes"].items():
            cpu = f"   cpu-time ratio {m['cpu_ratio_median']:5.2f}x" if "cpu_ratio_median" in m else ""
            print(f"  {case:<24s} {mode:<16s} {m['runs_per_hour_median']:9.0f} runs/h   "
                  f"ratio {m['ratio_median']:5.2f}x{cpu}")
    for row in checks:
        print(f"  [{'holds' if row['holds'] else 'NOT MET'}] {row['claim']}: {row['measured']:.2f}x "
              f"(target {row['target']}x)")


def run_benchmark(out: str | os.PathLike | None, *, rounds: int = DEFAULT_ROUNDS, cases: Sequence[Case] = CASES,
                  dask: bool = True, gpu: bool | None = None, cpu_section: bool = True) -> dict:
    """The whole benchmark: the CPU section (with Dask when ``dask``; skipped without
    ``cpu_section``), then the GPU section when a CUDA device is present (``gpu=None``) or asked
    for; writes ``out`` (JSON) when given."""
    if out is not None:
        check_output_file(out, name="out")
    record = {"benchmark": "throughput", "torch_version": torch.__version__, "threads_per_process": 1,
              "cpu_count": os.cpu_count(), "rounds": rounds, "load_avg_start": list(os.getloadavg()),
              "note": "runs per hour of runs of epochs_per_run epochs each; ratios are taken round by round "
                      "against one at a time and summarised by their median"}
    client = cluster = None
    cpu: dict = {}
    try:
        if dask and cpu_section:
            from distributed import Client, LocalCluster

            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            client.run(lambda: __import__("egd.grokking.sweep"))  # import torch and the harness everywhere
            record["dask_startup_seconds"] = time.perf_counter() - t0
        if cpu_section:
            cpu = measure(cases, cpu_modes(client), rounds=rounds)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    record["cpu"] = None if not cpu_section else {
        "device": "cpu", "device_name": device_name("cpu"), "cases": cpu, "acceptance": acceptance(cpu, CPU_TARGETS)}
    record["gpu"] = None
    if gpu or (gpu is None and torch.cuda.is_available()):
        results = measure(cases, gpu_modes(), rounds=rounds, device="cuda")
        record["gpu"] = {"device": "cuda", "device_name": device_name("cuda"), "cases": results,
                         "acceptance": acceptance(results, GPU_TARGETS)}
    record["load_avg_end"] = list(os.getloadavg())
    if record["cpu"] is not None:
        _print_summary(f"CPU ({record['cpu']['device_name']}), load average {record['load_avg_start'][0]:.1f} at "
                       f"the start, {record['load_avg_end'][0]:.1f} at the end", cpu, record["cpu"]["acceptance"])
    if record["gpu"] is not None:
        _print_summary(f"GPU ({record['gpu']['device_name']})", record["gpu"]["cases"], record["gpu"]["acceptance"])
    if out is not None:
        atomic_write_json(Path(out), record)
        print(f"wrote {out}")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/throughput_cpu.json, "
                        "or throughput_cuda.json when a GPU is present)")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask mode")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU section (a machine lent for a GPU check)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    torch.set_num_threads(1)  # an entry point: every in-process mode runs at one thread
    keep_freed_memory()
    if args.gpu_only and not torch.cuda.is_available():
        parser.error("--gpu-only needs a CUDA device, and this torch sees none")
    out = args.out or DEFAULT_OUT_DIR / f"throughput_{'cuda' if torch.cuda.is_available() else 'cpu'}.json"
    run_benchmark(out, rounds=args.rounds, dask=not args.no_dask, cpu_section=not args.gpu_only)


if __name__ == "__main__":
    main()
