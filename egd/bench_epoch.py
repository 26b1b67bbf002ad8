"""Benchmark: wall time of one training epoch, vanilla vs EGD, on the paper's preset.

An epoch is what the engine does per epoch: ``floor(N/512)`` SGD steps (9 for
``Mod(97, +)``) plus the evaluation of the whole train and test sets. Prints the median
milliseconds per epoch of each method and its ratio to vanilla (the paper reports
94.4 ms vs 29.1 ms, 3.2x, for EGD-SVD at p = 97 on a Tesla T4).

Run: ``egd-grok bench`` or ``python -m egd.bench_epoch [--p 97] [--repeats 7] [--threads 1]``
(both raise glibc's mmap threshold first, :mod:`egd.cpu_allocator`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from .config import make_config
from .cpu_allocator import keep_freed_memory
from .train import fit, build_model

DEFAULT_METHODS = ("vanilla", "egd-svd", "egd-svd-lapack", "colnorm")
DEFAULT_EPOCHS_PER_REPEAT = 10
DEFAULT_REPEATS = 7
DEFAULT_WARMUP_EPOCHS = 3


def epoch_milliseconds(task: str, method: str, *, p: int = 97, device: str = "cpu",
                       epochs: int = DEFAULT_EPOCHS_PER_REPEAT, repeats: int = DEFAULT_REPEATS,
                       rank: int | None = None) -> list[float]:
    """Milliseconds per epoch of ``repeats`` timings of ``epochs`` engine epochs each."""
    times = []
    config = make_config(task, method, p=p, device=device, rank=rank,
                         max_epochs=DEFAULT_WARMUP_EPOCHS + epochs * repeats, patience=None)
    data = config.build_task().build(config.device)
    model = build_model(config, data).to(config.device)
    state = fit(model, data, config, stop_after=DEFAULT_WARMUP_EPOCHS)
    for _ in range(repeats):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        state = fit(model, data, config, state=state, stop_after=epochs)
        times.append((time.perf_counter() - t0) / epochs * 1e3)
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
    args = parser.parse_args(argv)
    keep_freed_memory()
    run_benchmark(args.task, args.p, args.device, args.methods, args.repeats, args.epochs, args.threads)


def run_benchmark(task: str, p: int, device: str, methods: list[str], repeats: int, epochs: int,
                  threads: int | None) -> dict[str, float]:
    """Print and return the median ms/epoch per method (and the ratio to vanilla)."""
    if threads is not None:
        torch.set_num_threads(threads)
    print(f"{task} p={p}, device={device}, threads={torch.get_num_threads()}, "
          f"median of {repeats} x {epochs} epochs (9 steps of batch 512 + full train/test evaluation)")
    medians: dict[str, float] = {}
    for method in ["vanilla"] + [m for m in methods if m != "vanilla"]:
        rank = 128 if method == "egd-rsvd" else None
        ms = epoch_milliseconds(task, method, p=p, device=device, epochs=epochs, repeats=repeats, rank=rank)
        medians[method] = statistics.median(ms)
        ratio = medians[method] / medians["vanilla"]
        print(f"  {method:<16s} {medians[method]:7.2f} ms/epoch   (min {min(ms):6.2f})   ratio to vanilla {ratio:5.2f}x")
    return medians


if __name__ == "__main__":
    main()
