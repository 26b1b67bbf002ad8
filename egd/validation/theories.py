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
           "CensoredTest", "censored_test", "law_status", "plateau_anisotropy", "MIN_CELLS",
           "RateFit", "fit_rates", "EGDMechanism", "egd_mechanism"]

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
    modular task (``rank = 2p - 1``) it is :func:`egd.validation.anisotropy.spectrum_split_ratio`,
    which calls it.
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
    #: The largest norm from ``T_mem`` to ``T_grok`` (to the end for a run that never grokked):
    #: the memorising solution's norm, which a network may still be growing towards at
    #: ``T_mem``; ``None``: take ``norm_mem``.
    norm_peak: float | None = None

    @property
    def memorising_norm(self) -> float | None:
        """``|theta_mem|`` of the norm-separation law: :attr:`norm_peak`, else :attr:`norm_mem`."""
        return self.norm_peak if self.norm_peak is not None else self.norm_mem

    @property
    def delay_steps(self) -> float | None:
        """``(T_grok - T_mem)`` in optimiser steps (at least one epoch: both can fall in the same one)."""
        if self.t_mem is None or self.t_grok is None:
            return None
        return max(self.t_grok - self.t_mem, 1) * self.steps_per_epoch

    @property
    def outcome(self) -> str:
        """``"diverged"``, ``"never memorised"``, ``"never grokked"``, ``"norm grew"`` (the norm
        at ``T_grok`` is the largest since ``T_mem``: law (a) has no prediction) or ``"grokked"``."""
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
        """``log(|theta_mem|^2 / |theta_post|^2)`` with :attr:`memorising_norm` and the norm at ``T_grok``."""
        return _log_ratio(self.memorising_norm, self.norm_grok)

    @property
    def log_plateau_ratio(self) -> float | None:
        """``log`` of the squared norm at ``T_mem`` over that at ``T_grok``: what the plateau did."""
        return _log_ratio(self.norm_mem, self.norm_grok)


def _log_ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (a > 0 and b > 0):
        return None
    return 2.0 * math.log(a / b)


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
    kappa = plateau_anisotropy(spectra, epochs, t_mem, t_grok, c.spectrum_every, data_rank(c))
    return RunMeasure(setting=setting, method=method_key(c), lr=c.lr, weight_decay=c.weight_decay, seed=c.seed,
                      status=run.summary["status"],
                      steps_per_epoch=run.summary["n_train"] // c.batch_size,
                      max_epochs=c.max_epochs, t_mem=t_mem, t_grok=t_grok,
                      norm_mem=None if t_mem is None else float(norm[t_mem - 1]),
                      norm_grok=None if t_grok is None else float(norm[t_grok - 1]), anisotropy=kappa,
                      norm_peak=None if t_mem is None else float(norm[t_mem - 1:t_grok].max()))


def plateau_anisotropy(spectra: np.ndarray, epochs: np.ndarray, t_mem: int | None, t_grok: int | None,
                       every: int, rank: int) -> float | None:
    """Median :func:`split_ratio` over the spectra recorded in the plateau, epochs ``[T_mem,
    T_grok)`` (to the end for a run that never grokked; from epoch 1 for one that never
    memorised). A plateau shorter than the recording interval takes the one spectrum within
    ``every`` epochs of its middle; ``None`` without one (or without spectra)."""
    if spectra.shape[0] == 0:
        return None
    lo = max(t_mem or 1, 1)
    hi = t_grok if t_grok is not None else math.inf
    window = (epochs >= lo) & (epochs < hi)
    if not window.any():
        middle = (lo + (hi if math.isfinite(hi) else lo)) / 2
        gap = np.abs(epochs - middle)
        window = (gap == gap.min()) & (gap <= every) & (epochs >= 1)
        if not window.any():
            return None
    value = float(np.median(split_ratio(spectra[window], rank)))
    return value if math.isfinite(value) else None


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


def _usable(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` and ``y`` as float arrays (None -> NaN) and the mask of points a log-log fit can use."""
    x = np.array([np.nan if v is None else v for v in x], dtype=float)
    y = np.array([np.nan if v is None else v for v in y], dtype=float)
    return x, y, np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)


#: A fit needs runs in at least this many grid cells: seeds of one cell differ in ``x`` only by
#: noise, and a slope through noise is no test of a law.
MIN_CELLS = 3


def fit_law(x: Sequence[float | None], delay: Sequence[float | None], *, confidence: float = 0.95,
            cells: Sequence[object] | None = None) -> LawFit | None:
    """The log-log fit of ``delay`` on ``x`` (runs where either is missing or <= 0 left out);
    ``None`` with fewer than three runs, a single distinct ``x``, or (with ``cells``, one label
    per run such as its ``(lr, wd)``) runs in fewer than :data:`MIN_CELLS` distinct cells."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if len(x) != len(delay) or (cells is not None and len(cells) != len(x)):
        raise ValueError(f"x, delay (and cells) must have the same length, got {len(x)}, {len(delay)}"
                         + ("" if cells is None else f", {len(cells)}"))
    xa, ya, ok = _usable(x, delay)
    if cells is not None and len({c for c, k in zip(cells, ok) if k}) < MIN_CELLS:
        return None
    xs, ys = xa[ok], ya[ok]
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
    chapter's groups are the learning rates, else the weight decays: the law must carry over
    to a value it never saw). ``None`` when fewer than two groups have a fit."""
    g = np.asarray(groups, dtype=float)
    if not (len(x) == len(delay) == len(g)):
        raise ValueError(f"x, delay and groups must have the same length, got {len(x)}, {len(delay)}, {len(g)}")
    x, y, ok = _usable(x, delay)
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
            ratio = _log_ratio(m.memorising_norm, post_norm)
            ratio = -math.inf if ratio is None else ratio
            if ratio <= 0 or m.weight_decay <= 0:
                expected += 1
                continue
            x = ratio / (m.lr * m.weight_decay)
        else:
            if m.anisotropy is None or not m.anisotropy > 0:
                continue
            x = m.anisotropy / m.lr
        expected += bool(fit.intercept + fit.slope * math.log(x) < math.log(budget))
    return CensoredTest(expected, len(stuck))


def contraction_speedup(m: RunMeasure) -> float | None:
    """How much faster the squared norm shrank from ``T_mem`` to ``T_grok`` than weight decay
    alone shrinks it: ``log(|theta_mem|^2/|theta_post|^2) / delay`` over ``2 eta lambda``
    (plain SGD's rate per step on a weight no gradient pushes back). ``None`` unless both
    times exist and the weight decay is positive; negative when the norm grew."""
    ratio, delay = m.log_plateau_ratio, m.delay_steps
    if ratio is None or delay is None or m.weight_decay <= 0:
        return None
    return ratio / delay / (2.0 * m.lr * m.weight_decay)


@dataclass(frozen=True)
class EGDMechanism:
    """How EGD shortened the plateau on one task, against vanilla SGD on the same grid.

    ``speedup`` is the measured one: over the cells ``(eta, lambda)`` where both methods
    grokked on some seed, the median of vanilla's median delay over EGD's. ``contraction``
    is EGD's median :func:`contraction_speedup`: its squared norm shrank ``contraction``
    times faster over the plateau than weight decay alone shrinks it (``2 eta lambda`` per
    step). If the plateau were the time that contraction needs (the norm-separation
    reading), a faster contraction would shorten it by at most that factor, so the rest,
    ``speedup / max(contraction, 1)``, is what the equalised data directions account for.
    """

    cells: int
    speedup: float
    contraction: float

    @property
    def via_norm(self) -> bool:
        """EGD's norm shrank faster than weight decay alone shrinks it."""
        return self.contraction > 1.0

    @property
    def unexplained(self) -> float:
        """The speed-up left over once the faster contraction is credited in full."""
        return self.speedup / max(self.contraction, 1.0)

    @property
    def via_data(self) -> bool:
        """The speed-up exceeds what the faster contraction can give (by more than 2x)."""
        return self.unexplained > 2.0

    def answer(self) -> str:
        """``"both"``, ``"the norm contraction"``, ``"equalising the data directions"`` or ``"neither"``."""
        if self.via_norm and self.via_data:
            return "both"
        if self.via_norm:
            return "the norm contraction"
        return "equalising the data directions" if self.via_data else "neither"


def egd_mechanism(vanilla: Sequence[RunMeasure], egd: Sequence[RunMeasure]) -> EGDMechanism | None:
    """:class:`EGDMechanism` of one task from its vanilla and EGD runs; ``None`` without a cell
    where both grokked or without an EGD run whose contraction could be measured."""
    def by_cell(group):
        out: dict[tuple[float, float], list[float]] = {}
        for m in group:
            if m.delay_steps is not None:
                out.setdefault((m.lr, m.weight_decay), []).append(m.delay_steps)
        return {cell: float(np.median(v)) for cell, v in out.items()}

    v, e = by_cell(vanilla), by_cell(egd)
    shared = sorted(set(v) & set(e))
    rates = [x for x in map(contraction_speedup, egd) if x is not None]
    if not shared or not rates:
        return None
    return EGDMechanism(len(shared), float(np.median([v[c] / e[c] for c in shared])), float(np.median(rates)))


def _good(law: str, fits: dict, oos: dict, censored: dict | None) -> bool:
    return law_status(law, fits, oos, censored)[0] is True


def law_status(law: str, fits: dict, oos: dict, censored: dict | None = None,
               grew: tuple[int, int] | None = None) -> tuple[bool | None, str]:
    """``(holds, reason)`` for one law: False when it does not fit, when it expected most of
    the runs that never grokked to grok (:func:`censored_test`), or (norm separation, with
    ``grew = (runs whose norm grew, runs that grokked)``) when the norm grew during the
    plateau in most runs that grokked; None when it fits but could not be tested out of sample
    or had too few runs; True when it fits and beats the null out of sample."""
    f, o, c = fits.get(law), oos.get(law), (censored or {}).get(law)
    if grew is not None and grew[1] and 2 * grew[0] > grew[1]:
        return False, f"{law}: the norm grew during the plateau in {grew[0]} of the {grew[1]} runs that grokked"
    if f is None:
        return None, f"{law}: too few runs that grokked (in {MIN_CELLS} or more cells of the grid)"
    if not f.fits:
        return False, f"{law}: R² {f.r2:.2f}, slope {f.slope:.2f} [{f.low:.2f}, {f.high:.2f}]"
    if c is not None and not c.passes:
        return False, f"{law}: expected {c.expected} of the {c.n} runs that never grokked to grok within the budget"
    if o is None:
        return None, f"{law}: fits, but too few groups of runs to test out of sample"
    if not o.beats_null:
        return False, f"{law}: no better than the null out of sample"
    return True, f"{law}: fits and predicts"


def neither_fits(fits: dict[str, LawFit | None], oos: dict[str, OutOfSample | None],
                 censored: dict[str, CensoredTest | None] | None = None,
                 grew: tuple[int, int] | None = None) -> bool:
    """True when no law holds by :func:`law_status` (fits, beats the null out of sample, and
    with ``censored`` passes :func:`censored_test`; ``grew`` applies to norm separation)."""
    return not any(law_status(law, fits, oos, censored, grew if law == LAWS[0] else None)[0] is True
                   for law in LAWS)


def verdict(fits: dict[str, LawFit | None], oos: dict[str, OutOfSample | None],
            censored: dict[str, CensoredTest | None] | None = None, grew: tuple[int, int] | None = None) -> str:
    """One sentence per (setting, method), computed by :func:`law_status` for each law: the law
    that holds (the better held-out error when both do), or neither, with each law's reason."""
    status = {law: law_status(law, fits, oos, censored, grew if law == LAWS[0] else None) for law in LAWS}
    good = [law for law in LAWS if status[law][0] is True]
    if len(good) == 2:
        best = min(good, key=lambda law: oos[law].law)
        return f"both laws fit; {best} predicts held-out runs better"
    if len(good) == 1:
        other = next(law for law in LAWS if law != good[0])
        return f"{good[0]} fits and predicts; not {status[other][1]}"
    return "neither law fits (" + "; ".join(status[law][1] for law in LAWS) + ")"


@dataclass(frozen=True)
class RateFit:
    """``log delay = c + a log(eta) + b log(lambda)`` over ``n`` runs that grokked: each
    exponent with its two-sided t interval (``(value, low, high)``) and the fit's R².
    Norm separation with a norm ratio that does not vary predicts ``a = b = -1``; anisotropy
    with a ``kappa`` that does not depend on ``lambda`` predicts ``a = -1``, ``b = 0``."""

    lr: tuple[float, float, float]
    weight_decay: tuple[float, float, float]
    r2: float
    n: int


def fit_rates(group: Sequence[RunMeasure], *, confidence: float = 0.95) -> RateFit | None:
    """:class:`RateFit` on the runs of ``group`` that grokked; ``None`` with fewer than four
    such runs or fewer than two distinct values of either hyper-parameter."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    done = [m for m in group if m.delay_steps is not None and m.weight_decay > 0]
    if len(done) < 4 or len({m.lr for m in done}) < 2 or len({m.weight_decay for m in done}) < 2:
        return None
    X = np.column_stack([np.ones(len(done)), np.log([m.lr for m in done]), np.log([m.weight_decay for m in done])])
    y = np.log([m.delay_steps for m in done])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    dof = len(done) - 3
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan
    if dof < 1:
        return None
    cov = float((resid ** 2).sum()) / dof * np.linalg.pinv(X.T @ X)
    t = stats.t.ppf(0.5 + confidence / 2, dof)
    interval = lambda i: (float(beta[i]), float(beta[i] - t * math.sqrt(cov[i, i])),
                          float(beta[i] + t * math.sqrt(cov[i, i])))
    return RateFit(lr=interval(1), weight_decay=interval(2), r2=r2, n=len(done))
