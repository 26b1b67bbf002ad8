"""The modular-arithmetic chapter's analyses: epoch cost, wall time, convergence, verdicts.

Tables 2–3 themselves are :func:`egd.grokking.tables.comparison_rows` shown with
:func:`egd.book.reproduction.comparison_table`; this module adds what only this chapter needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from egd.grokking import paper_numbers, tables
from egd.grokking.labels import method_label
from egd.grokking.store import RunResult

from . import display
from .reproduction import shape_title, switch_off_epoch

__all__ = ["METHOD_ORDER", "ms_per_epoch", "convergence_table", "convergence_summary", "epoch_cost_table",
           "wall_time_rows", "wall_time_table", "same_ranking", "modular_checks", "convergence_checks",
           "epoch_cost_checks",
           "EPOCH_BUDGET_RATIO", "SPEEDUP_FACTOR", "PAPER_WALL_SPEEDUP_RANGE", "RELAPSE_MARGIN", "FINAL_ACCURACY",
           "RANKING_TIE"]

#: Tables 2–3's methods in the paper's column order (method keys).
METHOD_ORDER = ("vanilla", "egd-svd", "egd-rsvd128", "egd-rsvd64", "colnorm")
#: The per-step budget of the chapter on computing U V^T: an exact EGD epoch at most this many
#: vanilla epochs.
EPOCH_BUDGET_RATIO = 1.5
#: Our speed-up over vanilla "agrees" with the paper's when within this factor of it.
SPEEDUP_FACTOR = 2.0
#: The paper's wall-time speed-ups of the EGD variants over vanilla at p = 97 (Table 2, T4).
PAPER_WALL_SPEEDUP_RANGE = (10.0, 14.0)
#: A long run "relapses" when its test accuracy falls more than this below the threshold after
#: the switch-off; and it has "converged" when its test accuracy ends above :data:`FINAL_ACCURACY`.
RELAPSE_MARGIN = 0.02
FINAL_ACCURACY = 0.99
#: Two of the paper's numbers closer than this fraction count as a tie when ranking methods.
RANKING_TIE = 0.05


def ms_per_epoch(run: RunResult) -> float:
    """Median wall time per epoch in milliseconds, over the epochs with the transform on (all
    epochs for a method without one), from the run's own clock."""
    active = np.asarray(run.history["transform_active"], dtype=bool)
    seconds = np.diff(np.asarray(run.history["seconds"], dtype=np.float64), prepend=0.0)
    chosen = seconds[active] if active.any() else seconds
    return 1e3 * float(np.median(chosen))


def convergence_summary(run: RunResult) -> dict:
    """Time to grok, switch-off, and where the accuracies settle at the end of a long run.

    ``final_test``: mean test accuracy over the last 100 epochs (or all, if fewer);
    ``min_test_after``: lowest test accuracy after the threshold was first reached.
    """
    t95 = run.epochs_to_threshold
    tail = run.test_acc[-100:]
    after = run.test_acc[t95:] if t95 is not None else np.array([])
    return {"method": tables.method_key(run), "t95": t95, "switch_off": switch_off_epoch(run),
            "epochs": int(len(run.epochs)), "final_train": float(run.train_acc[-1]),
            "final_test": float(tail.mean()), "max_test": float(run.test_acc.max()),
            "min_test_after": float(after.min()) if after.size else None}


def convergence_table(runs: Sequence[RunResult], caption: str = "") -> display.Table:
    """One row per long run: time to grok, switch-off epoch, epochs run, final and best accuracies."""
    body = []
    for run in runs:
        s = convergence_summary(run)
        body.append([method_label(s["method"]), display.fmt_epochs(s["t95"]),
                     display.UNDECIDED if s["switch_off"] is None else f"{s['switch_off']:,}",
                     f"{s['epochs']:,}", f"{s['final_train']:.2%}", f"{s['final_test']:.2%}", f"{s['max_test']:.2%}",
                     display.UNDECIDED if s["min_test_after"] is None else f"{s['min_test_after']:.2%}"])
    header = ["method", "epochs to 95%", "switch-off after epoch", "epochs run", "final train accuracy",
              "final test accuracy (last 100 epochs)", "best test accuracy", "lowest test accuracy after 95%"]
    return display.Table(header, body, caption=caption)


def epoch_cost_table(bench: dict, runs: Sequence[RunResult] = (), caption: str = "") -> display.Table:
    """Milliseconds per epoch: the epoch benchmark (``egd-grok bench`` JSON) and its ratio to
    vanilla, the paper's T4 numbers, and, for reference, the median over the p = 97 runs' own
    clocks (:func:`ms_per_epoch`; runs trained at different times, so not a speed measurement)."""
    paper = paper_numbers.EPOCH_MS_P97
    body = []
    for key, ms in bench["median_ms_per_epoch"].items():
        own = [ms_per_epoch(r) for r in runs if tables.method_key(r) == key and r.config.p == bench.get("p", 97)]
        paper_ms = paper.get(key)
        paper_ratio = None if paper_ms is None else paper_ms / paper["vanilla"]
        body.append([method_label(key) if not key.endswith("-lapack") else f"{method_label('egd-svd')} (LAPACK SVD)",
                     f"{ms:.1f}", f"{bench['ratio_to_vanilla'][key]:.2f}×",
                     display.UNDECIDED if paper_ms is None else f"{paper_ms:.1f}",
                     display.UNDECIDED if paper_ratio is None else f"{paper_ratio:.2f}×",
                     display.UNDECIDED if not own else f"{np.median(own):.1f}"])
    header = [f"method (p = {bench.get('p', 97)})",
              f"ms per epoch, benchmark ({bench['device_name']}, {bench['num_threads']} threads)", "ratio to vanilla",
              f"paper: ms per epoch ({paper_numbers.PAPER_DEVICE})", "paper: ratio",
              "ms per epoch, run clocks (median over seeds)"]
    return display.Table(header, body, caption=caption)


def wall_time_rows(rows: list[dict], bench: dict) -> list[dict]:
    """Wall time to 95% at the benchmark's p: measured by the runs' clocks (median over seeds,
    failures as +inf), and estimated as
    epochs (median, failures as +inf) times the benchmark's ms per epoch, for the methods the
    benchmark times; with the speed-ups over vanilla of both and the paper's."""
    shape = f"p={bench.get('p', 97)}"
    chosen = {r["method"]: r for r in rows if r["shape"] == shape and r["method"] in bench["median_ms_per_epoch"]}
    out = []
    for key, r in chosen.items():
        est = None if r["median_all"] is None else r["median_all"] * bench["median_ms_per_epoch"][key] / 1e3
        out.append({"method": key, "p": bench.get("p", 97), "epochs": r["median_all"],
                    "ms_per_epoch": bench["median_ms_per_epoch"][key],
                    "estimated_seconds": est, "seconds": r["seconds_all"], "speedup_seconds": r["speedup_seconds"],
                    "paper_seconds": r["paper_seconds"], "paper_speedup_seconds": r["paper_speedup_seconds"]})
    base = next((o for o in out if o["method"] == "vanilla"), None)
    for o in out:
        o["estimated_speedup"] = tables.ratio(base["estimated_seconds"], o["estimated_seconds"]) if base else None
    return out


def wall_time_table(wall: list[dict], caption: str = "") -> display.Table:
    """:func:`wall_time_rows` as a table."""
    def sec(v):
        return display.UNDECIDED if v is None else f"{v:,.1f}"

    def fold(v):
        return display.UNDECIDED if v is None else f"{v:.1f}×"

    body = [[method_label(o["method"]), display.fmt_epochs(o["epochs"]), f"{o['ms_per_epoch']:.1f}",
             sec(o["estimated_seconds"]), fold(o["estimated_speedup"]), sec(o["seconds"]), fold(o["speedup_seconds"]),
             sec(o["paper_seconds"]), fold(o["paper_speedup_seconds"])] for o in wall]
    header = ["method", "epochs to 95% (median)", "benchmark ms per epoch", "estimated s to 95%",
              "estimated speed-up", "measured s to 95% (run clocks)", "measured speed-up",
              f"paper: s to 95% ({paper_numbers.PAPER_DEVICE})", "paper: speed-up"]
    return display.Table(header, body, caption=caption)


def _ordering(rows: dict[str, dict], key: str) -> list[str]:
    return sorted((m for m in METHOD_ORDER if m in rows and rows[m][key] is not None), key=lambda m: rows[m][key])


def same_ranking(rows: dict[str, dict], tie: float = RANKING_TIE) -> bool:
    """Whether every pair of methods the paper ranks apart is ranked the same way by our medians
    over seeds with failures as +inf (None counts as +inf). The paper "ranks apart" two methods
    whose epochs differ by more than the fraction ``tie`` of the smaller; closer pairs are ties,
    free to go either way."""
    inf = float("inf")
    keys = [m for m in rows if rows[m]["paper_has_entry"]]
    for a in keys:
        for b in keys:
            pa, pb = rows[a]["paper"], rows[b]["paper"]
            pa, pb = inf if pa is None else pa, inf if pb is None else pb
            oa, ob = rows[a]["median_all"], rows[b]["median_all"]
            oa, ob = inf if oa is None else oa, inf if ob is None else ob
            if pa * (1 + tie) < pb and not oa < ob:
                return False
    return True


def modular_checks(rows: list[dict], task: str, wall: list[dict] | None = None) -> list[display.Check]:
    """The chapter's claims for ``task`` at every p with runs of both vanilla and exact EGD.

    Per p: exact EGD groks at least 10x sooner than vanilla in epochs; that speed-up is within
    :data:`SPEEDUP_FACTOR` of the paper's; every method reaches 95% on all its seeds; the
    methods' order by median epochs is the paper's; how many cells lie within the tolerance.
    For modular addition with ``wall`` (:func:`wall_time_rows`) at that p: exact EGD's wall-time
    speed-up estimated from the epoch benchmark is at least the paper's lowest, 10x (the run
    clocks' speed-up is shown beside it: those runs were trained under different loads).
    """
    checks = []
    for shape in sorted({r["shape"] for r in rows if r["task"] == task}, key=lambda s: int(s.split("=")[1])):
        here = {r["method"]: r for r in rows if r["task"] == task and r["shape"] == shape}
        if "vanilla" not in here or "egd-svd" not in here:
            continue
        where = f"{'addition' if task == 'mod-add' else 'multiplication'}, {shape_title(shape)}"
        egd = here["egd-svd"]
        s, ps = egd["speedup_epochs"], egd["paper_speedup_epochs"]
        checks.append(display.Check(f"{where}: exact EGD reaches 95% at least 10× sooner than vanilla (epochs)",
                                    None if s is None else s >= 10, _fold(ps), _fold(s)))
        agree = None if s is None or ps is None else 1 / SPEEDUP_FACTOR <= s / ps <= SPEEDUP_FACTOR
        checks.append(display.Check(f"{where}: that speed-up is within a factor {SPEEDUP_FACTOR:g} of the paper's",
                                    agree, _fold(ps), _fold(s)))
        runs_all = sum(r["seeds"] for r in here.values())
        reached = sum(r["reached"] for r in here.values())
        checks.append(display.Check(f"{where}: every run of every method reaches 95%",
                                    reached == runs_all, f"{len(here)} methods, one run each",
                                    f"{reached}/{runs_all} runs of {len(here)} methods"))
        paper_order, ours_order = _ordering(here, "paper"), _ordering(here, "median_all")
        checks.append(display.Check(f"{where}: the methods rank as in the paper (median epochs to 95%; the "
                                    f"paper's numbers within {RANKING_TIE:.0%} of each other count as ties)",
                                    same_ranking(here),
                                    " < ".join(method_label(m) for m in paper_order),
                                    " < ".join(method_label(m) for m in ours_order)))
        cells = [r for r in here.values() if r["differs"] is not None]
        within = sum(not r["differs"] for r in cells)
        checks.append(display.Check(f"{where}: our median epochs lie within ±{tables.PAPER_TOLERANCE:.0%} "
                                    "of the paper's in every cell", within == len(cells), "–",
                                    f"{within} of {len(cells)} cells"))
        w = next((o for o in wall or () if o["method"] == "egd-svd" and shape == f"p={o['p']}"), None)
        if task == "mod-add" and w is not None:
            lo, hi = PAPER_WALL_SPEEDUP_RANGE
            est, clock = w["estimated_speedup"], w["speedup_seconds"]
            checks.append(display.Check(
                f"{where}: exact EGD reaches 95% at least {lo:g}× sooner than vanilla in wall time (epochs × "
                "the epoch benchmark's ms per epoch)", None if est is None else est >= lo,
                f"{lo:g}–{hi:g}× ({_fold(egd['paper_speedup_seconds'])} for exact EGD)",
                f"{_fold(est)} (run clocks: {_fold(clock)})"))
    return checks


def epoch_cost_checks(bench: dict) -> list[display.Check]:
    """An exact EGD epoch against the paper's cost ratio and against :data:`EPOCH_BUDGET_RATIO`."""
    ratio = bench["ratio_to_vanilla"]["egd-svd"]
    paper = paper_numbers.EPOCH_MS_P97["egd-svd"] / paper_numbers.EPOCH_MS_P97["vanilla"]
    where = f"{bench['device_name']}, {bench['num_threads']} threads"
    return [
        display.Check("an exact EGD epoch costs less, relative to a vanilla epoch, than in the paper",
                      ratio < paper, f"{paper:.2f}× ({paper_numbers.PAPER_DEVICE})", f"{ratio:.2f}× ({where})"),
        display.Check(f"an exact EGD epoch costs at most {EPOCH_BUDGET_RATIO:g}× a vanilla epoch",
                      ratio <= EPOCH_BUDGET_RATIO, f"{paper:.2f}× ({paper_numbers.PAPER_DEVICE})",
                      f"{ratio:.2f}× ({where})"),
    ]


def convergence_checks(runs: Sequence[RunResult], margin: float = RELAPSE_MARGIN,
                       final_level: float = FINAL_ACCURACY) -> list[display.Check]:
    """For the long runs of one task (one run per method): after Algorithm 1's switch-off, test
    accuracy never falls more than ``margin`` below the threshold (no relapse once the transform is
    off); and every run ends (mean over its last 100 epochs) above ``final_level``."""
    if not runs:
        return []
    c = runs[0].config
    where = f"{'addition' if c.task == 'mod-add' else 'multiplication'}, p = {c.p}, seed {c.seed}"
    summaries = [convergence_summary(r) for r in runs]
    switched = [s for s in summaries if s["switch_off"] is not None]
    checks = []
    if switched:
        lowest = min(s["min_test_after"] for s in switched)
        checks.append(display.Check(
            f"{where}: after the switch-off, test accuracy never falls more than {100 * margin:.0f} points below "
            f"{c.threshold:.0%} ({len(switched)} methods with a transform)", lowest >= c.threshold - margin, "–",
            "lowest: " + ", ".join(f"{method_label(s['method'])} {s['min_test_after']:.1%}" for s in switched)))
    checks.append(display.Check(
        f"{where}: every method's test accuracy ends above {final_level:.0%}",
        all(s["final_test"] > final_level for s in summaries), "–",
        ", ".join(f"{method_label(s['method'])} {s['final_test']:.1%}" for s in summaries)))
    return checks


def _fold(value: float | None) -> str:
    return display.UNDECIDED if value is None else f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"
