"""The chapter "Other models and optimizers" (Appendix D): steps to the threshold, verdicts, curves, step cost.

Everything the chapter shows is computed here from committed result files
(:mod:`egd.grokking.runsets`: ``transformer_configs``, ``digits_configs``) and from the
step-cost benchmark's JSON (:mod:`egd.bench.step_cost`):

* :func:`step_rows` — per method: the paper's steps and ours over seeds (median with a seed
  that never reached the threshold counted as +inf, the median over those that did, min–max,
  reached / seeds), in optimizer steps (epochs x steps per epoch);
* :func:`steps_table` — that as a :class:`~egd.book.display.Table`;
* :func:`speedup_checks` — the ✓ / ✗ verdicts: each method against the baseline and the
  fastest method, in the paper's direction;
* :func:`ordering_holds` — whether a set of runs has the paper's ordering (every EGD variant
  faster than Grokfast, Grokfast faster than the baseline);
* :func:`curves` — steps, train and test accuracy of a run; :func:`run_style` — its colour
  (the method's, :func:`egd.book.style.method_style`) and a label that names the optimizer;
* :func:`stability_table`, :func:`stability_statement` — what happens after the threshold: the lowest
  test accuracy and the evaluations that fall below :data:`FALL_LEVEL`;
* :func:`step_cost_rows` — milliseconds per step and the ratio to the baseline;
* :func:`settings_table` — the hyper-parameters of each setting, read from the run configs.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egd.grokking import labels, paper_numbers, runsets, tables
from egd.grokking.config import RunConfig, config_key
from egd.grokking.store import RunResult

from .definitions import MEMORISED_ACCURACY
from .display import Check, Table, fmt_number
from .style import MethodStyle, method_style

__all__ = ["fmt_steps", "TRANSFORMER_ORDER", "DIGITS_ORDER", "OPTIMIZER_LABELS", "StepRow", "step_summary", "step_rows",
           "steps_table", "speedup_checks", "fastest", "ordering_holds", "curves", "run_label", "run_style",
           "load_runs", "load_step_bench", "step_cost_rows", "transformer_paper", "digits_paper",
           "baseline_reach_check", "settings_table", "train_size", "missing_runs", "fastest_statement",
           "runs_by_method", "ordering_checks", "step_cost_table", "PAPER_ORDERING", "mixed_rows",
           "accuracy_levels", "accuracy_levels_text", "lowest_after_threshold", "stability_table",
           "falls_after_threshold", "stability_statement", "FALL_LEVEL", "PendingMethod", "pending_methods",
           "NOT_FINISHED", "seconds_per_step", "seconds_to_threshold", "fastest_summary", "step_budget", "CHAPTER",
           "digits_rows", "transformer_checks", "findings", "planned_seeds", "median_text", "seeds_text",
           "fastest_rows"]

#: Method keys in the order of the paper's Tables 6 and 7.
TRANSFORMER_ORDER = ("vanilla", "grokfast", "egd-svd", "egd-rsvd36")
DIGITS_ORDER = ("vanilla", "grokfast", "egd-svd", "egd-rsvd16", "egd-rsvd8", "egd-rsvd4")
OPTIMIZER_LABELS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
STEP_BENCH_FILE = "steps_other_models_cpu.json"


def transformer_paper() -> dict[str, int]:
    """Table 7: steps to 95% validation accuracy, by method key."""
    return dict(paper_numbers.TABLE7_TRANSFORMER_STEPS)


def digits_paper() -> dict[str, int]:
    """Table 6: steps to 85% test accuracy on MNIST, by method key."""
    return dict(paper_numbers.TABLE6_MNIST_STEPS)


def load_runs(configs: list[RunConfig], results_dir: str | os.PathLike, *,
              train_missing: bool = False) -> list[RunResult]:
    """The finished runs of ``configs`` in ``results_dir``, found by key. Nothing is trained unless
    ``train_missing`` (the full profile): then the missing ones are trained there first."""
    if train_missing:
        return runsets.run_or_load(configs, results_dir)
    return runsets.load_finished(configs, results_dir)


@dataclass(frozen=True)
class StepRow:
    """One method over its seeds, in optimizer steps.

    ``median_all``: median with a seed that never reached the threshold counted as +inf
    (``math.inf`` when that median is a failure); ``median``, ``min``, ``max``: over the
    ``reached`` seeds (None if none did). ``paper``: the paper's steps (None: no entry).

    ``planned``: the seeds the method's configs plan (None: as many as finished). While some
    of them are still training (:attr:`unfinished`), ``median_all`` is over the finished seeds
    only and ``median_range`` holds the lowest and highest values the median over all planned
    seeds can still take (a seed still training counted as reaching at once, then as never).
    """

    key: str
    paper: int | None
    seeds: int
    reached: int
    median_all: float
    median: float | None
    min: int | None
    max: int | None
    steps_per_epoch: int
    planned: int | None = None
    median_range: tuple[float, float] | None = None

    @property
    def unfinished(self) -> int:
        """Planned seeds without a finished run."""
        return 0 if self.planned is None else self.planned - self.seeds

    @property
    def median_bounds(self) -> tuple[float, float]:
        """``(lowest, highest)`` the median over all planned seeds can be (one value when all finished)."""
        return self.median_range or (self.median_all, self.median_all)


def step_summary(runs: list[RunResult], key: str, paper: int | None = None, *, planned: int | None = None) -> StepRow:
    """:func:`egd.grokking.tables.summarize_seeds` of ``runs`` (one method), epochs turned into steps;
    ``planned``: the seeds planned, when some of them may still be training (see :class:`StepRow`)."""
    if not runs:
        raise ValueError(f"no runs for method {key!r}")
    if planned is not None and planned < len(runs):
        raise ValueError(f"planned must be at least the {len(runs)} finished runs of {key!r}; got {planned}")
    per_epoch = {r.summary["n_train"] // r.config.batch_size for r in runs}
    if len(per_epoch) != 1:
        raise ValueError(f"runs of {key!r} have different steps per epoch: {sorted(per_epoch)}")
    spe = per_epoch.pop()
    s = tables.summarize_seeds(runs)

    def steps(value):
        return None if value is None else value * spe

    median_all = math.inf if s.median_all is None else s.median_all * spe
    median_range = None
    if planned is not None and planned > len(runs):
        epochs = [r.epochs_to_threshold for r in runs]
        unfinished = planned - len(runs)
        low = tables.censored_median(epochs + [0] * unfinished)
        high = tables.censored_median(epochs + [None] * unfinished)
        median_range = tuple(math.inf if v is None else v * spe for v in (low, high))
    return StepRow(key, paper, s.seeds, s.reached, median_all, steps(s.median), steps(s.min), steps(s.max), spe,
                   planned, median_range)


def planned_seeds(configs: list[RunConfig]) -> dict[str, int]:
    """Seeds planned per method key (:func:`labels.method_key`) of ``configs``."""
    planned: dict[str, int] = {}
    for config in configs:
        key = labels.method_key(config)
        planned[key] = planned.get(key, 0) + 1
    return planned


def step_rows(runs: list[RunResult], paper: dict[str, int], order: tuple[str, ...], *,
              planned: dict[str, int] | None = None) -> list[StepRow]:
    """One :class:`StepRow` per method key of ``order`` that has runs (grouped by :func:`labels.method_key`);
    ``planned`` (:func:`planned_seeds` of the configs): seeds planned per key, so that a method with
    seeds still training says so."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(labels.method_key(run.config), []).append(run)
    unknown = sorted(set(groups) - set(order))
    if unknown:
        raise ValueError(f"runs of methods {unknown} are not in the order {order}")
    planned = planned or {}
    return [step_summary(groups[k], k, paper.get(k), planned=planned.get(k)) for k in order if k in groups]


def median_text(row: StepRow) -> str:
    """The median over seeds for a cell or a sentence: one number, or while seeds are still training
    the range it can still take (``"31,122–45,000"``; ``"31,122 or more, or never"`` when it may yet be a
    failure; ``"undecided"`` when it can still be anything)."""
    return _bounds_text(*row.median_bounds, fmt_steps)


def _bounds_text(low: float, high: float, fmt) -> str:
    """One value ``fmt(low)`` (``fmt`` writes +inf as never), or the range ``[low, high]`` in words."""
    if low == high or (math.isinf(low) and math.isinf(high)):
        return fmt(low)
    if low == 0 and math.isinf(high):
        return UNDECIDED
    return f"{fmt(low)} or more, or never" if math.isinf(high) else f"{fmt(low)}–{fmt(high)}"


def _fmt_seconds(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:,.1f}"


def seeds_text(row: StepRow) -> str:
    """``"2/3"`` (reached / finished seeds), with ``", 1 still training"`` while planned seeds are."""
    return f"{row.reached}/{row.seeds}" + (f", {row.unfinished} still training" if row.unfinished else "")


def fmt_steps(value: float | int | None) -> str:
    """Optimizer steps for a table cell: ``never`` for None or +inf, else a whole number with thousands
    separators (a median over an even number of seeds may end in .5; it keeps that one decimal)."""
    if value is None or math.isinf(value):
        return "never"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def run_label(key: str, optimizer: str) -> str:
    """``"AdamW"`` for the baseline, ``"AdamW + EGD-RSVD r=16"`` for a method."""
    base = OPTIMIZER_LABELS[optimizer]
    return base if key == "vanilla" else f"{base} + {labels.method_label(key)}"


def run_style(key: str, optimizer: str) -> MethodStyle:
    """The method's colour in every chapter (the baseline keeps vanilla's), labelled with the optimizer."""
    style = method_style(key)
    return MethodStyle(style.color, style.linestyle, run_label(key, optimizer))


@dataclass(frozen=True)
class PendingMethod:
    """A method of the chapter's configs with no finished run yet: its key, the paper's steps, seeds planned."""

    key: str
    paper: int | None
    planned: int


def pending_methods(configs: list[RunConfig], runs: list[RunResult], paper: dict[str, int],
                    order: tuple[str, ...]) -> list[PendingMethod]:
    """The method keys of ``configs`` (in ``order``) of which no run among ``runs`` has finished."""
    finished = {labels.method_key(r.config) for r in runs}
    planned = planned_seeds(configs)
    return [PendingMethod(k, paper.get(k), planned[k]) for k in order if k in planned and k not in finished]


def steps_table(rows: list[StepRow], optimizer: str, *, caption: str = "",
                pending: list[PendingMethod] = ()) -> Table:
    """Paper's steps beside ours: median (failures as +inf), median of those that reached, min–max, reached/seeds.

    ``pending``: methods without a finished run, listed (in the paper's order) with the paper's
    number and "no finished run" where ours would be.
    """
    body = {}
    for r in rows:
        spread = UNDECIDED_RANGE if r.min is None else f"{fmt_number(r.min)}–{fmt_number(r.max)}"
        body[r.key] = [run_label(r.key, optimizer), fmt_steps(r.paper), median_text(r),
                       fmt_steps(r.median), spread, seeds_text(r)]
    for p in pending:
        body[p.key] = [run_label(p.key, optimizer), fmt_steps(p.paper), NOT_FINISHED, UNDECIDED_RANGE,
                       UNDECIDED_RANGE, f"0 of {p.planned} finished"]
    order = [*TRANSFORMER_ORDER, *DIGITS_ORDER]
    body = [body[k] for k in sorted(body, key=lambda k: order.index(k) if k in order else len(order))]
    return Table(["method", "paper (steps)", "ours: median, a failure as +∞", "median of those that reached",
                  "min–max", "reached / seeds"], body, caption=caption)


UNDECIDED_RANGE = "–"
#: The median of a method whose seeds still training could make it anything from 0 steps to a failure.
UNDECIDED = "undecided"
#: Where ours would be for a method whose runs have not finished.
NOT_FINISHED = "no finished run"


def _scaled_bounds(rows: list[StepRow], scale: dict[str, float] | None) -> dict[str, tuple[float, float]]:
    """``key -> (lowest, highest)`` median times ``scale[key]`` (1 without ``scale``; rows missing from it
    are left out)."""
    if scale is None:
        return {r.key: r.median_bounds for r in rows}
    bad = {k: v for k, v in scale.items() if not (v > 0 and math.isfinite(v))}
    if bad:
        raise ValueError(f"scale must be positive and finite per method; got {bad}")
    return {r.key: (r.median_bounds[0] * scale[r.key], r.median_bounds[1] * scale[r.key])
            for r in rows if r.key in scale}


def _contenders(rows: list[StepRow], scale: dict[str, float] | None) -> list[StepRow]:
    """The rows (among those in ``scale``) whose median times ``scale[key]`` can still be the smallest
    finite one: their lowest possible value is finite and not above the smallest of the rows' highest
    values (any finite lowest value when no row surely reaches)."""
    bounds = _scaled_bounds(rows, scale)
    best_high = min((high for _, high in bounds.values()), default=math.inf)
    return [r for r in rows if r.key in bounds and math.isfinite(bounds[r.key][0])
            and (math.isinf(best_high) or bounds[r.key][0] <= best_high)]


def fastest_rows(rows: list[StepRow], scale: dict[str, float] | None = None) -> list[str] | None:
    """Keys of the rows with the smallest finite median (times ``scale[key]``, e.g. seconds per step;
    rows missing from ``scale`` are left out; ``[]`` when none reaches). A row with seeds still
    training counts with every value its median can still take: it is the fastest when even its
    highest is below every other row's lowest, and the answer is None (undecided) while seeds still
    training could change it."""
    contenders = _contenders(rows, scale)
    if len(contenders) == 1 and not math.isinf(contenders[0].median_bounds[1]):
        return [contenders[0].key]
    if _undecided_by(rows, scale):
        return None
    # every contender's median is known (finished, or fixed whatever its seeds still training do):
    # they tie at the smallest value (or none reaches)
    return sorted(r.key for r in contenders)


def _undecided_by(rows: list[StepRow], scale: dict[str, float] | None = None) -> list[StepRow]:
    """The rows with seeds still training that keep :func:`fastest_rows` undecided: contenders whose
    median can still take more than one value."""
    bounds = _scaled_bounds(rows, scale)
    return [r for r in _contenders(rows, scale) if bounds[r.key][0] != bounds[r.key][1]]


def _faster(a: StepRow, b: StepRow) -> bool | None:
    """``a``'s median below ``b``'s for every value the medians can still take (None: undecided, or
    both never reach)."""
    a_low, a_high = a.median_bounds
    b_low, b_high = b.median_bounds
    if math.isinf(a_low) and math.isinf(b_low):
        return None
    if a_high < b_low:
        return True
    if a_low >= b_high:
        return None if math.isinf(a_low) and math.isinf(b_high) else False
    return None


def fastest(values: dict[str, float | int | None]) -> list[str]:
    """Keys with the smallest finite value (ties kept); ``[]`` if none is finite."""
    finite = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    if not finite:
        return []
    best = min(finite.values())
    return sorted(k for k, v in finite.items() if v == best)


def speedup_checks(rows: list[StepRow], optimizer: str, threshold: str, *,
                   base_paper_steps: int | None = None) -> list[Check]:
    """✓ / ✗ rows: every method needs fewer steps than the baseline (as in the paper), and the fastest method.

    Ours is the median over seeds with failures as +inf; a method whose median is a failure
    fails the claim. Without a baseline row (its runs have not finished) each comparison with
    it is undecided (–), its paper number ``base_paper_steps`` is still shown, and the fastest
    method is the fastest of those measured.
    """
    by_key = {r.key: r for r in rows}
    if not rows:
        raise ValueError("no rows: no method has a finished run")
    base = by_key.get("vanilla")
    base_paper = base_paper_steps if base is None else base.paper
    base_label = OPTIMIZER_LABELS[optimizer]
    checks = []
    for r in rows:
        if r.key == "vanilla":
            continue
        paper = (None if r.paper is None or base_paper is None
                 else f"{fmt_steps(r.paper)} vs {fmt_steps(base_paper)}")
        if base is None:  # the baseline's runs have not finished: undecided
            holds, ours = None, f"{median_text(r)} vs {NOT_FINISHED}"
        else:
            holds = _surely_faster(r, base)
            ours = f"{median_text(r)} vs {median_text(base)}"
            if base.unfinished:
                ours += f" ({base.unfinished} of its {base.planned} seeds still training)"
        checks.append(Check(f"{run_label(r.key, optimizer)} reaches {threshold} in fewer steps than {base_label}",
                            holds, paper or "–", ours))
    paper_best = fastest({**({} if base_paper is None else {"vanilla": base_paper}), **{r.key: r.paper for r in rows}})
    ours_best = fastest_rows(rows)
    if ours_best is None:  # undecided, unless none of the paper's fastest can still be ours
        holds = False if not set(paper_best) & {r.key for r in _contenders(rows, None)} else None
    else:
        holds = bool(set(paper_best) & set(ours_best))
    among = "" if base is not None else f" (among the methods measured; {base_label} alone has no finished run)"
    ours_text = ("undecided while seeds still train" if ours_best is None
                 else " = ".join(run_label(k, optimizer) for k in ours_best) or "none reached")
    checks.append(Check(f"the fastest method to {threshold} is the paper's{among}",
                        holds, " = ".join(run_label(k, optimizer) for k in paper_best) or "–", ours_text))
    return checks


def baseline_reach_check(rows: list[StepRow], optimizer: str, threshold: str, budget_steps: int,
                         needed: int, *, pending: PendingMethod | None = None) -> Check:
    """The baseline reaches the threshold within ``budget_steps`` on at least ``needed`` of its seeds;
    undecided (–) when its runs have not finished (``pending``, from :func:`pending_methods`)."""
    base = next((r for r in rows if r.key == "vanilla"), None)
    if base is None:
        if pending is None or pending.key != "vanilla":
            raise ValueError("the baseline ('vanilla') has no runs")
        return Check(f"{OPTIMIZER_LABELS[optimizer]} alone reaches {threshold} within {fmt_number(budget_steps)} "
                     f"steps on at least {needed} of {pending.planned} seeds", None,
                     fmt_steps(pending.paper) + " steps (one run)", f"{NOT_FINISHED} (0 of {pending.planned})")
    planned = base.planned or base.seeds
    holds = True if base.reached >= needed else (False if base.reached + base.unfinished < needed else None)
    training = f", {base.unfinished} still training" if base.unfinished else ""
    return Check(f"{OPTIMIZER_LABELS[optimizer]} alone reaches {threshold} within {fmt_number(budget_steps)} steps "
                 f"on at least {needed} of {planned} seeds", holds,
                 fmt_steps(base.paper) + " steps (one run)",
                 f"{base.reached}/{base.seeds} seeds{training}")


def _surely_faster(a: StepRow, b: StepRow) -> bool | None:
    """:func:`_faster`, with a row that surely never reaches (even its lowest median is a failure)
    counted as not faster."""
    return False if math.isinf(a.median_bounds[0]) else _faster(a, b)


def ordering_holds(rows: list[StepRow]) -> bool | None:
    """The paper's ordering of Table 6: every EGD variant faster than Grokfast, Grokfast faster than the
    baseline (medians with failures as +inf). None when a needed method has no runs, or while seeds
    still training could decide it either way (one comparison fails for sure: False)."""
    by_key = {r.key: r for r in rows}
    if "vanilla" not in by_key or "grokfast" not in by_key:
        return None
    egd = [r for k, r in by_key.items() if k.startswith("egd-")]
    if not egd:
        return None
    verdicts = [_surely_faster(by_key["grokfast"], by_key["vanilla"]),
                *(_surely_faster(r, by_key["grokfast"]) for r in egd)]
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True


def curves(run: RunResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, train accuracy, test accuracy)`` after every epoch of ``run``."""
    spe = run.summary["n_train"] // run.config.batch_size
    return run.epochs * spe, run.train_acc, run.test_acc


def load_step_bench(benchmarks_dir: str | os.PathLike) -> dict | None:
    """The step-cost benchmark's record (:mod:`egd.bench.step_cost`), or None if it was never run."""
    path = Path(benchmarks_dir) / STEP_BENCH_FILE
    return json.loads(path.read_text()) if path.exists() else None


def step_cost_rows(record: dict, setting: str, order: tuple[str, ...]) -> list[tuple[str, float, float]]:
    """``(method key, median ms per step, ratio to the baseline's median)`` for ``setting``, in ``order``."""
    if setting not in record["settings"]:
        raise ValueError(f"the benchmark has no setting {setting!r}; it has {sorted(record['settings'])}")
    medians = record["settings"][setting]["median_ms_per_step"]
    return [(k, medians[k], medians[k] / medians["vanilla"]) for k in order if k in medians]


def train_size(config: RunConfig) -> int:
    """Training examples of ``config``'s task (without building the data)."""
    if config.p is not None:
        return int(config.train_fraction * config.p**2)
    return config.n_train


def step_budget(configs: list[RunConfig]) -> int:
    """The most optimizer steps any of ``configs`` may train (``max_epochs`` x steps per epoch)."""
    if not configs:
        raise ValueError("configs must hold at least one config")
    return max(c.max_epochs * (train_size(c) // c.batch_size) for c in configs)


def missing_runs(configs: list[RunConfig], runs: list[RunResult]) -> list[str]:
    """The variant keys and seeds of ``configs`` that have no finished run among ``runs``."""
    done = {r.key for r in runs}
    return [f"{labels.variant_key(c)} seed {c.seed}" for c in configs if config_key(c) not in done]


def settings_table(settings: dict[str, list[RunConfig]], *, caption: str = "") -> Table:
    """The hyper-parameters of each setting, one column per setting, read from its run configs.

    ``settings``: column name -> every config of that setting. They may differ only in the
    method, seed, weight decay and step budget; the last two get a row each, baseline
    (``vanilla``) and methods apart.
    """
    names = list(settings)
    rows: dict[str, list[str]] = {k: [] for k in (
        "model", "training / test examples", "optimizer", "batch, steps per epoch", "loss",
        "weight decay: baseline; with a method", "threshold (test accuracy)", "step budget: baseline; with a method",
        "EGD transforms", "Grokfast-EMA", "switch-off at the threshold")}
    transformed = {"transformer": "each block's two MLP matrices", "mlp3": "all three weight matrices",
                   "mlp": "the hidden layer's weight"}
    models = {"transformer": "decoder-only transformer", "mlp3": "3-layer ReLU MLP", "mlp": "2-layer ReLU MLP"}

    def values(configs, get, fmt):
        return ", ".join(fmt(v) for v in sorted({get(c) for c in configs}))

    for name in names:
        configs = settings[name]
        if not configs:
            raise ValueError(f"setting {name!r} has no configs")
        base_runs = [c for c in configs if c.method == "vanilla"] or configs
        method_runs = [c for c in configs if c.method != "vanilla"] or configs
        base = base_runs[0]
        n = train_size(base)
        spe = n // base.batch_size
        opt = OPTIMIZER_LABELS[base.optimizer]
        opt_text = f"{opt}, lr {base.lr:g}" + ("" if base.optimizer == "sgd" else f", betas {base.betas}")
        if base.warmup_steps:
            opt_text += f", warm-up {base.warmup_steps} steps"
        init = f", init x{base.init_scale:g}" if base.init_scale != 1 else ""
        rows["model"].append(f"{models[base.model]}, width {base.width}{init}")
        n_test = "the rest" if base.n_test is None else f"{base.n_test:,}"
        rows["training / test examples"].append(f"{n:,} / {n_test}")
        rows["optimizer"].append(opt_text)
        rows["batch, steps per epoch"].append(f"{base.batch_size}, {spe}")
        rows["loss"].append({"mse": "MSE on one-hot targets", "cross_entropy": "cross-entropy"}.get(base.loss,
                                                                                                 base.loss))
        wd = lambda c: c.weight_decay
        rows["weight decay: baseline; with a method"].append(
            f"{values(base_runs, wd, '{:g}'.format)}; {values(method_runs, wd, '{:g}'.format)}")
        rows["threshold (test accuracy)"].append(f"{base.threshold:.0%}")
        def budgets(configs):  # by weight decay where the budget depends on it
            pairs = sorted({(c.weight_decay, c.max_epochs * spe) for c in configs})
            if len({b for _, b in pairs}) == 1:
                return f"{pairs[0][1]:,}"
            return ", ".join(f"{b:,} at weight decay {wd:g}" for wd, b in pairs)

        rows["step budget: baseline; with a method"].append(f"{budgets(base_runs)}; {budgets(method_runs)}")
        rows["EGD transforms"].append(transformed[base.model])
        rows["Grokfast-EMA"].append(f"alpha {base.grokfast_alpha:g}, lambda {base.grokfast_lamb:g}")
        rows["switch-off at the threshold"].append("yes" if base.switch_off else "no")
    return Table(["", *names], [[k, *v] for k, v in rows.items()], caption=caption, align="l" * (len(names) + 1))


def fastest_statement(rows: list[StepRow], optimizer: str, threshold: str) -> str:
    """One sentence: which method reaches the threshold in the fewest steps (median over seeds,
    failures as +inf), next to the paper's fastest."""
    ours = fastest_rows(rows)
    paper = fastest({r.key: r.paper for r in rows})
    by_key = {r.key: r for r in rows}

    def names(keys, value):
        return " and ".join(f"{run_label(k, optimizer)} ({value(k)} steps)" for k in keys)

    if ours is None:
        training = " and ".join(run_label(r.key, optimizer) for r in _undecided_by(rows))
        text = f"Fewest steps to {threshold}: undecided while seeds of {training} are still training"
    elif ours:
        text = (f"Fewest steps to {threshold} (median over seeds, a failure as +∞): "
                f"{names(ours, lambda k: median_text(by_key[k]))}")
    else:
        text = f"No method reaches {threshold} on most of its seeds"
    if paper:
        text += f"; the paper's fewest: {names(paper, lambda k: fmt_steps(by_key[k].paper))}"
    return text + "."


def runs_by_method(runs: list[RunResult], order: tuple[str, ...]) -> dict[str, list[RunResult]]:
    """``runs`` grouped by method key, in ``order``, seeds ascending."""
    groups = {k: sorted((r for r in runs if labels.method_key(r.config) == k), key=lambda r: r.config.seed)
              for k in order}
    return {k: v for k, v in groups.items() if v}


#: The paper's ordering on MNIST (Table 6), in words and numbers.
PAPER_ORDERING = "EGD 500–700 < Grokfast 1,800 < AdamW 43,100"


def ordering_checks(named_rows: dict[str, list[StepRow]]) -> list[Check]:
    """One ✓ / ✗ row per set of rows (named, e.g. by its weight decay): does it have the paper's
    ordering (:func:`ordering_holds`)?"""
    checks = []
    for name, rows in named_rows.items():
        if not rows:
            continue
        ours = "; ".join(f"{run_label(r.key, 'adamw')} {median_text(r)}"
                         + (f" ({seeds_text(r)})" if r.unfinished else "") for r in rows)
        checks.append(Check(f"{name}: every EGD variant needs fewer steps than Grokfast, and Grokfast fewer than "
                            f"AdamW alone", ordering_holds(rows), PAPER_ORDERING, ours))
    return checks


def mixed_rows(rows_by_weight_decay: dict[float, list[StepRow]], baseline_wd: float,
               method_wd: float) -> list[StepRow]:
    """The baseline's row at ``baseline_wd`` with every method's row at ``method_wd`` (one reading of
    the public scripts: AdamW alone at its default 0.01, the methods at 2.0)."""
    base = [r for r in rows_by_weight_decay.get(baseline_wd, []) if r.key == "vanilla"]
    methods = [r for r in rows_by_weight_decay.get(method_wd, []) if r.key != "vanilla"]
    return base + methods if base and methods else []


def step_cost_table(record: dict, setting: str, order: tuple[str, ...], optimizer: str, *,
                    rows: list[StepRow] | None = None, caption: str = "") -> Table:
    """Milliseconds per step (median of the benchmark's blocks) and the ratio to the baseline's; with
    ``rows``, also the seconds to the threshold they imply (median steps, a failure as +inf, times
    the milliseconds per step; the range it can still take for a method with seeds still training)."""
    seconds = _scaled_bounds(rows or [], seconds_per_step(record, setting))
    body = []
    for k, ms, ratio in step_cost_rows(record, setting, order):
        cells = [run_label(k, optimizer), f"{ms:.2f}", f"{ratio:.2f}x"]
        if rows is not None:
            cells.append(UNDECIDED_RANGE if k not in seconds else _bounds_text(*seconds[k], _fmt_seconds))
        body.append(cells)
    header = ["method", "ms per step", "vs the baseline"]
    if rows is not None:
        header.append("seconds to the threshold (median steps x ms per step)")
    return Table(header, body, caption=caption)


def seconds_per_step(record: dict, setting: str) -> dict[str, float]:
    """The step benchmark's median seconds per step for ``setting``, by method key."""
    if setting not in record["settings"]:
        raise ValueError(f"the benchmark has no setting {setting!r}; it has {sorted(record['settings'])}")
    return {k: ms / 1e3 for k, ms in record["settings"][setting]["median_ms_per_step"].items()}


def seconds_to_threshold(record: dict, setting: str, rows: list[StepRow]) -> dict[str, float]:
    """Per method key with a row and a timed step: median steps (a failure as +inf) x median seconds per step;
    a method whose median seeds still training could change is left out (it is not known yet)."""
    bounds = _scaled_bounds(rows, seconds_per_step(record, setting))
    return {k: low for k, (low, high) in bounds.items() if low == high}


def fastest_summary(rows: list[StepRow], record: dict | None, setting: str, optimizer: str,
                    threshold: str) -> str:
    """One sentence for the chapter's conclusion: the fewest steps (ours and the paper's) and, with the
    step benchmark's ``record``, the fewest seconds on this CPU (steps x the measured cost of a step)."""
    text = fastest_statement(rows, optimizer, threshold)
    if record is None or setting not in record.get("settings", {}):
        return text
    per_second = seconds_per_step(record, setting)
    best = fastest_rows(rows, per_second)
    if best is None:
        training = " and ".join(run_label(r.key, optimizer) for r in _undecided_by(rows, per_second))
        text = text[:-1] + f". Fewest seconds on this CPU: undecided while seeds of {training} are still training."
    elif best:
        bounds = _scaled_bounds([r for r in rows if r.key in best], per_second)
        names = " and ".join(f"{run_label(k, optimizer)} ({_bounds_text(*bounds[k], '{:,.0f}'.format)} s)"
                             for k in best)
        text = text[:-1] + f". Fewest seconds on this CPU (median steps x ms per step): {names}."
    return text


def accuracy_levels(runs: list[RunResult]) -> tuple[float | None, float | None]:
    """``(test accuracy at memorisation, final test accuracy)``, each the median over ``runs``.

    Memorisation time ``T_mem``: the first epoch with train accuracy at or above
    :data:`egd.book.definitions.MEMORISED_ACCURACY`; runs that never memorise are left out of
    the first median (None if none did).
    """
    if not runs:
        raise ValueError("runs must hold at least one run")
    at_mem, final = [], []
    for run in runs:
        hit = np.flatnonzero(run.train_acc >= MEMORISED_ACCURACY)
        if hit.size:
            at_mem.append(float(run.test_acc[hit[0]]))
        final.append(float(run.test_acc[-1]))
    return (float(np.median(at_mem)) if at_mem else None), float(np.median(final))


def accuracy_levels_text(runs: list[RunResult]) -> str:
    """:func:`accuracy_levels` of ``runs`` in words: the test accuracy when the runs have memorised their
    training set and at the end, or that they never memorise it."""
    at_mem, final = accuracy_levels(runs)
    median = f"median of {len(runs)} run{'s' * (len(runs) > 1)}"
    if at_mem is None:
        return (f"it never memorises its training set (its train accuracy stays below {MEMORISED_ACCURACY:.0%}); "
                f"test accuracy {final:.1%} at the end of the run ({median})")
    return (f"test accuracy {at_mem:.1%} when it has memorised its training set, {final:.1%} at the end of the run "
            f"({median})")


def lowest_after_threshold(run: RunResult) -> float | None:
    """The lowest test accuracy after the epoch that first reached the threshold (None if it never did,
    or if the run stopped there)."""
    reached = run.epochs_to_threshold
    if reached is None or reached >= len(run.test_acc):
        return None
    return float(run.test_acc[reached:].min())


#: The test accuracy below which an evaluation after the threshold counts as a fall (:func:`falls_after_threshold`).
FALL_LEVEL = 0.90


def falls_after_threshold(run: RunResult, level: float = FALL_LEVEL) -> int | None:
    """Evaluations after the epoch that first reached the threshold with test accuracy below ``level``
    (None if the run never reached it, or stopped there)."""
    if not 0 < level <= 1:
        raise ValueError(f"level must be in (0, 1]; got {level}")
    reached = run.epochs_to_threshold
    if reached is None or reached >= len(run.test_acc):
        return None
    return int(np.count_nonzero(run.test_acc[reached:] < level))


def stability_table(runs: list[RunResult], order: tuple[str, ...], optimizer: str, *, caption: str = "",
                    level: float = FALL_LEVEL) -> Table:
    """Per method: how long the runs trained past the threshold, the lowest test accuracy there (median
    over seeds and the lowest over seeds), and the evaluations there below ``level`` (over all seeds,
    and how many seeds had one)."""
    body = []
    for key, group in runs_by_method(runs, order).items():
        lows = [v for v in (lowest_after_threshold(r) for r in group) if v is not None]
        if not lows:
            continue
        spe = group[0].summary["n_train"] // group[0].config.batch_size
        after = sorted({(len(r.test_acc) - r.epochs_to_threshold) * spe for r in group
                        if r.epochs_to_threshold is not None and r.epochs_to_threshold < len(r.test_acc)})
        span = f"{after[0]:,}" if len(after) == 1 else f"{after[0]:,}–{after[-1]:,}"
        falls = [n for n in (falls_after_threshold(r, level) for r in group) if n is not None]
        body.append([run_label(key, optimizer), f"{len(lows)}/{len(group)}", span,
                     f"{float(np.median(lows)):.1%}", f"{min(lows):.1%}",
                     f"{sum(falls)} ({sum(n > 0 for n in falls)}/{len(falls)} seeds)"])
    return Table(["method", "seeds past the threshold", "steps trained after it", "lowest test accuracy: median",
                  "lowest over seeds", f"evaluations below {level:.0%} after it (seeds with one)"], body,
                 caption=caption)


def stability_statement(runs: list[RunResult], order: tuple[str, ...], optimizer: str, *,
                        level: float = FALL_LEVEL) -> str:
    """One sentence from :func:`falls_after_threshold`: which methods stayed at or above ``level`` at every
    evaluation after first reaching the threshold, on every seed past it, and how often the others fell."""
    steady, fell = [], []
    for key, group in runs_by_method(runs, order).items():
        falls = [n for n in (falls_after_threshold(r, level) for r in group) if n is not None]
        if not falls:
            continue
        if sum(falls) == 0:
            steady.append(run_label(key, optimizer))
        else:
            seeds = sum(n > 0 for n in falls)
            fell.append(f"{run_label(key, optimizer)} fell below {level:.0%} at {sum(falls)} evaluation"
                        f"{'s' if sum(falls) > 1 else ''} ({seeds} of {len(falls)} seeds)")
    if not steady and not fell:
        return "No run trained past the threshold."
    parts = []
    if steady:
        parts.append(f"{' and '.join(steady)} stayed at or above {level:.0%} test accuracy at every evaluation "
                     "after first reaching the threshold, on every seed")
    if fell:
        parts.append(("" if steady else "after first reaching the threshold, ") + "; ".join(fell))
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# --- the findings of the landing page and the status scoreboard ----------------------------------------------

#: The chapter's file name, as :mod:`egd.book.findings` links it.
CHAPTER = "10_other_models"


def digits_rows(results_dir: str | os.PathLike) -> dict[float, list[StepRow]]:
    """The chapter's Table 6 rows per AdamW weight decay, from the committed digits runs in the
    ``10_other_models`` subfolder of ``results_dir`` (nothing is trained)."""
    configs = runsets.digits_configs("quick")
    runs = load_runs(configs, Path(results_dir) / runsets.OTHER_MODELS_SUBDIR)
    return {wd: step_rows([r for r in runs if r.config.weight_decay == wd], digits_paper(), DIGITS_ORDER,
                          planned=planned_seeds([c for c in configs if c.weight_decay == wd]))
            for wd in runsets.DIGITS_WEIGHT_DECAYS}


def transformer_checks(results_dir: str | os.PathLike) -> tuple[list[StepRow], list[Check]]:
    """The chapter's Table 7 rows and verdicts (the baseline reaches 95% within 100,000 steps on 2 seeds,
    then :func:`speedup_checks`), from the committed transformer runs; no checks without a finished run."""
    configs = runsets.transformer_configs("quick")
    runs = load_runs(configs, Path(results_dir) / runsets.OTHER_MODELS_SUBDIR)
    rows = step_rows(runs, transformer_paper(), TRANSFORMER_ORDER, planned=planned_seeds(configs))
    if not rows:
        return rows, []
    pending = pending_methods(configs, runs, transformer_paper(), TRANSFORMER_ORDER)
    base_pending = next((p for p in pending if p.key == "vanilla"), None)
    checks = [baseline_reach_check(rows, "adam", "95%", 100_000, 2, pending=base_pending),
              *speedup_checks(rows, "adam", "95%", base_paper_steps=transformer_paper()["vanilla"])]
    return rows, checks


def _steps_of(rows: list[StepRow], optimizer: str) -> str:
    return "; ".join(f"{run_label(r.key, optimizer)} {median_text(r)} ({seeds_text(r)})"
                     for r in rows)


def findings(results_dir: str | os.PathLike) -> list:
    """The chapter's verdicts as rows of :mod:`egd.book.findings` (keys ``"Table 6"`` and ``"Table 7"``):
    Table 6 on digits at AdamW weight decay 2.0 (the public comparison runs' value; :func:`speedup_checks`),
    the paper's ordering under each reading of the weight decay (:func:`ordering_checks`), and Table 7
    (:func:`transformer_checks`). Each verdict is :func:`egd.book.findings.combine` of the chapter's checks;
    a setting without finished runs gives no row."""
    from . import findings as book_findings

    out = []
    rows_by_wd = digits_rows(results_dir)
    high, low = max(rows_by_wd), min(rows_by_wd)
    if rows_by_wd[high]:
        checks = speedup_checks(rows_by_wd[high], "adamw", "85%")
        out.append(book_findings.Finding(
            f"Table 6 on scikit-learn's digits (the paper's MNIST setting), AdamW weight decay {high:g}: every "
            "method reaches 85% in fewer steps than AdamW alone, the fastest is the paper's",
            PAPER_ORDERING + " steps (MNIST)", _steps_of(rows_by_wd[high], "adamw") + " steps",
            book_findings.combine(checks), CHAPTER, "Table 6"))
    orderings = {f"weight decay {wd:g} for every method": rows for wd, rows in rows_by_wd.items()}
    orderings[f"AdamW alone at {low:g}, the methods at {high:g}"] = mixed_rows(rows_by_wd, low, high)
    checks = ordering_checks(orderings)
    if checks:
        out.append(book_findings.Finding(
            "Table 6 on digits: the paper's ordering (every EGD variant before Grokfast, Grokfast before AdamW "
            "alone), under each reading of the weight decay",
            PAPER_ORDERING + " steps (MNIST)", book_findings.summarize(checks),
            book_findings.combine(checks), CHAPTER, "Table 6"))
    rows, checks = transformer_checks(results_dir)
    if checks:
        paper = transformer_paper()
        out.append(book_findings.Finding(
            "Table 7, transformer on x·y mod 97 with Adam: every method reaches 95% in fewer steps than Adam alone, "
            "the fastest is the paper's",
            "; ".join(f"{run_label(k, 'adam')} {fmt_steps(paper[k])}" for k in TRANSFORMER_ORDER if k in paper)
            + " steps", ("" if any(r.key == "vanilla" for r in rows) else f"Adam alone: {NOT_FINISHED}; ")
            + _steps_of(rows, "adam") + " steps", book_findings.combine(checks), CHAPTER, "Table 7"))
    return out
