"""``egd-grok``: train, sweep, report, bench.

    egd-grok train --task mod-add --p 97 --method egd-svd
    egd-grok train --task mod-mul --preset transformer --method egd-rsvd --rank 36 --weight-decay 5e-3
    egd-grok train --task digits --method egd-svd                  # Omnigrok's MNIST setting on sklearn's digits
    egd-grok sweep --task mod-add mod-mul --p 97 --methods vanilla egd-svd colnorm --seeds 0 1 2
    egd-grok sweep --task parity --methods vanilla --seeds 0 1 2 3 4 5 6 7 8 9 --batch-runs 10
    egd-grok sweep ... --scheduler tcp://10.0.0.5:8786
    egd-grok report --results results
    egd-grok bench
    egd-grok reproduce modular --dry-run

Task and method choices come from :data:`egd.methods.TASKS` and
:data:`egd.methods.METHODS`, the registries the engine dispatches on. Every
configuration is validated (``ValueError`` -> a one-line error, exit status 2) before
any training starts. Results go to ``--out`` (default ``results``), one JSON + NPZ per
run; a finished run with the same config is reused, an interrupted one resumes from its
checkpoint. ``sweep`` and ``reproduce`` submit their runs (or batches of ``--batch-runs`` runs)
as Dask tasks (:mod:`egd.grokking.sweep`): to an embedded local cluster of ``--jobs``
single-threaded worker processes (default: one per core; ``--jobs 1``: in this process),
or to an existing cluster with ``--scheduler ADDRESS``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import torch

from . import registry as methods
from . import tables
from .config import DEFAULT_CHECKPOINT_EVERY, DEFAULT_PATIENCE, make_config, run_name
from .store import load_runs

DEFAULT_OUT = "results"

#: Optional overrides of the preset: CLI flag -> (RunConfig field, type).
OVERRIDES = {
    "lr": float, "batch_size": int, "weight_decay": float, "width": int, "max_epochs": int,
    "threshold": float, "loss": str, "spectrum_every": int, "train_fraction": float,
    "data_seed": int, "grokfast_alpha": float, "grokfast_lamb": float, "colnorm_floor": float,
    "n_train": int, "n_test": int, "weight_decay_mode": str, "second_operand_scale": float, "random_streams": str,
    "model": str, "optimizer": str, "warmup_steps": int, "init_scale": float, "train_metrics": str,
}


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="paper", choices=methods.PRESETS)
    parser.add_argument("--rank", type=int, default=None, help="rank of egd-rsvd")
    parser.add_argument("--n", type=int, default=None, help="parity: input bits (default 100)")
    parser.add_argument("--k", type=int, default=None, help="parity: secret bits (default 3)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results directory")
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE,
                        help="epochs after the threshold before stopping (-1: run to max epochs)")
    parser.add_argument("--no-switch-off", action="store_true", help="keep transforming after the threshold")
    parser.add_argument("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--retrain", action="store_true", help="ignore a finished run with the same config")
    parser.add_argument("--betas", type=float, nargs=2, default=None, metavar=("BETA1", "BETA2"),
                        help="Adam's betas (adaptive optimizers only)")
    parser.add_argument("--mnist-dir", default=None,
                        help="task mnist: the folder of the four IDX files (else $EGD_MNIST_DIR); nothing is "
                             "downloaded")
    for name, kind in OVERRIDES.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)


def _overrides(args: argparse.Namespace) -> dict:
    values = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    if args.betas is not None:
        values["betas"] = tuple(args.betas)
    if args.mnist_dir is not None:
        from .mnist import MNIST_ENV

        os.environ[MNIST_ENV] = args.mnist_dir  # read when the data are built; not part of the config
    values["patience"] = None if args.patience is not None and args.patience < 0 else args.patience
    if args.no_switch_off:
        values["switch_off"] = False
    return values


def _config(args, task: str, method: str, seed: int, p: int | None):
    return make_config(task, method, preset=args.preset, p=p, n=args.n, k=args.k, seed=seed,
                       device=args.device, rank=args.rank if methods.METHODS[method].needs_rank else None,
                       **_overrides(args))


def _summary_line(result) -> str:
    s = result.summary
    reached = s["epochs_to_threshold"]
    when = (f"{reached} epochs / {s['seconds_to_threshold']:.1f} s" if reached else "never")
    return (f"{result.name}: {s['status']}, {s['epochs_run']} epochs, threshold {result.config.threshold} "
            f"reached: {when}; final train {s['final_train_acc']:.4f} test {s['final_test_acc']:.4f}")


def cmd_train(args: argparse.Namespace) -> int:
    from .runner import train

    config = _config(args, args.task, args.method, args.seed, args.p)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = train(config, out_dir=args.out, reuse=not args.retrain, checkpoint_every=args.checkpoint_every,
                   progress=not args.no_progress)
    print(_summary_line(result))
    return 0


def _dask_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes of the embedded Dask cluster, one torch thread each "
                             "(default: one per core; 1: train in this process, one task after the other)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="submit to an existing Dask cluster instead, e.g. tcp://10.0.0.5:8786; "
                             "--out must be a folder every worker sees")
    parser.add_argument("--batch-runs", type=int, default=1, metavar="R",
                        help="runs per task, trained together by the batched engine when their shapes "
                             "agree (default 1: the single-run engine); not --batch-size, the SGD mini-batch")


def _run_sweep(args: argparse.Namespace, configs: list, out, header: str) -> int:
    from .environment import require_device
    from .sweep import DEFAULT_THREADS, default_workers, run_sweep

    if not args.scheduler:  # trained on this machine: its devices must do, before anything starts
        for device in sorted({c.device for c in configs}):
            require_device(device)
    workers = args.jobs or default_workers(configs)
    where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler else "in this process" if workers == 1
             else f"on a local Dask cluster of {workers} single-threaded worker processes")
    batches = f", in batches of up to {args.batch_runs}" if args.batch_runs > 1 else ""
    print(f"{header} {where}{batches}, results in {out}", flush=True)
    report = run_sweep(configs, out, batch=args.batch_runs, workers=workers, scheduler=args.scheduler,
                       threads=args.threads or DEFAULT_THREADS, checkpoint_every=args.checkpoint_every,
                       reuse=not getattr(args, "retrain", False), progress=not args.no_progress,
                       echo=lambda line: print(line, flush=True))
    if report.failed:
        print(f"{len(report.failed)} task(s) failed: {sum(len(names) for names, _ in report.failed)} run(s) "
              f"not finished; rerun the same command to retry them (finished runs are reused)", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    grid = list(itertools.product(args.task, args.p or [None], args.methods, args.seeds))
    configs = [_config(args, task, method, seed, p if methods.TASKS[task][0] == "modular" else None)
               for task, p, method, seed in grid]  # all validated before anything trains
    return _run_sweep(args, configs, args.out, f"sweep: {len(configs)} runs")


def cmd_report(args: argparse.Namespace) -> int:
    rows = tables.report_rows(load_runs(args.results))
    if not rows:
        print(f"no finished runs in {args.results}")
        return 1
    width = max(len("method"), *(len(r["method"]) for r in rows))
    shape_width = max(12, *(len(r["shape"]) for r in rows))
    header = f"{'task':<8} {'shape':<{shape_width}} {'method':<{width}} {'dev':<5} {'seeds':>5} {'reached':>7} " \
             f"{'epochs med [min-max]':>24} {'all seeds':>9} {'s med':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ep = f"{r['median']:g} [{r['min']}-{r['max']}]" if r["median"] is not None else "never"
        every = "never" if r["median_all"] is None else f"{r['median_all']:g}"
        sec = f"{r['seconds']:.1f}" if r["seconds"] is not None else "-"
        print(f"{r['task']:<8} {r['shape']:<{shape_width}} {r['method']:<{width}} {r['device']:<5} {r['seeds']:>5} "
              f"{r['reached']:>7} {ep:>24} {every:>9} {sec:>8}")
    print("epochs med [min-max]: over the seeds that reached the threshold; "
          "all seeds: median with a seed that never did counted as +inf")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from . import runsets as experiments
    from .config import resolve_device
    from .store import find_run

    configs, subdir = experiments.run_set(args.runs, args.profile, resolve_device(args.device))
    out = Path(args.out) if args.out else experiments.results_dir() / subdir
    finished = [find_run(c, out) is not None for c in configs]
    print(f"reproduce {args.runs} ({args.profile}): {len(configs)} runs, {sum(finished)} finished, results in {out}")
    if args.dry_run:
        for config, done in zip(configs, finished):
            print(f"  {'finished' if done else 'to train'}  {run_name(config)}")
        return 0
    todo = [c for c, done in zip(configs, finished) if not done]
    if not todo:
        return 0
    return _run_sweep(args, todo, out, f"training {len(todo)} runs")


def cmd_bench(args: argparse.Namespace) -> int:
    from egd.bench.epoch import run_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    run_benchmark(args.task, args.p, args.device, args.methods, args.repeats, args.epochs, args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from egd.bench import epoch as bench_epoch

    from . import runsets as experiments

    parser = argparse.ArgumentParser(prog="egd-grok", description="Egalitarian Gradient Descent: grokking runs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_train = sub.add_parser("train", help="train one run")
    p_train.add_argument("--task", required=True, choices=sorted(methods.TASKS))
    p_train.add_argument("--method", required=True, choices=sorted(methods.METHODS))
    p_train.add_argument("--p", type=int, default=None, help="modulus (default 97)")
    p_train.add_argument("--seed", type=int, default=0)
    _add_run_options(p_train)
    p_train.set_defaults(func=cmd_train)

    p_sweep = sub.add_parser("sweep", help="grid over tasks x p x methods x seeds")
    p_sweep.add_argument("--task", nargs="+", required=True, choices=sorted(methods.TASKS))
    p_sweep.add_argument("--methods", nargs="+", required=True, choices=sorted(methods.METHODS))
    p_sweep.add_argument("--p", type=int, nargs="+", default=None)
    p_sweep.add_argument("--seeds", type=int, nargs="+", default=[0])
    _dask_options(p_sweep)
    _add_run_options(p_sweep)
    p_sweep.set_defaults(func=cmd_sweep)

    p_report = sub.add_parser("report", help="epochs/seconds to threshold from result files")
    p_report.add_argument("--results", default=DEFAULT_OUT)
    p_report.set_defaults(func=cmd_report)

    p_rep = sub.add_parser("reproduce", help="train (or find finished) the runs behind a book chapter")
    p_rep.add_argument("runs", choices=sorted(experiments.RUN_SETS),
                       help="modular: Tables 2-3; parity: Table 4; parity-authors: Table 4 on the authors' "
                            "draws; gpu-comparison: Table 2 at p=97 on a CUDA device; transformer: Table 7; "
                            "digits: Table 6 on scikit-learn's digits")
    p_rep.add_argument("--profile", default=os.environ.get("EGD_PROFILE", "quick"), choices=experiments.PROFILES)
    p_rep.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto")
    p_rep.add_argument("--out", default=None, help="results directory (default: $EGD_RESULTS_DIR or ./results, "
                       "plus the set's subfolder: what the book reads when run from the repository root)")
    p_rep.add_argument("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY)
    p_rep.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p_rep.add_argument("--no-progress", action="store_true")
    p_rep.add_argument("--dry-run", action="store_true", help="list the runs and which are finished; train nothing")
    _dask_options(p_rep)
    p_rep.set_defaults(func=cmd_reproduce)

    p_bench = sub.add_parser("bench", help="ms per epoch, vanilla vs EGD")
    p_bench.add_argument("--task", default="mod-add", choices=("mod-add", "mod-mul"))
    p_bench.add_argument("--p", type=int, default=97)
    p_bench.add_argument("--device", default="cpu")
    p_bench.add_argument("--methods", nargs="+", default=list(bench_epoch.DEFAULT_METHODS),
                         choices=sorted(methods.METHODS))
    p_bench.add_argument("--repeats", type=int, default=bench_epoch.DEFAULT_REPEATS)
    p_bench.add_argument("--epochs", type=int, default=bench_epoch.DEFAULT_EPOCHS_PER_REPEAT)
    p_bench.add_argument("--threads", type=int, default=None)
    p_bench.add_argument("--out", default=None, help="also write the timings to this JSON file "
                         "(e.g. benchmarks/results/epoch_cpu.json)")
    p_bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .cpu_allocator import keep_freed_memory

    keep_freed_memory()  # speed only: reuse freed buffers instead of page-faulting new ones
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if getattr(args, "batch_runs", 1) < 1:
        parser.error(f"--batch-runs must be >= 1, got {args.batch_runs}")
    if getattr(args, "scheduler", None) and args.jobs is not None:
        parser.error("--jobs sets the size of the embedded cluster; with --scheduler the cluster's own workers "
                     "train the runs (drop one of the two)")
    try:
        return args.func(args)
    except ValueError as exc:
        parser.exit(2, f"egd-grok: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
