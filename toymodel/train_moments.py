"""Moments of the train marginal of Section 3 (Eq. 5), numerically stable for any s >= 0."""

from __future__ import annotations

import numpy as np
from scipy import special

from . import _validation as check

__all__ = ["truncated_moments"]

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


def truncated_moments(s) -> tuple[np.ndarray, np.ndarray]:
    r"""Moments of the train marginal of Section 3: :math:`m_1 = E|x_1|` and :math:`m_2 = E x_1^2` (Eq. 5).

    For :math:`x_1 \sim N(0, 1)` conditioned on :math:`|x_1| \ge s`,
    :math:`m_1 = \varphi(s)/Q(s)` and :math:`m_2 = 1 + s\, m_1`. The ratio is evaluated as
    :math:`\sqrt{2/\pi} / \mathrm{erfcx}(s/\sqrt 2)`, so it neither underflows nor loses digits for
    large ``s`` (where :math:`m_1 \approx s + 1/s`). The closed forms are derived, not typed, in
    :func:`toymodel.symbolic.moment_integrals`.

    Parameters
    ----------
    s : float or array_like
        Truncation level, :math:`s \ge 0` (any shape).

    Returns
    -------
    m1, m2 : ndarray
        Two float arrays of the shape of ``s``.

    Raises
    ------
    ValueError
        If ``s`` is negative or not finite.

    Examples
    --------
    >>> import toymodel
    >>> m1, m2 = toymodel.truncated_moments(1.0)
    >>> print(f"{m1:.4f} {m2:.4f}")
    1.5251 2.5251
    """
    s = check.nonnegative("s", s)
    m1 = _SQRT_2_OVER_PI / special.erfcx(s / np.sqrt(2.0))
    return m1, 1.0 + s * m1
