"""Large-n iterates w(k) = (mu_k, nu_k) of the three methods on the toy model (Lemma 1, Eq. 6).

With Sigma^ -> diag(m2, eps) and X^T Y/n -> (m1, 0) the large-n gradient is
g(w) = c (m2 mu - m1, eps nu), c = 1 ("half", Section 3) or 2 ("full", Appendix A.3).

* ``gd``        w <- w - eta g: mu_k = alpha^k u1 + (1 - alpha^k) m1/m2, nu_k = beta^k u2,
                alpha = 1 - c eta m2, beta = 1 - c eta eps (Eq. 5-6).
* ``paper_egd`` w <- w - eta Sigma^-1 g (Eq. 9): both factors equal a = 1 - c eta.
* ``egd``       w <- w - eta g/||g|| (Eq. 11 on the 1 x 2 gradient; c cancels): no closed
                form, iterated exactly. A zero gradient gives a zero step (pseudo-inverse).
"""

from __future__ import annotations

import math

import numpy as np

from . import _validation as check
from ._constants import CONVENTIONS, DEFAULT_CONVENTION_SECTION3, DEFAULT_METHOD, METHODS
from .train_moments import truncated_moments

__all__ = ["mean_trajectory", "linear_factors", "linear_rates", "validated_problem", "pow_one_minus",
           "log_abs_one_minus"]


def validated_problem(*, eps, eta, s, u, method, convention):
    """Check the Section-3 problem parameters; return floats arrays (eps, eta, s, u1, u2, m1, m2).

    Raises ValueError for eps <= 0, eta <= 0, s < 0, u not of shape (..., 2), unknown
    method/convention, or a step size for which the linear iteration diverges
    (c eta m2 >= 2 or c eta eps >= 2 for gd, c eta >= 2 for paper_egd: the factors
    1 - c eta m2, ... leave (-1, 1); egd moves a fixed distance eta per step and never
    diverges). A tiny c eta eps (eps = 1e-300) is a slow contraction, not a divergence.
    """
    check.choice("method", method, METHODS)
    check.choice("convention", convention, CONVENTIONS)
    eps = check.positive("eps", eps)
    eta = check.positive("eta", eta)
    s = check.nonnegative("s", s)
    u = check.vector2("u", u)
    m1, m2 = truncated_moments(s)
    c = check.convention_factor(convention)
    if method == "gd":
        check.stable_step(c * eta * m2, eta, what=f"{c:g} eta m2")
        check.stable_step(c * eta * eps, eta, what=f"{c:g} eta eps")
    elif method == "paper_egd":
        check.stable_step(c * eta + 0 * eps, eta, what=f"{c:g} eta")
    return eps, eta, s, u[..., 0], u[..., 1], m1, m2


def pow_one_minus(x, k) -> np.ndarray:
    """``(1 - x)**k`` for integer ``k >= 0``, accurate for tiny ``x``: ``exp(k log1p(-x))`` where
    ``0 <= x < 1`` (``1 - x`` itself would round to 1 for ``x < 1e-16``), the plain power else."""
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        small = np.exp(k * np.log1p(-np.where(x < 1, x, 0.0)))
        return np.where(x < 1, small, np.power(1 - x, k))


def log_abs_one_minus(x) -> np.ndarray:
    """``log|1 - x|`` for ``0 <= x < 2`` (``log1p(-x)`` below 1): the per-step log-contraction."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 1, np.log1p(-np.where(x < 1, x, 0.0)), np.log(np.abs(1 - x)))


def linear_factors(*, eps, eta, s, method=DEFAULT_METHOD, convention=DEFAULT_CONVENTION_SECTION3):
    """(alpha, beta): per-step contraction of mu - m1/m2 and of nu for gd / paper_egd (Eq. 5, 9)."""
    if method == "egd":
        raise ValueError("method 'egd' is nonlinear and has no linear factors; allowed: ('gd', 'paper_egd')")
    eps, eta, s, _, _, _, m2 = validated_problem(eps=eps, eta=eta, s=s, u=[0.0, 0.0], method=method,
                                                 convention=convention)
    c = check.convention_factor(convention)
    if method == "gd":
        return 1 - c * eta * m2, 1 - c * eta * eps
    a = 1 - c * eta + 0 * eps * m2
    return a, a


def linear_rates(*, eps, eta, m2, c, method):
    """``(x_alpha, x_beta)`` with ``alpha = 1 - x_alpha``, ``beta = 1 - x_beta`` (gd / paper_egd):
    kept as ``x`` so that tiny rates survive (see :func:`pow_one_minus`)."""
    if method == "gd":
        return c * eta * m2, c * eta * eps
    x = c * eta + 0 * eps * m2
    return x, x


def _egd_run(kmax: int, eps: float, eta: float, m1: float, m2: float, mu: float, nu: float, record):
    """Iterate normalised GD for kmax steps; call record(step, mu, nu) after each step.

    Plain-float loop: the map is 2-dimensional and nonlinear, so numpy brings nothing but
    per-call overhead here.
    """
    hypot = math.hypot
    for step in range(1, kmax + 1):
        g1 = m2 * mu - m1
        g2 = eps * nu
        norm = hypot(g1, g2)
        if norm > 0.0:
            scale = eta / norm
            mu -= scale * g1
            nu -= scale * g2
        if record(step, mu, nu):
            return


def mean_trajectory(k, *, eps, eta, s, u, method=DEFAULT_METHOD, convention=DEFAULT_CONVENTION_SECTION3):
    r"""Large-:math:`n` iterates :math:`w(k) = (\mu_k, \nu_k)` after ``k`` steps from :math:`w(0) = u` (Lemma 1).

    With :math:`\hat\Sigma \to \mathrm{diag}(m_2, \epsilon)` the gradient is
    :math:`g(w) = c\,(m_2 \mu - m_1, \epsilon \nu)`, :math:`c = 1` (``convention="half"``,
    Section 3) or 2 (``"full"``, Appendix A.3):

    * ``"gd"``: :math:`\mu_k = \alpha^k u_1 + (1 - \alpha^k) m_1/m_2`, :math:`\nu_k = \beta^k u_2`,
      :math:`\alpha = 1 - c\eta m_2`, :math:`\beta = 1 - c\eta\epsilon` (Eq. 4-6);
    * ``"paper_egd"``: the paper's accelerated scheme :math:`w \leftarrow w - \eta \Sigma^{-1} g`
      (Eq. 9), both factors equal to :math:`1 - c\eta`;
    * ``"egd"``: EGD proper (Eq. 11 on the :math:`1 \times 2` gradient), i.e. normalised gradient
      descent :math:`w \leftarrow w - \eta g/\lVert g \rVert`; no closed form, iterated exactly.

    Parameters
    ----------
    k : int or array_like of int
        Step counts, :math:`k \ge 0`.
    eps : float or array_like
        Variance of the second coordinate, :math:`\epsilon > 0`.
    eta : float or array_like
        Step size, :math:`\eta > 0`; for ``"gd"`` and ``"paper_egd"`` small enough that the
        iteration converges (:math:`|\alpha|, |\beta| < 1`).
    s : float or array_like
        Truncation level of the train marginal, :math:`s \ge 0`.
    u : array_like, shape (..., 2)
        Initial weights.
    method : {"gd", "paper_egd", "egd"}
    convention : {"half", "full"}

    Returns
    -------
    mu, nu : ndarray
        The two coordinates, each of the broadcast shape of ``k``, ``eps``, ``eta``, ``s`` and
        ``u[..., 0]``.

    Raises
    ------
    ValueError
        If ``eps`` or ``eta`` is not positive, ``s`` is negative, ``k`` is not a non-negative
        integer, ``u`` is not of shape (..., 2), ``method`` or ``convention`` is unknown, or the
        linear iteration diverges for this ``eta``.

    Examples
    --------
    >>> import toymodel
    >>> mu, nu = toymodel.mean_trajectory([0, 10, 100], eps=0.01, eta=0.1, s=1.0, u=(0.0, 3.0))
    >>> print(mu.round(3), nu.round(3))
    [0.    0.571 0.604] [3.    2.97  2.714]
    """
    eps, eta, s, u1, u2, m1, m2 = validated_problem(eps=eps, eta=eta, s=s, u=u, method=method,
                                                    convention=convention)
    k = check.steps("k", k)
    c = check.convention_factor(convention)
    if method in ("gd", "paper_egd"):
        xa, xb = linear_rates(eps=eps, eta=eta, m2=m2, c=c, method=method)
        w1 = m1 / m2
        ak, bk = pow_one_minus(xa, k), pow_one_minus(xb, k)
        mu = ak * u1 + (1 - ak) * w1
        nu = bk * u2
        shape = np.broadcast_shapes(k.shape, eps.shape, s.shape, u1.shape, np.shape(eta))
        return np.broadcast_to(mu, shape).copy(), np.broadcast_to(nu, shape).copy()
    return _egd_trajectory(k, eps, eta, m1, m2, u1, u2)


def _egd_trajectory(k, eps, eta, m1, m2, u1, u2):
    arrays = np.broadcast_arrays(k, eps, eta, m1, m2, u1, u2)
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    mu_out = np.empty(flat[0].size)
    nu_out = np.empty(flat[0].size)
    params = np.stack(flat[1:], axis=1)
    # one run per distinct parameter set, recording every requested k along the way
    uniq, inverse = np.unique(params, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for j, (e_, h_, a_, b_, x_, y_) in enumerate(uniq):
        idx = np.flatnonzero(inverse == j)
        ks = flat[0][idx].astype(np.int64)
        order = np.argsort(ks, kind="stable")
        wanted = ks[order]
        pos = 0
        while pos < wanted.size and wanted[pos] == 0:
            mu_out[idx[order[pos]]], nu_out[idx[order[pos]]] = x_, y_
            pos += 1
        if pos == wanted.size:
            continue
        state = {"pos": pos}

        def record(step, mu, nu, state=state, wanted=wanted, order=order, idx=idx):
            p = state["pos"]
            while p < wanted.size and wanted[p] == step:
                mu_out[idx[order[p]]], nu_out[idx[order[p]]] = mu, nu
                p += 1
            state["pos"] = p
            return p == wanted.size

        _egd_run(int(wanted[-1]), float(e_), float(h_), float(a_), float(b_), float(x_), float(y_), record)
    return mu_out.reshape(shape), nu_out.reshape(shape)
