"""Samplers: the conditioning event holds for every sample, moments match, seeds reproduce."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from toymodel.sampling import (
    sample_equi,
    sample_shift_test,
    sample_train,
    wedge_half_angle,
)

N_MOMENTS = 400_000
# moment checks: |sample mean - exact| <= Z_TOL standard errors (false alarm ~ 6e-7 per check)
Z_TOL = 5.0


def assert_mean(values, exact, label):
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - exact) <= Z_TOL * se + 1e-15, f"{label}: {values.mean()} vs {exact} (se {se})"


def wedge_moments(eps, theta):
    """Exact moments on the double wedge from R^2 ~ chi2(2) (E R^2 = 2) and the angle
    offset t ~ U(0, psi): z1 = -/+ R sin t, z2 = +/- sqrt(eps) R cos t."""
    psi = wedge_half_angle(eps, theta)
    return {
        "z1^2": 1.0 - math.sin(2 * psi) / (2 * psi),
        "z2^2": eps * (1.0 + math.sin(2 * psi) / (2 * psi)),
        "z1 z2": -math.sqrt(eps) * (1.0 - math.cos(2 * psi)) / (2 * psi),
        "|z1|": math.sqrt(math.pi / 2) * (1.0 - math.cos(psi)) / psi,  # E R = sqrt(pi/2)
    }


# ---------------------------------------------------------------- train distribution


@pytest.mark.parametrize("s", [0.0, 1.0, 3.0, 8.0])
def test_train_event_labels_and_moments(s):
    eps = 0.01
    X, y = sample_train(N_MOMENTS, eps=eps, s=s, seed=1)
    assert X.shape == (N_MOMENTS, 2) and y.shape == (N_MOMENTS,)
    assert np.all(np.abs(X[:, 0]) >= s)
    np.testing.assert_array_equal(y, np.sign(X[:, 0]))
    m1 = norm.pdf(s) / norm.sf(s)
    assert_mean(np.abs(X[:, 0]), m1, "E|x1| = m1")
    assert_mean(X[:, 0] ** 2, 1.0 + s * m1, "E x1^2 = m2")
    assert_mean(X[:, 1] ** 2, eps, "E x2^2 = eps")
    assert_mean(X[:, 1], 0.0, "E x2")
    assert_mean(X[:, 0] * X[:, 1], 0.0, "E x1 x2 (independence)")
    assert_mean(y, 0.0, "E y (fair sign)")


def test_train_tail_matches_truncated_normal_cdf():
    # Kolmogorov-Smirnov distance against the exact truncated CDF; 1.63/sqrt(n) is the 1% level
    s, n = 1.0, 100_000
    X, _ = sample_train(n, eps=0.1, s=s, seed=2)
    a = np.sort(np.abs(X[:, 0]))
    cdf = 1.0 - norm.sf(a) / norm.sf(s)
    ks = np.max(np.maximum(np.arange(1, n + 1) / n - cdf, cdf - np.arange(n) / n))
    assert ks < 1.63 / math.sqrt(n)


# ---------------------------------------------------------------- wedge distributions


@pytest.mark.parametrize(
    "sampler,theta",
    [(sample_shift_test, math.pi / 4), (sample_shift_test, 0.05), (sample_shift_test, 1.5),
     (sample_equi, math.pi / 4), (sample_equi, 2.5), (sample_equi, math.pi)],
)
@pytest.mark.parametrize("eps", [0.01, 0.5])
def test_wedge_event_holds_for_every_sample(sampler, theta, eps):
    X, y = sampler(N_MOMENTS, eps=eps, theta=theta, seed=3)
    v = np.array([math.cos(theta), math.sin(theta)])
    assert np.all((X @ v) * X[:, 0] <= 0.0)
    nonzero = X[:, 0] != 0
    np.testing.assert_array_equal(y[nonzero], np.sign(X[nonzero, 0]))
    assert set(np.unique(y)) <= {-1.0, 1.0}


@pytest.mark.parametrize("eps,theta", [(0.01, math.pi / 4), (0.01, math.pi / 3), (0.2, 2.0), (0.05, math.pi)])
def test_wedge_moments_exact(eps, theta):
    X, y = sample_equi(N_MOMENTS, eps=eps, theta=theta, seed=4)
    exact = wedge_moments(eps, theta)
    assert_mean(X[:, 0] ** 2, exact["z1^2"], "E z1^2")
    assert_mean(X[:, 1] ** 2, exact["z2^2"], "E z2^2")
    assert_mean(X[:, 0] * X[:, 1], exact["z1 z2"], "E z1 z2")
    assert_mean(X[:, 0] * y, exact["|z1|"], "E z1 y")
    assert_mean(X[:, 0], 0.0, "E z1 (antipodal symmetry)")


@pytest.mark.parametrize("eps,theta", [(0.3, math.pi / 4), (0.3, 2.2)])
def test_wedge_matches_rejection_sampling(eps, theta):
    # an independent construction: plain Gaussian draws, keep those in the event
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((2 * N_MOMENTS, 2)) * np.array([1.0, math.sqrt(eps)])
    v = np.array([math.cos(theta), math.sin(theta)])
    inside = (Z @ v) * Z[:, 0] <= 0.0
    # probability of the event is psi/pi (the Z of Appendix A.3)
    p = wedge_half_angle(eps, theta) / math.pi
    assert abs(inside.mean() - p) <= Z_TOL * math.sqrt(p * (1 - p) / inside.size)
    Zr = Z[inside]
    X, _ = sample_equi(N_MOMENTS, eps=eps, theta=theta, seed=6)
    for name, f in [("z1^2", lambda A: A[:, 0] ** 2), ("z2^2", lambda A: A[:, 1] ** 2),
                    ("z1 z2", lambda A: A[:, 0] * A[:, 1]), ("|z2|", lambda A: np.abs(A[:, 1]))]:
        a, b = f(X), f(Zr)
        se = math.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) <= Z_TOL * se, name


def test_equi_at_pi_is_the_plain_gaussian():
    eps = 0.04
    X, _ = sample_equi(N_MOMENTS, eps=eps, theta=math.pi, seed=7)
    assert_mean(X[:, 0] ** 2, 1.0, "E z1^2")
    assert_mean(X[:, 1] ** 2, eps, "E z2^2")
    assert_mean(X[:, 0] * X[:, 1], 0.0, "E z1 z2")


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    "draw",
    [lambda seed: sample_train(1000, eps=0.1, s=1.0, seed=seed),
     lambda seed: sample_shift_test(1000, eps=0.1, theta=0.7, seed=seed),
     lambda seed: sample_equi(1000, eps=0.1, theta=2.0, seed=seed)],
)
def test_same_seed_same_samples(draw):
    X1, y1 = draw(11)
    X2, y2 = draw(11)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = draw(12)
    assert not np.array_equal(X1, X3)
    X4, _ = draw(np.random.default_rng(11))  # a Generator is accepted too
    assert X4.shape == X1.shape


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,name",
    [(lambda: sample_train(0, eps=0.1, s=1.0), "n"),
     (lambda: sample_train(2.5, eps=0.1, s=1.0), "n"),
     (lambda: sample_train(10, eps=0.0, s=1.0), "eps"),
     (lambda: sample_train(10, eps=-1.0, s=1.0), "eps"),
     (lambda: sample_train(10, eps=math.nan, s=1.0), "eps"),
     (lambda: sample_train(10, eps=0.1, s=-0.5), "s"),
     (lambda: sample_train(10, eps=0.1, s=math.inf), "s"),
     (lambda: sample_shift_test(10, eps=0.1, theta=0.0), "theta"),
     (lambda: sample_shift_test(10, eps=0.1, theta=math.pi / 2), "theta"),
     (lambda: sample_shift_test(10, eps=0.1, theta=-0.3), "theta"),
     (lambda: sample_shift_test(0, eps=0.1, theta=0.3), "n"),
     (lambda: sample_equi(10, eps=0.1, theta=0.0), "theta"),
     (lambda: sample_equi(10, eps=0.1, theta=3.2), "theta"),
     (lambda: sample_equi(10, eps=0.0, theta=1.0), "eps"),
     (lambda: sample_train(10, eps=0.1, s=1.0, seed="x"), "seed")],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()
