r"""Which theory predicts the plateau: weight-decay norm separation against gradient anisotropy.

Two explanations of the delay between memorisation and generalisation, tested on the same
runs (a grid of learning rate ``eta`` x weight decay ``lambda``, vanilla SGD and exact EGD,
on ``a + b mod 97`` and Parity(100, 3)):

* **(a) norm separation** (arXiv 2603.13331, for SGD with weight decay in the loss):

  .. math::  T_\text{grok} - T_\text{mem} = \Theta\!\Big(\frac{1}{\eta\lambda}
             \log\frac{\|\theta_\text{mem}\|^2}{\|\theta_\text{post}\|^2}\Big),

  the time weight decay needs to shrink the memorising weights to the generalising ones;
  ``x_a = log(|theta_mem|^2 / |theta_post|^2) / (eta lambda)`` in optimiser steps. Undefined
  (not a prediction) when the norm did not shrink.
* **(b) gradient anisotropy** (the paper's Section 3): the toy model's plateau lasts
  ``~ 1 / (eta eps)`` steps, ``eps`` the curvature of the slow direction, against ``1 / (eta m2)``
  for the fast one; measured on a network as the squared ratio ``kappa`` of the upper and
  lower halves of the data part of the hidden layer's gradient spectrum
  (:func:`split_ratio`, the validation chapter's statistic), so
  ``x_b = kappa / eta``.

Each law is fitted as ``log delay = c + b log x`` (:func:`fit_law`; the laws predict
``b = 1``) with a t interval on ``b`` and the fit's R², and tested out of sample by
leaving one learning rate out at a time (:func:`out_of_sample`) against the null
predictor that ignores ``x``. :func:`verdict` turns the fits into the chapter's sentence.

Time is counted in optimiser steps (epochs x steps per epoch) so that ``eta lambda`` keeps
its meaning per step; ``T_mem`` is the first epoch with training accuracy >=
:data:`MEMORISED`, ``T_grok`` the first with test accuracy >= the run's threshold, and the
norm is that of both recorded weights, ``sqrt(|W_1|_F^2 + |W_2|_F^2)`` (no biases).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from egd.grokking import registry
from egd.grokking.config import RunConfig, make_config
from egd.grokking.labels import method_key
from egd.grokking.runsets import MODULAR_MAX_EPOCHS, PATIENCE, PROFILES, SPECTRUM_EVERY, SPECTRUM_EVERY_DEFAULT
from egd.grokking.store import RunResult

__all__ = ["THEORIES_SUBDIR", "MEMORISED", "GridSetting", "GRID", "THEORY_METHODS", "THEORY_SEEDS",
           "theory_configs", "RunMeasure", "measure", "split_ratio", "data_rank", "LawFit", "fit_law",
           "law_inputs", "out_of_sample", "OutOfSample", "contraction_speedup", "verdict", "LAWS",
           "FIT_R2", "SLOPE_TOLERANCE", "neither_fits",
           "CensoredTest", "censored_test"]

#: The runs live in their own subfolder of the results folder.
THEORIES_SUBDIR = "12_theories"
#: Training accuracy that counts as memorised.
MEMORISED = 0.99
#: A law "fits" a set of runs when its log-log R² reaches this and its slope's interval holds 1
#: (or the slope lies within :data:`SLOPE_TOLERANCE` of 1: a tight interval around 1.02 is a fit).
FIT_R2 = 0.8
SLOPE_TOLERANCE = 0.1
LAWS = ("norm separation", "anisotropy")


@dataclass(frozen=True)
class GridSetting:
    """One task of the grid: the paper's configuration with ``lr`` x ``weight_decay`` varied."""

    name: str
    task: str
    shape: dict
    lrs: tuple[float, ...]
    weight_decays: tuple[float, ...]
    #: Epoch budget per method.
    max_epochs: dict
    #: Epochs between recorded gradient spectra, per method.
    spectrum_every: dict
    #: Epochs trained past the threshold.
    patience: int

    def config(self, method: str, lr: float, weight_decay: float, seed: int, device: str = "cpu") -> RunConfig:
        return make_config(self.task, method, **self.shape, seed=seed, device=device, lr=lr,
                           weight_decay=weight_decay, max_epochs=self.max_epochs[method], patience=self.patience,
                           spectrum_every=self.spectrum_every[method])


#: The grid, 1.5 decades of weight decay x a factor 4 of learning rate around the paper's
#: values (mod-add: lr 0.7, wd 1e-4; parity: lr 0.042, wd 1e-2). Measured limits: on mod-add
#: a weight decay of 3e-3 or more at lr 0.7 or 1.4 shrinks the network to zero before it
#: memorises (train accuracy at chance after 200 epochs), so its range lies below; on parity
#: vanilla SGD at twice the paper's lr (0.084) diverges in its first epoch at every weight
#: decay of the grid, so the paper's lr is the largest. The modular cell at the paper's values
#: is the reproduction's own run (same config, same key: Table 2's budget, patience and
#: spectrum cadence). Parity stops at the threshold; vanilla SGD gets twice the paper's budget
#: of 2,000 epochs, exact EGD the paper's (a stalled EGD seed costs 50x a vanilla epoch).
GRID = {
    "mod-add": GridSetting("a + b mod 97", "mod-add", {"p": 97}, (0.35, 0.7, 1.4), (3e-5, 1e-4, 3e-4, 1e-3),
                           max_epochs={"vanilla": MODULAR_MAX_EPOCHS, "egd-svd": MODULAR_MAX_EPOCHS}, patience=PATIENCE,
                           spectrum_every={m: SPECTRUM_EVERY.get(m, SPECTRUM_EVERY_DEFAULT)
                                           for m in ("vanilla", "egd-svd")}),
    "parity": GridSetting("Parity(100, 3)", "parity", {"n": 100, "k": 3}, (0.0105, 0.021, 0.042),
                          (3e-3, 1e-2, 3e-2, 1e-1), max_epochs={"vanilla": 4000, "egd-svd": 2000}, patience=0,
                          spectrum_every={"vanilla": 20, "egd-svd": 5}),
}
THEORY_METHODS = ("vanilla", "egd-svd")
THEORY_SEEDS = (0, 1, 2)


def theory_configs(profile: str = "full", device: str = "cpu") -> list[RunConfig]:
    """Every run of the grid (the same in both profiles: the runs are committed, the chapter
    only loads them), task by task, EGD first (minutes) then vanilla, cell by cell, seeds
    innermost."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return [g.config(m, lr, wd, s, device) for g in GRID.values() for m in reversed(THEORY_METHODS)
            for wd in g.weight_decays for lr in g.lrs for s in THEORY_SEEDS]


def data_rank(config: RunConfig) -> int:
    """Upper bound on the rank of the data part of one mini-batch's hidden-layer gradient:
    ``2p - 1`` on modular tasks (every input has one ``a`` and one ``b`` entry), else
    ``min(batch, width, inputs)``."""
    if registry.TASKS[config.task][0] == "modular":
        return 2 * config.p - 1
    return min(config.batch_size, config.width, config.n)


def split_ratio(singular_values: np.ndarray, rank: int) -> np.ndarray:
    r"""``(median(s[:h]) / median(s[h:rank]))**2`` with ``h = ceil(rank / 2)``, over the last axis.

    ``singular_values``: ``(..., m)`` descending, ``m >= rank``. The data part of the gradient
    fills at most ``rank`` directions; the rest is weight decay's floor, left out. For a
    modular task (``rank = 2p - 1``) this is :func:`egd.validation.anisotropy.spectrum_split_ratio`.
    """
    s = np.asarray(singular_values, dtype=float)
    if not 2 <= rank <= s.shape[-1]:
        raise ValueError(f"rank must lie in [2, {s.shape[-1]}] (the number of singular values), got {rank}")
    h = math.ceil(rank / 2)
    return (np.median(s[..., :h], axis=-1) / np.median(s[..., h:rank], axis=-1)) ** 2


@dataclass(frozen=True)
class RunMeasure:
    """What one run gives the two laws. Times in epochs; ``None`` where the run never got there."""

    setting: str
    method: str
    lr: float
    weight_decay: float
    seed: int
    status: str
    steps_per_epoch: int
    max_epochs: int
    t_mem: int | None
    t_grok: int | None
    norm_mem: float | None
    norm_grok: float | None
    anisotropy: float | None

    @property
    def delay_steps(self) -> float | None:
        """``(T_grok - T_mem)`` in optimiser steps (at least one epoch: both can fall in the same one)."""
        if self.t_mem is None or self.t_grok is None:
            return None
        return max(self.t_grok - self.t_mem, 1) * self.steps_per_epoch

    @property
    def outcome(self) -> str:
        """``"diverged"``, ``"never memorised"``, ``"never grokked"``, ``"norm grew"`` (law (a)
        has no prediction) or ``"grokked"``."""
        if self.status == "diverged":
            return "diverged"
        if self.t_mem is None:
            return "never memorised"
        if self.t_grok is None:
            return "never grokked"
        ratio = self.log_norm_ratio
        return "norm grew" if ratio is None or ratio <= 0 else "grokked"

    @property
    def log_norm_ratio(self) -> float | None:
        if self.norm_mem is None or self.norm_grok is None:
            return None
        return 2.0 * math.log(self.norm_mem / self.norm_grok)


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) + 1 if mask.any() else None  # history rows are epochs 1, 2, ...


def measure(run: RunResult) -> RunMeasure:
    """T_mem, T_grok, the weight norm at both, and the median gradient anisotropy
    (:func:`split_ratio`) over the spectra recorded from ``T_mem`` to ``T_grok`` (to the end
    when the run never grokked; from the start when it never memorised)."""
    c = run.config
    setting = next((k for k, g in GRID.items() if g.task == c.task), c.task)
    t_mem = _first(run.train_acc >= MEMORISED)
    t_grok = run.epochs_to_threshold
    norm = np.hypot(run.history["hidden_norm"].astype(float), run.history["output_norm"].astype(float))
    spectra, epochs = np.asarray(run.spectra, dtype=float), np.asarray(run.spectra_epochs)
    lo = t_mem or 0
    hi = t_grok if t_grok is not None else math.inf
    window = (epochs >= lo) & (epochs <= hi)
    if spectra.shape[0] and not window.any():  # plateau shorter than the recording interval
        window = np.abs(epochs - lo) == np.abs(epochs - lo).min()
    kappa = float(np.median(split_ratio(spectra[window], data_rank(c)))) if spectra.shape[0] else None
    return RunMeasure(setting=setting, method=method_key(c), lr=c.lr, weight_decay=c.weight_decay, seed=c.seed,
                      status=run.summary["status"],
                      steps_per_epoch=run.summary["n_train"] // c.batch_size,
                      max_epochs=c.max_epochs, t_mem=t_mem, t_grok=t_grok,
                      norm_mem=None if t_mem is None else float(norm[t_mem - 1]),
                      norm_grok=None if t_grok is None else float(norm[t_grok - 1]), anisotropy=kappa)


def law_inputs(m: RunMeasure) -> dict[str, float | None]:
    """Each law's predictor for one run, in optimiser steps: ``x_a = log(|theta_mem|^2 /
    |theta_post|^2) / (eta lambda)`` (``None`` unless the norm shrank) and ``x_b = kappa / eta``."""
    ratio = m.log_norm_ratio
    x_a = ratio / (m.lr * m.weight_decay) if ratio is not None and ratio > 0 and m.weight_decay > 0 else None
    x_b = m.anisotropy / m.lr if m.anisotropy is not None and m.anisotropy > 0 else None
    return {LAWS[0]: x_a, LAWS[1]: x_b}


@dataclass(frozen=True)
class LawFit:
    """``log delay = intercept + slope log x`` by least squares over ``n`` runs; the slope's
    two-sided t interval at ``confidence``; ``r2`` of the log-log fit; ``scale`` = the
    median of ``delay / x`` (the law's constant with the slope fixed at 1)."""

    slope: float
    low: float
    high: float
    intercept: float
    r2: float
    n: int
    scale: float

    @property
    def fits(self) -> bool:
        """R² >= :data:`FIT_R2` and the slope's interval holds the predicted 1 (or the slope is
        within :data:`SLOPE_TOLERANCE` of it)."""
        return bool(self.r2 >= FIT_R2 and (self.low <= 1.0 <= self.high or abs(self.slope - 1.0) <= SLOPE_TOLERANCE))


def _clean(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([np.nan if v is None else v for v in x], dtype=float)
    y = np.array([np.nan if v is None else v for v in y], dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return x[keep], y[keep]


def fit_law(x: Sequence[float | None], delay: Sequence[float | None], *, confidence: float = 0.95) -> LawFit | None:
    """The log-log fit of ``delay`` on ``x`` (runs where either is missing or <= 0 left out);
    ``None`` with fewer than three runs or a single distinct ``x``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    xs, ys = _clean(x, delay)
    if len(xs) < 3 or np.ptp(np.log(xs)) == 0:
        return None
    fit = stats.linregress(np.log(xs), np.log(ys))
    half = stats.t.ppf(0.5 + confidence / 2, len(xs) - 2) * fit.stderr
    return LawFit(slope=float(fit.slope), low=float(fit.slope - half), high=float(fit.slope + half),
                  intercept=float(fit.intercept), r2=float(fit.rvalue ** 2), n=len(xs),
                  scale=float(np.median(ys / xs)))


@dataclass(frozen=True)
class OutOfSample:
    """Leave-one-group-out prediction error, as the root mean square of ``log10(predicted /
    measured)`` over the held-out runs: the law's (``law``, refitted without the group) and
    the null predictor's (``null``: the mean log delay of the other groups), ``n`` runs."""

    law: float
    null: float
    n: int

    @property
    def beats_null(self) -> bool:
        return bool(self.law < self.null)


def out_of_sample(x: Sequence[float | None], delay: Sequence[float | None],
                  groups: Sequence[float]) -> OutOfSample | None:
    """Fit on every group but one, predict that one's runs, for each group in turn (the
    chapter's groups are the learning rates: the law must carry over to an ``eta`` it never
    saw). ``None`` when fewer than two groups have a fit."""
    x = np.array([np.nan if v is None else v for v in x], dtype=float)
    y = np.array([np.nan if v is None else v for v in delay], dtype=float)
    g = np.asarray(groups, dtype=float)
    if not (len(x) == len(y) == len(g)):
        raise ValueError(f"x, delay and groups must have the same length, got {len(x)}, {len(y)}, {len(g)}")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    law_err, null_err = [], []
    for held in np.unique(g[ok]):
        train, test = ok & (g != held), ok & (g == held)
        fit = fit_law(x[train], y[train])
        if fit is None:
            continue
        predicted = fit.intercept + fit.slope * np.log(x[test])
        law_err.append((predicted - np.log(y[test])) / math.log(10))
        null_err.append((np.log(y[train]).mean() - np.log(y[test])) / math.log(10))
    if len(law_err) < 2:
        return None
    law_err, null_err = np.concatenate(law_err), np.concatenate(null_err)
    rms = lambda e: float(np.sqrt(np.mean(e ** 2)))
    return OutOfSample(law=rms(law_err), null=rms(null_err), n=len(law_err))


@dataclass(frozen=True)
class CensoredTest:
    """The runs that memorised but never grokked within the budget (``n``), and how many of
    them the fitted law expected to grok within it (``expected``)."""

    expected: int
    n: int

    @property
    def passes(self) -> bool:
        """At most half of the never-grokked runs were expected to grok."""
        return 2 * self.expected <= self.n


def censored_test(group: Sequence[RunMeasure], law: str, fit: LawFit | None) -> CensoredTest | None:
    """The fitted law (``fit``, from the runs that grokked) applied to the runs of ``group``
    that memorised and never grokked: each has ``max_epochs - T_mem`` epochs of budget left.
    Norm separation needs ``|theta_post|``, unknown for a run that never grokked: it takes the
    median norm at ``T_grok`` of the group's runs that grokked (the generalising norm; a run
    already below it is expected to grok at once). Anisotropy uses the run's own ``kappa``.
    ``None`` without a fit or without such runs."""
    if law not in LAWS:
        raise ValueError(f"law must be one of {LAWS}, got {law!r}")
    stuck = [m for m in group if m.t_mem is not None and m.t_grok is None and m.status != "diverged"]
    post = [m.norm_grok for m in group if m.norm_grok is not None]
    if fit is None or not stuck or (law == LAWS[0] and not post):
        return None
    post_norm = float(np.median(post))
    expected = 0
    for m in stuck:
        budget = (m.max_epochs - m.t_mem) * m.steps_per_epoch
        if law == LAWS[0]:
            ratio = 2.0 * math.log(m.norm_mem / post_norm)
            if ratio <= 0 or m.weight_decay <= 0:
                expected += 1
                continue
            x = ratio / (m.lr * m.weight_decay)
        else:
            if m.anisotropy is None or not m.anisotropy > 0:
                continue
            x = m.anisotropy / m.lr
        expected += bool(math.exp(fit.intercept + fit.slope * math.log(x)) < budget)
    return CensoredTest(expected, len(stuck))


def contraction_speedup(m: RunMeasure) -> float | None:
    """How much faster the squared norm shrank from ``T_mem`` to ``T_grok`` than weight decay
    alone shrinks it: ``log(|theta_mem|^2/|theta_post|^2) / delay`` over ``2 eta lambda``
    (plain SGD's rate per step on a weight no gradient pushes back). ``None`` unless both
    times exist and the weight decay is positive; negative when the norm grew."""
    ratio, delay = m.log_norm_ratio, m.delay_steps
    if ratio is None or delay is None or m.weight_decay <= 0:
        return None
    return ratio / delay / (2.0 * m.lr * m.weight_decay)


def _good(law: str, fits: dict, oos: dict, censored: dict | None) -> bool:
    c = (censored or {}).get(law)
    return bool(fits.get(law) is not None and fits[law].fits and oos.get(law) is not None
                and oos[law].beats_null and (c is None or c.passes))


def neither_fits(fits: dict[str, LawFit | None], oos: dict[str, OutOfSample | None],
                 censored: dict[str, CensoredTest | None] | None = None) -> bool:
    """True when no law fits (:attr:`LawFit.fits`), beats the null out of sample and (with
    ``censored``) passes :func:`censored_test`."""
    return not any(_good(law, fits, oos, censored) for law in LAWS)


def verdict(fits: dict[str, LawFit | None], oos: dict[str, OutOfSample | None],
            censored: dict[str, CensoredTest | None] | None = None) -> str:
    """One sentence per (setting, method), computed from the two fits, their out-of-sample
    errors and (with ``censored``) :func:`censored_test`: the law that fits and predicts best,
    both, or neither (and why); a law without an out-of-sample test (runs that grokked at
    fewer than two learning rates) counts as untested."""
    good = [law for law in LAWS if _good(law, fits, oos, censored)]
    if len(good) == 2:
        best = min(good, key=lambda law: oos[law].law)
        return f"both laws fit; {best} predicts held-out learning rates better"
    if len(good) == 1:
        return f"{good[0]} fits and predicts; the other does not"
    reasons = []
    for law in LAWS:
        f, o = fits.get(law), oos.get(law)
        if f is None or o is None:
            reasons.append(f"{law}: too few runs to test (fewer than two learning rates with a fit)")
        elif not f.fits:
            reasons.append(f"{law}: R² {f.r2:.2f}, slope {f.slope:.2f} [{f.low:.2f}, {f.high:.2f}]")
        elif not o.beats_null:
            reasons.append(f"{law}: no better than the null out of sample")
        else:
            c = (censored or {})[law]
            reasons.append(f"{law}: expected {c.expected} of the {c.n} runs that never grokked to grok "
                           "within the budget")
    return "neither law fits (" + "; ".join(reasons) + ")"
