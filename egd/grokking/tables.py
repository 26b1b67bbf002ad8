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
from .paper_numbers import paper_epochs, paper_has_entry
from .store import RunResult

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


def censored_median(epochs: list[int | None]) -> float | None:
    """Median epochs-to-threshold over seeds, a run that never got there counted as ``+inf``.

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
