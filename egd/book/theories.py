r"""The chapter "Which theory predicts the plateau?": the grid's runs, both laws fitted, verdicts.

:mod:`egd.validation.theories` measures each run and fits the laws; this module groups the
committed runs by setting and method and turns the fits into the chapter's tables:

* :func:`reports` — per (setting, method, law): the log-log fit and its leave-one-lr-out
  error, :func:`fit_table` shows them;
* :func:`verdicts` — per (setting, method): the computed sentence (:func:`egd.validation.theories.verdict`);
* :func:`grid_table` — the delay per cell, or why a cell has none;
* :func:`contraction_table` — how fast the norm shrank during the plateau, against weight
  decay alone (the norm-separation law's rate ``eta lambda``);
* :func:`mechanism_table` — how much of EGD's speed-up over vanilla that contraction can
  account for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egd.grokking.labels import method_label
from egd.grokking.runsets import load_finished
from egd.grokking.store import RunResult
from egd.validation import theories as th

from . import display

__all__ = ["load", "measures", "LawReport", "reports", "fit_table", "verdicts", "verdict_table", "grid_table",
           "contraction_table", "predictions", "unfit_settings", "theory_checks", "outcome_counts",
           "rates_table", "mechanism_table"]


def load(results_dir: str | os.PathLike) -> list[RunResult]:
    """The grid's finished runs, from the :data:`egd.validation.theories.THEORIES_SUBDIR`
    subfolder of ``results_dir``; nothing is trained."""
    return load_finished(th.theory_configs(), Path(results_dir) / th.THEORIES_SUBDIR)


def measures(runs: Sequence[RunResult]) -> list[th.RunMeasure]:
    return [th.measure(r) for r in runs]


def _groups(ms: Sequence[th.RunMeasure]) -> dict[tuple[str, str], list[th.RunMeasure]]:
    out: dict[tuple[str, str], list[th.RunMeasure]] = {}
    for setting in th.GRID:
        for method in th.THEORY_METHODS:
            chosen = [m for m in ms if m.setting == setting and m.method == method]
            if chosen:
                out[(setting, method)] = chosen
    return out


@dataclass(frozen=True)
class LawReport:
    setting: str
    method: str
    law: str
    fit: th.LawFit | None
    oos: th.OutOfSample | None
    censored: th.CensoredTest | None = None
    #: What the held-out groups were: "learning rate", or "weight decay" when the runs that
    #: grokked sit at a single learning rate.
    held_out: str = "learning rate"
    #: Norm separation only: (runs whose norm grew during the plateau, runs that grokked).
    grew: tuple[int, int] | None = None

    def status(self) -> tuple[bool | None, str]:
        return th.law_status(self.law, {self.law: self.fit}, {self.law: self.oos}, {self.law: self.censored},
                             self.grew)


def reports(ms: Sequence[th.RunMeasure]) -> list[LawReport]:
    """Both laws on every (setting, method) with runs: fitted on the runs that grokked (and,
    for norm separation, whose norm shrank), tested leaving one learning rate out and on the
    runs that memorised but never grokked (:func:`egd.validation.theories.censored_test`)."""
    out = []
    for (setting, method), group in _groups(ms).items():
        delay = [m.delay_steps for m in group]
        cells = [(m.lr, m.weight_decay) for m in group]
        grokked = [m for m in group if m.delay_steps is not None]
        grew = (sum(m.outcome == "norm grew" for m in grokked), len(grokked))
        for law in th.LAWS:
            x = [th.law_inputs(m)[law] for m in group]
            fit = th.fit_law(x, delay, cells=cells)
            held_out, oos = "learning rate", th.out_of_sample(x, delay, [m.lr for m in group])
            if oos is None:
                held_out, oos = "weight decay", th.out_of_sample(x, delay, [m.weight_decay for m in group])
            out.append(LawReport(setting, method, law, fit, oos, th.censored_test(group, law, fit), held_out,
                                 grew if law == th.LAWS[0] else None))
    return out


def _name(setting: str) -> str:
    return th.GRID[setting].name


def fit_table(rs: Sequence[LawReport], caption: str = "") -> display.Table:
    """One row per (setting, method, law): runs in the fit, slope with its 95% interval (the
    law predicts 1), R², the constant (median delay / x), the out-of-sample errors, and how
    many of the runs that never grokked the law expected to grok within the budget."""
    rows = []
    for r in rs:
        f, o = r.fit, r.oos
        rows.append([_name(r.setting), method_label(r.method), r.law,
                     "–" if f is None else str(f.n),
                     "–" if f is None else f"{f.slope:.2f} [{f.low:.2f}, {f.high:.2f}]",
                     "–" if f is None else f"{f.r2:.2f}",
                     "–" if f is None else display.fmt_number(f.scale),
                     "–" if o is None else f"{o.law:.2f} / {o.null:.2f} ({r.held_out})",
                     "–" if r.censored is None else f"{r.censored.expected} / {r.censored.n}",
                     display.mark(r.status()[0])])
    return display.Table(["setting", "method", "law", "runs", "slope [95% CI]", "R²", "constant",
                          "held-out error, law / null", "never grokked, expected to", "fits"], rows,
                         caption=caption)





def verdicts(rs: Sequence[LawReport]) -> list[tuple[str, str, str]]:
    """``(setting, method, sentence)`` per (setting, method), from :func:`egd.validation.theories.verdict`."""
    out = []
    keys = dict.fromkeys((r.setting, r.method) for r in rs)
    for setting, method in keys:
        mine = [r for r in rs if (r.setting, r.method) == (setting, method)]
        out.append((setting, method, th.verdict({r.law: r.fit for r in mine}, {r.law: r.oos for r in mine},
                                                {r.law: r.censored for r in mine}, _grew(mine))))
    return out


def verdict_table(rs: Sequence[LawReport], caption: str = "") -> display.Table:
    return display.Table(["setting", "method", "verdict (computed from the fits)"],
                         [[_name(s), method_label(m), v] for s, m, v in verdicts(rs)], caption=caption)


def _grew(mine: Sequence[LawReport]) -> tuple[int, int] | None:
    return next((r.grew for r in mine if r.grew is not None), None)


def unfit_settings(rs: Sequence[LawReport]) -> list[tuple[str, str]]:
    """The (setting, method) pairs where neither law both fits and beats the null out of sample."""
    out = []
    for s, m, _ in verdicts(rs):
        mine = [r for r in rs if (r.setting, r.method) == (s, m)]
        if th.neither_fits({r.law: r.fit for r in mine}, {r.law: r.oos for r in mine},
                           {r.law: r.censored for r in mine}, _grew(mine)):
            out.append((s, m))
    return out


def _cell(group: Sequence[th.RunMeasure]) -> str:
    delays = [m.delay_steps / m.steps_per_epoch for m in group if m.delay_steps is not None]
    others = [m.outcome for m in group if m.delay_steps is None]
    parts = []
    if delays:
        parts.append(f"{np.median(delays):,.0f}" + (f" ({len(delays)})" if len(group) > 1 else ""))
    for outcome in dict.fromkeys(others):
        parts.append(f"{outcome} ×{others.count(outcome)}")
    return "; ".join(parts)


def grid_table(ms: Sequence[th.RunMeasure], setting: str, method: str, caption: str = "") -> display.Table:
    """Rows weight decay, columns learning rate: the median delay ``T_grok - T_mem`` in epochs
    over the seeds that grokked (their count in brackets), then what the other seeds did;
    ``not run`` for a cell with no finished run."""
    g = th.GRID[setting]
    group = [m for m in ms if m.setting == setting and m.method == method]
    rows = []
    for wd in g.weight_decays:
        row = [f"{wd:g}"]
        for lr in g.lrs:
            cell = [m for m in group if m.lr == lr and m.weight_decay == wd]
            row.append(_cell(cell) if cell else "not run")
        rows.append(row)
    return display.Table(["weight decay \\ lr", *[f"{lr:g}" for lr in g.lrs]], rows, caption=caption)


def outcome_counts(ms: Sequence[th.RunMeasure]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (setting, method): how many runs had each :attr:`~egd.validation.theories.RunMeasure.outcome`."""
    out = {}
    for key, group in _groups(ms).items():
        counts: dict[str, int] = {}
        for m in group:
            counts[m.outcome] = counts.get(m.outcome, 0) + 1
        out[key] = counts
    return out


def _speedups(group: Sequence[th.RunMeasure]) -> np.ndarray:
    """:func:`egd.validation.theories.contraction_speedup` of the runs of ``group`` that have one."""
    return np.array([x for x in map(th.contraction_speedup, group) if x is not None], dtype=float)


def contraction_table(ms: Sequence[th.RunMeasure], caption: str = "") -> display.Table:
    """Per (setting, method): the squared norm's shrink rate over the plateau in units of
    ``2 eta lambda`` (:func:`egd.validation.theories.contraction_speedup`): median and range
    over the runs that grokked, and how many of them saw the norm grow instead."""
    rows = []
    for (setting, method), group in _groups(ms).items():
        v = _speedups(group)
        if v.size == 0:
            rows.append([_name(setting), method_label(method), "0", "–", "–", "–"])
            continue
        rows.append([_name(setting), method_label(method), str(v.size), display.fmt_number(float(np.median(v))),
                     f"{display.fmt_number(float(v.min()))} – {display.fmt_number(float(v.max()))}",
                     str(int((v <= 0).sum()))])
    return display.Table(["setting", "method", "runs that grokked", "median rate / (2 η λ)", "range",
                          "norm grew"], rows, caption=caption)


def mechanism_table(ms: Sequence[th.RunMeasure], caption: str = "") -> display.Table:
    """Per task: EGD's measured speed-up over vanilla SGD, how much of it a faster norm
    contraction can account for, and the computed answer
    (:class:`egd.validation.theories.EGDMechanism`)."""
    rows = []
    for setting in th.GRID:
        vanilla, egd = ([m for m in ms if m.setting == setting and m.method == k] for k in th.THEORY_METHODS)
        mech = th.egd_mechanism(vanilla, egd)
        if mech is None:
            rows.append([_name(setting), "0", "–", "–", "–", "no cell where both grokked"])
            continue
        rows.append([_name(setting), str(mech.cells), f"{display.fmt_number(mech.speedup)}×",
                     f"{display.fmt_number(mech.contraction)}×", f"{display.fmt_number(mech.unexplained)}×",
                     mech.answer()])
    return display.Table(["setting", "cells where both grokked", "EGD's speed-up (median delay ratio)",
                          "EGD's contraction / weight decay alone", "speed-up the contraction cannot give",
                          "EGD acts through"], rows, caption=caption)


def predictions(ms: Sequence[th.RunMeasure], rs: Sequence[LawReport], setting: str, law: str) -> dict[str, dict]:
    """Per method: the runs' ``x`` (the law's predictor), measured delays (steps) and the
    fitted line's prediction, for the chapter's figure; only runs with both."""
    out = {}
    for method in th.THEORY_METHODS:
        group = [m for m in ms if m.setting == setting and m.method == method]
        fit = next((r.fit for r in rs if (r.setting, r.method, r.law) == (setting, method, law)), None)
        pts = [(th.law_inputs(m)[law], m.delay_steps, m.lr) for m in group]
        pts = [(x, y, lr) for x, y, lr in pts if x is not None and y is not None and x > 0]
        if not pts:
            continue
        x, y, lr = (np.array(v, dtype=float) for v in zip(*pts))
        pred = None if fit is None else np.exp(fit.intercept + fit.slope * np.log(x))
        out[method] = {"x": x, "delay": y, "lr": lr, "predicted": pred, "fit": fit}
    return out


def theory_checks(rs: Sequence[LawReport], ms: Sequence[th.RunMeasure]) -> list[display.Check]:
    """The chapter's verdict rows: each law on each (setting, method) against the two tests
    (slope 1 in the interval with R² >= :data:`egd.validation.theories.FIT_R2`; better than
    the null on held-out learning rates), and EGD's contraction against vanilla's."""
    checks = []
    for r in rs:
        label = f"{r.law} predicts {method_label(r.method)}'s delay on {_name(r.setting)}"
        ok, reason = r.status()
        if r.fit is None:
            checks.append(display.Check(label, ok, "slope 1", reason.split(": ", 1)[1]))
            continue
        held = "–" if r.oos is None else (f"held-out error {r.oos.law:.2f} vs null {r.oos.null:.2f} "
                                          f"(one {r.held_out} left out)")
        if r.censored is not None:
            held += (f"; expected {r.censored.expected} of {r.censored.n} runs that never grokked "
                     "to grok in the budget")
        if r.grew is not None and r.grew[0]:
            held += f"; norm grew in {r.grew[0]} of {r.grew[1]} runs that grokked"
        checks.append(display.Check(label, ok, "slope 1",
                                    f"slope {r.fit.slope:.2f} [{r.fit.low:.2f}, {r.fit.high:.2f}], "
                                    f"R² {r.fit.r2:.2f}; {held}"))
    inside = lambda v, target: v[1] <= target <= v[2]
    for (setting, method), group in _groups(ms).items():
        f = th.fit_rates(group)
        if f is None:
            continue
        measured = f"η^{f.lr[0]:.2f} λ^{f.weight_decay[0]:.2f} (R² {f.r2:.2f}, {f.n} runs)"
        where = f"{method_label(method)}'s delay on {_name(setting)}"
        checks.append(display.Check(f"norm separation's scaling, delay ∝ 1/(ηλ), for {where}",
                                    inside(f.lr, -1.0) and inside(f.weight_decay, -1.0), "η^-1 λ^-1", measured))
        checks.append(display.Check(f"anisotropy's scaling, delay ∝ 1/η whatever λ, for {where}",
                                    inside(f.lr, -1.0) and inside(f.weight_decay, 0.0), "η^-1 λ^0", measured))
    for setting in th.GRID:
        rates = {}
        for method in th.THEORY_METHODS:
            v = _speedups([m for m in ms if m.setting == setting and m.method == method])
            rates[method] = float(np.median(v)) if v.size else math.nan
        a, b = rates.get("egd-svd", math.nan), rates.get("vanilla", math.nan)
        checks.append(display.Check(
            f"EGD shrinks the norm faster than vanilla SGD during the plateau on {_name(setting)}",
            None if not (math.isfinite(a) and math.isfinite(b)) else a > b, "rate 1 (weight decay alone)",
            f"median rate / (2 η λ): EGD {display.fmt_number(a)}, vanilla {display.fmt_number(b)}"))
    return checks


CHAPTER = "12_which_theory"


def findings(results_dir: str | os.PathLike) -> list:
    """The chapter's row of :mod:`egd.book.findings` (beyond the paper): which law predicts
    vanilla SGD's delay on each task, with the verdict of the paper's own explanation
    (anisotropy) from :func:`theory_checks`. No row without finished runs."""
    from . import findings as book_findings

    ms = measures(load(results_dir))
    rs = [r for r in reports(ms) if r.method == "vanilla"]
    if not rs:
        return []
    checks = [c for c in theory_checks(rs, []) if c.claim.startswith(th.LAWS[1])]
    ours = "; ".join(f"{_name(s)}: {v}" for s, _, v in verdicts(rs))
    return [book_findings.Finding(
        "Which law predicts vanilla SGD's plateau over a grid of learning rate × weight decay: weight-decay norm "
        "separation or gradient anisotropy", "gradient anisotropy (Section 3)", ours,
        book_findings.combine(checks), CHAPTER, book_findings.BEYOND_THE_PAPER)]


def rates_table(ms: Sequence[th.RunMeasure], caption: str = "") -> display.Table:
    """Per (setting, method): the exponents of the learning rate and the weight decay in the
    delay (:func:`egd.validation.theories.fit_rates`), beside what each law predicts."""
    rows = []
    fmt = lambda v: f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"
    for (setting, method), group in _groups(ms).items():
        f = th.fit_rates(group)
        rows.append([_name(setting), method_label(method), "–" if f is None else str(f.n),
                     "–" if f is None else fmt(f.lr), "–" if f is None else fmt(f.weight_decay),
                     "–" if f is None else f"{f.r2:.2f}"])
    return display.Table(["setting", "method", "runs", "exponent of η [95% CI]", "exponent of λ [95% CI]", "R²"],
                         rows, caption=caption)
