"""Moments of the train marginal of Section 3 (Eq. 5), numerically stable for any s >= 0."""

from __future__ import annotations

import numpy as np
from scipy import special

from . import _validation as check

__all__ = ["truncated_moments"]

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


def truncated_moments(s) -> tuple[np.ndarray, np.ndarray]:
    """m1 = E|x1| = phi(s)/Q(s) and m2 = E x1^2 = 1 + s m1 for x1 ~ N(0,1) given |x1| >= s (Eq. 5).

    phi/Q is evaluated as sqrt(2/pi) / erfcx(s/sqrt(2)) (scaled complementary error
    function), so it neither underflows nor loses digits for large s (m1 ~ s + 1/s).
    The closed forms themselves are derived in ``toymodel.symbolic.moment_integrals``.

    s: float or array, s >= 0. Returns (m1, m2), arrays of the shape of s.
    """
    s = check.nonnegative("s", s)
    m1 = _SQRT_2_OVER_PI / special.erfcx(s / np.sqrt(2.0))
    return m1, 1.0 + s * m1
