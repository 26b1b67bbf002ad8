"""Appendix A.3: moments vs quadrature and Monte Carlo, Cayley-Hamilton, eigenvalue scaling."""

import numpy as np
import pytest

from toymodel import (
    equi_matrix_power,
    equi_plateau_bounds,
    equi_plateau_length,
    equi_test_error_curve,
    equi_trajectory,
    has_plateau,
    moments,
)

MC_SIGMAS = 3.0
QUAD_RTOL = 1e-8
CH_RTOL = 1e-10


def sample_wedge(n, eps, theta, rng):
    """Exact draw of z | (z^T e1)(z^T v) <= 0: whitened radius chi(2), angle uniform on the arcs."""
    psi = np.arctan2(np.sqrt(eps) * np.sin(theta), np.cos(theta))
    R = np.sqrt(rng.chisquare(2, size=n))
    phi = -np.pi / 2 + psi * rng.random(n) + np.pi * rng.integers(0, 2, size=n)
    return np.stack([R * np.cos(phi), np.sqrt(eps) * R * np.sin(phi)], axis=1)


@pytest.mark.parametrize("eps,theta", [(0.01, 0.4), (0.05, 1.0), (0.1, 1.9), (0.02, np.pi)])
def test_moments_match_monte_carlo(eps, theta):
    rng = np.random.default_rng(4)
    mom = moments(eps, theta)
    x = sample_wedge(200_000, eps, theta, rng)
    y = np.sign(x[:, 0])
    samples = {"a": x[:, 0] ** 2, "b": x[:, 0] * x[:, 1], "d": x[:, 1] ** 2, "c1": x[:, 0] * y, "c2": x[:, 1] * y}
    for name, v in samples.items():
        assert abs(v.mean() - getattr(mom, name)) <= MC_SIGMAS * v.std() / np.sqrt(v.size), name
    # Z: the probability of the event under the unconditioned Gaussian
    z = rng.normal(size=(200_000, 2)) * [1, np.sqrt(eps)]
    hit = (z[:, 0] * (z @ [np.cos(theta), np.sin(theta)]) <= 0).mean()
    assert abs(hit - mom.Z) <= MC_SIGMAS * np.sqrt(mom.Z * (1 - mom.Z) / 200_000)


def test_quadrature_matches_closed_form_printed_integrals_do_not():
    eps, theta = np.array([0.01, 0.1]), np.array([0.6, 2.2])
    closed = moments(eps, theta)
    quad = moments(eps, theta, formula="quadrature")
    paper = moments(eps, theta, formula="paper_integrals")
    for name in ("Z", "a", "b", "d", "c1", "c2"):
        np.testing.assert_allclose(getattr(quad, name), getattr(closed, name), rtol=QUAD_RTOL)
    assert np.all(np.abs(paper.a / closed.a - 1) > 0.5)
    np.testing.assert_allclose(paper.b, closed.b, rtol=QUAD_RTOL)  # b, c2 do not see the sign


def test_eigenvalues_theta_eps_below_pi_over_2_only():
    eps = np.logspace(-6, -1, 6)
    for theta in (0.3, np.pi / 4, 1.2):
        lam = moments(eps, theta).eigenvalues / eps[:, None]
        assert np.all(lam.max(0) / lam.min(0) < 2.0)  # both lambda/eps bounded: Theta(eps)
    lam = moments(eps, 2.0).eigenvalues
    assert np.all(lam[:, 1] > 0.5)  # theta > pi/2: lambda+ = Theta(1), the claim fails


@pytest.mark.parametrize("convention", ["full", "half"])
def test_cayley_hamilton_vs_matrix_power(convention):
    eps, eta, theta = 0.01, 0.3, 0.8
    mom = moments(eps, theta)
    c = 2.0 if convention == "full" else 1.0
    M = np.eye(2) - c * eta * mom.Sigma
    k = np.array([0, 1, 2, 7, 50, 333])
    Mk = equi_matrix_power(k, eps=eps, eta=eta, theta=theta, convention=convention)
    for i, kk in enumerate(k):
        np.testing.assert_allclose(Mk[i], np.linalg.matrix_power(M, int(kk)), rtol=CH_RTOL, atol=1e-15)


def test_trajectory_matches_recursion_and_converges():
    eps, eta, theta, u = 0.01, 0.3, 0.8, np.array([0.1, 2.0])
    mom = moments(eps, theta)
    w, ws = u.copy(), [u.copy()]
    for _ in range(200):
        w = w - 2 * eta * (mom.Sigma @ w - mom.c)
        ws.append(w.copy())
    mu, nu = equi_trajectory(np.arange(201), eps=eps, eta=eta, theta=theta, u=u)
    np.testing.assert_allclose(np.stack([mu, nu], -1), np.array(ws), rtol=1e-10)
    mu, nu = equi_trajectory(10**9, eps=eps, eta=eta, theta=theta, u=u)
    np.testing.assert_allclose([mu, nu], mom.w_star, rtol=1e-8)


def test_plateau_curve_and_conditions():
    eps, eta, theta, u = 0.01, 0.1, 0.6, [0.0, 3.0]
    k = equi_plateau_length(eps, eta=eta, theta=theta, u=u)
    e = equi_test_error_curve(np.array([k - 1, k, 10**7]), eps=eps, eta=eta, theta=theta, u=u)
    assert e[0] == 1 and e[1] < 1 and e[2] < 1e-6
    # Eq. (19) verbatim returns to 1 at w* (nu* < 0), the exact error does not
    assert equi_test_error_curve(10**7, eps=eps, eta=eta, theta=theta, u=u, formula="theorem1") == 1.0
    assert has_plateau(eps, theta=theta, u=u) and not has_plateau(eps, theta=theta, u=[1.0, 0.1])
    lo, hi = equi_plateau_bounds(eps, eta=eta, theta=theta, u=u, c_hat=1.1, c_low=1.1)
    lead = equi_plateau_length(eps, eta=eta, theta=theta, u=u, regime="leading")
    assert lo < lead < hi
    half = equi_plateau_length(eps, eta=eta, theta=theta, u=u, convention="half", formula="theorem1")
    assert half == pytest.approx(2 * k, rel=0.05)
