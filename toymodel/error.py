"""Test error of a weight vector under the distribution shift of Section 3 (Theorem 1, Eq. 7)
and on the wedge distribution of Appendix A.3 (Eq. 19): both test sets are
z ~ N(0, diag(1, eps)) conditioned on (z^T e1)(z^T v) <= 0, v = (cos theta, sin theta).

Geometry. In whitened coordinates x = (z1, z2/sqrt(eps)) ~ N(0, I) the test set is a double
wedge of half-angle psi = atan2(sqrt(eps) sin theta, cos theta) (so cos psi = r of Eq. 7),
and w misclassifies a double wedge of angle arccos(r_w), r_w = w1/sqrt(w1^2 + eps w2^2).
When both wedges open on the same side of the z1 = 0 line (w2 sin theta >= 0) the error is
min(1, arccos(r_w)/arccos(r)) - exactly Eq. (7)/(19). When w2 < 0 the wedges sit on opposite
sides: Eq. (7) (which only sees |w2|) is then wrong, e.g. w = (1, -1) has error 0, not 1.
``formula="geometric"`` (default) is the exact error for every w; ``"theorem1"`` is Eq. (7).
"""

from __future__ import annotations

import numpy as np

from . import _validation as check
from ._constants import DEFAULT_CONVENTION_SECTION3, DEFAULT_ERROR_FORMULA, DEFAULT_METHOD, ERROR_FORMULAS
from .iterates import mean_trajectory

__all__ = ["test_error", "test_error_curve", "wedge_angle"]


def wedge_angle(eps, theta) -> np.ndarray:
    """psi = arccos(r) = atan2(sqrt(eps) sin theta, cos theta) in (0, pi]: the test wedge's angle."""
    return np.arctan2(np.sqrt(eps) * np.sin(theta), np.cos(theta))


def _error_from_angles(psi, w1, w2, eps, formula):
    a_w = np.arctan2(np.sqrt(eps) * w2, w1)  # (-pi, pi]
    if formula == "theorem1":
        err = np.minimum(1.0, np.abs(a_w) / psi)  # arccos(r_w) = |a_w|
    else:
        same_side = np.minimum(a_w, psi) / psi
        opposite = np.clip(-a_w - np.pi + psi, 0.0, psi) / psi
        err = np.where(a_w >= 0, same_side, opposite)
    # w = 0 predicts sign 0 for every x: always wrong
    return np.where((w1 == 0) & (w2 == 0), 1.0, err)


def test_error(w, *, eps, theta, formula=DEFAULT_ERROR_FORMULA) -> np.ndarray:
    r"""Test error of the weights ``w`` (Theorem 1, Eq. 7; Eq. 19 of Appendix A.3 is the same expression).

    The test set is :math:`z \sim N(0, \mathrm{diag}(1, \epsilon))` conditioned on
    :math:`(z^\top e_1)(z^\top v) \le 0`, :math:`v = (\cos\theta, \sin\theta)`. Eq. (7) reads
    :math:`E(w) = \min(1, \arccos(r_w)/\arccos(r))` with
    :math:`r_w = w_1/\sqrt{w_1^2 + \epsilon w_2^2}` and
    :math:`r = \cos\theta/\sqrt{\cos^2\theta + \epsilon \sin^2\theta}` (``formula="theorem1"``).
    It only sees :math:`|w_2|`; the default ``"geometric"`` is the exact probability of a sign
    mismatch for every ``w``, and agrees with Eq. (7) whenever :math:`w_2 \sin\theta \ge 0`.
    ``w = 0`` has error 1.

    Parameters
    ----------
    w : array_like, shape (..., 2)
        Weight vectors.
    eps : float or array_like
        :math:`\epsilon > 0`.
    theta : float or array_like
        Test direction, :math:`\theta \in (0, \pi]`.
    formula : {"geometric", "theorem1"}

    Returns
    -------
    ndarray
        Errors in [0, 1], of the broadcast shape of ``w[..., 0]``, ``eps`` and ``theta``.

    Raises
    ------
    ValueError
        If ``w`` is not of shape (..., 2), ``eps`` is not positive, ``theta`` is outside
        :math:`(0, \pi]`, or ``formula`` is unknown.

    Examples
    --------
    >>> import math, toymodel
    >>> print(f"{toymodel.test_error((1.0, 0.5), eps=0.01, theta=math.pi / 4):.4f}")
    0.5012
    >>> [float(toymodel.test_error((1.0, -1.0), eps=0.01, theta=math.pi / 4, formula=f))
    ...  for f in ("geometric", "theorem1")]
    [0.0, 1.0]
    """
    check.choice("formula", formula, ERROR_FORMULAS)
    w = check.vector2("w", w)
    eps = check.positive("eps", eps)
    theta = check.theta_equi(theta)
    return _error_from_angles(wedge_angle(eps, theta), w[..., 0], w[..., 1], eps, formula)


def test_error_curve(k, *, eps, eta, s, theta, u, method=DEFAULT_METHOD,
                     convention=DEFAULT_CONVENTION_SECTION3, formula=DEFAULT_ERROR_FORMULA) -> np.ndarray:
    r"""Test error :math:`E(w(k))` along the large-:math:`n` iterates (the curve of Theorem 1).

    The iterates are those of :func:`mean_trajectory` (Eq. 6, Eq. 9 or normalised GD), their
    error that of :func:`test_error` (Eq. 7).

    Parameters
    ----------
    k : int or array_like of int
        Step counts, :math:`k \ge 0`.
    eps, eta, s, u, method, convention
        As in :func:`mean_trajectory`.
    theta : float or array_like
        Test direction of Section 3, :math:`\theta \in (0, \pi/2)`.
    formula : {"geometric", "theorem1"}
        As in :func:`test_error`.

    Returns
    -------
    ndarray
        Errors in [0, 1], of the broadcast shape of all arguments (``u`` without its last axis).

    Raises
    ------
    ValueError
        For the arguments :func:`mean_trajectory` and :func:`test_error` reject, or ``theta``
        outside :math:`(0, \pi/2)`.

    Examples
    --------
    >>> import math, toymodel
    >>> toymodel.test_error_curve([0, 1000, 5000], eps=0.01, eta=0.1, s=1.0, theta=math.pi / 4,
    ...                           u=(0.0, 3.0)).round(3)
    array([1.   , 1.   , 0.033])
    """
    theta = check.theta_shift(theta)
    mu, nu = mean_trajectory(k, eps=eps, eta=eta, s=s, u=u, method=method, convention=convention)
    return test_error(np.stack(np.broadcast_arrays(mu, nu), axis=-1), eps=eps, theta=theta, formula=formula)


# these are library functions, not tests: keep pytest from collecting them where imported
test_error.__test__ = False
test_error_curve.__test__ = False
