r"""The toy model with an L2 term in the loss (the question of the chapter "When exact EGD stalls").

Adding :math:`\tfrac{\lambda}{2}\lVert w \rVert^2` to the Section-3 loss changes the large-:math:`n`
gradient of :mod:`toymodel.iterates` to

.. math::  g(w) = c\,(m_2 \mu - m_1,\ \epsilon \nu) + \lambda\,(\mu, \nu),

still a :math:`1 \times 2` matrix of rank one: no direction is left to the weight decay alone.

* ``"gd"``: the Section-3 iteration with :math:`c m_2 \to c m_2 + \lambda` and
  :math:`c\epsilon \to c\epsilon + \lambda`, in closed form:
  :math:`\mu_k = \alpha^k u_1 + (1 - \alpha^k)\mu^*`, :math:`\nu_k = \beta^k u_2`,
  :math:`\alpha = 1 - \eta(c m_2 + \lambda)`, :math:`\beta = 1 - \eta(c\epsilon + \lambda)`,
  :math:`\mu^* = c m_1 / (c m_2 + \lambda)`. The slow coordinate contracts faster, by
  :math:`\eta\lambda` more per step, and the fixed point moves towards 0 along :math:`\mu` only.
* ``"egd"``: EGD proper, normalised gradient descent :math:`w \leftarrow w - \eta g/\lVert g \rVert`
  (Eq. 11 on the :math:`1 \times 2` gradient), iterated exactly.

The plateau ends at the first step whose test error (:func:`toymodel.test_error`, Eq. 7) is
below 1, as in :func:`toymodel.plateau_length`; with :math:`\lambda = 0` both functions here
give that function's ``regime="exact"`` answer.
"""

from __future__ import annotations

import math

import numpy as np

from . import _validation as check
from ._constants import CONVENTIONS, DEFAULT_CONVENTION_SECTION3, DEFAULT_ERROR_FORMULA, ERROR_FORMULAS
from .error import test_error
from .iterates import pow_one_minus
from .train_moments import truncated_moments

__all__ = ["L2_METHODS", "l2_trajectory", "l2_plateau_length"]

#: The methods with an L2 term: plain gradient descent and EGD proper.
L2_METHODS = ("gd", "egd")
#: Steps iterated between two looks at the test error (EGD): small enough to stop soon after
#: the crossing, large enough that numpy's per-call cost does not dominate.
_CHUNK = 4096


def _problem(*, eps, eta, s, u, weight_decay, method, convention):
    check.choice("method", method, L2_METHODS)
    check.choice("convention", convention, CONVENTIONS)
    eps, eta = float(check.positive("eps", eps)), float(check.positive("eta", eta))
    s, lam = float(check.nonnegative("s", s)), float(check.nonnegative("weight_decay", weight_decay))
    u = check.vector2("u", u)
    if u.shape != (2,):
        raise ValueError(f"u must be one weight vector of shape (2,), got shape {u.shape}")
    m1, m2 = (float(x) for x in truncated_moments(s))
    c = check.convention_factor(convention)
    if method == "gd":
        check.stable_step(eta * (c * m2 + lam), eta, what=f"eta ({c:g} m2 + weight_decay)")
        check.stable_step(eta * (c * eps + lam), eta, what=f"eta ({c:g} eps + weight_decay)")
    return eps, eta, lam, float(u[0]), float(u[1]), m1, m2, c


def _gd(k: np.ndarray, eps, eta, lam, u1, u2, m1, m2, c) -> tuple[np.ndarray, np.ndarray]:
    a, b = pow_one_minus(eta * (c * m2 + lam), k), pow_one_minus(eta * (c * eps + lam), k)
    mu_star = c * m1 / (c * m2 + lam)
    return a * u1 + (1 - a) * mu_star, b * u2


def _egd_chunk(n: int, eps, eta, lam, mu, nu, m1, m2, c) -> tuple[np.ndarray, np.ndarray]:
    """``n`` steps of normalised GD from ``(mu, nu)``; the iterates after each step. A zero
    gradient gives a zero step (the pseudo-inverse of Eq. 11)."""
    out = np.empty((2, n))
    hypot = math.hypot
    for i in range(n):
        g1 = c * (m2 * mu - m1) + lam * mu
        g2 = (c * eps + lam) * nu
        norm = hypot(g1, g2)
        if norm > 0.0:
            mu -= eta * g1 / norm
            nu -= eta * g2 / norm
        out[0, i], out[1, i] = mu, nu
    return out[0], out[1]


def l2_trajectory(steps: int, *, eps, eta, s, u, weight_decay, method="gd",
                  convention=DEFAULT_CONVENTION_SECTION3) -> tuple[np.ndarray, np.ndarray]:
    r"""The iterates :math:`(\mu_k, \nu_k)`, :math:`k = 0 .. \text{steps}`, with the L2 term.

    Parameters
    ----------
    steps : int
        Number of steps, :math:`\ge 0`.
    eps : float
        :math:`\epsilon > 0`.
    eta : float
        Step size :math:`\eta > 0`; for ``"gd"`` small enough that the iteration converges,
        :math:`\eta (c m_2 + \lambda) < 2`.
    s : float
        Truncation level of the train marginal, :math:`s \ge 0`.
    u : array_like, shape (2,)
        Initial weights.
    weight_decay : float
        :math:`\lambda \ge 0`; 0 is the paper's toy model (:func:`toymodel.mean_trajectory`).
    method : {"gd", "egd"}
    convention : {"half", "full"}

    Returns
    -------
    mu, nu : ndarray, shape (steps + 1,)

    Raises
    ------
    ValueError
        A parameter out of its range (named), an unknown method or convention, or a divergent
        ``eta`` for ``"gd"``.

    Examples
    --------
    >>> import toymodel.weight_decay as wd
    >>> mu, nu = wd.l2_trajectory(2, eps=0.01, eta=0.1, s=1.0, u=(0.0, 3.0), weight_decay=0.5)
    >>> round(float(nu[2]), 6)  # 3 (1 - 0.1 (0.01 + 0.5))^2
    2.701803
    """
    k = check.steps("steps", steps)
    problem = _problem(eps=eps, eta=eta, s=s, u=u, weight_decay=weight_decay, method=method,
                       convention=convention)
    eps, eta, lam, u1, u2, m1, m2, c = problem
    n = int(k)
    if method == "gd":
        return _gd(np.arange(n + 1), eps, eta, lam, u1, u2, m1, m2, c)
    mu, nu = _egd_chunk(n, eps, eta, lam, u1, u2, m1, m2, c)
    return np.concatenate([[u1], mu]), np.concatenate([[u2], nu])


def l2_plateau_length(*, eps, eta, s, theta, u, weight_decay, method="gd", convention=DEFAULT_CONVENTION_SECTION3,
                      formula=DEFAULT_ERROR_FORMULA, max_steps: int = 10**6) -> float:
    r"""The first step :math:`k` whose test error is below 1, with the L2 term; ``inf`` if none
    within ``max_steps`` (a plateau that does not end: a stall).

    Parameters are those of :func:`l2_trajectory`, plus :math:`\theta \in (0, \pi/2)` and the
    error ``formula`` of :func:`toymodel.test_error`; ``max_steps`` :math:`\ge 0`.

    Returns
    -------
    float
        The plateau length in steps, or ``inf``.

    Raises
    ------
    ValueError
        A parameter out of its range (named), an unknown method, convention or error formula,
        or a divergent ``eta`` for ``"gd"``.

    Examples
    --------
    >>> import math, toymodel.weight_decay as wd
    >>> kw = dict(eps=0.01, eta=0.1, s=1.0, theta=math.pi / 4, u=(0.0, 3.0))
    >>> wd.l2_plateau_length(weight_decay=0.0, **kw) > wd.l2_plateau_length(weight_decay=0.1, **kw)
    True
    """
    eps, eta, lam, u1, u2, m1, m2, c = _problem(eps=eps, eta=eta, s=s, u=u, weight_decay=weight_decay,
                                                method=method, convention=convention)
    theta = check.theta_shift(theta)
    check.choice("formula", formula, ERROR_FORMULAS)
    limit = int(check.steps("max_steps", max_steps))

    def first_below(mus, nus) -> np.ndarray:
        errors = test_error(np.stack([mus, nus], axis=-1), eps=eps, theta=theta, formula=formula)
        return np.flatnonzero(errors < 1)

    if first_below(np.array([u1]), np.array([u2])).size:
        return 0.0
    start, mu, nu = 1, u1, u2
    while start <= limit:  # chunks of steps start .. start + n - 1
        n = min(_CHUNK if method == "egd" else 16 * _CHUNK, limit - start + 1)
        if method == "gd":
            mus, nus = _gd(np.arange(start, start + n), eps, eta, lam, u1, u2, m1, m2, c)
        else:
            mus, nus = _egd_chunk(n, eps, eta, lam, mu, nu, m1, m2, c)
        below = first_below(mus, nus)
        if below.size:
            return float(start + below[0])
        mu, nu = float(mus[-1]), float(nus[-1])
        start += n
    return math.inf
