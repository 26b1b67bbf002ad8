"""Do a run's numbers depend on torch's CPU thread count? Train the same config at 1 and 2 threads.

Mod-add p = 97, seed 0, the paper's preset (switch-off at 95%), ``--epochs`` epochs
(default 200, no early stop), for vanilla SGD, exact EGD and EGD-RSVD (rank 128), once at
each thread count; then compares the two histories column by column. Writes
``benchmarks/results/thread_effect_cpu.json`` (or ``--out``) and prints a table.

Run: ``.venv/bin/python tools/thread_effect.py [--epochs 200]`` (about 10 minutes on a
shared 2-core machine). The README's "Reliability" section quotes the committed file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from egd.grokking.config import make_config
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json, check_output_file
from egd.grokking.runner import train

METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 128))
THREADS = (1, 2)
COUNT_COLUMNS = ("train_correct", "test_correct")
FLOAT_COLUMNS = ("train_loss", "test_loss", "hidden_norm")


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict:
    """First epoch (1-based) where the histories differ at all, and the largest differences."""
    differs = np.zeros(len(a["train_loss"]), dtype=bool)
    for name in COUNT_COLUMNS + FLOAT_COLUMNS:
        differs |= a[name] != b[name]
    first = int(np.argmax(differs)) + 1 if differs.any() else None
    out = {"first_differing_epoch": first, "epochs_differing": int(differs.sum())}
    for name in COUNT_COLUMNS:
        out[f"max_abs_diff_{name}"] = int(np.abs(a[name].astype(np.int64) - b[name].astype(np.int64)).max())
    for name in FLOAT_COLUMNS:
        out[f"max_rel_diff_{name}"] = float(np.max(np.abs(a[name] - b[name]) / np.maximum(np.abs(a[name]), 1e-30)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/thread_effect_cpu.json")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    check_output_file(args.out, name="out")
    rows = []
    for method, rank in METHODS:
        runs = {}
        for threads in THREADS:
            torch.set_num_threads(threads)  # entry point: the only place that sets it
            config = make_config("mod-add", method, p=97, seed=0, rank=rank, max_epochs=args.epochs, patience=None,
                                 threads=threads)
            t0 = time.perf_counter()
            runs[threads] = train(config)
            print(f"{method:<9} rank={rank} threads={threads}: {time.perf_counter() - t0:.0f} s", flush=True)
        a, b = (runs[t].history for t in THREADS)
        rows.append({"method": method, "rank": rank,
                     "epochs_to_95": {str(t): runs[t].epochs_to_threshold for t in THREADS},
                     "final_test_acc": {str(t): float(runs[t].test_acc[-1]) for t in THREADS},
                     **compare(a, b)})
    doc = {"task": "mod-add", "p": 97, "seed": 0, "epochs": args.epochs, "threads": list(THREADS),
           "device_name": device_name("cpu"), "torch_version": torch.__version__, "rows": rows}
    atomic_write_json(Path(args.out), doc)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
