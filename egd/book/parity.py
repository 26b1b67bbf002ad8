"""The sparse-parity chapter's analyses: the two-way outcome over seeds, the fast and the stuck
seed, the weight-decay mechanism in numbers, and the verdicts.

Table 4 itself is :func:`egd.grokking.tables.comparison_rows` shown with
:func:`egd.book.reproduction.comparison_table`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from egd.grokking import paper_numbers, tables
from egd.grokking.config import RunConfig
from egd.grokking.labels import method_label
from egd.grokking.store import RunResult

from . import display
from .reproduction import differences

__all__ = ["METHOD_ORDER", "FAST_WITHIN", "RSVD_WITHIN", "runs_of", "seed_epochs", "median_seed_run",
           "fast_and_stuck", "seed_outcome_rows", "seed_outcome_table", "two_way_points", "first_epoch_norm",
           "lr_matrix_norm", "first_epoch_norm_table", "authors_table", "parity_checks", "checks_by_shape",
           "authors_checks", "difference_notes"]

#: Table 4's methods in the paper's column order, then our decoupled-decay variant (method keys).
METHOD_ORDER = ("vanilla", "egd-svd", "egd-rsvd40", "egd-rsvd30", "egd-rsvd20", "egd-rsvd10", "colnorm",
                "egd-svd decoupled-wd")
#: "Fast" at Parity(100, 3): within this many epochs (the paper's exact EGD needs 115).
FAST_WITHIN = 300
#: The RSVD claim's horizon (the paper's slowest RSVD rank at Parity(100, 3) needs 312).
RSVD_WITHIN = 500


def runs_of(runs: Sequence[RunResult], key: str, shape: str | None = None) -> list[RunResult]:
    """The runs of method key ``key`` (and shape label, if given), in seed order."""
    chosen = [r for r in runs if tables.method_key(r) == key and shape in (None, tables.shape_label(r))]
    return sorted(chosen, key=lambda r: r.config.seed)


def seed_epochs(runs: Sequence[RunResult]) -> list[int | None]:
    """Epochs to the threshold per run (None: never), in the given order."""
    return [r.epochs_to_threshold for r in runs]


def _epochs_or_inf(run: RunResult) -> float:
    return math.inf if run.epochs_to_threshold is None else float(run.epochs_to_threshold)


def median_seed_run(runs: Sequence[RunResult]) -> RunResult:
    """The run at the lower median of epochs to the threshold (failures as +inf): a typical seed."""
    if not runs:
        raise ValueError("runs must hold at least one run")
    ordered = sorted(runs, key=lambda r: (_epochs_or_inf(r), r.config.seed))
    return ordered[(len(ordered) - 1) // 2]


def fast_and_stuck(runs: Sequence[RunResult]) -> tuple[RunResult, RunResult]:
    """``(fast, stuck)``: the run that reached the threshold soonest, and the lowest seed that never
    reached it (the slowest run when every seed did). ``ValueError`` with fewer than two runs or
    when none reached the threshold."""
    if len(runs) < 2:
        raise ValueError(f"need at least two runs to pick a fast and a stuck seed, got {len(runs)}")
    reached = [r for r in runs if r.epochs_to_threshold is not None]
    if not reached:
        raise ValueError("no run reached the threshold: there is no fast seed")
    fast = min(reached, key=lambda r: (r.epochs_to_threshold, r.config.seed))
    never = sorted((r for r in runs if r.epochs_to_threshold is None), key=lambda r: r.config.seed)
    stuck = never[0] if never else max(reached, key=lambda r: (r.epochs_to_threshold, -r.config.seed))
    return fast, stuck


def seed_outcome_rows(runs: Sequence[RunResult], keys: Sequence[str], shape: str,
                      within: int = FAST_WITHIN) -> list[dict]:
    """Per method key: seeds, how many reached 95%, how many within ``within`` epochs, the two
    medians (:func:`egd.grokking.tables.summarize_seeds`) and the epochs of every seed."""
    out = []
    for key in keys:
        chosen = runs_of(runs, key, shape)
        if not chosen:
            continue
        s = tables.summarize_seeds(chosen)
        epochs = seed_epochs(chosen)
        out.append({"method": key, "seeds": s.seeds, "reached": s.reached,
                    "fast": sum(e is not None and e <= within for e in epochs), "median_all": s.median_all,
                    "median": s.median, "per_seed": {r.config.seed: r.epochs_to_threshold for r in chosen},
                    "budget": max(r.config.max_epochs for r in chosen)})
    return out


def seed_outcome_table(rows: list[dict], within: int = FAST_WITHIN, caption: str = "") -> display.Table:
    """:func:`seed_outcome_rows` as a table; ``never`` marks a seed that did not reach 95% within its budget."""
    body = [[method_label(r["method"]), str(r["seeds"]), f"{r['reached']}/{r['seeds']}",
             f"{r['fast']}/{r['seeds']}", display.fmt_epochs(r["median_all"]), display.fmt_epochs(r["median"]),
             ", ".join(f"{s}: {display.fmt_epochs(e)}" for s, e in r["per_seed"].items())] for r in rows]
    header = ["method", "seeds", "reached 95%", f"within {within} epochs", "median, failures = +inf",
              "median over reached", "epochs per seed (seed: epochs)"]
    return display.Table(header, body, caption=caption, align="lrrrrrl")


def two_way_points(runs: Sequence[RunResult]) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, reached)`` per run for the one-dot-per-seed plot: a run that never reached the
    threshold is placed at its epoch budget (``config.max_epochs``) with ``reached`` False."""
    epochs = np.array([r.config.max_epochs if r.epochs_to_threshold is None else r.epochs_to_threshold
                       for r in runs], dtype=float)
    reached = np.array([r.epochs_to_threshold is not None for r in runs], dtype=bool)
    return epochs, reached


def first_epoch_norm(runs: Sequence[RunResult]) -> float:
    """Median over runs of ``||W1||_F`` after the first epoch."""
    return float(np.median([r.history["hidden_norm"][0] for r in runs]))


def lr_matrix_norm(config: RunConfig) -> float:
    """``lr * sqrt(width * n)``: the Frobenius norm of a ``width x n`` matrix of ``±lr`` entries."""
    return config.lr * math.sqrt(config.width * config.n)


def first_epoch_norm_table(runs: Sequence[RunResult], shape: str, caption: str = "") -> display.Table:
    """Per method (:data:`METHOD_ORDER`) at ``shape``: seeds and the median ``||W1||_F`` after epoch 1."""
    body = []
    for key in METHOD_ORDER:
        chosen = runs_of(runs, key, shape)
        if chosen:
            body.append([method_label(key), str(len(chosen)), f"{first_epoch_norm(chosen):.2f}"])
    return display.Table(["method", "seeds", r"median \(\|W_1\|_F\) after epoch 1"], body, caption=caption)


def _shape_numbers(shape: str) -> tuple[int, int]:
    n, k = (int(x) for x in re.findall(r"\d+", shape))
    return n, k


def authors_table(authors: Sequence[RunResult], caption: str = "") -> display.Table:
    """The runs on the authors' draws (one per method and shape): the paper's epochs beside ours."""
    body = []
    for r in sorted(authors, key=lambda r: (tables.shape_label(r), r.config.method)):
        n, k = r.config.n, r.config.k
        head = tables.method_key(r).split(" ")[0]
        body.append([f"(n, k) = ({n}, {k})", method_label(head),
                     display.fmt_epochs(paper_numbers.paper_epochs("parity", head, n=n, k=k)),
                     display.fmt_epochs(r.epochs_to_threshold), f"{r.config.max_epochs:,}"])
    return display.Table(["shape", "method", "paper", "ours on the authors' draws", "budget (epochs)"], body,
                         caption=caption)


def difference_notes(rows: list[dict], authors: Sequence[RunResult]) -> list[str]:
    """:func:`egd.book.reproduction.differences` of one shape's rows, each followed by the same
    method's run on the authors' own random draws where there is one: whether those draws
    account for the gap (the paper's numbers are single runs of the authors' script)."""
    drawn = {(tables.shape_label(r), tables.method_key(r).split(" ")[0]): r for r in authors}
    notes = []
    for row in rows:
        if not row["differs"]:
            continue
        (note,) = differences([row])
        run = drawn.get((row["shape"], row["method"].split(" ")[0]))
        if run is not None:
            e, paper = run.epochs_to_threshold, row["paper"]
            if e is None:
                note += (f" On the authors' random draws (one run) ours never reaches 95% within its budget of "
                         f"{run.config.max_epochs:,} epochs.")
            else:
                ratio = f", {e / paper:.2f} times the paper's" if paper else ""
                note += f" On the authors' random draws (one run) ours takes {display.fmt_epochs(e)} epochs{ratio}."
        notes.append(note)
    return notes


def _seeds(r: dict) -> str:
    return "1 seed" if r["seeds"] == 1 else f"{r['seeds']} seeds"


def _median(r: dict) -> str:
    return f"{display.fmt_epochs(r['median_all'])} ({r['reached']}/{r['seeds']} reached)"


def _every(r: dict) -> str:
    """A verdict's wording for "all seeds": never "every seed" for one seed."""
    return "its one seed" if r["seeds"] == 1 else f"all {r['seeds']} seeds"


def _rank_seeds(r: dict) -> str:
    return f"{method_label(r['method'])}: {_seeds(r)}"


def parity_checks(rows: list[dict], shape: str, budget: int, within: int = FAST_WITHIN,
                  rsvd_within: int = RSVD_WITHIN) -> list[display.Check]:
    """The chapter's claims at one parity shape, from :func:`egd.grokking.tables.comparison_rows`;
    ``budget``: the runs' epoch limit."""
    here = {r["method"]: r for r in rows if r["shape"] == shape}
    checks = []
    egd, van = here.get("egd-svd"), here.get("vanilla")
    if egd:
        checks.append(display.Check(
            f"exact EGD's median over seeds (failures = +inf) is at most {within} epochs",
            egd["median_all"] is not None and egd["median_all"] <= within,
            f"{display.fmt_epochs(egd['paper'])} (one run)", _median(egd)))
        checks.append(display.Check(
            f"exact EGD reaches 95% within the {budget:,}-epoch budget on {_every(egd)}",
            egd["reached"] == egd["seeds"], "1 of 1 run", f"{egd['reached']}/{egd['seeds']} seeds"))
    if egd and van:
        s = egd["speedup_epochs"]
        checks.append(display.Check(
            "vanilla's median (failures = +inf) is at least 5× exact EGD's",
            None if egd["median_all"] is None else (van["median_all"] is None or s >= 5),
            _fold(egd["paper_speedup_epochs"]),
            _fold(s) if s is not None else f"vanilla {display.fmt_epochs(van['median_all'])}"))
    if van:
        checks.append(display.Check(f"vanilla SGD reaches 95% on {_every(van)}", van["reached"] == van["seeds"],
                                    f"{display.fmt_epochs(van['paper'])} (one run)",
                                    f"{van['reached']}/{van['seeds']} seeds"))
    dec = here.get("egd-svd decoupled-wd")
    if dec:
        checks.append(display.Check(f"exact EGD with the decay added after the transform reaches 95% on {_every(dec)}",
                                    dec["reached"] == dec["seeds"], "– (not in the paper)", _median(dec)))
    for key in ("egd-rsvd40", "egd-rsvd30", "egd-rsvd20", "egd-rsvd10", "colnorm"):
        r = here.get(key)
        if r is None or van is None:
            continue
        faster = r["median_all"] is not None and (van["median_all"] is None or r["median_all"] < van["median_all"])
        paper = (f"{display.fmt_epochs(r['paper'])} vs {display.fmt_epochs(van['paper'])}"
                 if r["paper_has_entry"] else "–")
        checks.append(display.Check(f"{method_label(key)} reaches 95% sooner than vanilla (medians, failures = +inf)",
                                    faster, paper, f"{display.fmt_epochs(r['median_all'])} vs "
                                    f"{display.fmt_epochs(van['median_all'])} ({_seeds(r)})"))
    low = [here[k] for k in ("egd-rsvd30", "egd-rsvd20", "egd-rsvd10") if k in here]
    if low:
        ok = all(r["reached"] == r["seeds"] and r["max"] <= rsvd_within for r in low)
        checks.append(display.Check(
            f"with the decay in the loss, RSVD of rank below the batch size (30, 20, 10) reaches 95% within "
            f"{rsvd_within} epochs in each of their runs ({', '.join(_rank_seeds(r) for r in low)})", ok,
            ", ".join(f"r={k[8:]}: {display.fmt_epochs(here[k]['paper'])}" for k in ("egd-rsvd30", "egd-rsvd20",
                                                                                    "egd-rsvd10") if k in here),
            "; ".join(f"{method_label(r['method'])}: {r['reached']}/{r['seeds']} reached, slowest "
                      f"{display.fmt_epochs(r['max'])}" for r in low)))
    high = [here[k] for k in ("egd-rsvd40", "egd-svd") if k in here]
    if high:
        slow = any(r["reached"] < r["seeds"] or (r["max"] or 0) > rsvd_within for r in high)
        checks.append(display.Check(
            f"unlike in the paper, the variants that keep more directions than the batch size (RSVD 40, exact) "
            f"miss {rsvd_within} epochs on at least one seed", slow,
            ", ".join(f"{method_label(r['method'])}: {display.fmt_epochs(r['paper'])}" for r in high),
            "; ".join(f"{method_label(r['method'])}: {r['reached']}/{r['seeds']} reached, slowest "
                      f"{display.fmt_epochs(r['max'])}" for r in high)))
    return checks


def checks_by_shape(rows: list[dict], runs: Sequence[RunResult]) -> list[display.Check]:
    """:func:`parity_checks` at every shape of ``rows`` (each claim prefixed with its shape), the
    budget of each shape read from its runs."""
    from .reproduction import rows_by_shape, shape_title

    checks = []
    for shape in rows_by_shape(rows):
        budget = max(r.config.max_epochs for r in runs if tables.shape_label(r) == shape)
        checks += [display.Check(f"{shape_title(shape)}: {c.claim}", c.holds, c.paper, c.ours)
                   for c in parity_checks(rows, shape, budget)]
    return checks


def authors_checks(rows: list[dict], shape: str, within: int = FAST_WITHIN) -> list[display.Check]:
    """On the authors' own random draws (one run per method): exact EGD within ``within`` epochs, and
    vanilla at least 5x slower (a vanilla run that never reached counts as slower)."""
    here = {r["method"].split(" ")[0]: r for r in rows if r["shape"] == shape}
    egd, van = here.get("egd-svd"), here.get("vanilla")
    if egd is None or van is None:
        return []
    n, k = _shape_numbers(shape)
    # the rows carry the variant key ("egd-svd numpy-streams"); the paper's cell is the method's
    pe, pv = (paper_numbers.paper_epochs("parity", m, n=n, k=k) for m in ("egd-svd", "vanilla"))
    e, v = egd["median_all"], van["median_all"]
    return [
        display.Check(f"on the authors' draws, exact EGD reaches 95% within {within} epochs",
                      e is not None and e <= within, display.fmt_epochs(pe), display.fmt_epochs(e)),
        display.Check("on the authors' draws, vanilla needs at least 5× exact EGD's epochs",
                      None if e is None else (v is None or v >= 5 * e),
                      f"{display.fmt_epochs(pv)} vs {display.fmt_epochs(pe)}",
                      f"{display.fmt_epochs(v)} vs {display.fmt_epochs(e)}"),
    ]


def _fold(value: float | None) -> str:
    return display.UNDECIDED if value is None else f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"
