"""Appendix A.3: train and test on the same wedge distribution.

x ~ z | (z^T e1)(z^T v) <= 0, z ~ N(0, diag(1, eps)), v = (cos theta, sin theta), theta in
(0, pi], y = sign(x1). In whitened coordinates the event is a double wedge of half-angle
psi = atan2(sqrt(eps) sin theta, cos theta) and the population moments have closed forms
(derived in ``toymodel.symbolic.a3_closed_form_moments``):

    Z = psi/pi,  a = 1 - sin(2 psi)/(2 psi),  d = eps (1 + sin(2 psi)/(2 psi)),
    b = -sqrt(eps) sin^2(psi)/psi,  c1 = sqrt(pi/2)(1 - cos psi)/psi,
    c2 = -sqrt(eps) sqrt(pi/2) sin(psi)/psi.

The paper's integrals (PAPER.md, with Phi(kappa t), kappa = cot(theta)/sqrt(eps)) describe
the complementary event (z^T e1)(z^T v) >= 0 divided by the wrong mass Z: with
Phi(-kappa t) in a, d, c1 they reproduce the closed form (``formula="quadrature"``);
as printed (``formula="paper_integrals"``) they do not (kept for side by side).

GD keeps the factor 2 here (``convention="full"``): w(k+1) = w(k) - c eta (Sigma w(k) - c_vec),
w(k) = w* - M^k (w* - w(0)), M = I - c eta Sigma, M^k by Cayley-Hamilton (Eq. 19 context).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import integrate, special

from . import _validation as check
from ._constants import (
    A3_REGIMES,
    DEFAULT_CONVENTION_A3,
    DEFAULT_ERROR_FORMULA,
    DEFAULT_MAX_STEPS,
    DEFAULT_MOMENT_FORMULA,
    ERROR_FORMULAS,
    EXHAUSTIVE_STEP_LIMIT,
    MOMENT_FORMULAS,
)
from .error import _error_from_angles, wedge_angle
from .iterates import log_abs_one_minus
from .plateau import search_crossing, settle_steps

__all__ = [
    "A3Moments", "moments", "equi_matrix_power", "equi_trajectory", "equi_test_error_curve",
    "equi_plateau_length", "equi_plateau_bounds", "has_plateau",
]

#: relative gap below which r+ and r- count as equal in Cayley-Hamilton (confluent formula)
_CH_CONFLUENT_RTOL = 1e-12


class A3Moments(NamedTuple):
    r"""Population moments of Appendix A.3, as returned by :func:`moments`.

    Attributes
    ----------
    Z : ndarray
        Mass of the wedge event, :math:`\psi/\pi`.
    a, b, d : ndarray
        Entries of :math:`\Sigma = [[a, b], [b, d]]`.
    c1, c2 : ndarray
        Entries of :math:`c = E[x y]`.
    Sigma : ndarray, shape (..., 2, 2)
        The second-moment matrix :math:`E[x x^\top]`.
    c : ndarray, shape (..., 2)
        :math:`(c_1, c_2)`.
    w_star : ndarray, shape (..., 2)
        The limit :math:`w^* = \Sigma^{-1} c`.
    eigenvalues : ndarray, shape (..., 2)
        :math:`(\lambda_-, \lambda_+)` of :math:`\Sigma`, ascending.

    Every scalar field has the broadcast shape of ``(eps, theta)``.

    Examples
    --------
    >>> import math, toymodel
    >>> m = toymodel.moments([0.01, 0.1], math.pi / 4)
    >>> m.Sigma.shape, m.w_star.shape, m.Z.round(3)
    ((2, 2, 2), (2, 2), array([0.032, 0.097]))
    """

    Z: np.ndarray
    a: np.ndarray
    b: np.ndarray
    d: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    Sigma: np.ndarray
    c: np.ndarray
    w_star: np.ndarray
    eigenvalues: np.ndarray


#: Below this wedge angle, 1 - sin(x)/x and 1 - cos(x) are summed as series: the plain
#: differences cancel (a = 1 - sin(2 psi)/(2 psi) would be 0 for psi < 1e-8, eps < 1e-16).
_SMALL_ANGLE = 0.1


def _one_minus_sinc(x):
    """1 - sin(x)/x without cancellation for small x (series to x^8, error < x^10/4e7)."""
    x2 = x * x
    series = x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(x) < _SMALL_ANGLE, series, 1 - np.sin(x) / x)


def _closed_form(eps, theta):
    psi = wedge_angle(eps, theta)
    se = np.sqrt(eps)
    sinc2 = np.sin(2 * psi) / (2 * psi)
    root = math.sqrt(math.pi / 2)
    one_minus_cos = np.where(psi < _SMALL_ANGLE, 2 * np.sin(psi / 2) ** 2, 1 - np.cos(psi))
    return (psi / math.pi, _one_minus_sinc(2 * psi), -se * np.sin(psi) ** 2 / psi, eps * (1 + sinc2),
            root * one_minus_cos / psi, -se * root * np.sin(psi) / psi)


def _quad(eps, theta, sign):
    """The A.3 integrals with Phi(sign * kappa t); sign=-1 is the event as stated, +1 as printed."""
    out = np.empty((6,) + np.shape(eps))
    for idx in np.ndindex(np.shape(eps)):
        e, th = float(eps[idx]), float(theta[idx])
        kap = sign * (math.cos(th) / math.sin(th)) / math.sqrt(e) if th < math.pi else -sign * math.inf
        phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

        def Phi(x):
            return special.ndtr(x)

        def kphi(x):  # kappa t phi(kappa t) without inf*0
            return 0.0 if not math.isfinite(x) else x * phi(x)

        def q(f):
            return integrate.quad(f, 0, math.inf, limit=200, epsabs=1e-13, epsrel=1e-11)[0]

        Z = math.acos(math.cos(th) / math.sqrt(math.cos(th) ** 2 + e * math.sin(th) ** 2)) / math.pi
        a = 2 / Z * q(lambda t: t * t * phi(t) * Phi(kap * t))
        d = 2 * e / Z * q(lambda t: (Phi(kap * t) - kphi(kap * t)) * phi(t))
        b = -2 * math.sqrt(e) / Z * q(lambda t: t * phi(t) * phi(kap * t) if math.isfinite(kap * t) else 0.0)
        c1 = 2 / Z * q(lambda t: t * phi(t) * Phi(kap * t))
        c2 = -2 * math.sqrt(e) / Z * q(lambda t: phi(t) * phi(kap * t) if math.isfinite(kap * t) else 0.0)
        out[(slice(None),) + idx] = (Z, a, b, d, c1, c2)
    return tuple(out)


def moments(eps, theta, *, formula=DEFAULT_MOMENT_FORMULA) -> A3Moments:
    r"""Population moments of Appendix A.3 (train and test on the same wedge distribution).

    :math:`x = z \mid (z^\top e_1)(z^\top v) \le 0`, :math:`z \sim N(0, \mathrm{diag}(1, \epsilon))`,
    :math:`v = (\cos\theta, \sin\theta)`, :math:`y = \mathrm{sign}(x_1)`. In whitened coordinates
    the event is a double wedge of half-angle :math:`\psi = \mathrm{atan2}(\sqrt\epsilon \sin\theta,
    \cos\theta)` and the moments have closed forms (derived in
    :func:`toymodel.symbolic.a3_closed_form_moments`): :math:`Z = \psi/\pi`,
    :math:`a = 1 - \sin(2\psi)/(2\psi)`, :math:`d = \epsilon(1 + \sin(2\psi)/(2\psi))`,
    :math:`b = -\sqrt\epsilon \sin^2\psi/\psi`, :math:`c_1 = \sqrt{\pi/2}(1 - \cos\psi)/\psi`,
    :math:`c_2 = -\sqrt\epsilon\sqrt{\pi/2} \sin\psi/\psi`.

    Parameters
    ----------
    eps : float or array_like
        :math:`\epsilon > 0`.
    theta : float or array_like
        :math:`\theta \in (0, \pi]` (:math:`(0, \pi)` for ``"paper_integrals"``).
    formula : {"closed_form", "quadrature", "paper_integrals"}
        ``"quadrature"`` integrates the appendix's integrals numerically with
        :math:`\Phi(-\kappa t)` (the event as stated; it reproduces the closed form);
        ``"paper_integrals"`` uses :math:`\Phi(+\kappa t)` as printed, which describes the
        complementary event: wrong, kept for comparison only.

    Returns
    -------
    A3Moments
        Fields of the broadcast shape of ``eps`` and ``theta``.

    Raises
    ------
    ValueError
        If ``eps`` is not positive, ``theta`` is outside its range, or ``formula`` is unknown.

    Examples
    --------
    >>> import math, toymodel
    >>> m = toymodel.moments(0.01, math.pi / 4)
    >>> print(m.w_star.round(3), m.eigenvalues.round(4))
    [ 0.031 -6.261] [0.0013 0.0252]
    """
    check.choice("formula", formula, MOMENT_FORMULAS)
    eps = check.positive("eps", eps)
    theta = check.theta_equi(theta)
    eps, theta = np.broadcast_arrays(eps, theta)
    if formula == "closed_form":
        Z, a, b, d, c1, c2 = _closed_form(eps, theta)
    else:
        if formula == "paper_integrals" and np.any(theta >= np.pi):
            raise ValueError("theta must lie in (0, pi) for formula='paper_integrals' (the printed "
                             f"integrals vanish at theta = pi), got {theta.max()!r}")
        Z, a, b, d, c1, c2 = _quad(eps, theta, -1.0 if formula == "quadrature" else 1.0)
    det = a * d - b * b
    if not np.all(det > 0):
        bad = eps[~(det > 0)].flat[0]
        raise ValueError(f"eps must be larger: at eps={float(bad)!r} the covariance Sigma of Appendix A.3 is not "
                         f"positive definite in float64 with formula={formula!r} (its determinant, of order "
                         f"eps^2, underflows or is lost to rounding)")
    Sigma = np.stack([np.stack([a, b], -1), np.stack([b, d], -1)], -2)
    c = np.stack([c1, c2], -1)
    w_star = np.linalg.solve(Sigma, c[..., None])[..., 0]
    eigenvalues = np.linalg.eigvalsh(Sigma)
    return A3Moments(Z, a, b, d, c1, c2, Sigma, c, w_star, eigenvalues)


def _checked_dynamics(eps, eta, theta, convention):
    check.choice("convention", convention, ("half", "full"))
    eta = check.positive("eta", eta)
    mom = moments(eps, theta)
    cf = check.convention_factor(convention)
    lam = mom.eigenvalues
    x = cf * np.asarray(eta)[..., None] * lam
    check.stable_step(x, np.asarray(eta)[..., None], what=f"{cf:g} eta lambda")
    r = 1 - x  # (..., 2): r-, r+ for lambda-, lambda+
    return mom, np.asarray(eta), cf, r


def _cayley_hamilton(k, r, M):
    """M^k = alpha_k I + beta_k M (r: (..., 2) eigenvalues of M, k broadcast against r[..., 0])."""
    rm, rp = r[..., 0], r[..., 1]
    gap = rp - rm
    confluent = np.abs(gap) <= _CH_CONFLUENT_RTOL * np.maximum(np.abs(rp), 1.0)
    safe = np.where(confluent, 1.0, gap)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(confluent, -(k - 1) * rp**k, (rp * rm**k - rm * rp**k) / safe)
        beta = np.where(confluent, k * rp ** np.maximum(k - 1, 0), (rp**k - rm**k) / safe)
    eye = np.eye(2)
    return alpha[..., None, None] * eye + beta[..., None, None] * M


def equi_matrix_power(k, *, eps, eta, theta, convention=DEFAULT_CONVENTION_A3) -> np.ndarray:
    r""":math:`M^k` for the gradient-descent matrix :math:`M = I - c\eta\Sigma` of Appendix A.3.

    Computed by Cayley-Hamilton, :math:`M^k = \alpha_k I + \beta_k M` (exact for every ``k``,
    including repeated eigenvalues). :math:`c` is 2 for ``convention="full"`` (the appendix keeps
    the factor 2 of the gradient) and 1 for ``"half"``.

    Parameters
    ----------
    k : int or array_like of int
        Step counts, :math:`k \ge 0`.
    eps : float or array_like
        :math:`\epsilon > 0`.
    eta : float or array_like
        Step size, :math:`\eta > 0` with :math:`|1 - c\eta\lambda_\pm| < 1`.
    theta : float or array_like
        :math:`\theta \in (0, \pi]`.
    convention : {"full", "half"}

    Returns
    -------
    ndarray, shape broadcast(k, eps, eta, theta) + (2, 2)

    Raises
    ------
    ValueError
        If ``k`` is not a non-negative integer, a parameter is out of its range, or the iteration
        diverges for this ``eta``.

    Examples
    --------
    >>> import math, toymodel
    >>> toymodel.equi_matrix_power([0, 1, 100], eps=0.01, eta=0.1, theta=math.pi / 4).shape
    (3, 2, 2)
    >>> print(toymodel.equi_matrix_power(100, eps=0.01, eta=0.1, theta=math.pi / 4).round(3))
    [[0.892 0.154]
     [0.154 0.685]]
    """
    k = check.steps("k", k)
    mom, eta, cf, r = _checked_dynamics(eps, eta, theta, convention)
    M = np.eye(2) - cf * eta[..., None, None] * mom.Sigma
    shape = np.broadcast_shapes(k.shape, r.shape[:-1])
    r = np.broadcast_to(r, shape + (2,))
    M = np.broadcast_to(M, shape + (2, 2))
    return _cayley_hamilton(np.broadcast_to(k, shape), r, M)


def equi_trajectory(k, *, eps, eta, theta, u, convention=DEFAULT_CONVENTION_A3):
    """Iterates :math:`w(k) = w^* - M^k (w^* - u)` of gradient descent in Appendix A.3.

    Parameters
    ----------
    k, eps, eta, theta, convention
        As in :func:`equi_matrix_power`.
    u : array_like, shape (..., 2)
        Initial weights :math:`w(0)`.

    Returns
    -------
    mu, nu : ndarray
        The two coordinates of :math:`w(k)`, of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        As :func:`equi_matrix_power`, or if ``u`` is not of shape (..., 2).

    Examples
    --------
    >>> import math, toymodel
    >>> mu, nu = toymodel.equi_trajectory([0, 100, 10000], eps=0.01, eta=0.1, theta=math.pi / 4,
    ...                                   u=(0.0, 3.0))
    >>> print(mu.round(3), nu.round(3))
    [0.    1.431 0.309] [ 3.     0.079 -6.113]
    """
    u = check.vector2("u", u)
    Mk = equi_matrix_power(k, eps=eps, eta=eta, theta=theta, convention=convention)
    w_star = moments(eps, theta).w_star
    w = w_star - np.einsum("...ij,...j->...i", Mk, w_star - u)
    return w[..., 0], w[..., 1]


def equi_test_error_curve(k, *, eps, eta, theta, u, convention=DEFAULT_CONVENTION_A3,
                          formula=DEFAULT_ERROR_FORMULA) -> np.ndarray:
    r"""Test error along the Appendix A.3 iterates (Theorem 2, Eq. 19).

    Eq. (19) reads :math:`E(k) = \arccos(\max(\rho, \rho_k))/\arccos(\rho)`;
    ``formula="theorem1"`` evaluates it verbatim, the default ``"geometric"`` is exact for
    every sign of :math:`\nu_k` (here :math:`\nu^* < 0`, where Eq. (19) fails; see
    :func:`test_error`).

    Parameters
    ----------
    k, eps, eta, theta, u, convention
        As in :func:`equi_trajectory`.
    formula : {"geometric", "theorem1"}

    Returns
    -------
    ndarray
        Errors in [0, 1], of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        As :func:`equi_trajectory`, or for an unknown ``formula``.

    Examples
    --------
    >>> import math, toymodel
    >>> toymodel.equi_test_error_curve([0, 100, 10000], eps=0.01, eta=0.1, theta=math.pi / 4,
    ...                                u=(0.0, 3.0)).round(3)
    array([1.   , 0.056, 0.   ])
    """
    check.choice("formula", formula, ERROR_FORMULAS)
    mu, nu = equi_trajectory(k, eps=eps, eta=eta, theta=theta, u=u, convention=convention)
    eps_b = np.broadcast_to(eps, mu.shape)
    return _error_from_angles(wedge_angle(eps_b, np.broadcast_to(theta, mu.shape)), mu, nu, eps_b, formula)


def equi_plateau_length(eps, *, eta, theta, u, convention=DEFAULT_CONVENTION_A3, regime="exact",
                        formula=DEFAULT_ERROR_FORMULA, max_steps=DEFAULT_MAX_STEPS) -> np.ndarray:
    r"""Plateau length of Appendix A.3: the first step whose test error is below 1.

    ``regime="exact"`` scans :func:`equi_test_error_curve` for the first :math:`k` with
    :math:`E(k) < 1` (``inf`` if none up to ``max_steps``); ``"leading"`` is the paper's
    leading-order :math:`k^* \approx \log(|u_2 - \nu^*|/T)/(c\eta\lambda_-)`,
    :math:`T = |\mu^*| |\tan\theta|`. The two need not agree: the leading order assumes a start
    far from :math:`w^*` along the slow eigenvector.

    ``"exact"`` tests every step while the faster eigen-mode of :math:`M` still moves, then
    bisects along the line the iterates follow; if the fast mode needs more than
    ``EXHAUSTIVE_STEP_LIMIT`` steps to settle (tiny ``eps`` or ``eta``) and no crossing comes
    before, it raises instead of scanning for minutes.

    Parameters
    ----------
    eps, eta, theta, u, convention
        As in :func:`equi_trajectory`.
    regime : {"exact", "leading"}
    formula : {"geometric", "theorem1"}
        Only used by ``"exact"``.
    max_steps : int
        Search limit of ``"exact"``.

    Returns
    -------
    ndarray
        Float array of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        For an unknown choice, a parameter out of its range, a divergent ``eta``, or (``"exact"``)
        a fast mode too slow to settle within ``EXHAUSTIVE_STEP_LIMIT`` steps (the message names
        ``eps`` and ``eta``).

    Examples
    --------
    >>> import math, toymodel
    >>> float(toymodel.equi_plateau_length(0.01, eta=0.1, theta=math.pi / 4, u=(0.0, 3.0)))
    64.0
    """
    check.choice("regime", regime, A3_REGIMES)
    check.choice("formula", formula, ERROR_FORMULAS)
    u = check.vector2("u", u)
    mom, eta, cf, r = _checked_dynamics(eps, eta, theta, convention)
    theta = np.asarray(theta, dtype=float)
    shape = np.broadcast_shapes(r.shape[:-1], u.shape[:-1], theta.shape)
    if regime == "leading":
        T = np.abs(mom.w_star[..., 0]) * np.abs(np.tan(theta))
        log_ratio = np.log(np.abs(u[..., 1] - mom.w_star[..., 1]) / T)
        return np.broadcast_to(log_ratio / (cf * eta * mom.eigenvalues[..., 0]),
                               shape).copy()
    eps_b = np.broadcast_to(eps, shape)
    th_b = np.broadcast_to(theta, shape)
    eta_b = np.broadcast_to(eta, shape)
    u_b = np.broadcast_to(u, shape + (2,))
    out = np.empty(shape)
    for idx in np.ndindex(shape):
        e, th, h, w0 = eps_b[idx], th_b[idx], eta_b[idx], u_b[idx]
        m = moments(e, th)
        rr = 1 - cf * h * m.eigenvalues
        M = np.eye(2) - cf * h * m.Sigma
        psi = wedge_angle(e, th)

        def below_one(ks, m=m, rr=rr, M=M, w0=w0, e=e, psi=psi):
            Mk = _cayley_hamilton(ks.astype(float), np.broadcast_to(rr, ks.shape + (2,)),
                                  np.broadcast_to(M, ks.shape + (2, 2)))
            w = m.w_star - Mk @ (m.w_star - w0)
            return _error_from_angles(psi, w[:, 0], w[:, 1], e, formula) < 1

        settle, period, breaks = _line_phase(m, cf * h * m.eigenvalues, w0)

        def too_long(e=e, h=h, settle=settle) -> str:
            return (f"eps={float(e)!r} (with eta={float(h)!r}) is too small for regime='exact': the faster mode of "
                    f"the iteration needs about {settle:.3g} steps to settle, more than the {EXHAUSTIVE_STEP_LIMIT} "
                    f"steps tested one by one; use regime='leading' or max_steps <= {EXHAUSTIVE_STEP_LIMIT}")

        out[idx] = search_crossing(below_one, int(max_steps), settle=settle, period=period, breaks=breaks,
                                   too_long=too_long)
    return out


def _line_phase(m: A3Moments, x: np.ndarray, w0: np.ndarray) -> tuple[float, int, list[float]]:
    """For w(k) = w* - sum_i r_i^k c_i v_i (r_i = 1 - x_i, eigenpairs of Sigma): the step after which the
    faster mode is negligible (the rest is the line w* - r_s^k c_s v_s), the period of that line's
    monotone runs (2 when r_s < 0) and the steps where it crosses the axes mu = 0, nu = 0."""
    lam, V = np.linalg.eigh(m.Sigma)
    coef = V.T @ (m.w_star - w0)
    logs = log_abs_one_minus(x)  # ascending eigenvalues: x[0] <= x[1]
    slow = int(np.argmax(logs))
    fast = 1 - slow
    scale = float(np.linalg.norm(m.w_star))
    if abs(logs[fast] - logs[slow]) <= 1e-12 * abs(logs[slow]):
        settle = 0.0  # one rate: the whole path is a line
    else:
        settle = settle_steps(float(logs[fast]), float(abs(coef[fast])), scale)
    step = coef[slow] * V[:, slow]
    breaks = []
    for axis in (0, 1):
        if step[axis] != 0 and logs[slow] < 0:
            ratio = abs(m.w_star[axis] / step[axis])
            if 0 < ratio < 1:
                breaks.append(float(np.log(ratio) / logs[slow]))
    return settle, 2 if x[slow] > 1 else 1, breaks


def equi_plateau_bounds(eps, *, eta, theta, u, convention=DEFAULT_CONVENTION_A3, c_hat=1.0, c_low=1.0):
    r"""The paper's two-sided bound on the Appendix A.3 plateau.

    .. math::

       \frac{1}{c\eta\lambda_-}\log\frac{|u_2 - \nu^*|}{\hat c\, T} \le k^*
       \le \frac{1}{c\eta\lambda_-}\log\frac{|u_2 - \nu^*|\, c_{\mathrm{low}}}{T},
       \qquad T = |\mu^*| |\tan\theta|.

    The paper states :math:`\hat c, c_{\mathrm{low}} \in [1, 1 + O(\sqrt\epsilon)]` without
    values; both default to 1, where the bounds meet at the ``"leading"`` estimate of
    :func:`equi_plateau_length`.

    Parameters
    ----------
    eps, eta, theta, u, convention
        As in :func:`equi_trajectory`.
    c_hat, c_low : float
        The two constants, :math:`\ge 1`.

    Returns
    -------
    lower, upper : ndarray
        Of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        If ``c_hat`` or ``c_low`` is below 1, or as :func:`equi_plateau_length`.

    Examples
    --------
    >>> import math, toymodel
    >>> lower, upper = toymodel.equi_plateau_bounds(0.01, eta=0.1, theta=math.pi / 4, u=(0.0, 3.0),
    ...                                             c_hat=1.1, c_low=1.1)
    >>> print(f"{lower:.0f} {upper:.0f}")
    21353 22081
    """
    for name, val in (("c_hat", c_hat), ("c_low", c_low)):
        if not val >= 1:
            raise ValueError(f"{name} must be >= 1, got {val!r}")
    lead = equi_plateau_length(eps, eta=eta, theta=theta, u=u, convention=convention, regime="leading")
    mom, eta_a, cf, _ = _checked_dynamics(eps, eta, theta, convention)
    scale = 1 / (cf * eta_a * mom.eigenvalues[..., 0])
    return lead - scale * np.log(c_hat), lead + scale * np.log(c_low)


def has_plateau(eps, *, theta, u, formula=DEFAULT_ERROR_FORMULA) -> np.ndarray:
    r"""Whether gradient descent in Appendix A.3 has a plateau (our reading of Theorem 2's dichotomy).

    A plateau exists iff the start :math:`w(0) = u` has error 1 and the limit :math:`w^*` has
    error below 1; gradient descent then needs :math:`\Theta(1/(\eta\lambda_-)) =
    \Theta(1/(\eta\epsilon))` steps when :math:`\theta < \pi/2`. For :math:`u_1 > 0`,
    :math:`\theta < \pi/2` the first condition is :math:`u_2 \ge u_1 \tan\theta`.

    Parameters
    ----------
    eps : float or array_like
        :math:`\epsilon > 0`.
    theta : float or array_like
        :math:`\theta \in (0, \pi]`.
    u : array_like, shape (..., 2)
        Initial weights.
    formula : {"geometric", "theorem1"}
        The error formula of :func:`test_error`.

    Returns
    -------
    ndarray of bool
        Of the broadcast shape of the arguments.

    Raises
    ------
    ValueError
        For a parameter out of its range or an unknown ``formula``.

    Examples
    --------
    >>> import math, toymodel
    >>> bool(toymodel.has_plateau(0.01, theta=math.pi / 4, u=(0.0, 3.0)))
    True
    >>> bool(toymodel.has_plateau(0.01, theta=math.pi / 4, u=(1.0, 0.0)))
    False
    """
    from .error import test_error

    u = check.vector2("u", u)
    mom = moments(eps, theta)
    e0 = test_error(u, eps=eps, theta=theta, formula=formula)
    einf = test_error(mom.w_star, eps=eps, theta=theta, formula=formula)
    return (e0 >= 1) & (einf < 1)
