"""Aggregate finished runs into the chapters' tables, next to the paper's numbers.

Pure functions of :class:`egd.results.RunResult` lists: group runs by (task shape,
method), take the median and min–max over seeds of epochs (and seconds) to the
threshold, and attach the paper's number (:mod:`egd.paper_numbers`). Also the
spectrum summaries of Figure 4.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass

import numpy as np

from . import labels
from .paper_numbers import paper_epochs, paper_has_entry, paper_seconds
from .store import RunResult

#: Ours and the paper's epochs to the threshold "differ" when the ratio of our median over
#: seeds (failures counted as +inf) to the paper's number is outside 1 ± this.
PAPER_TOLERANCE = 0.30

#: Singular values below this fraction of the largest count as zero in a condition number
#: (float32 gradients: anything smaller is rounding noise).
SPECTRUM_RTOL = 1e-6


def method_key(run: RunResult) -> str:
    """The run's :func:`egd.grokking.labels.variant_key`: ``"egd-rsvd128"``, ``"egd-svd decoupled-wd"``."""
    return labels.variant_key(run.config)


def shape_label(run: RunResult) -> str:
    c = run.config
    if c.p is not None:
        shape = f"p={c.p}"
    elif c.n is not None:
        shape = f"(n,k)=({c.n},{c.k})"
    else:
        shape = f"n_train={c.n_train}"
    return shape if c.model == "mlp" else f"{shape} {c.model}"


@dataclass(frozen=True)
class SeedSummary:
    """Epochs (and seconds) to the threshold over the seeds of one experiment.

    ``median`` / ``min`` / ``max`` / ``seconds``: over the ``reached`` seeds that got to the
    threshold (None if none did). ``median_all``: :func:`censored_median` over all ``seeds``,
    a seed that never got there counted as ``+inf`` (None when that median is a failure).
    """

    seeds: int
    reached: int
    median: float | None
    median_all: float | None
    min: int | None
    max: int | None
    seconds: float | None


def summarize_seeds(runs: list[RunResult]) -> SeedSummary:
    """The :class:`SeedSummary` of ``runs`` (the seeds of one experiment); ``ValueError`` if empty."""
    if not runs:
        raise ValueError("runs must hold at least one run")
    epochs = [r.epochs_to_threshold for r in runs if r.epochs_to_threshold is not None]
    seconds = [r.seconds_to_threshold for r in runs if r.seconds_to_threshold is not None]
    return SeedSummary(
        seeds=len(runs), reached=len(epochs),
        median=statistics.median(epochs) if epochs else None,
        median_all=censored_median([r.epochs_to_threshold for r in runs]),
        min=min(epochs) if epochs else None, max=max(epochs) if epochs else None,
        seconds=statistics.median(seconds) if seconds else None)


def threshold_rows(runs: list[RunResult]) -> list[dict]:
    """One row per (task, shape, method): our :class:`SeedSummary` fields and the paper's number.

    ``paper``: the paper's epochs (None if it has no entry or reports "never");
    ``paper_has_entry`` tells the two apart.
    """
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.config.task, shape_label(run), method_key(run)), []).append(run)
    rows = []
    for (task, shape, key), group in groups.items():
        c = group[0].config
        rows.append({
            "task": task, "shape": shape, "method": key, **dataclasses.asdict(summarize_seeds(group)),
            "paper": paper_epochs(task, key, p=c.p, n=c.n, k=c.k),
            "paper_has_entry": paper_has_entry(task, key, p=c.p, n=c.n, k=c.k),
            "device": group[0].env.get("device_name", "?"),
        })
    return rows


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is None (a run that never got there) or
    the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return float(numerator) / float(denominator)


def paper_agreement(ours: float | None, paper: float | None, has_entry: bool,
                    tolerance: float = PAPER_TOLERANCE) -> tuple[float | None, bool | None]:
    """``(ours / paper, differs)`` for one cell of the paper's tables.

    ``ours``: our median over seeds with failures as +inf (None: never); ``paper``: the
    paper's number (None: "never" when ``has_entry``). ``differs``: the ratio is outside
    ``1 ± tolerance``, or exactly one of the two never reached the threshold; None when
    the paper has no such cell.
    """
    if not has_entry:
        return None, None
    if ours is None or paper is None:
        return None, (ours is None) != (paper is None)
    r = float(ours) / float(paper)
    return r, not (1 - tolerance <= r <= 1 + tolerance)


def comparison_rows(runs: list[RunResult], baseline: str = "vanilla",
                    tolerance: float = PAPER_TOLERANCE) -> list[dict]:
    """:func:`threshold_rows` with the paper's numbers and the speed-ups over ``baseline`` beside ours.

    Added keys, per row: ``paper_seconds`` (Table 2's T4 seconds, else None);
    ``vs_paper`` and ``differs`` (:func:`paper_agreement` of ``median_all``);
    ``speedup_epochs`` (the baseline's ``median_all`` over this row's, same task and shape;
    None when either median is a failure or there is no baseline row) and
    ``paper_speedup_epochs``; ``seconds_all`` (median seconds to the threshold, a seed that
    never got there counted as ``+inf``: None when that median is a failure);
    ``speedup_seconds`` (the baseline's ``seconds_all`` over this row's) and
    ``paper_speedup_seconds``.
    """
    rows = threshold_rows(runs)
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.config.task, shape_label(run), method_key(run)), []).append(run)
    for r in rows:
        group = groups[(r["task"], r["shape"], r["method"])]
        r["seconds_all"] = censored_median([run.seconds_to_threshold for run in group])
    base = {(r["task"], r["shape"]): r for r in rows if r["method"] == baseline}
    for r in rows:
        c = groups[(r["task"], r["shape"], r["method"])][0].config
        r["paper_seconds"] = paper_seconds(r["task"], r["method"], p=c.p)
        r["vs_paper"], r["differs"] = paper_agreement(r["median_all"], r["paper"], r["paper_has_entry"], tolerance)
        b = base.get((r["task"], r["shape"]))
        paper_base_seconds = paper_seconds(r["task"], baseline, p=c.p)
        paper_base_epochs = paper_epochs(r["task"], baseline, p=c.p, n=c.n, k=c.k) if r["paper_has_entry"] else None
        r["speedup_epochs"] = ratio(b["median_all"], r["median_all"]) if b else None
        r["paper_speedup_epochs"] = ratio(paper_base_epochs, r["paper"])
        r["speedup_seconds"] = ratio(b["seconds_all"], r["seconds_all"]) if b else None
        r["paper_speedup_seconds"] = ratio(paper_base_seconds, r["paper_seconds"])
    return rows


def report_rows(runs: list[RunResult]) -> list[dict]:
    """One row per experiment: runs whose configs differ only in the seed (device index ignored).

    Keys: ``task``, ``shape``, ``method`` (the variant key), ``device`` (type), and the
    :class:`SeedSummary` fields.
    """
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        c = run.config
        rest = {k: v for k, v in c.to_dict().items() if k not in ("seed", "device")}
        device = c.device.split(":")[0]
        key = (c.task, shape_label(run), labels.variant_key(c), device, json.dumps(rest, sort_keys=True, default=str))
        groups.setdefault(key, []).append(run)
    return [dict(task=task, shape=shape, method=method, device=device, **dataclasses.asdict(summarize_seeds(group)))
            for (task, shape, method, device, _), group in sorted(groups.items())]


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table: paper | ours median [min–max] | seeds reached | seconds."""
    lines = ["| task | shape | method | paper (epochs) | ours: median [min–max] | reached / seeds "
             "| ours: s to 95% (median) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        paper = "–" if not r["paper_has_entry"] else "never" if r["paper"] is None else f"{r['paper']:,}"
        ours = "never" if r["median"] is None else f"{r['median']:,.0f} [{r['min']:,}–{r['max']:,}]"
        sec = "–" if r["seconds"] is None else f"{r['seconds']:.1f}"
        lines.append(f"| {r['task']} | {r['shape']} | {r['method']} | {paper} | {ours} | "
                     f"{r['reached']}/{r['seeds']} | {sec} |")
    return "\n".join(lines)


def censored_median(epochs: list[float | None]) -> float | None:
    """Median epochs (or seconds) to the threshold over seeds, a run that never got there counted as ``+inf``.

    Unlike the median over the runs that reached the threshold (``threshold_rows``), this
    does not get better by dropping failures. ``None`` when the median itself is a failure
    (more than half the runs never reached the threshold); ``ValueError`` on an empty list.
    """
    if not epochs:
        raise ValueError("epochs must hold at least one run (an int, or None for never)")
    value = statistics.median([math.inf if e is None else e for e in epochs])
    return None if math.isinf(value) else float(value)


def row(rows: list[dict], method: str, shape: str | None = None, task: str | None = None) -> dict:
    """The unique row with this method (and shape/task if given)."""
    found = [r for r in rows if r["method"] == method and shape in (None, r["shape"]) and task in (None, r["task"])]
    if len(found) != 1:
        raise ValueError(f"expected one row for method={method!r}, shape={shape!r}, task={task!r}; found {len(found)}")
    return found[0]


def condition_numbers(spectra: np.ndarray, rtol: float = SPECTRUM_RTOL) -> np.ndarray:
    """``s_max / s_min`` per row of ``spectra`` ``(R, r)``, ignoring values ``<= rtol s_max``."""
    spectra = np.asarray(spectra, dtype=np.float64)
    top = spectra.max(axis=1)
    kept = np.where(spectra > rtol * top[:, None], spectra, np.inf)
    return top / kept.min(axis=1)


def effective_rank(spectra: np.ndarray) -> np.ndarray:
    """``(sum s)^2 / sum s^2`` per row: how many directions carry the gradient."""
    spectra = np.asarray(spectra, dtype=np.float64)
    return spectra.sum(axis=1) ** 2 / np.square(spectra).sum(axis=1)
