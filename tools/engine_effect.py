"""Do a run's numbers depend on the engine? Train the same configs one at a time and as one batch.

Mod-add p = 97, seed 0, the paper's preset (switch-off at 95%), ``--epochs`` epochs
(default 200, no early stop), for vanilla SGD, exact EGD and EGD-RSVD (rank 128), at one
torch thread: each run alone in the single-run engine (:func:`egd.grokking.runner.train`),
then the three together in the batched engine (:func:`egd.grokking.batched.train_batch`,
float32 as in sweeps); compares the histories column by column. Writes
``benchmarks/results/engine_effect_cpu.json`` (or ``--out``) and prints the rows.

Run: ``.venv/bin/python tools/engine_effect.py [--epochs 200]`` (about 8 minutes on a
shared 2-core machine). The README's "Reliability" section quotes the committed file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from egd.grokking.batched import train_batch
from egd.grokking.config import make_config
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json, check_output_file
from egd.grokking.runner import train

METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 128))


def main(argv: list[str] | None = None) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("thread_effect", Path(__file__).with_name("thread_effect.py"))
    thread_effect = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(thread_effect)  # its column-by-column comparison

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/engine_effect_cpu.json")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    check_output_file(args.out, name="out")
    torch.set_num_threads(1)  # entry point: the only place that sets it
    configs = [make_config("mod-add", method, p=97, seed=0, rank=rank, max_epochs=args.epochs, patience=None)
               for method, rank in METHODS]
    t0 = time.perf_counter()
    single = [train(c) for c in configs]
    t1 = time.perf_counter()
    batched = train_batch(configs)
    t2 = time.perf_counter()
    print(f"single-run engine {t1 - t0:.0f} s, batched engine {t2 - t1:.0f} s", flush=True)
    rows = []
    for config, a, b in zip(configs, single, batched):
        rows.append({"method": config.method, "rank": config.rank,
                     "epochs_to_95": {"single": a.epochs_to_threshold, "batched": b.epochs_to_threshold},
                     "final_test_acc": {"single": float(a.test_acc[-1]), "batched": float(b.test_acc[-1])},
                     **thread_effect.compare(a.history, b.history)})
    doc = {"task": "mod-add", "p": 97, "seed": 0, "epochs": args.epochs, "threads": 1, "dtype": "float32",
           "batch": [c.method for c in configs], "device_name": device_name("cpu"),
           "torch_version": torch.__version__, "rows": rows}
    atomic_write_json(Path(args.out), doc)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
