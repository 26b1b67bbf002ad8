"""Plateau length k* (time to grok) of the toy model, Section 3 (Corollary 1).

The plateau ends at the first k with E(k) < 1. From Eq. (7) (see
``toymodel.symbolic.threshold_inequality``), for mu_k > 0 and nu_k >= 0,

    E(k) < 1  <=>  r_k > r  <=>  nu_k < mu_k tan(theta).                         (*)

After the fast phase mu_k ~ m1/m2, so GD (nu_k = beta^k u2) crosses at
beta^k |u2| = (m1/m2) tan(theta), i.e. k* = log(tau)/log(1/beta) with

    tau = |u2| m2 / (m1 tan theta)        ("derived", from (*)),

whereas Corollary 1 prints tau = |u2| tan(theta) m2/m1 ("paper"). The two agree only at
theta = pi/4; ``tau_formula`` selects one for the asymptotic regimes.

Regimes (``plateau_length(..., regime=...)``):
* ``"exact"``       first integer k with E(k) < 1 on the large-n curve (closed form for
                    gd/paper_egd, exact iteration for egd); inf if none within max_steps.
                    gd/paper_egd: every step is tested while the fast coordinate mu still
                    moves; after that the iterates run along the line mu = m1/m2, where the
                    error changes at most once, so the rest is bisected (exact, and fast even
                    for eps = 1e-300). The work is bounded (``_constants.EXHAUSTIVE_STEP_LIMIT``,
                    ``EGD_EXACT_STEP_LIMIT``): a search that would exceed it raises ValueError
                    naming the parameter responsible (eta for a slow fast phase, eps or eta for
                    an EGD plateau beyond the limit) instead of looping for minutes.
* ``"large_init"``  gd: log(tau)/log(1/beta) (Corollary 1 A). paper_egd: log(tau)/log(1/|a|),
                    a = 1 - c eta, independent of eps. NaN where tau < 1 (no large-init
                    plateau: the formula would give a negative length, or -inf at u2 = 0). egd: our phase estimate
                    |m1/m2 - u1|/eta + max(|u2| - nu_c, 0)/eta + log(min(|u2|, nu_c)/T)/log(1/(1 - 2 eps/m2)),
                    nu_c = eta m2/(2 eps), T = (m1/m2) tan theta: the fast coordinate moves
                    eta per step; while eps|nu| > eta m2/2 the slow one moves ~eta per step;
                    below, normalised GD locks into a 2-cycle and nu contracts by
                    1 - (eps/(2 m2))(1/x + 1/(1-x)) per step, x in (0,1) the cycle's asymmetry
                    (x = 1/2 gives 1 - 2 eps/m2: the estimate is an upper estimate of that phase).
* ``"small_init"``  Corollary 1 (B) as printed: (1/(c eta)) log(1/(tau eps)) (gd only); NaN
                    where tau = 0 or tau >= 1 (outside the small-init regime).
* ``"small_init_fast"`` ours, tau < 1: nu stays ~u2 while mu relaxes, crossing when
                    alpha^k < (1 - tau)/(1 - u1 m2/m1): k* = log(that)/log|alpha| for
                    gd/paper_egd (eps-independent); for egd, the travel time at speed eta,
                    (m1/m2 - u1 - |u2|/tan theta)/eta. NaN where tau >= 1 (regime not applicable).
egd's "large_init" estimate uses the derived threshold T whatever ``tau_formula`` says; NaN
where 2 eps >= m2 (no slow coordinate). No regime warns: where a formula does not apply the
result is NaN, as documented here.
"""

from __future__ import annotations

import math

import numpy as np

from . import _validation as check
from ._constants import (
    DEFAULT_CONVENTION_SECTION3,
    DEFAULT_ERROR_FORMULA,
    DEFAULT_MAX_STEPS,
    DEFAULT_METHOD,
    DEFAULT_REGIME,
    DEFAULT_TAU_FORMULA,
    EGD_EXACT_STEP_LIMIT,
    ERROR_FORMULAS,
    EXHAUSTIVE_STEP_LIMIT,
    FAST_MODE_SETTLED,
    REGIMES,
    SCAN_CHUNK_MAX,
    SCAN_CHUNK_MIN,
    TAU_FORMULAS,
)
from .error import _error_from_angles, wedge_angle
from .iterates import linear_rates, log_abs_one_minus, pow_one_minus, validated_problem

__all__ = ["plateau_length", "plateau_ratio", "first_crossing", "search_crossing", "settle_steps"]


def plateau_ratio(*, s, theta, u, formula=DEFAULT_TAU_FORMULA) -> np.ndarray:
    r"""The plateau ratio :math:`\tau` of Corollary 1.

    ``formula="derived"`` (ours, from Eq. 7): :math:`\tau = |u_2|\, m_2 / (m_1 \tan\theta)`;
    ``"paper"``: Corollary 1 as printed, :math:`|u_2| \tan\theta\, m_2/m_1`. They agree at
    :math:`\theta = \pi/4`. :math:`m_1, m_2` are :func:`truncated_moments` of ``s``.

    Parameters
    ----------
    s : float or array_like
        :math:`s \ge 0`.
    theta : float or array_like
        :math:`\theta \in (0, \pi/2)`.
    u : array_like, shape (..., 2)
        Initial weights.
    formula : {"derived", "paper"}

    Returns
    -------
    ndarray
        :math:`\tau`, of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        For an unknown ``formula`` or a parameter out of its range.

    Examples
    --------
    >>> import math, toymodel
    >>> print(f"{toymodel.plateau_ratio(s=1.0, theta=math.pi / 4, u=(0.0, 3.0)):.3f}")
    4.967
    """
    from .train_moments import truncated_moments

    check.choice("tau_formula", formula, TAU_FORMULAS)
    theta = check.theta_shift(theta)
    u = check.vector2("u", u)
    m1, m2 = truncated_moments(s)
    if formula == "derived":
        return np.abs(u[..., 1]) * m2 / (m1 * np.tan(theta))
    return np.abs(u[..., 1]) * np.tan(theta) * m2 / m1


def first_crossing(below_one, max_steps: int) -> float:
    """Smallest integer k in [0, max_steps] with below_one(k_array)[i] True, else inf.

    below_one maps an integer array of steps to a boolean array. Chunks grow geometrically
    (SCAN_CHUNK_MIN to SCAN_CHUNK_MAX) so short plateaus cost little and long ones are
    still scanned exhaustively: no monotonicity is assumed.
    """
    start, chunk = 0, SCAN_CHUNK_MIN
    while start <= max_steps:
        ks = np.arange(start, min(start + chunk, max_steps + 1))
        hit = np.flatnonzero(below_one(ks))
        if hit.size:
            return float(ks[hit[0]])
        start += ks.size
        chunk = min(2 * chunk, SCAN_CHUNK_MAX)
    return math.inf


def settle_steps(log_rate: float, amplitude: float, scale: float) -> float:
    """Steps until a mode ``amplitude * r^k`` (``log|r| = log_rate <= 0``) is below
    ``FAST_MODE_SETTLED * scale``: 0 if it already is, inf if it never decays."""
    if amplitude <= FAST_MODE_SETTLED * scale:
        return 0.0
    if log_rate == -math.inf:
        return 1.0
    if not log_rate < 0:
        return math.inf
    return math.log(FAST_MODE_SETTLED * scale / amplitude) / log_rate


def search_crossing(below_one, max_steps: int, *, settle: float, period: int = 1, breaks=(),
                    too_long=None) -> float:
    """Smallest integer k in [0, max_steps] with below_one(k), else inf, for a linear iteration.

    Up to step ``settle`` (the fast mode still moves) every step is tested (:func:`first_crossing`);
    from there on the iterates run monotonically along a line toward the limit (two lines, even
    and odd steps, for ``period=2``: a negative factor), on which the test error changes at most
    once between consecutive ``breaks`` (real step values where the line crosses an axis), so
    each such piece is decided by its two ends and bisected. When more than
    ``EXHAUSTIVE_STEP_LIMIT`` steps would have to be tested one by one and none of them
    crosses, ``ValueError(too_long())`` is raised instead of scanning on.
    """
    head = max_steps if not settle < max_steps else max(int(math.ceil(settle)), min(SCAN_CHUNK_MIN, max_steps))
    if head > EXHAUSTIVE_STEP_LIMIT:
        hit = first_crossing(below_one, EXHAUSTIVE_STEP_LIMIT)
        if math.isfinite(hit):
            return hit
        raise ValueError(too_long() if too_long else
                         f"max_steps: the exact search would test more than {EXHAUSTIVE_STEP_LIMIT} steps one by one")
    hit = first_crossing(below_one, head)
    if math.isfinite(hit) or head >= max_steps:
        return hit

    def test(k: int) -> bool:
        return bool(below_one(np.array([k]))[0])

    cuts = sorted({int(math.floor(b)) for b in breaks if head < b < max_steps})
    bounds = [head + 1, *[c + 1 for c in cuts if c + 1 > head + 1], max_steps + 1]
    for lo, end in zip(bounds[:-1], bounds[1:]):
        hi = end - 1
        found = math.inf
        for q in range(period):
            first = lo + (q - lo) % period
            last = hi - (hi - q) % period
            if first > last:
                continue
            if test(first):
                found = min(found, first)
                continue
            if not test(last):
                continue
            a, b = 0, (last - first) // period  # test(first + a*period) False, test(first + b*period) True
            while b - a > 1:
                mid = (a + b) // 2
                if test(first + mid * period):
                    b = mid
                else:
                    a = mid
            found = min(found, first + b * period)
        if math.isfinite(found):
            return float(found)
    return math.inf


def _exact_linear(xa, xb, u1, u2, w1, eps, psi, formula, max_steps, *, eta, c):
    def below_one(ks):
        ak, bk = pow_one_minus(xa, ks), pow_one_minus(xb, ks)
        mu = ak * u1 + (1 - ak) * w1
        nu = bk * u2
        return _error_from_angles(psi, mu, nu, eps, formula) < 1

    # mu - w1 = alpha^k (u1 - w1) is the fast mode; once settled, (w1, beta^k u2) moves along
    # the line mu = w1 > 0 toward (w1, 0), even and odd steps apart when beta < 0
    settle = settle_steps(float(log_abs_one_minus(xa)), abs(u1 - w1), abs(w1))

    def too_long() -> str:
        return (f"eta={eta!r} is too small for regime='exact': mu needs about {settle:.3g} steps to settle "
                f"({c:g} eta m2 = {xa:.3g}), more than the {EXHAUSTIVE_STEP_LIMIT} steps tested one by one; "
                f"use regime='large_init', a larger eta, or max_steps <= {EXHAUSTIVE_STEP_LIMIT}")

    return search_crossing(below_one, max_steps, settle=settle, period=2 if xb > 1 else 1, too_long=too_long)


def _exact_egd(eta, eps, m1, m2, u1, u2, psi, formula, max_steps):
    se = math.sqrt(eps)
    mu, nu = u1, u2
    hypot, atan2 = math.hypot, math.atan2
    for step in range(max_steps + 1):
        a_w = atan2(se * nu, mu)
        if mu != 0.0 or nu != 0.0:
            if formula == "theorem1":
                if abs(a_w) < psi:
                    return float(step)
            elif (0.0 <= a_w < psi) or (a_w < 0.0 and -a_w - math.pi + psi < psi):
                return float(step)
        g1 = m2 * mu - m1
        g2 = eps * nu
        norm = hypot(g1, g2)
        if norm > 0.0:
            mu -= eta * g1 / norm
            nu -= eta * g2 / norm
    return math.inf


def plateau_length(eps, *, eta, s, theta, u, method=DEFAULT_METHOD, convention=DEFAULT_CONVENTION_SECTION3,
                   regime=DEFAULT_REGIME, tau_formula=DEFAULT_TAU_FORMULA, formula=DEFAULT_ERROR_FORMULA,
                   max_steps=DEFAULT_MAX_STEPS) -> np.ndarray:
    r"""Plateau length :math:`k^*` (Corollary 1): the first step whose test error is below 1.

    ``regime`` selects how it is computed:

    * ``"exact"``: the first integer :math:`k` with :math:`E(k) < 1` on the large-:math:`n` curve
      of :func:`test_error_curve` (closed form for ``"gd"`` and ``"paper_egd"``, exact iteration
      for ``"egd"``); ``inf`` if there is none within ``max_steps``;
    * ``"large_init"``: Corollary 1 (A), :math:`\log\tau / \log(1/\beta)` for ``"gd"``,
      :math:`\log\tau/\log(1/|1 - c\eta|)` for ``"paper_egd"`` (independent of :math:`\epsilon`),
      and a phase-by-phase estimate for ``"egd"``;
    * ``"small_init"``: Corollary 1 (B) as printed, :math:`\log(1/(\tau\epsilon))/(c\eta)`
      (``"gd"`` only);
    * ``"small_init_fast"``: our estimate for :math:`\tau < 1`, where the crossing happens while
      :math:`\mu` relaxes; NaN where :math:`\tau \ge 1`.

    :math:`\tau` is :func:`plateau_ratio`; ``tau_formula`` chooses ours or Corollary 1's printed
    one (they agree at :math:`\theta = \pi/4`).

    Parameters
    ----------
    eps : float or array_like
        :math:`\epsilon > 0`.
    eta : float or array_like
        Step size :math:`\eta > 0` (convergent for ``"gd"``/``"paper_egd"``, see
        :func:`mean_trajectory`).
    s : float or array_like
        :math:`s \ge 0`.
    theta : float or array_like
        :math:`\theta \in (0, \pi/2)`.
    u : array_like, shape (..., 2)
        Initial weights.
    method : {"gd", "paper_egd", "egd"}
    convention : {"half", "full"}
    regime : {"exact", "large_init", "small_init", "small_init_fast"}
    tau_formula : {"derived", "paper"}
        Only used by the asymptotic regimes.
    formula : {"geometric", "theorem1"}
        The error formula of :func:`test_error`; only used by ``"exact"``.
    max_steps : int
        Search limit of ``"exact"``, :math:`\ge 0`.

    Returns
    -------
    ndarray
        Float array of the broadcast shape of the arguments (``inf``: no crossing within
        ``max_steps``).

    Raises
    ------
    ValueError
        For an unknown choice, a parameter out of its range, a negative or non-integer
        ``max_steps``, a divergent ``eta``, or ``regime="small_init"`` with a method other than
        ``"gd"``.

    Examples
    --------
    >>> import math, toymodel
    >>> setting = dict(eta=0.1, s=1.0, theta=math.pi / 4, u=(0.0, 3.0))
    >>> [float(toymodel.plateau_length(0.01, method=m, **setting)) for m in ("gd", "paper_egd", "egd")]
    [1603.0, 17.0, 193.0]
    >>> print(f"{toymodel.plateau_length(0.01, regime='large_init', **setting):.1f}")
    1602.0
    """
    check.choice("regime", regime, REGIMES)
    check.choice("tau_formula", tau_formula, TAU_FORMULAS)
    check.choice("formula", formula, ERROR_FORMULAS)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, got {max_steps!r}")
    eps, eta, s, u1, u2, m1, m2 = validated_problem(eps=eps, eta=eta, s=s, u=u, method=method,
                                                    convention=convention)
    theta = check.theta_shift(theta)
    c = check.convention_factor(convention)
    b = np.broadcast_arrays(eps, eta, theta, u1, u2, m1, m2)
    eps, eta, theta, u1, u2, m1, m2 = b
    w1 = m1 / m2
    T = w1 * np.tan(theta)
    if tau_formula == "derived":
        tau = np.abs(u2) * m2 / (m1 * np.tan(theta))
    else:
        tau = np.abs(u2) * np.tan(theta) * m2 / m1
    if method != "egd":
        xa, xb = linear_rates(eps=eps, eta=eta, m2=m2, c=c, method=method)

    if regime == "exact":
        psi = wedge_angle(eps, theta)
        out = np.empty(eps.shape)
        if method == "egd":
            estimate, eta_part = _egd_estimate(eps, eta, m2, u1, u2, w1, T)
        for idx in np.ndindex(eps.shape):
            if method == "egd":
                out[idx] = _exact_egd_bounded(eta[idx], eps[idx], m1[idx], m2[idx], u1[idx], u2[idx], psi[idx],
                                              formula, int(max_steps), estimate[idx], eta_part[idx])
            else:
                out[idx] = _exact_linear(xa[idx], xb[idx], u1[idx], u2[idx], w1[idx], eps[idx], psi[idx],
                                         formula, int(max_steps), eta=float(eta[idx]), c=c)
        return out
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if regime == "large_init":
            if method == "egd":
                return _egd_estimate(eps, eta, m2, u1, u2, w1, T)[0]
            return np.where(tau >= 1, np.log(tau) / -log_abs_one_minus(xb), np.nan)
        if regime == "small_init":
            if method != "gd":
                raise ValueError(f"regime 'small_init' (Corollary 1 B) is stated for method 'gd' only, got {method!r}")
            return np.where((tau > 0) & (tau < 1), np.log(1 / (tau * eps)) / (c * eta), np.nan)
        # small_init_fast
        if method == "egd":
            return np.maximum(w1 - u1 - np.abs(u2) / np.tan(theta), 0) / eta
        target = (1 - tau) / (1 - u1 / w1)
        k = np.log(target) / log_abs_one_minus(xa)
        return np.where(tau < 1, np.maximum(k, 0), np.nan)


def _egd_estimate(eps, eta, m2, u1, u2, w1, T):
    """EGD's large-init phase estimate (module docstring) and its eta-driven part (fast + linear phases).

    NaN where 2 eps >= m2 (no slow coordinate to contract geometrically).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nu_c = eta * m2 / (2 * eps)
        k_fast = np.abs(w1 - u1) / eta
        k_lin = np.maximum(np.abs(u2) - nu_c, 0) / eta
        k_geo = np.log(np.minimum(np.abs(u2), nu_c) / T) / -np.log1p(-np.minimum(2 * eps / m2, 1.0))
        estimate = np.where(2 * eps < m2, k_fast + k_lin + np.maximum(np.nan_to_num(k_geo, nan=0.0), 0), np.nan)
    return estimate, k_fast + k_lin


def _exact_egd_bounded(eta, eps, m1, m2, u1, u2, psi, formula, max_steps, estimate, eta_part) -> float:
    """:func:`_exact_egd` within ``EGD_EXACT_STEP_LIMIT`` steps, or ValueError naming eps or eta."""
    limit = EGD_EXACT_STEP_LIMIT
    if max_steps <= limit:
        return _exact_egd(eta, eps, m1, m2, u1, u2, psi, formula, max_steps)
    culprit = f"eta={float(eta)!r} is too small" if eta_part > estimate / 2 else f"eps={float(eps)!r} is too small"
    advice = (f"use regime='large_init' for the estimate, or max_steps <= {limit} to get inf "
              f"beyond it")
    if estimate > limit:
        raise ValueError(f"{culprit} for the exact EGD iteration: its plateau is estimated at {estimate:.3g} steps "
                         f"(regime='large_init'), more than the {limit} steps it iterates at most; {advice}")
    k = _exact_egd(eta, eps, m1, m2, u1, u2, psi, formula, limit)
    if not math.isfinite(k):
        raise ValueError(f"{culprit} for the exact EGD iteration: no crossing within the {limit} steps it iterates "
                         f"at most (estimate: {estimate:.3g} steps); {advice}")
    return k
