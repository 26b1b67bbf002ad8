"""Test error: geometric formula vs Monte Carlo of the test distribution; Eq. (7) where it holds."""

import numpy as np
import pytest

from toymodel import test_error


def sample_wedge(n, eps, theta, rng):
    """Exact draw of z | (z^T e1)(z^T v) <= 0: whitened radius chi(2), angle uniform on the arcs."""
    psi = np.arctan2(np.sqrt(eps) * np.sin(theta), np.cos(theta))
    R = np.sqrt(rng.chisquare(2, size=n))
    phi = -np.pi / 2 + psi * rng.random(n) + np.pi * rng.integers(0, 2, size=n)
    return np.stack([R * np.cos(phi), np.sqrt(eps) * R * np.sin(phi)], axis=1)

MC_SIGMAS = 3.0
N = 200_000


@pytest.mark.parametrize("theta", [0.4, 1.1, 2.0])
@pytest.mark.parametrize("w", [(1.0, 2.0), (1.0, 20.0), (1.0, -20.0), (-1.0, -5.0), (-1.0, 0.3), (1.0, 0.0)])
def test_geometric_error_matches_monte_carlo(theta, w):
    eps = 0.05
    x = sample_wedge(N, eps, theta, np.random.default_rng(1))
    wrong = np.sign(x @ np.array(w)) != np.sign(x[:, 0])
    p = test_error(np.array(w), eps=eps, theta=theta)
    assert abs(wrong.mean() - p) <= MC_SIGMAS * np.sqrt(max(p * (1 - p), 1 / N) / N)


def test_theorem1_equals_geometric_for_nonnegative_w2_only():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(500, 2)) * [1, 10]
    w_pos = np.column_stack([w[:, 0], np.abs(w[:, 1])])
    for theta in (0.3, 1.0, 1.5):
        np.testing.assert_allclose(test_error(w_pos, eps=0.01, theta=theta),
                                   test_error(w_pos, eps=0.01, theta=theta, formula="theorem1"), atol=1e-14)
    # w = (1, -1) classifies every test point correctly; Eq. (7) says error 1
    assert test_error([1.0, -1.0], eps=0.01, theta=0.5) == 0.0
    assert test_error([1.0, -1.0], eps=0.01, theta=0.5, formula="theorem1") == 1.0


def test_zero_vector_is_always_wrong_and_range():
    assert test_error([0.0, 0.0], eps=0.1, theta=0.5) == 1.0
    e = test_error(np.random.default_rng(3).normal(size=(100, 2)), eps=0.1, theta=np.pi)
    assert np.all((e >= 0) & (e <= 1))
