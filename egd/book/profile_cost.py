"""What the full profile costs: the training time its committed runs recorded, per run set, on
the status page.

* :func:`set_costs` — :func:`egd.grokking.runsets.profile_wall_time` for every set of
  ``egd-grok reproduce all``, read from the committed results (nothing is trained);
* :func:`cost_table` — one row per set (its chapter, runs finished, core-hours, devices) and one
  per one-command group (``main-text``, ``all``) with the command that reproduces it;
* :func:`cost_summary` — the same in sentences: the measured total, the wall time it means on a
  2-core machine, and which devices trained the runs (a GPU run is named if there is one).

A run's seconds are its own training clock, summed over resumptions, at the one torch thread
every full-profile run uses; a batch of runs trained together counts once. The sum is the time of
training the sets one task after the other; two worker processes on two cores take about half.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from egd.grokking import runsets
from egd.grokking.runsets import SetCost

from .display import Link, Table, fmt_number
from .findings import MODULAR, OTHER_MODELS, PARITY, STALL, THEORIES, TITLES, VALIDATION

__all__ = ["SET_CHAPTERS", "GROUPS", "WORKERS", "GroupCost", "set_costs", "group_cost", "cost_table",
           "cost_summary"]

#: The chapter that shows each set's runs (the page a row of the table links to).
SET_CHAPTERS = {
    "modular": MODULAR, "modular-convergence": MODULAR, "parity": PARITY, "parity-authors": PARITY,
    "stall": STALL, "stall-modular": STALL, "stall-shapes": STALL,
    "anisotropy": VALIDATION, "theories": THEORIES, "transformer": OTHER_MODELS, "digits": OTHER_MODELS,
}
#: The one-command groups, smallest first: (group name of ``egd-grok reproduce``, what it covers).
GROUPS = ((runsets.MAIN_TEXT, "the paper's main text"), (runsets.ALL, "everything, Appendix D included"))
#: Worker processes on the 2-core machine the book is built on (one torch thread each).
WORKERS = 2
_HOUR = 3600.0


def set_costs(folder: str | os.PathLike | None = None, profile: str = "full") -> list[SetCost]:
    """The recorded cost of every set of ``egd-grok reproduce all`` in ``profile`` (default: the
    full one), read from the results ``folder``; trains nothing."""
    return runsets.profile_wall_time(profile, folder, names=runsets.group_run_sets(runsets.ALL))


@dataclass(frozen=True)
class GroupCost:
    """A one-command group's share of :func:`set_costs`: its runs, how many are finished, their seconds."""

    group: str
    runs: int
    finished: int
    seconds: float

    @property
    def missing(self) -> int:
        return self.runs - self.finished

    @property
    def command(self) -> str:
        return f"egd-grok reproduce {self.group} --profile full"


def group_cost(costs: Sequence[SetCost], group: str) -> GroupCost:
    """The sums of ``costs`` over the sets of ``group`` (:func:`egd.grokking.runsets.group_run_sets`)."""
    names = set(runsets.group_run_sets(group))
    mine = [c for c in costs if c.name in names]
    return GroupCost(group, sum(c.runs for c in mine), sum(c.finished for c in mine), sum(c.seconds for c in mine))


def _hours(seconds: float) -> str:
    return fmt_number(round(seconds / _HOUR, 1)) if seconds >= 0.05 * _HOUR else fmt_number(seconds / _HOUR, 2)


def cost_table(costs: Sequence[SetCost], caption: str = "") -> Table:
    """One row per set (chapter, runs finished of all, recorded core-hours, devices), then one per
    group of :data:`GROUPS` with its totals."""
    rows = []
    for c in costs:
        chapter = SET_CHAPTERS.get(c.name)
        title = TITLES.get(chapter, chapter)
        rows.append([c.name, Link(title, f"notebooks/{chapter}.html") if chapter else "–",
                     f"{c.finished} / {c.runs}", _hours(c.seconds), ", ".join(c.devices) or "–"])
    for group, what in GROUPS:
        g = group_cost(costs, group)
        rows.append([f"total: {what}", "", f"{g.finished} / {g.runs}", _hours(g.seconds), ""])
    return Table(["run set", "shown in", "runs finished", "core-hours recorded", "device"], rows,
                 caption=caption, align="llrrl")


def cost_summary(costs: Sequence[SetCost]) -> str:
    """The measured cost in sentences (Markdown): per group, the recorded core-hours, what that
    means in wall time on :data:`WORKERS` cores, the runs still missing; and the devices used."""
    lines = []
    for group, what in GROUPS:
        g = group_cost(costs, group)
        missing = (f" {g.missing} of its {g.runs} runs are not committed yet, so the full cost is higher."
                   if g.missing else " All of its runs are committed, so a second call trains nothing.")
        lines.append(f"- **{what[0].upper() + what[1:]}** (`{g.command}`): {_hours(g.seconds)} core-hours of training "
                     f"recorded by its {g.finished} committed runs, about {_hours(g.seconds / WORKERS)} hours "
                     f"of wall time on a {WORKERS}-core machine, where the command runs {WORKERS} workers "
                     f"of one thread each.{missing}")
    devices = sorted({d for c in costs for d in c.devices})
    gpus = [d for d in devices if d.startswith("cuda")]
    lines.append(f"- Devices that trained these runs: {', '.join(devices) or 'none yet'}. "
                 + (f"GPU runs: {', '.join(gpus)}." if gpus else
                    "No run of the full profile trained on a GPU: none was lent to this project's training."))
    return "\n".join(lines)
