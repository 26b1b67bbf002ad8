"""Exact, seeded samplers for the toy model of Section 3 and Appendix A.3.

Every sampler draws from ``z ~ N(0, diag(1, eps))`` conditioned on an event, exactly
(no rejection loop), and labels with ``y = sign(z^(1))``.

* Train features (Section 3): ``|z^(1)| >= s``. The coordinates are independent, so
  ``|z^(1)|`` is drawn from the normal tail by the inverse CDF (in log space, so any
  finite ``s`` works) and ``z^(2) = sqrt(eps) g`` with ``g ~ N(0, 1)``.
* Wedge features: ``(z^T e1)(z^T v) <= 0`` with ``v = (cos theta, sin theta)``. This is
  the test distribution of the distribution-shift case (Section 3, ``theta`` in
  ``(0, pi/2)``) and both the train and test distribution of Appendix A.3 (``theta``
  in ``(0, pi]``). In whitened coordinates ``g = (z^(1), z^(2)/sqrt(eps)) ~ N(0, I)``,
  write ``g = R (cos phi, sin phi)``; then ``z^(1) = R cos phi`` and
  ``z^T v = R |v'| cos(phi - psi)`` with ``v' = (cos theta, sqrt(eps) sin theta)`` and
  ``psi = atan2(sqrt(eps) sin theta, cos theta)`` in ``(0, pi]``. The event is the double
  wedge ``phi in [pi/2, pi/2 + psi]  U  [3 pi/2, 3 pi/2 + psi]`` (probability
  ``psi/pi``, the ``Z`` of Appendix A.3). ``R ~ chi(2)`` is independent of ``phi``,
  and ``phi`` is uniform on the allowed arcs.

Arrays: features ``X`` have shape ``(n, 2)``, labels ``y`` shape ``(n,)`` in ``{-1, +1}``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = [
    "as_generator",
    "wedge_half_angle",
    "sample_train",
    "sample_shift_test",
    "sample_equi",
]

THETA_SHIFT_RANGE = "(0, pi/2)"
THETA_EQUI_RANGE = "(0, pi]"


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """``numpy.random.Generator`` from a seed (int, ``None``) or a Generator (passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int, None or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


def check_n(n: int, name: str = "n") -> int:
    """Validate a sample size: an integer >= 1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return int(n)


def _as_float(name: str, value, allowed: str) -> float:
    """``float(value)``, or ValueError naming ``name`` (not Python's bare conversion error)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None


def check_eps(eps: float) -> float:
    """Validate the variance ``eps`` of the second coordinate: finite and > 0."""
    eps = _as_float("eps", eps, "a finite number > 0")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    return eps


def check_s(s: float) -> float:
    """Validate the truncation level ``s``: finite and >= 0."""
    s = _as_float("s", s, "a finite number >= 0")
    if not (math.isfinite(s) and s >= 0):
        raise ValueError(f"s must be a finite number >= 0, got {s!r}")
    return s


def check_theta(theta: float, *, case: str) -> float:
    """Validate ``theta``: ``(0, pi/2)`` for ``case="shift"``, ``(0, pi]`` for ``case="equi"``.

    ``theta = 0`` is excluded in both cases: the wedge has probability zero there.
    """
    theta = _as_float("theta", theta, "a number")
    if case == "shift":
        ok = 0.0 < theta < math.pi / 2
        allowed = THETA_SHIFT_RANGE
    elif case == "equi":
        ok = 0.0 < theta <= math.pi
        allowed = THETA_EQUI_RANGE
    else:
        raise ValueError(f"case must be 'shift' or 'equi', got {case!r}")
    if not ok:
        raise ValueError(f"theta must lie in {allowed} for the {case} case, got {theta!r}")
    return theta


def wedge_half_angle(eps: float, theta: float) -> float:
    """Whitened opening angle ``psi = atan2(sqrt(eps) sin theta, cos theta)`` of each wedge.

    ``psi = arccos(r)`` with ``r = rho/gamma`` of Eq. (7), and ``psi/pi = Z`` of Appendix A.3.
    """
    return math.atan2(math.sqrt(eps) * math.sin(theta), math.cos(theta))


def sample_train(
    n: int, *, eps: float, s: float, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Train set of Section 3: :math:`z \sim N(0, \mathrm{diag}(1, \epsilon))` given :math:`|z^{(1)}| \ge s`.

    Exact, without a rejection loop: :math:`|z^{(1)}| = -\Phi^{-1}(U Q(s))` with
    :math:`U \sim \mathrm{Uniform}(0, 1]` (the inverse CDF of the normal tail, evaluated in log
    space so any finite ``s`` works), an independent fair sign, and
    :math:`z^{(2)} = \sqrt\epsilon\, N(0, 1)`. Labels are :math:`y = \mathrm{sign}(z^{(1)})`.

    Parameters
    ----------
    n : int
        Sample size, :math:`n \ge 1`.
    eps : float
        :math:`\epsilon > 0`, finite.
    s : float
        Truncation level, :math:`s \ge 0`, finite.
    seed : int, numpy.random.Generator or None
        Seed or generator of the draws.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray, shape (n,)
        Labels in :math:`\{-1, +1\}`.

    Raises
    ------
    ValueError
        If ``n`` is not an integer :math:`\ge 1`, ``eps`` or ``s`` is out of range, or ``seed``
        is neither an int, None nor a Generator.

    Examples
    --------
    >>> import numpy as np, toymodel
    >>> X, y = toymodel.sample_train(1000, eps=0.01, s=1.0, seed=0)
    >>> X.shape, bool(np.all(np.abs(X[:, 0]) >= 1.0)), bool(np.all(y == np.sign(X[:, 0])))
    ((1000, 2), True, True)
    """
    n = check_n(n)
    eps = check_eps(eps)
    s = check_s(s)
    rng = as_generator(seed)
    uniform = 1.0 - rng.random(n)  # in (0, 1], so the log is finite
    magnitude = -special.ndtri_exp(np.log(uniform) + special.log_ndtr(-s))
    # the inverse CDF may land one ulp below s; the event |x1| >= s must hold exactly
    magnitude = np.maximum(magnitude, s)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    X = np.empty((n, 2))
    X[:, 0] = y * magnitude
    X[:, 1] = math.sqrt(eps) * rng.standard_normal(n)
    return X, y


def _sample_wedge(n: int, eps: float, theta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``z ~ N(0, diag(1, eps))`` given ``(z^T e1)(z^T v) <= 0`` (module docstring)."""
    psi = wedge_half_angle(eps, theta)
    radius = np.sqrt(rng.chisquare(2, size=n))
    # offset t in [0, psi) from the arc start pi/2: cos(pi/2 + t) = -sin t, sin(pi/2 + t) = cos t,
    # so z1 = -R sin t <= 0 and z^T v = R |v'| sin(psi - t) >= 0 on the first arc exactly
    offset = psi * rng.random(n)
    flip = np.where(rng.random(n) < 0.5, 1.0, -1.0)  # -1: the antipodal arc
    X = np.empty((n, 2))
    X[:, 0] = -flip * radius * np.sin(offset)
    X[:, 1] = flip * math.sqrt(eps) * radius * np.cos(offset)
    # y = sign(z1); on the first arc z1 <= 0, so y = -flip (also when z1 == 0 exactly)
    y = -flip
    return X, y


def sample_shift_test(
    n: int, *, eps: float, theta: float, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Test set of the distribution-shift case (Section 3): :math:`(z^\top v)\, z^{(1)} \le 0`.

    :math:`z \sim N(0, \mathrm{diag}(1, \epsilon))`, :math:`v = (\cos\theta, \sin\theta)`: a
    double wedge, drawn exactly (uniform angle on the allowed arcs in whitened coordinates, radius
    :math:`\chi_2`). Labels are :math:`y = \mathrm{sign}(z^{(1)})`.

    Parameters
    ----------
    n : int
        Sample size, :math:`n \ge 1`.
    eps : float
        :math:`\epsilon > 0`, finite.
    theta : float
        :math:`\theta \in (0, \pi/2)`.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray, shape (n,)
        Labels in :math:`\{-1, +1\}`.

    Raises
    ------
    ValueError
        If ``n``, ``eps``, ``theta`` or ``seed`` is out of range.

    Examples
    --------
    >>> import math, numpy as np, toymodel
    >>> X, y = toymodel.sample_shift_test(1000, eps=0.01, theta=math.pi / 4, seed=0)
    >>> v = np.array([math.cos(math.pi / 4), math.sin(math.pi / 4)])
    >>> X.shape, bool(np.all((X @ v) * X[:, 0] <= 0))
    ((1000, 2), True)
    """
    n = check_n(n)
    eps = check_eps(eps)
    theta = check_theta(theta, case="shift")
    return _sample_wedge(n, eps, theta, as_generator(seed))


def sample_equi(
    n: int, *, eps: float, theta: float, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Train and test distribution of Appendix A.3: :math:`(z^\top e_1)(z^\top v) \le 0`.

    As :func:`sample_shift_test`, for :math:`\theta \in (0, \pi]`; :math:`\theta = \pi` is the
    unconditioned Gaussian. The probability of the event is :math:`Z = \psi/\pi` of
    :func:`moments`.

    Parameters
    ----------
    n : int
        Sample size, :math:`n \ge 1`.
    eps : float
        :math:`\epsilon > 0`, finite.
    theta : float
        :math:`\theta \in (0, \pi]`.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray, shape (n,)
        Labels in :math:`\{-1, +1\}`.

    Raises
    ------
    ValueError
        If ``n``, ``eps``, ``theta`` or ``seed`` is out of range.

    Examples
    --------
    >>> import math, toymodel
    >>> X, y = toymodel.sample_equi(5, eps=0.01, theta=math.pi, seed=0)
    >>> X.shape, y.shape
    ((5, 2), (5,))
    """
    n = check_n(n)
    eps = check_eps(eps)
    theta = check_theta(theta, case="equi")
    return _sample_wedge(n, eps, theta, as_generator(seed))
