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
    egd-grok reproduce all --profile full

Task and method choices come from :data:`egd.methods.TASKS` and
:data:`egd.methods.METHODS`, the registries the engine dispatches on. Every option and
every configuration is validated (``ValueError`` -> a one-line error, exit status 2)
before any training starts: the output folder, the device, option values, and options
that do not apply to the chosen task or method (``--rank`` without ``egd-rsvd``, ``--p``
with parity, ``--n``/``--k`` with a modular task), which are errors rather than silently
dropped. Results go to ``--out`` (default ``results``), one JSON + NPZ per run; a
finished run with the same config is reused, an interrupted one resumes from its
checkpoint (``--retrain`` ignores both). ``--threads N`` (default 1) sets torch's thread
count and the config's ``threads`` field: results depend on it, so runs at other counts
are stored apart (a sweep's workers compute with it too; ``reproduce`` says so when a run it
would start over has a checkpoint at another count). ``sweep`` and ``reproduce``
submit their runs (or batches of ``--batch-runs`` runs) as Dask tasks
(:mod:`egd.grokking.sweep`): to an embedded local cluster of ``--jobs`` worker processes
(default: the cores divided by ``--threads``; ``--jobs 1``: in this process), or to an existing cluster with
``--scheduler ADDRESS``. Ctrl-C saves a checkpoint at the end of the epoch and exits with status
130 and one line saying where.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import warnings
from pathlib import Path

import torch

from egd._checks import check_int, check_real

from . import registry as methods
from . import tables
from .config import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_SECONDS,
    DEFAULT_PATIENCE,
    DEFAULT_THREADS,
    RunConfig,
    make_config,
    run_name,
)
from .environment import require_device
from .files import check_output_dir, check_output_file
from .store import StoreWarning, scan_runs

DEFAULT_OUT = "results"
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status when the output pipe closes early (128 + SIGPIPE), as shells report it.
EXIT_BROKEN_PIPE = 141

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
    parser.add_argument("--rank", type=int, default=None, help="rank of egd-rsvd and egd-svd-top")
    parser.add_argument("--spectral-cutoff", type=float, default=None,
                        help="egd-svd-cut: relative spectral cutoff (directions with s <= c * s_max get no step)")
    parser.add_argument("--n", type=int, default=None, help="parity: input bits (default 100)")
    parser.add_argument("--k", type=int, default=None, help="parity: secret bits (default 3)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results directory")
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE,
                        help="epochs after the threshold before stopping (-1: run to max epochs)")
    parser.add_argument("--no-switch-off", action="store_true", help="keep transforming after the threshold")
    _add_checkpoint_options(parser)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--retrain", action="store_true",
                        help="train again: ignore a finished run with the same config and its checkpoint")
    parser.add_argument("--betas", type=float, nargs=2, default=None, metavar=("BETA1", "BETA2"),
                        help="Adam's betas (adaptive optimizers only)")
    parser.add_argument("--mnist-dir", default=None,
                        help="task mnist: the folder of the four IDX files (else $EGD_MNIST_DIR); nothing is "
                             "downloaded")
    for name, kind in OVERRIDES.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)


def _add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY,
                        help="epochs between checkpoints")
    parser.add_argument("--checkpoint-seconds", type=float, default=DEFAULT_CHECKPOINT_SECONDS,
                        help="seconds of training between checkpoints (a kill loses at most about this much)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="torch CPU threads; results depend on it, so it is part of the run's key (default 1)")


def _overrides(args: argparse.Namespace) -> dict:
    values = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    if args.betas is not None:
        values["betas"] = tuple(args.betas)
    if args.mnist_dir is not None:
        from .mnist import MNIST_ENV

        os.environ[MNIST_ENV] = args.mnist_dir  # read when the data are built; not part of the config
    values["patience"] = None if args.patience == -1 else args.patience
    if args.no_switch_off:
        values["switch_off"] = False
    return values


def _config(args, task: str, method: str, seed: int, p: int | None):
    family = methods.TASKS[task][0]
    return make_config(task, method, preset=args.preset, p=p,
                       n=args.n if family == "parity" else None, k=args.k if family == "parity" else None,
                       seed=seed, device=args.device, threads=args.threads,
                       rank=args.rank if methods.METHODS[method].needs_rank else None,
                       spectral_cutoff=args.spectral_cutoff if methods.METHODS[method].needs_cutoff else None,
                       **_overrides(args))


def _check_common(args: argparse.Namespace) -> None:
    """Options every training command shares, checked before anything is built or trained."""
    check_int("threads", args.threads, minimum=1)
    check_int("checkpoint_every", args.checkpoint_every, minimum=1)
    check_real("checkpoint_seconds", args.checkpoint_seconds, low=0.0, low_open=True)
    if getattr(args, "patience", None) is not None and args.patience < -1:
        raise ValueError(f"patience must be an integer >= 0, or -1 (run to max epochs), got {args.patience}")


def _check_applies(args: argparse.Namespace, tasks: list[str], method_names: list[str]) -> None:
    """Options for a task family or a method none of the chosen ones has: an error, not silently dropped."""
    families = {methods.TASKS[t][0] for t in tasks}
    ranked = [m for m in method_names if methods.METHODS[m].needs_rank]
    if args.rank is not None and not ranked:
        raise ValueError(f"rank applies only to {sorted(m for m in methods.METHODS if methods.METHODS[m].needs_rank)}, "
                         f"got --rank {args.rank} with method(s) {method_names}")
    cut = [m for m in method_names if methods.METHODS[m].needs_cutoff]
    if getattr(args, "spectral_cutoff", None) is not None and not cut:
        raise ValueError(f"spectral_cutoff applies only to "
                         f"{sorted(m for m in methods.METHODS if methods.METHODS[m].needs_cutoff)}, "
                         f"got --spectral-cutoff {args.spectral_cutoff} with method(s) {method_names}")
    if args.p is not None and "modular" not in families:
        raise ValueError(f"p applies only to the modular tasks (mod-add, mod-mul), got --p with task(s) {tasks}")
    for name in ("n", "k"):
        if getattr(args, name) is not None and "parity" not in families:
            raise ValueError(f"{name} applies only to the parity task, got --{name} with task(s) {tasks}")
    if getattr(args, "mnist_dir", None) is not None and "mnist" not in tasks:
        raise ValueError(f"mnist_dir applies only to the mnist task, got --mnist-dir with task(s) {tasks}")


def _use_threads(threads: int) -> None:
    """Entry point only: the thread count the runs compute with (and record in their config)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _summary_line(result) -> str:
    s = result.summary
    reached = s["epochs_to_threshold"]
    when = (f"{reached} epochs / {s['seconds_to_threshold']:.1f} s" if reached else "never")
    return (f"{result.name}: {s['status']}, {s['epochs_run']} epochs, threshold {result.config.threshold} "
            f"reached: {when}; final train {s['final_train_acc']:.4f} test {s['final_test_acc']:.4f}")


def _train_kwargs(args: argparse.Namespace) -> dict:
    retrain = getattr(args, "retrain", False)
    return dict(reuse=not retrain, resume=not retrain, checkpoint_every=args.checkpoint_every,
                checkpoint_seconds=args.checkpoint_seconds, progress=not args.no_progress)


def cmd_train(args: argparse.Namespace) -> int:
    from .runner import train

    _check_common(args)
    _check_applies(args, [args.task], [args.method])
    config = _config(args, args.task, args.method, args.seed, args.p)
    check_output_dir(args.out, name="out")
    require_device(config.device)
    _use_threads(args.threads)
    result = train(config, out_dir=args.out, **_train_kwargs(args))
    print(_summary_line(result))
    return 0


def _dask_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes of the embedded Dask cluster, --threads torch threads each "
                             "(default: the cores divided by --threads; 1: train in this process, one task "
                             "after the other)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="submit to an existing Dask cluster instead, e.g. tcp://10.0.0.5:8786; "
                             "--out must be a folder every worker sees")
    parser.add_argument("--batch-runs", type=int, default=1, metavar="R",
                        help="runs per task, trained together by the batched engine when their shapes "
                             "agree (default 1: the single-run engine); not --batch-size, the SGD mini-batch")


def _check_sweep(args: argparse.Namespace) -> None:
    """The Dask options of ``sweep`` and ``reproduce``, checked before anything is built or trained."""
    if args.jobs is not None:
        check_int("jobs", args.jobs, minimum=1)
    check_int("batch_runs", args.batch_runs, minimum=1)
    if args.scheduler is not None:
        if not args.scheduler.strip() or any(c.isspace() for c in args.scheduler):
            raise ValueError(f"scheduler must be a Dask scheduler address such as tcp://10.0.0.5:8786, "
                             f"got {args.scheduler!r}")
        if args.jobs is not None:
            raise ValueError("jobs sets the size of the embedded cluster; with --scheduler the cluster's own "
                             "workers train the runs (drop one of the two)")


def _run_sweep(args: argparse.Namespace, configs: list, out, header: str) -> int:
    from .sweep import default_workers, run_sweep

    if not args.scheduler:  # trained on this machine: its devices must do, before anything starts
        for device in sorted({c.device for c in configs}):
            require_device(device)
    workers = args.jobs or max(1, default_workers(configs) // args.threads)  # cores / threads per run
    where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler else "in this process" if workers == 1
             else f"on a local Dask cluster of {workers} worker processes at {args.threads} torch thread(s) each")
    batches = f", in batches of up to {args.batch_runs}" if args.batch_runs > 1 else ""
    print(f"{header} {where}{batches}, results in {out}", flush=True)
    retrain = getattr(args, "retrain", False)
    report = run_sweep(configs, out, batch=args.batch_runs, workers=workers, scheduler=args.scheduler,
                       threads=args.threads, checkpoint_every=args.checkpoint_every,
                       checkpoint_seconds=args.checkpoint_seconds, reuse=not retrain, resume=not retrain,
                       progress=not args.no_progress, echo=lambda line: print(line, flush=True))
    if report.failed:
        print(f"{len(report.failed)} task(s) failed: {sum(len(names) for names, _ in report.failed)} run(s) "
              f"not finished; rerun the same command to retry them (finished runs are reused)", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    _check_common(args)
    _check_sweep(args)
    _check_applies(args, args.task, args.methods)
    grid = list(itertools.product(args.task, args.p or [None], args.methods, args.seeds))
    configs = [_config(args, task, method, seed, p if methods.TASKS[task][0] == "modular" else None)
               for task, p, method, seed in grid]  # all validated before anything trains
    check_output_dir(args.out, name="out")
    return _run_sweep(args, configs, args.out, f"sweep: {len(configs)} runs")


def cmd_report(args: argparse.Namespace) -> int:
    scan = scan_runs(args.results, recursive=args.recursive)
    for path, kind, reason in scan.skipped:
        print(f"egd-grok report: skipped {path} ({kind}): {reason}", file=sys.stderr)
    if scan.subfolders:
        names = ", ".join(p.name for p in scan.subfolders)
        print(f"egd-grok report: not read: {len(scan.subfolders)} subfolder(s) of {args.results} ({names}); "
              f"--recursive reads them too", file=sys.stderr)
    rows = tables.report_rows(scan.runs)
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

    if args.runs in (experiments.ALL, experiments.MAIN_TEXT):
        return _reproduce_group(args, args.runs)
    return _reproduce_set(args, args.runs, Path(args.out) if args.out else None)


def _reproduce_group(args: argparse.Namespace, group: str) -> int:
    """Every set of :func:`egd.grokking.runsets.group_run_sets`, each into its subfolder of ``--out``."""
    from . import runsets as experiments

    base = experiments.results_dir(args.out)
    for name, why in experiments.group_left_out(group).items():
        print(f"reproduce {group}: {name} left out: {why}")
    status = 0
    for name in experiments.group_run_sets(group):
        status = max(status, _reproduce_set(args, name, base / experiments.RUN_SETS[name][1]))
    return status


def _reproduce_set(args: argparse.Namespace, name: str, out: Path | None) -> int:
    from . import runsets as experiments
    from .config import resolve_device
    from .store import DamagedFileError, find_run

    _check_common(args)
    _check_sweep(args)
    configs, subdir = experiments.run_set(name, args.profile, resolve_device(args.device))
    configs = [dataclasses.replace(c, threads=args.threads) if c.threads is not None else c for c in configs]
    out = out if out is not None else experiments.results_dir() / subdir
    state = {}
    for config in configs:
        try:
            state[config] = "finished" if find_run(config, out, move_damaged=False) is not None else "to train"
        except DamagedFileError:
            state[config] = "damaged (moved aside and trained again when run)"
    finished = sum(v == "finished" for v in state.values())
    print(f"reproduce {name} ({args.profile}): {len(configs)} runs, {finished} finished, results in {out}")
    for config, threads in _checkpoints_at_other_threads([c for c in configs if state[c] == "to train"], out):
        state[config] = f"to train (a checkpoint at --threads {threads} is there)"
        starts = "training would start" if args.dry_run else "this starts"
        print(f"reproduce {name}: {run_name(config)} has no checkpoint at --threads {config.threads}, but the same "
              f"run at --threads {threads} has one in {out}; {starts} a new run from scratch (results depend on "
              f"the thread count, so it is another run). Pass --threads {threads} to resume that one.",
              file=sys.stderr)
    if args.dry_run:
        for config in configs:
            print(f"  {state[config]}  {run_name(config)}")
        return 0
    check_output_dir(out, name="out")
    todo = [c for c in configs if state[c] != "finished"]
    if not todo:
        return 0
    return _run_sweep(args, todo, out, f"training {len(todo)} runs")


#: Thread counts searched for a checkpoint of the same run made at another ``--threads``: every count up
#: to 64, more than the cores of any machine these runs are trained on (each is one ``stat``, and the
#: search runs only when the folder holds a checkpoint at all).
OTHER_THREAD_COUNTS = range(1, 65)


def _checkpoints_at_other_threads(configs: list[RunConfig], out: Path) -> list[tuple[RunConfig, int]]:
    """``(config, threads)`` for each CPU config without a checkpoint of its own in ``out`` whose run at
    another thread count has one (the thread count is part of the key, so resuming at another
    count would silently start over)."""
    from .store import checkpoint_path

    if not out.is_dir() or not any(out.glob("*.ckpt.pt")):
        return []
    found = []
    for config in configs:
        if config.threads is None or checkpoint_path(config, out).exists():
            continue
        others = (t for t in OTHER_THREAD_COUNTS if t != config.threads
                  and checkpoint_path(dataclasses.replace(config, threads=t), out).exists())
        threads = next(others, None)
        if threads is not None:
            found.append((config, threads))
    return found


def cmd_bench(args: argparse.Namespace) -> int:
    from egd.bench.epoch import BENCH_RANKS, run_benchmark

    check_int("repeats", args.repeats, minimum=1)
    check_int("epochs", args.epochs, minimum=1)
    if args.threads is not None:
        check_int("threads", args.threads, minimum=1)
    for method in ["vanilla", *args.methods]:  # every config the benchmark builds, validated first
        make_config(args.task, method, p=args.p, device=args.device, rank=BENCH_RANKS.get(method))
    if args.out is not None:
        check_output_file(args.out, name="out")
    require_device(args.device)
    if args.threads is not None:
        _use_threads(args.threads)
    run_benchmark(args.task, args.p, args.device, args.methods, args.repeats, args.epochs, args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``egd-grok`` command, with its sub-commands.

    The command-line page of the book is generated from it, so the two cannot drift apart.

    Returns:
        An ``argparse.ArgumentParser`` whose sub-commands are ``train``, ``sweep``, ``report``,
        ``reproduce`` and ``bench``.

    Examples:
        >>> from egd.grokking.cli import build_parser
        >>> args = build_parser().parse_args(["train", "--task", "mod-add", "--method", "vanilla"])
        >>> args.command, args.task, args.seed
        ('train', 'mod-add', 0)
    """
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
    p_report.add_argument("--recursive", action="store_true",
                          help="also read the subfolders (files that are not runs are skipped and named)")
    p_report.set_defaults(func=cmd_report)

    p_rep = sub.add_parser("reproduce", help="train (or find finished) the runs behind a book chapter")
    p_rep.add_argument("runs", choices=sorted(experiments.RUN_SETS) + [experiments.ALL, experiments.MAIN_TEXT],
                       help="modular: Tables 2-3; parity: Table 4; parity-authors: Table 4 on the authors' "
                            "draws; anisotropy: the validation chapter's level 3; gpu-comparison: Table 2 at "
                            "p=97 on a CUDA device; transformer: Table 7; digits: Table 6 on scikit-learn's "
                            "digits; all: every set but gpu-comparison, each in its subfolder of --out; "
                            "main-text: every set of all but Appendix D's (transformer, digits)")
    p_rep.add_argument("--profile", default=os.environ.get("EGD_PROFILE", "quick"), choices=experiments.PROFILES)
    p_rep.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto")
    p_rep.add_argument("--out", default=None, help="results directory (default: $EGD_RESULTS_DIR or ./results, "
                       "plus the set's subfolder: what the book reads when run from the repository root)")
    _add_checkpoint_options(p_rep)
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
    p_bench.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p_bench.add_argument("--out", default=None, help="also write the timings to this JSON file "
                         "(e.g. benchmarks/results/epoch_cpu.json)")
    p_bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .cpu_allocator import keep_freed_memory

    keep_freed_memory()  # speed only: reuse freed buffers instead of page-faulting new ones
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, StoreWarning):
                print(f"egd-grok: warning: {message}", file=sys.stderr, flush=True)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        try:
            code = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here when the output fitted in the buffer
            return code
        except ValueError as exc:
            parser.exit(2, f"egd-grok: error: {exc}\n")
        except KeyboardInterrupt as exc:
            print(f"egd-grok: {_interrupted_line(exc)}", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # the reader went away (`egd-grok ... | head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return EXIT_BROKEN_PIPE


def _interrupted_line(exc: KeyboardInterrupt) -> str:
    from .engine import Interrupted

    if not isinstance(exc, Interrupted):
        return "interrupted"
    if exc.finished:
        return f"interrupted after epoch {exc.epoch}, the run's last; its result is saved"
    if exc.where:
        return f"interrupted after epoch {exc.epoch}; progress saved in {exc.where} (the same command resumes it)"
    if exc.checkpointed:
        return f"interrupted after epoch {exc.epoch}; progress saved (the same command resumes it)"
    return f"interrupted after epoch {exc.epoch}; nothing saved"


if __name__ == "__main__":
    sys.exit(main())
