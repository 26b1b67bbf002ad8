"""m1, m2 of Eq. (5) against quadrature and Monte Carlo."""

import numpy as np
import pytest
from scipy import integrate, stats

from toymodel import truncated_moments

QUAD_RTOL = 1e-10
MC_SIGMAS = 3.0


@pytest.mark.parametrize("s", [0.0, 0.3, 1.0, 2.5])
def test_against_quadrature(s):
    tail = stats.norm.sf(s)
    q1 = integrate.quad(lambda t: t * stats.norm.pdf(t), s, np.inf)[0] / tail
    q2 = integrate.quad(lambda t: t * t * stats.norm.pdf(t), s, np.inf)[0] / tail
    m1, m2 = truncated_moments(s)
    assert m1 == pytest.approx(q1, rel=QUAD_RTOL)
    assert m2 == pytest.approx(q2, rel=QUAD_RTOL)


def test_against_monte_carlo():
    rng = np.random.default_rng(0)
    s = 1.0
    x = stats.truncnorm.rvs(s, np.inf, size=400_000, random_state=rng)  # |x1| given |x1| >= s
    m1, m2 = truncated_moments(s)
    for est, val in ((x, m1), (x**2, m2)):
        assert abs(est.mean() - val) < MC_SIGMAS * est.std() / np.sqrt(est.size)


def test_vectorised_and_stable_for_large_s():
    s = np.array([[0.0, 10.0], [40.0, 1e3]])
    m1, m2 = truncated_moments(s)
    assert m1.shape == s.shape and np.all(np.isfinite(m1))
    assert m1[0, 0] == pytest.approx(np.sqrt(2 / np.pi))
    np.testing.assert_allclose(m1[1], s[1] + 1 / s[1], rtol=1e-3)  # Mills ratio asymptotics
    np.testing.assert_allclose(m2, 1 + s * m1)
