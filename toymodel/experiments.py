"""Experiments that put the toy-model theory to the test on finite samples.

Each function samples data (:func:`toymodel.sample_train`, :func:`toymodel.sample_shift_test`,
:func:`toymodel.sample_equi`), runs an optimiser (:func:`toymodel.train_trajectory`),
measures the test error on a held-out sample and puts the
matching analytic prediction beside it. Results are *tables*: ``dict[str, np.ndarray]``
of equal-length 1-D columns (one row per record), so notebooks only plot and print.

The theory is read from the package namespace at call time (``toymodel.test_error_curve``
and friends, written by the theory modules), so this module imports without it.

Plateau length, measured and predicted alike, is the first ``k`` whose test error is
below :data:`PLATEAU_THRESHOLD`.

Examples
--------
>>> import numpy as np
>>> from toymodel import experiments
>>> float(experiments.plateau_from_curve(np.arange(4), np.array([1.0, 1.0, 0.5, 0.2])))
2.0
>>> print(f"{experiments.loglog_slope([1, 10, 100], [3, 30, 300]):.3f}")
1.000
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

import toymodel
from toymodel.sampling import (
    as_generator,
    check_eps,
    check_n,
    sample_equi,
    sample_shift_test,
    sample_train,
)
from toymodel.simulate import (
    DEFAULT_CONVENTION,
    METHODS,
    misclassification_rate,
    sufficient_statistics,
    train_trajectory,
)

__all__ = [
    "Table",
    "PLATEAU_THRESHOLD",
    "plateau_from_curve",
    "loglog_slope",
    "concat_tables",
    "shift_curve",
    "plateau_sweep",
    "equi_curve",
    "equi_eigenvalues",
    "theta_sweep",
    "equi_plateau_sweep",
    "geometric_rate",
    "ols_slow_sd",
    "finite_n_error_sd",
    "shift_acceptance",
    "egd_chatter",
    "cached_table",
]

#: A table: equal-length 1-D columns by name, one row per record.
Table = dict[str, np.ndarray]

# Section 3 / Figure 6 setting (the configuration the finite-sample check of Theorem 1 uses)
EPS = 0.01
S = 1.0
THETA = math.pi / 4
ETA = 0.1
U = (0.0, 3.0)
N_TRAIN = 200_000
N_TEST = 200_000
#: A plateau ends at the first step whose test error is below this.
PLATEAU_THRESHOLD = 0.99
# step budget: start at this multiple of the predicted plateau, double until the
# measured curve crosses the threshold, never beyond MAX_STEPS
STEP_SAFETY = 1.5
MIN_STEPS = 200
MAX_STEPS = 4_000_000
#: the two test-error formulas of the theory modules: Eq. (7) verbatim and the exact one
ERROR_FORMULAS = ("theorem1", "geometric")
# Appendix A.3 / Figure 8 setting
EQUI_THETA = math.pi / 4
EQUI_U = (0.0, 3.0)


def _child_seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences (train, test, batches) from one integer ``seed``."""
    return np.random.SeedSequence(seed).spawn(3)


def plateau_from_curve(k: np.ndarray, error: np.ndarray, threshold: float = PLATEAU_THRESHOLD) -> float:
    """First ``k`` with ``error < threshold``; ``nan`` if the curve never gets there."""
    k = np.asarray(k)
    below = np.flatnonzero(np.asarray(error) < threshold)
    return float(k[below[0]]) if below.size else math.nan


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (``d log y / d log x``)."""
    return loglog_fit(x, y)[0]


def loglog_fit(x: Sequence[float], y: Sequence[float], *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Slope of ``log y`` on ``log x`` with a two-sided t confidence interval.

    Non-positive or non-finite points (e.g. censored runs stored as NaN) are dropped.
    Returns ``(slope, low, high)``; the interval is NaN when only two points remain.
    """
    if not (0 < confidence < 1):
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2 or np.ptp(np.log(x[keep])) == 0:
        raise ValueError(f"need at least two positive finite points with distinct x, got {keep.sum()}")
    fit = stats.linregress(np.log(x[keep]), np.log(y[keep]))
    if keep.sum() < 3:
        return float(fit.slope), math.nan, math.nan
    half_width = stats.t.ppf(0.5 + confidence / 2, keep.sum() - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half_width), float(fit.slope + half_width)


def concat_tables(tables: Iterable[Table]) -> Table:
    """Stack tables with the same columns row-wise."""
    tables = list(tables)
    if not tables:
        return {}
    keys = list(tables[0])
    for t in tables:
        if list(t) != keys:
            raise ValueError(f"tables have different columns: {keys} vs {list(t)}")
    return {key: np.concatenate([np.asarray(t[key]) for t in tables]) for key in keys}


def _constant(value, length: int) -> np.ndarray:
    return np.full(length, value, dtype=object if isinstance(value, str) else None)


def _batch_label(batch_size: int | None) -> str:
    return "full" if batch_size is None else str(batch_size)


def shift_curve(
    *,
    method: str = "gd",
    eps: float = EPS,
    seed: int = 0,
    s: float = S,
    theta: float = THETA,
    eta: float = ETA,
    u: Sequence[float] = U,
    steps: int = 5000,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    convention: str = DEFAULT_CONVENTION,
    batch_size: int | None = None,
    every: int = 1,
) -> Table:
    """Test-error curve of one run in the distribution-shift case, beside Theorem 1.

    Train on ``n_train`` points of :func:`toymodel.sample_train`, measure the
    error of ``w(k)`` on ``n_test`` points of :func:`toymodel.sample_shift_test`
    (column ``error``) at ``k = 0, every, 2 every, ..., steps`` and put beside it

    * ``theorem1``: ``toymodel.test_error_curve(..., formula="theorem1")``, Eq. (7)
      verbatim along the large-n iterates (Eq. 6);
    * ``geometric``: the same curve with the exact (sign-aware) error of a weight vector;
    * ``at_w_theorem1``: Eq. (7) applied to the *simulated* ``w(k)``, which isolates the
      error formula from the large-n approximation of the trajectory.

    Columns also hold ``w1, w2`` (per step) and the constants
    ``method, convention, batch, eps, theta, seed, u1, u2``.
    """
    seq_train, seq_test, seq_batch = _child_seeds(seed)
    X, y = sample_train(n_train, eps=eps, s=s, seed=np.random.default_rng(seq_train))
    Xt, yt = sample_shift_test(n_test, eps=eps, theta=theta, seed=np.random.default_rng(seq_test))
    W = train_trajectory(
        X, y, u=u, eta=eta, steps=steps, method=method, convention=convention,
        batch_size=batch_size, seed=np.random.default_rng(seq_batch),
    )
    k = np.arange(0, steps + 1, check_n(every, "every"))
    rows = k.size
    theory = {
        formula: np.broadcast_to(np.asarray(toymodel.test_error_curve(
            k, eps=eps, eta=eta, s=s, theta=theta, u=tuple(u), method=method, convention=convention,
            formula=formula,
        ), dtype=float), (rows,)).copy()
        for formula in ERROR_FORMULAS
    }
    return {
        "k": k,
        "error": misclassification_rate(W[k], Xt, yt),
        "theorem1": theory["theorem1"],
        "geometric": theory["geometric"],
        "at_w_theorem1": np.asarray(toymodel.test_error(W[k], eps=eps, theta=theta, formula="theorem1"), dtype=float),
        "w1": W[k, 0],
        "w2": W[k, 1],
        "method": _constant(method, rows),
        "convention": _constant(convention, rows),
        "batch": _constant(_batch_label(batch_size), rows),
        "eps": _constant(float(eps), rows),
        "theta": _constant(float(theta), rows),
        "seed": _constant(int(seed), rows),
        "u1": _constant(float(u[0]), rows),
        "u2": _constant(float(u[1]), rows),
    }


def _curve_plateau(curve: Callable[[np.ndarray], np.ndarray], threshold: float) -> float:
    """First k with ``curve(k) < threshold``, scanning ``k = 0..steps`` with doubling steps."""
    steps = MIN_STEPS
    while steps <= MAX_STEPS:
        k = np.arange(steps + 1)
        plateau = plateau_from_curve(k, curve(k), threshold)
        if math.isfinite(plateau):
            return plateau
        steps *= 2
    return math.nan


def _shift_plateau(*, method, eps, s, theta, eta, u, convention, threshold) -> float:
    """Plateau of the Theorem-1 curve (Eq. 7 along the large-n iterates)."""
    return _curve_plateau(
        lambda k: toymodel.test_error_curve(
            k, eps=eps, eta=eta, s=s, theta=theta, u=tuple(u), method=method, convention=convention,
            formula="theorem1",
        ),
        threshold,
    )


def _measured_plateau(run: Callable[[int], np.ndarray], guess: float, threshold: float) -> tuple[float, int]:
    """Run ``run(steps) -> error per step`` long enough to see the crossing; (plateau, steps)."""
    steps = max(MIN_STEPS, int(STEP_SAFETY * guess) if math.isfinite(guess) else MIN_STEPS)
    while steps <= MAX_STEPS:
        measured = plateau_from_curve(np.arange(steps + 1), run(steps), threshold)
        if math.isfinite(measured):
            return measured, steps
        steps *= 2
    return math.nan, steps // 2


def plateau_sweep(
    eps_values: Sequence[float],
    *,
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0,),
    batch_size: int | None = None,
    s: float = S,
    theta: float = THETA,
    eta: float = ETA,
    u: Sequence[float] = U,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    convention: str = DEFAULT_CONVENTION,
    threshold: float = PLATEAU_THRESHOLD,
) -> Table:
    """Measured vs predicted plateau length over ``eps`` for each method and seed.

    ``predicted`` is the first ``k`` with Theorem-1 error below ``threshold`` (for a
    mini-batch run, the full-batch theory of the same method); ``corollary`` is
    ``toymodel.plateau_length(..., regime="exact")``. The run lasts ``STEP_SAFETY``
    times the prediction and is doubled until the measured curve crosses (``nan`` if it
    has not by ``MAX_STEPS``).

    Columns: ``eps, method, batch, seed, measured, predicted, corollary, steps``.
    """
    records: dict[str, list] = {key: [] for key in
                                ("eps", "method", "batch", "seed", "measured", "predicted", "corollary", "steps")}
    for eps in eps_values:
        eps = check_eps(eps)
        for method in methods:
            predicted = _shift_plateau(method=method, eps=eps, s=s, theta=theta, eta=eta, u=u,
                                       convention=convention, threshold=threshold)
            corollary = float(toymodel.plateau_length(
                eps, eta=eta, s=s, theta=theta, u=tuple(u), method=method, convention=convention, regime="exact"
            ))
            for seed in seeds:
                seq_train, seq_test, seq_batch = _child_seeds(seed)
                X, y = sample_train(n_train, eps=eps, s=s, seed=np.random.default_rng(seq_train))
                Xt, yt = sample_shift_test(n_test, eps=eps, theta=theta, seed=np.random.default_rng(seq_test))

                def run(steps, X=X, y=y, Xt=Xt, yt=yt, seq_batch=seq_batch, method=method):
                    W = train_trajectory(X, y, u=u, eta=eta, steps=steps, method=method, convention=convention,
                                         batch_size=batch_size, seed=np.random.default_rng(seq_batch))
                    return misclassification_rate(W, Xt, yt)

                measured, steps = _measured_plateau(run, predicted if math.isfinite(predicted) else corollary,
                                                    threshold)
                for key, value in zip(records, (eps, method, _batch_label(batch_size), int(seed),
                                                measured, predicted, corollary, steps)):
                    records[key].append(value)
    return {key: np.array(values, dtype=object if key in ("method", "batch") else None)
            for key, values in records.items()}


def equi_curve(
    *,
    eps: float,
    theta: float = EQUI_THETA,
    eta: float = ETA,
    u: Sequence[float] = EQUI_U,
    steps: int,
    seed: int = 0,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    convention: str = "full",
    every: int = 1,
) -> Table:
    """Appendix A.3 (train and test from the same wedge): GD curve beside Eq. (19).

    GD with the ``convention`` of A.3 (``"full"``: ``w <- w - 2 eta (Sigma^ w - c^)``).
    Columns: ``k, error`` (simulation), ``theorem1`` (Eq. 19 verbatim along the
    population iterates), ``geometric`` (the exact, sign-aware error along the same
    iterates), ``w1, w2`` and constants ``eps, theta, seed, u1, u2``.
    """
    seq_train, seq_test, _ = _child_seeds(seed)
    X, y = sample_equi(n_train, eps=eps, theta=theta, seed=np.random.default_rng(seq_train))
    Xt, yt = sample_equi(n_test, eps=eps, theta=theta, seed=np.random.default_rng(seq_test))
    W = train_trajectory(X, y, u=u, eta=eta, steps=steps, method="gd", convention=convention)
    k = np.arange(0, steps + 1, check_n(every, "every"))
    rows = k.size
    theory = {
        formula: np.broadcast_to(np.asarray(toymodel.equi_test_error_curve(
            k, eps=eps, eta=eta, theta=theta, u=tuple(u), convention=convention, formula=formula,
        ), dtype=float), (rows,)).copy()
        for formula in ERROR_FORMULAS
    }
    return {
        "k": k,
        "error": misclassification_rate(W[k], Xt, yt),
        "theorem1": theory["theorem1"],
        "geometric": theory["geometric"],
        "w1": W[k, 0],
        "w2": W[k, 1],
        "eps": _constant(float(eps), rows),
        "theta": _constant(float(theta), rows),
        "seed": _constant(int(seed), rows),
        "u1": _constant(float(u[0]), rows),
        "u2": _constant(float(u[1]), rows),
    }


def equi_eigenvalues(
    eps_values: Sequence[float], *, theta: float = EQUI_THETA, n: int = N_TRAIN, seed: int = 0
) -> Table:
    """Eigenvalues of ``Sigma^ = X^T X / n`` on samples of the A.3 distribution.

    Tests the paper's claim that both eigenvalues of ``Sigma`` are ``Theta(eps)``:
    the columns ``lambda_minus, lambda_plus`` are measured from samples, and
    ``theory_minus, theory_plus`` come from ``toymodel.moments(eps, theta).eigenvalues``
    (quadrature). Columns also hold ``eps, theta, seed, mu_star, nu_star`` (the sample
    least-squares solution ``Sigma^^-1 c^``).
    """
    records: dict[str, list] = {key: [] for key in (
        "eps", "theta", "seed", "lambda_minus", "lambda_plus", "theory_minus", "theory_plus", "mu_star", "nu_star")}
    rng = as_generator(seed)
    for eps in eps_values:
        X, y = sample_equi(n, eps=eps, theta=theta, seed=rng)
        Sigma, c = sufficient_statistics(X, y)
        lam = np.linalg.eigvalsh(Sigma)
        theory = np.sort(np.asarray(toymodel.moments(eps, theta).eigenvalues, dtype=float).ravel())
        w_star = np.linalg.solve(Sigma, c)
        for key, value in zip(records, (float(eps), float(theta), int(seed), lam[0], lam[1],
                                        theory[0], theory[-1], w_star[0], w_star[1])):
            records[key].append(value)
    return {key: np.array(values) for key, values in records.items()}


def theta_sweep(
    thetas: Sequence[float],
    *,
    eps: float = EPS,
    seeds: Sequence[int] = (0,),
    s: float = S,
    eta: float = ETA,
    u: Sequence[float] = U,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    threshold: float = PLATEAU_THRESHOLD,
) -> Table:
    """GD plateau over ``theta``: settles Corollary 1's ``tan theta`` against ``cot theta``.

    Columns: ``theta, seed, measured`` (simulation), ``predicted`` (Theorem-1 curve),
    ``tau_paper`` and ``tau_derived``: ``toymodel.plateau_length(..., regime="large_init")``
    with ``tau = |u2| tan(theta) m2/m1`` as printed, or ``|u2| cot(theta) m2/m1`` as
    Eq. (7) gives.
    """
    table = concat_tables(
        _theta_rows(theta, eps=eps, seeds=seeds, s=s, eta=eta, u=u, n_train=n_train, n_test=n_test,
                    threshold=threshold)
        for theta in thetas
    )
    return table


def _theta_rows(theta, *, eps, seeds, s, eta, u, n_train, n_test, threshold) -> Table:
    sweep = plateau_sweep([eps], methods=("gd",), seeds=seeds, s=s, theta=theta, eta=eta, u=u,
                          n_train=n_train, n_test=n_test, threshold=threshold)
    rows = len(sweep["seed"])
    tau = {
        name: float(toymodel.plateau_length(eps, eta=eta, s=s, theta=theta, u=tuple(u), regime="large_init",
                                            tau_formula=name))
        for name in ("paper", "derived")
    }
    return {
        "theta": _constant(float(theta), rows),
        "seed": sweep["seed"],
        "measured": sweep["measured"],
        "predicted": sweep["predicted"],
        "tau_paper": _constant(tau["paper"], rows),
        "tau_derived": _constant(tau["derived"], rows),
    }


def equi_plateau_sweep(
    eps_values: Sequence[float],
    *,
    theta: float = EQUI_THETA,
    eta: float = ETA,
    u: Sequence[float] = EQUI_U,
    seeds: Sequence[int] = (0,),
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    convention: str = "full",
    threshold: float = PLATEAU_THRESHOLD,
) -> Table:
    """Appendix A.3 plateau over ``eps``: simulation vs the Eq. (19) curve vs the paper's rate.

    Columns: ``eps, seed, measured`` (GD on samples), ``predicted`` (first k below
    ``threshold`` on the Eq. 19 curve), ``leading`` (the paper's
    ``log(|u2 - nu*|/T)/(c eta lambda_-)``, ``toymodel.equi_plateau_length(regime="leading")``),
    ``steps``.
    """
    records: dict[str, list] = {key: [] for key in ("eps", "seed", "measured", "predicted", "leading", "steps")}
    for eps in eps_values:
        eps = check_eps(eps)
        predicted = _curve_plateau(
            lambda k: toymodel.equi_test_error_curve(k, eps=eps, eta=eta, theta=theta, u=tuple(u),
                                                     convention=convention, formula="theorem1"),
            threshold,
        )
        leading = float(toymodel.equi_plateau_length(eps, eta=eta, theta=theta, u=tuple(u), convention=convention,
                                                     regime="leading"))
        for seed in seeds:
            seq_train, seq_test, _ = _child_seeds(seed)
            X, y = sample_equi(n_train, eps=eps, theta=theta, seed=np.random.default_rng(seq_train))
            Xt, yt = sample_equi(n_test, eps=eps, theta=theta, seed=np.random.default_rng(seq_test))

            def run(steps, X=X, y=y, Xt=Xt, yt=yt):
                W = train_trajectory(X, y, u=u, eta=eta, steps=steps, method="gd", convention=convention)
                return misclassification_rate(W, Xt, yt)

            measured, steps = _measured_plateau(run, predicted, threshold)
            for key, value in zip(records, (eps, int(seed), measured, predicted, leading, steps)):
                records[key].append(value)
    return {key: np.array(values) for key, values in records.items()}


def geometric_rate(k: Sequence[float], values: Sequence[float]) -> float:
    """Per-step decay rate ``r`` of ``|values| ~ C (1 - r)^k``, fitted by least squares on
    ``log |values|`` (used for EGD proper's slow mode, where ``r ~ 2 eps/m2`` is expected)."""
    k = np.asarray(k, dtype=float)
    values = np.abs(np.asarray(values, dtype=float))
    keep = values > 0
    if keep.sum() < 2:
        raise ValueError(f"need at least two nonzero values for a rate, got {keep.sum()}")
    slope = np.polyfit(k[keep], np.log(values[keep]), 1)[0]
    return float(-np.expm1(slope))


def ols_slow_sd(n: int, *, eps: float, s: float = S) -> float:
    """Large-n standard deviation of the slow coordinate of ``w_ols = Sigma^^-1 c^``.

    On the train distribution the population solution is ``(m1/m2, 0)`` and
    ``w_ols^(2) ~ mean(x2 (y - x1 m1/m2)) / eps``; ``x2`` is independent of
    ``x1`` with variance ``eps`` and ``E (y - x1 m1/m2)^2 = 1 - m1^2/m2``, so
    ``sd(w_ols^(2)) = sqrt((1 - m1^2/m2) / (n eps))``. GD converges to ``w_ols``, so
    this is how far a finite-n run ends from Eq. (6)'s ``nu_k -> 0``.
    """
    n = check_n(n)
    eps = check_eps(eps)
    m1, m2 = (float(v) for v in toymodel.truncated_moments(s))
    return math.sqrt((1.0 - m1 * m1 / m2) / (n * eps))


def finite_n_error_sd(n: int, *, eps: float, s: float = S, theta: float = THETA) -> float:
    """Standard deviation, over train samples, of a finite-n GD run's late test error.

    Once ``w1 ~ m1/m2`` the error is ``E ~ atan(sqrt(eps) nu / mu) / psi``, so a shift
    of ``nu`` by ``w_ols^(2)`` (:func:`ols_slow_sd`) moves ``E`` by
    ``sqrt(eps) m2 / (m1 psi)`` times it, with ``psi = arccos(r)`` of Eq. (7). This is
    the irreducible run-to-run scatter around Theorem 1's large-n curve; it scales like
    ``1/sqrt(n)`` (and like ``1/sqrt(n eps)`` for small ``eps``, since ``psi ~ sqrt(eps) tan theta``).
    """
    m1, m2 = (float(v) for v in toymodel.truncated_moments(s))
    psi = math.atan2(math.sqrt(eps) * math.sin(theta), math.cos(theta))
    return ols_slow_sd(n, eps=eps, s=s) * math.sqrt(eps) * m2 / (m1 * psi)


def shift_acceptance(
    seeds: Sequence[int], *, n: int = N_TRAIN, steps: int = 5000, tol: float = 0.01, **setting
) -> Table:
    """Finite-sample check of Theorem 1 in the Figure 6 setting, one row per seed (full-batch GD, ``n`` train and test).

    Columns: ``seed``, ``max_dev`` (max over ``k <= steps`` of the absolute difference between
    the simulated error and Theorem 1), ``max_dev_at_w`` (the same difference with Eq. 7 applied
    to the simulated ``w(k)``: test-sample noise only), ``within_tol`` (``max_dev <= tol``),
    ``measured``, ``predicted`` (plateaus, first k below ``PLATEAU_THRESHOLD``),
    ``nu_ols`` (the run's ``w_ols^(2)``, the main source of ``max_dev``).
    """
    rows: list[Table] = []
    for seed in seeds:
        run = shift_curve(method="gd", seed=seed, steps=steps, n_train=n, n_test=n, **setting)
        seq_train = _child_seeds(seed)[0]
        eps = float(run["eps"][0])
        X, y = sample_train(n, eps=eps, s=setting.get("s", S), seed=np.random.default_rng(seq_train))
        Sigma, c = sufficient_statistics(X, y)
        max_dev = float(np.max(np.abs(run["error"] - run["theorem1"])))
        rows.append({
            "seed": np.array([int(seed)]),
            "max_dev": np.array([max_dev]),
            "max_dev_at_w": np.array([float(np.max(np.abs(run["error"] - run["at_w_theorem1"])))]),
            "within_tol": np.array([max_dev <= tol]),
            "measured": np.array([plateau_from_curve(run["k"], run["error"])]),
            "predicted": np.array([plateau_from_curve(run["k"], run["theorem1"])]),
            "nu_ols": np.array([float(np.linalg.solve(Sigma, c)[1])]),
        })
    return concat_tables(rows)


def egd_chatter(
    eps_values: Sequence[float],
    *,
    etas: Sequence[float] = (ETA,),
    seed: int = 0,
    s: float = S,
    theta: float = THETA,
    u: Sequence[float] = U,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    threshold: float = PLATEAU_THRESHOLD,
) -> Table:
    """EGD proper (``w <- w - eta g/||g||``): slow-mode decay rate and plateau over eps, eta.

    Hypothesis under test: once the fast coordinate reaches ``m1/m2`` it chatters in a
    2-cycle of amplitude ~``eta/2``, so ``||g|| ~ m2 eta/2`` and the slow coordinate
    contracts by ``eta eps / (m2 eta/2) = 2 eps/m2`` per step, whatever ``eta``: the
    plateau ``~ m2 log(tau) / (2 eps)`` scales like ``1/eps`` again.

    Columns: ``eps, eta, rate`` (fitted per-step decay of ``|w2|`` between the step
    where ``|w1 - m1/m2| < eta`` first holds and 90% of the plateau), ``rate_ratio``
    (``rate / (2 eps/m2)``), ``measured`` (plateau in simulation), ``predicted``
    (first k below ``threshold`` on the theory's large-n EGD curve), ``chatter``
    (``m2 log(tau)/(2 eps)``, tau with cot theta).
    """
    m1, m2 = (float(v) for v in toymodel.truncated_moments(s))
    tau = abs(u[1]) * m2 / (m1 * math.tan(theta))
    records: dict[str, list] = {key: [] for key in
                                ("eps", "eta", "rate", "rate_ratio", "measured", "predicted", "chatter")}
    for eps in eps_values:
        eps = check_eps(eps)
        seq_train, seq_test, _ = _child_seeds(seed)
        X, y = sample_train(n_train, eps=eps, s=s, seed=np.random.default_rng(seq_train))
        Xt, yt = sample_shift_test(n_test, eps=eps, theta=theta, seed=np.random.default_rng(seq_test))
        for eta in etas:
            predicted = _shift_plateau(method="egd", eps=eps, s=s, theta=theta, eta=eta, u=u,
                                       convention=DEFAULT_CONVENTION, threshold=threshold)
            trajectory: list[np.ndarray] = []

            def run(steps, X=X, y=y, Xt=Xt, yt=yt, eta=eta):
                W = train_trajectory(X, y, u=u, eta=eta, steps=steps, method="egd")
                trajectory[:] = [W]
                return misclassification_rate(W, Xt, yt)

            measured, _ = _measured_plateau(run, predicted, threshold)
            W = trajectory[0]
            settled = np.flatnonzero(np.abs(W[:, 0] - m1 / m2) < eta)
            start = int(settled[0]) if settled.size else 0
            stop = int(0.9 * measured) if math.isfinite(measured) else W.shape[0]
            rate = geometric_rate(np.arange(start, stop), W[start:stop, 1]) if stop - start >= 2 else math.nan
            for key, value in zip(records, (eps, float(eta), rate, rate / (2 * eps / m2), measured, predicted,
                                            m2 * math.log(tau) / (2 * eps))):
                records[key].append(value)
    return {key: np.array(values) for key, values in records.items()}


def _jsonable(table: Table) -> dict:
    return {key: np.asarray(col).tolist() for key, col in table.items()}


def cached_table(path: str | os.PathLike, config: dict, compute: Callable[[], Table]) -> Table:
    """Load the table saved at ``path`` for this ``config``, or compute and save it.

    The file (JSON: ``{"config": ..., "key": ..., "table": ...}``) is reused only if its
    config key matches; it is written atomically (temporary file + ``os.replace``).
    """
    path = Path(path)
    key = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return {name: np.array(col, dtype=object if col and isinstance(col[0], str) else None)
                    for name, col in saved["table"].items()}
    table = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"config": config, "key": key, "table": _jsonable(table)}, default=str))
    os.replace(tmp, path)
    return table
