"""Benchmark: milliseconds per optimizer step in Appendix D's settings, the baseline against each method.

A step is what :meth:`egd.grokking.engine.Trainer.train_step` does: forward and backward on one
mini-batch, the method's transform (EGD's ``U V^T`` of the transformed matrices, RSVD, or the
Grokfast filter), then Adam's / AdamW's step. Evaluation is not part of it. The settings are
the chapter's runs (:mod:`egd.grokking.runsets`, seed 0): the transformer on ``x * y mod 97``
(batch 512) and the 3-layer MLP on scikit-learn's digits (batch 200, weight decay 2.0).

Methods are timed in turn, block after block, so a machine whose speed drifts (a shared CPU)
puts the same drift into every method; the ratio of medians compares the methods.

Run: ``python -m egd.bench.step_cost --threads 1 --out benchmarks/results/steps_other_models_cpu.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from egd.grokking import runsets
from egd.grokking.config import RunConfig
from egd.grokking.cpu_allocator import keep_freed_memory
from egd.grokking.engine import Trainer, build_model
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json, check_output_file
from egd.grokking.labels import method_key

DEFAULT_STEPS_PER_BLOCK = 9
DEFAULT_REPEATS = 7
DEFAULT_WARMUP_STEPS = 3
#: Weight decay of the digits configs timed (the public comparison runs' value).
DIGITS_BENCH_WEIGHT_DECAY = 2.0
SETTINGS = ("transformer", "digits")


def setting_configs(setting: str, device: str = "cpu") -> dict[str, RunConfig]:
    """The seed-0 config of every method of ``setting`` (``"transformer"`` or ``"digits"``), by method key."""
    if setting == "transformer":
        configs = [runsets.transformer_config(m, r, 0, device) for m, r in runsets.TRANSFORMER_METHODS]
    elif setting == "digits":
        configs = [runsets.digits_config(m, r, 0, DIGITS_BENCH_WEIGHT_DECAY, device) for m, r in runsets.DIGITS_METHODS]
    else:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    return {method_key(c): c for c in configs}


class _StepTimer:
    """One method's trainer and a fixed sequence of mini-batches to time steps on."""

    def __init__(self, config: RunConfig) -> None:
        data = config.build_task().build(config.device)
        self.trainer = Trainer(build_model(config, data).to(config.device), data, config)
        gen = torch.Generator().manual_seed(config.seed)
        batch = config.batch_size
        perm = torch.randperm(data.n_train, generator=gen).to(config.device)
        self.batches = [perm[i * batch:(i + 1) * batch] for i in range(data.n_train // batch)]
        self.cuda = torch.device(config.device).type == "cuda"
        self.next = 0
        self.block(DEFAULT_WARMUP_STEPS)

    def block(self, steps: int) -> float:
        """Milliseconds per step of the next ``steps`` steps."""
        if self.cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.trainer.train_step(self.batches[self.next % len(self.batches)])
            self.next += 1
        if self.cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / steps * 1e3


def step_milliseconds(configs: dict[str, RunConfig], *, steps: int = DEFAULT_STEPS_PER_BLOCK,
                      repeats: int = DEFAULT_REPEATS) -> dict[str, list[float]]:
    """``repeats`` timings (ms per step, blocks of ``steps`` steps) per key of ``configs``, taken in turn."""
    for name, value in (("steps", steps), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    timers = {key: _StepTimer(c) for key, c in configs.items()}
    times: dict[str, list[float]] = {key: [] for key in configs}
    for _ in range(repeats):
        for key, timer in timers.items():
            times[key].append(timer.block(steps))
    return times


def run_benchmark(settings: tuple[str, ...] = SETTINGS, *, device: str = "cpu", steps: int = DEFAULT_STEPS_PER_BLOCK,
                  repeats: int = DEFAULT_REPEATS, out: str | os.PathLike | None = None) -> dict:
    """Time every method of each setting; print medians and ratios to the baseline; write JSON to ``out``.

    The record: per setting, ``ms_per_step`` (every block), ``median_ms_per_step`` and
    ``ratio_to_baseline`` (median over the baseline's median), with the device, torch's
    thread count and the 1-minute load average at the end.
    """
    if out is not None:
        check_output_file(out, name="out")
    record = {"device": device, "device_name": device_name(torch.device(device)), "torch_version": torch.__version__,
              "num_threads": torch.get_num_threads(), "steps_per_block": steps, "repeats": repeats, "settings": {}}
    for setting in settings:
        times = step_milliseconds(setting_configs(setting, device), steps=steps, repeats=repeats)
        medians = {k: statistics.median(v) for k, v in times.items()}
        record["settings"][setting] = {"ms_per_step": times, "median_ms_per_step": medians,
                                       "ratio_to_baseline": {k: m / medians["vanilla"] for k, m in medians.items()}}
        print(f"{setting}: median ms per step over {repeats} blocks of {steps} steps (threads "
              f"{torch.get_num_threads()})")
        for k, m in medians.items():
            print(f"  {k:<12s} {m:8.2f} ms   {m / medians['vanilla']:5.2f}x the baseline")
    record["load_avg_1min"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if out is not None:
        atomic_write_json(Path(out), record)
        print(f"wrote {out}")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS_PER_BLOCK)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", default=None, help="also write the timings to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)  # process-wide: only in this entry point
    keep_freed_memory()
    run_benchmark(tuple(args.settings), device=args.device, steps=args.steps, repeats=args.repeats, out=args.out)


if __name__ == "__main__":
    main()
