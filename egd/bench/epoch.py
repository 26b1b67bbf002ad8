"""Benchmark: wall time of one training epoch, vanilla vs EGD, on the paper's preset.

An epoch is what the engine does per epoch: ``floor(N/512)`` SGD steps (9 for
``Mod(97, +)``) plus the evaluation of the whole train and test sets. Prints the median
milliseconds per epoch of each method and its ratio to vanilla (the paper reports
94.4 ms vs 29.1 ms, 3.2x, for EGD-SVD at p = 97 on a Tesla T4).

Run: ``egd-grok bench`` or ``python -m egd.bench.epoch [--p 97] [--repeats 7] [--threads 1]``
(both raise glibc's mmap threshold first, :mod:`egd.grokking.cpu_allocator`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from egd._checks import check_int
from egd.grokking.config import make_config
from egd.grokking.cpu_allocator import keep_freed_memory
from egd.grokking.engine import Trainer, build_model
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json, check_output_file

DEFAULT_METHODS = ("vanilla", "egd-svd", "egd-svd-lapack", "colnorm")
DEFAULT_EPOCHS_PER_REPEAT = 10
DEFAULT_REPEATS = 7
DEFAULT_WARMUP_EPOCHS = 3
#: Rank of the methods that need one (the paper's modular setting).
BENCH_RANKS = {"egd-rsvd": 128}


class _EpochTimer:
    """One method's model, data and engine state, ready to time blocks of epochs."""

    def __init__(self, task: str, method: str, *, p: int, device: str, epochs: int, repeats: int,
                 rank: int | None) -> None:
        # switch_off=False: a long benchmark would otherwise pass 95% test accuracy and time
        # plain SGD steps under the EGD label
        self.config = make_config(task, method, p=p, device=device, rank=rank, switch_off=False,
                                  max_epochs=DEFAULT_WARMUP_EPOCHS + epochs * repeats, patience=None)
        data = self.config.build_task().build(self.config.device)
        self.trainer = Trainer(build_model(self.config, data).to(self.config.device), data, self.config)
        self.device = device
        self.trainer.run(stop_after=DEFAULT_WARMUP_EPOCHS)

    def block(self, epochs: int) -> float:
        """Milliseconds per epoch of the next ``epochs`` engine epochs."""
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        self.trainer.run(stop_after=epochs)
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / epochs * 1e3


def epoch_milliseconds(task: str, method: str, *, p: int = 97, device: str = "cpu",
                       epochs: int = DEFAULT_EPOCHS_PER_REPEAT, repeats: int = DEFAULT_REPEATS,
                       rank: int | None = None) -> list[float]:
    """Milliseconds per epoch of ``repeats`` timings of ``epochs`` engine epochs each."""
    timer = _EpochTimer(task, method, p=p, device=device, epochs=epochs, repeats=repeats, rank=rank)
    return [timer.block(epochs) for _ in range(repeats)]


def interleaved_epoch_milliseconds(task: str, methods: list[str], *, p: int = 97, device: str = "cpu",
                                   epochs: int = DEFAULT_EPOCHS_PER_REPEAT, repeats: int = DEFAULT_REPEATS,
                                   ranks: dict[str, int] | None = None) -> dict[str, list[float]]:
    """Like :func:`epoch_milliseconds` for several methods, their blocks taken in turn.

    On a shared or throttled machine the speed drifts over a minute; timing vanilla, then
    EGD, then vanilla again ... puts the same drift into every method, so the ratio of
    medians (and the per-round ratios) measure the methods, not the machine's mood.
    """
    ranks = ranks or {}
    timers = {m: _EpochTimer(task, m, p=p, device=device, epochs=epochs, repeats=repeats, rank=ranks.get(m))
              for m in methods}
    times: dict[str, list[float]] = {m: [] for m in methods}
    for _ in range(repeats):
        for m in methods:
            times[m].append(timers[m].block(epochs))
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mod-add", choices=("mod-add", "mod-mul"))
    parser.add_argument("--p", type=int, default=97)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS_PER_REPEAT)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", default=None, help="also write the timings to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)  # process-wide: only in this entry point
    keep_freed_memory()
    run_benchmark(args.task, args.p, args.device, args.methods, args.repeats, args.epochs, args.out)


def run_benchmark(task: str, p: int, device: str, methods: list[str], repeats: int, epochs: int,
                  out: str | os.PathLike | None = None) -> dict[str, float]:
    """Print and return the median ms/epoch per method (and the ratio to vanilla); with
    ``out``, also write every timing to that JSON file (atomically; its folder is checked
    before anything is timed). Runs with torch's current thread count (recorded)."""
    check_int("repeats", repeats, minimum=1)
    check_int("epochs", epochs, minimum=1)
    if out is not None:
        check_output_file(out, name="out")
    order = ["vanilla"] + [m for m in methods if m != "vanilla"]
    print(f"{task} p={p}, device={device}, threads={torch.get_num_threads()}, "
          f"median of {repeats} x {epochs} epochs (9 steps of batch 512 + full train/test evaluation), "
          "methods timed in turn")
    times = interleaved_epoch_milliseconds(task, order, p=p, device=device, epochs=epochs, repeats=repeats,
                                           ranks=BENCH_RANKS)
    medians = {m: statistics.median(ms) for m, ms in times.items()}
    if out is not None:
        atomic_write_json(Path(out), {
            "task": task, "p": p, "device": device, "device_name": device_name(torch.device(device)),
            "torch_version": torch.__version__, "num_threads": torch.get_num_threads(),
            "epochs_per_block": epochs, "repeats": repeats, "ms_per_epoch": times,
            "median_ms_per_epoch": medians,
            "ratio_to_vanilla": {m: medians[m] / medians["vanilla"] for m in order},
            "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        })
        print(f"wrote {out}")
    for m in order:
        rounds = [t / v for t, v in zip(times[m], times["vanilla"])]
        print(f"  {m:<16s} {medians[m]:7.2f} ms/epoch   (min {min(times[m]):6.2f})   ratio to vanilla "
              f"{medians[m] / medians['vanilla']:5.2f}x   (per round: median {statistics.median(rounds):4.2f}, "
              f"range {min(rounds):4.2f}-{max(rounds):4.2f})")
    return medians


if __name__ == "__main__":
    main()
