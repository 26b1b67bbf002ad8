"""Large-n iterates: closed form equals the iterated recursion; EGD proper's 2-cycle."""

import math

import numpy as np
import pytest

from toymodel import mean_trajectory, truncated_moments

REL_TOL = 1e-10
PARAMS = dict(eps=0.01, eta=0.1, s=1.0, u=[0.2, 3.0])


def _iterate(K, *, eps, eta, s, u, method, convention):
    m1, m2 = (float(x) for x in truncated_moments(s))
    c = 1.0 if convention == "half" else 2.0
    w = np.array(u, float)
    sigma, cross = np.diag([m2, eps]), np.array([m1, 0.0])
    out = [w.copy()]
    for _ in range(K):
        g = c * (sigma @ w - cross)
        if method == "gd":
            w = w - eta * g
        elif method == "paper_egd":
            w = w - eta * np.linalg.solve(sigma, g)
        else:
            w = w - eta * g / np.linalg.norm(g)
        out.append(w.copy())
    return np.array(out)


@pytest.mark.parametrize("method", ["gd", "paper_egd", "egd"])
@pytest.mark.parametrize("convention", ["half", "full"])
def test_matches_iterated_recursion(method, convention):
    K = 400
    ref = _iterate(K, method=method, convention=convention, **PARAMS)
    k = np.arange(K + 1)
    mu, nu = mean_trajectory(k, method=method, convention=convention, **PARAMS)
    np.testing.assert_allclose(mu, ref[:, 0], rtol=REL_TOL, atol=1e-300)
    np.testing.assert_allclose(nu, ref[:, 1], rtol=REL_TOL, atol=1e-300)


def test_limits_and_broadcasting():
    m1, m2 = truncated_moments(1.0)
    mu, nu = mean_trajectory(0, **PARAMS)
    assert (mu, nu) == (0.2, 3.0)
    mu, nu = mean_trajectory(10**6, **PARAMS)
    assert mu == pytest.approx(m1 / m2) and abs(nu) < 1e-12
    eps = np.array([1e-3, 1e-2, 1e-1])[:, None]
    k = np.arange(5)[None, :]
    for method in ("gd", "egd"):
        mu, nu = mean_trajectory(k, eps=eps, eta=0.1, s=1.0, u=[0.0, 1.0], method=method)
        assert mu.shape == (3, 5)
        mu1, _ = mean_trajectory(4, eps=1e-2, eta=0.1, s=1.0, u=[0.0, 1.0], method=method)
        assert mu[1, 4] == mu1


def test_egd_moves_eta_per_step_and_chatters_on_a_two_cycle():
    eps, eta, s = 1e-3, 0.1, 1.0
    m1, m2 = (float(x) for x in truncated_moments(s))
    k = np.arange(4001)
    mu, nu = mean_trajectory(k, eps=eps, eta=eta, s=s, u=[0.0, 3.0], method="egd")
    steps = np.hypot(np.diff(mu), np.diff(nu))
    np.testing.assert_allclose(steps, eta, rtol=1e-12)
    delta = mu - m1 / m2
    d1, d2 = delta[3000], delta[3001]
    assert d1 * d2 < 0 and delta[3002] == pytest.approx(d1, abs=1e-6)
    assert abs(d1) + abs(d2) == pytest.approx(eta, rel=1e-3)
    x = abs(d1) / (abs(d1) + abs(d2))
    predicted = -math.log1p(-(eps / (2 * m2)) * (1 / x + 1 / (1 - x)))
    measured = -(math.log(nu[3800]) - math.log(nu[3000])) / 800
    assert measured == pytest.approx(predicted, rel=1e-2)
    assert measured >= 2 * eps / m2  # the symmetric cycle is the slowest
