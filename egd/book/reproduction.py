"""What the two real-task chapters (modular arithmetic, sparse parity) share.

* :func:`load_table_runs` — the runs a table shows: the profile's own set, complete (trained
  only where a result is missing), plus every finished run of the full set already in the
  results folder, so the tables grow as results land and nothing committed is retrained.
* :func:`comparison_table` — one shape of the paper's Tables 2–4 as an HTML
  :class:`~egd.book.display.Table`: the paper's number beside ours, both medians over
  seeds, min–max, reached/seeds, speed-ups over vanilla in epochs and wall time.
* :func:`differences` — the rows where ours and the paper's differ by more than
  :data:`egd.grokking.tables.PAPER_TOLERANCE`, as sentences to print next to the table.
* :func:`plot_accuracy` — a run's train (dashed) and test (solid) accuracy in its method's
  colour, Algorithm 1's switch-off marked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from egd.grokking import runsets, tables
from egd.grokking.config import RunConfig, config_key
from egd.grokking.labels import method_label
from egd.grokking.store import RunResult

from . import display, style

__all__ = ["load_table_runs", "shape_order", "rows_by_shape", "comparison_table", "differences",
           "shape_title", "switch_off_epoch", "plot_accuracy", "line_style_handles", "TRAIN_LINESTYLE",
           "TEST_LINESTYLE", "SWITCH_OFF_MARKER"]

#: Train accuracy dashed, test accuracy solid, in every accuracy plot of the book.
TRAIN_LINESTYLE = "--"
TEST_LINESTYLE = "-"
#: Where Algorithm 1 switched the transform off: a dot on the test curve.
SWITCH_OFF_MARKER = "o"


def load_table_runs(profile_configs: Sequence[RunConfig], full_configs: Sequence[RunConfig],
                    results_dir: str | os.PathLike, train_missing: bool = True) -> list[RunResult]:
    """Every run of ``profile_configs`` (trained where missing when ``train_missing``) and
    every finished run of ``full_configs`` found in ``results_dir`` (never trained), once each."""
    if train_missing:
        runs = runsets.run_or_load(list(profile_configs), results_dir)
    else:
        runs = runsets.load_finished(list(profile_configs), results_dir)
    seen = {config_key(r.config) for r in runs}
    extra = [c for c in full_configs if config_key(c) not in seen]
    return runs + runsets.load_finished(extra, results_dir)


def shape_order(shape: str) -> tuple:
    """Sort key of a shape label: primes ascending; parity shapes in the paper's order (k ascending)."""
    numbers = tuple(int(x) for x in re.findall(r"\d+", shape))
    return (numbers[-1], -numbers[0]) if shape.startswith("(n,k)") else numbers


def rows_by_shape(rows: list[dict], methods: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """``{shape: rows}``, shapes in :func:`shape_order`, rows in the order of ``methods`` (method
    keys; rows of other methods follow in their own order)."""
    order = {m: i for i, m in enumerate(methods or ())}
    out: dict[str, list[dict]] = {}
    for shape in sorted({r["shape"] for r in rows}, key=shape_order):
        chosen = [r for r in rows if r["shape"] == shape]
        out[shape] = sorted(chosen, key=lambda r: order.get(r["method"], len(order)))
    return out


def shape_title(shape: str) -> str:
    """``"p=97"`` -> ``"p = 97"``; ``"(n,k)=(100,3)"`` -> ``"(n, k) = (100, 3)"``."""
    return shape.replace(",", ", ").replace("=", " = ")


def _speedup(value: float | None) -> str:
    return display.UNDECIDED if value is None else f"{value:.1f}×" if value < 10 else f"{value:.0f}×"


def _seconds(value: float | None) -> str:
    return display.UNDECIDED if value is None else f"{value:.1f} s"


def _seconds_or_never(row: dict) -> str:
    return "never" if row["seconds_all"] is None else _seconds(row["seconds_all"])


def _paper_cell(row: dict) -> str:
    if not row["paper_has_entry"]:
        return display.UNDECIDED
    return display.fmt_epochs(row["paper"])


def _vs_paper(row: dict) -> str:
    if row["differs"] is None:
        return display.UNDECIDED
    if row["vs_paper"] is None:
        text = "both never" if not row["differs"] else "one never"
    else:
        text = f"×{row['vs_paper']:.2f}"
    return text + (" (differs)" if row["differs"] else "")


COMPARISON_HEADER = ("method", "paper", "ours: median, failures = +inf", "ours: median over reached", "min–max",
                     "reached / seeds", "ours ÷ paper", "speed-up in epochs: ours (paper)",
                     "s to 95%: ours (paper)", "speed-up in wall time: ours (paper)")


def comparison_table(rows: list[dict], caption: str = "") -> display.Table:
    """One shape's rows of :func:`egd.grokking.tables.comparison_rows` as a table (:data:`COMPARISON_HEADER`).

    Speed-ups are over vanilla: the ratio of the medians with failures as +inf, of epochs and
    of seconds to 95%. The seconds column is that median of seconds.
    """
    body = []
    for r in rows:
        lo_hi = display.UNDECIDED if r["min"] is None else f"{r['min']:,}–{r['max']:,}"
        paper_speed = "" if r["paper_speedup_epochs"] is None else f" ({_speedup(r['paper_speedup_epochs'])})"
        paper_sec = "" if r["paper_seconds"] is None else f" ({_seconds(r['paper_seconds'])})"
        paper_wall = "" if r["paper_speedup_seconds"] is None else f" ({_speedup(r['paper_speedup_seconds'])})"
        body.append([method_label(r["method"]), _paper_cell(r), display.fmt_epochs(r["median_all"]),
                     display.fmt_epochs(r["median"]), lo_hi, f"{r['reached']}/{r['seeds']}", _vs_paper(r),
                     _speedup(r["speedup_epochs"]) + paper_speed, _seconds_or_never(r) + paper_sec,
                     _speedup(r["speedup_seconds"]) + paper_wall])
    return display.Table(COMPARISON_HEADER, body, caption=caption)


def differences(rows: list[dict], tolerance: float = tables.PAPER_TOLERANCE) -> list[str]:
    """One sentence per row whose median over seeds (failures as +inf) differs from the paper's
    number by more than ``tolerance`` (see :func:`egd.grokking.tables.paper_agreement`)."""
    out = []
    for r in rows:
        if not r["differs"]:
            continue
        where = f"{shape_title(r['shape'])}, {method_label(r['method'])}"
        over = f"median over {r['seeds']} seed{'s' if r['seeds'] != 1 else ''}, failures = +inf"
        if r["median_all"] is None:
            out.append(f"{where}: ours never reaches 95% ({over}; {r['reached']}/{r['seeds']} reached), "
                       f"paper {display.fmt_epochs(r['paper'])} epochs.")
        elif r["paper"] is None:
            out.append(f"{where}: ours {display.fmt_epochs(r['median_all'])} epochs ({over}); the paper's run never "
                       "reached 95%.")
        else:
            out.append(f"{where}: ours {display.fmt_epochs(r['median_all'])} epochs ({over}), paper "
                       f"{display.fmt_epochs(r['paper'])}: {r['vs_paper']:.2f} times the paper's, outside "
                       f"±{tolerance:.0%}.")
    return out


def switch_off_epoch(run: RunResult) -> int | None:
    """The last epoch (1-based) with the transform on, when Algorithm 1 switched it off during the
    run; None for a method without a transform, or a run that never switched off."""
    active = run.history["transform_active"]
    if not active.any() or active.all():
        return None
    return int(active.nonzero()[0][-1]) + 1


def plot_accuracy(ax, run: RunResult, *, label: str | None = None, mark_switch_off: bool = True,
                  color: str | None = None, linewidth: float | None = None) -> None:
    """Train accuracy (:data:`TRAIN_LINESTYLE`) and test accuracy (:data:`TEST_LINESTYLE`) of ``run``
    in its method's colour (:func:`egd.book.style.method_style`); the test curve carries the
    label. With ``mark_switch_off``, a :data:`SWITCH_OFF_MARKER` on the test curve at
    :func:`switch_off_epoch`."""
    st = style.method_style(tables.method_key(run))
    color = color or st.color
    lw = {} if linewidth is None else {"lw": linewidth}
    ax.plot(run.epochs, run.train_acc, color=color, linestyle=TRAIN_LINESTYLE, alpha=0.8, **lw)
    ax.plot(run.epochs, run.test_acc, color=color, linestyle=TEST_LINESTYLE, label=label or st.label, **lw)
    off = switch_off_epoch(run) if mark_switch_off else None
    if off is not None:
        ax.plot([off], [run.test_acc[off - 1]], SWITCH_OFF_MARKER, color=color, ms=6, mec="white", mew=0.8,
                zorder=5)


def line_style_handles(switch_off: bool = True) -> tuple[list, list[str]]:
    """Legend entries (handles, labels) for what the colours do not say: train dashed, test solid,
    and (with ``switch_off``) the marker of Algorithm 1's switch-off."""
    from matplotlib.lines import Line2D

    grey = "0.35"
    handles = [Line2D([], [], color=grey, linestyle=TRAIN_LINESTYLE),
               Line2D([], [], color=grey, linestyle=TEST_LINESTYLE)]
    labels = ["train accuracy (dashed)", "test accuracy (solid)"]
    if switch_off:
        handles.append(Line2D([], [], color=grey, marker=SWITCH_OFF_MARKER, linestyle=""))
        labels.append("transform switched off (Algorithm 1)")
    return handles, labels
