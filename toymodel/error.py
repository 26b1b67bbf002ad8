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
    """Test error of w (Theorem 1, Eq. 7; Eq. 19 of Appendix A.3 is the same expression).

    E(w) = min(1, arccos(r_w)/arccos(r)), r_w = w1/sqrt(w1^2 + eps w2^2),
    r = cos(theta)/sqrt(cos^2 theta + eps sin^2 theta) for ``formula="theorem1"``; the
    default ``"geometric"`` agrees with it when w2 sin(theta) >= 0 and is exact otherwise.

    w: array (..., 2); eps > 0, theta in (0, pi] broadcast against w[..., 0].
    Returns an array of the broadcast shape, values in [0, 1].
    """
    check.choice("formula", formula, ERROR_FORMULAS)
    w = check.vector2("w", w)
    eps = check.positive("eps", eps)
    theta = check.theta_equi(theta)
    return _error_from_angles(wedge_angle(eps, theta), w[..., 0], w[..., 1], eps, formula)


def test_error_curve(k, *, eps, eta, s, theta, u, method=DEFAULT_METHOD,
                     convention=DEFAULT_CONVENTION_SECTION3, formula=DEFAULT_ERROR_FORMULA) -> np.ndarray:
    """E(w(k)) along the large-n iterates of ``mean_trajectory`` (Theorem 1 curve).

    theta in (0, pi/2) (Section 3). Broadcasting as in ``mean_trajectory`` plus theta.
    """
    theta = check.theta_shift(theta)
    mu, nu = mean_trajectory(k, eps=eps, eta=eta, s=s, u=u, method=method, convention=convention)
    return test_error(np.stack(np.broadcast_arrays(mu, nu), axis=-1), eps=eps, theta=theta, formula=formula)


# these are library functions, not tests: keep pytest from collecting them where imported
test_error.__test__ = False
test_error_curve.__test__ = False
