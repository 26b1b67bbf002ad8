"""Finite-n optimisers: closed forms of the linear rules, EGD's unit steps, SGD, test error."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from toymodel.sampling import sample_shift_test, sample_train
from toymodel.simulate import (
    CONVENTIONS,
    _batch_statistics,
    gradient_factor,
    misclassification_rate,
    sufficient_statistics,
    train_trajectory,
)

CLOSED_FORM_RTOL = 1e-10
EPS, S, ETA, U = 0.05, 1.0, 0.1, (0.2, 3.0)


@pytest.fixture(scope="module")
def train():
    return sample_train(5000, eps=EPS, s=S, seed=0)


def test_sufficient_statistics(train):
    X, y = train
    Sigma, c = sufficient_statistics(X, y)
    np.testing.assert_allclose(Sigma, X.T @ X / len(y))
    np.testing.assert_allclose(c, X.T @ y / len(y))
    assert np.allclose(Sigma, Sigma.T)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_gd_equals_closed_form_eq4(train, convention):
    # Eq. (4): w(k) = A^k w(0) + (I - A^k) w_ols, A = I - f eta Sigma^ (f = 1 or 2)
    X, y = train
    steps = 300
    W = train_trajectory(X, y, u=U, eta=ETA, steps=steps, method="gd", convention=convention)
    Sigma, c = sufficient_statistics(X, y)
    A = np.eye(2) - gradient_factor(convention) * ETA * Sigma
    w_ols = np.linalg.solve(Sigma, c)
    for k in (0, 1, 7, 100, steps):
        Ak = np.linalg.matrix_power(A, k)
        expected = Ak @ np.array(U) + (np.eye(2) - Ak) @ w_ols
        np.testing.assert_allclose(W[k], expected, rtol=CLOSED_FORM_RTOL)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_paper_egd_equals_closed_form(train, convention):
    # Eq. (9): w(k) = a^k w(0) + (1 - a^k) w_ols with a = 1 - f eta: no eps anywhere
    X, y = train
    W = train_trajectory(X, y, u=U, eta=ETA, steps=80, method="paper_egd", convention=convention)
    Sigma, c = sufficient_statistics(X, y)
    w_ols = np.linalg.solve(Sigma, c)
    a = 1.0 - gradient_factor(convention) * ETA
    k = np.arange(81)[:, None]
    np.testing.assert_allclose(W, a**k * np.array(U) + (1 - a**k) * w_ols, rtol=CLOSED_FORM_RTOL, atol=1e-14)


def test_egd_takes_unit_steps_against_the_gradient(train):
    X, y = train
    W = train_trajectory(X, y, u=U, eta=ETA, steps=50, method="egd")
    Sigma, c = sufficient_statistics(X, y)
    steps = np.diff(W, axis=0)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=1), ETA, rtol=1e-12)
    grads = W[:-1] @ Sigma - c  # Sigma symmetric
    cos = -np.sum(steps * grads, axis=1) / (np.linalg.norm(steps, axis=1) * np.linalg.norm(grads, axis=1))
    np.testing.assert_allclose(cos, 1.0, rtol=1e-12)
    # the factor 2 of the gradient cancels in g / ||g||
    W_full = train_trajectory(X, y, u=U, eta=ETA, steps=50, method="egd", convention="full")
    np.testing.assert_allclose(W_full, W, rtol=1e-12)


def test_egd_stays_at_a_stationary_point(train):
    X, y = train
    Sigma, c = sufficient_statistics(X, y)
    w_ols = np.linalg.solve(Sigma, c)
    W = train_trajectory(X, y, u=w_ols, eta=ETA, steps=5, method="egd")
    np.testing.assert_allclose(W, np.tile(w_ols, (6, 1)), atol=1e-12)


@pytest.mark.parametrize("method", ["gd", "paper_egd", "egd"])
def test_one_batch_of_everything_is_full_batch(train, method):
    X, y = train
    full = train_trajectory(X, y, u=U, eta=ETA, steps=40, method=method)
    sgd = train_trajectory(X, y, u=U, eta=ETA, steps=40, method=method, batch_size=len(y), seed=0)
    np.testing.assert_allclose(sgd, full, rtol=1e-9, atol=1e-12)


def test_sgd_is_seeded_and_converges_near_gd(train):
    X, y = train
    a = train_trajectory(X, y, u=U, eta=ETA, steps=3000, batch_size=32, seed=1)
    b = train_trajectory(X, y, u=U, eta=ETA, steps=3000, batch_size=32, seed=1)
    c = train_trajectory(X, y, u=U, eta=ETA, steps=3000, batch_size=32, seed=2, convention="full")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[1:], c[1:])
    gd = train_trajectory(X, y, u=U, eta=ETA, steps=3000)
    # same mean dynamics: the batch gradient is unbiased; noise ~ sqrt(eta / B) on w1
    assert abs(a[-1, 0] - gd[-1, 0]) < 0.1
    assert abs(a[-1, 1] - gd[-1, 1]) < 0.1 * abs(gd[-1, 1]) + 0.05


def test_sgd_epoch_uses_every_point_once(train):
    # B divides n: the mean of one epoch's batch statistics is the full-batch statistic;
    # the next epoch is a fresh permutation (different batches, same mean)
    X, y = train
    B = 50
    per_epoch = len(y) // B
    stats = _batch_statistics(X, y, steps=2 * per_epoch, batch_size=B, rng=np.random.default_rng(0))
    Sigma, c = sufficient_statistics(X, y)
    full = [Sigma[0, 0], Sigma[0, 1], Sigma[1, 1], c[0], c[1]]
    for epoch in (stats[:per_epoch], stats[per_epoch:]):
        np.testing.assert_allclose(epoch.mean(axis=0), full, rtol=1e-10, atol=1e-15)
    assert not np.allclose(stats[:per_epoch], stats[per_epoch:])


def test_zero_steps(train):
    X, y = train
    np.testing.assert_array_equal(train_trajectory(X, y, u=U, eta=ETA, steps=0), [U])
    np.testing.assert_array_equal(train_trajectory(X, y, u=U, eta=ETA, steps=0, batch_size=8), [U])


# ---------------------------------------------------------------- test error


def brute_force_error(W, X, y):
    """sign(X w) != y, point by point, with each nonzero row of W rescaled by an exact
    power of two to max |w_j| in [0.5, 1): the direction is kept bit for bit, and the
    scores of a subnormal w no longer underflow (the documented semantics)."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    _, exponent = np.frexp(np.max(np.abs(W), axis=1))
    W = np.ldexp(W, -exponent[:, None])
    error = np.mean(np.sign(X @ W.T) != y[:, None], axis=0)
    return np.where(np.all(W == 0, axis=1), 1.0, error)


def random_points(seed, n=500):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)) * np.array([1.0, 0.3])
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return X, y


@settings(max_examples=60, deadline=None)
@given(w1=st.floats(-5, 5), w2=st.floats(-5, 5), seed=st.integers(0, 2**16))
@example(w1=0.0, w2=5e-324, seed=0)  # found by a random run: X @ w underflows to 0
@example(w1=-5e-324, w2=5e-324, seed=1)
@example(w1=2.2e-308, w2=-1e-310, seed=2)
def test_misclassification_rate_equals_brute_force(w1, w2, seed):
    X, y = random_points(seed)
    W = np.array([[w1, w2], [-w1, w2], [w2, -w1]])
    np.testing.assert_array_equal(misclassification_rate(W, X, y), brute_force_error(W, X, y))


def test_subnormal_weight_classifies_like_its_direction():
    # the example from a failing CI run, kept explicitly: seed 0, w = (0, 5e-324)
    X, y = random_points(0)
    tiny = misclassification_rate([[0.0, 5e-324], [-0.0, 5e-324], [5e-324, -0.0]], X, y)
    unit = misclassification_rate([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], X, y)
    np.testing.assert_array_equal(tiny, unit)
    assert np.all(tiny < 0.9)  # underflowed scores would have given ~0.96 (every point a tie)


def test_non_finite_weights_give_nan_not_a_perfect_score():
    X, y = random_points(3)
    W = np.array([[np.nan, np.nan], [np.inf, 0.0], [1.0, -np.inf], [1.0, 0.0]])
    error = misclassification_rate(W, X, y)
    assert np.all(np.isnan(error[:3]))
    assert np.isfinite(error[3])


def test_a_diverged_trajectory_is_refused_and_a_diverged_weight_scored_nan():
    X, y = sample_train(2_000, eps=0.01, s=1.0, seed=0)
    with pytest.raises(ValueError, match=r"eta must be < 0\.7\d+, the stability limit of method='gd'"):
        train_trajectory(X, y, u=(0, 3), eta=100.0, steps=400)  # used to return W[-1] = [nan, nan]
    Xt, yt = sample_shift_test(2_000, eps=0.01, theta=math.pi / 4, seed=1)
    assert np.isnan(misclassification_rate([np.nan, np.nan], Xt, yt)[0])


def test_misclassification_rate_on_the_shift_test_set():
    X, y = sample_shift_test(20_000, eps=0.01, theta=math.pi / 4, seed=3)
    angles = np.linspace(-math.pi, math.pi, 97)
    W = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    np.testing.assert_array_equal(misclassification_rate(W, X, y), brute_force_error(W, X, y))
    assert misclassification_rate([[1.0, 0.0]], X, y)[0] == 0.0  # the Bayes rule sign(x1)
    assert misclassification_rate([[-1.0, 0.0]], X, y)[0] == 1.0
    assert misclassification_rate([[0.0, 0.0]], X, y)[0] == 1.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,name",
    [(dict(method="adam"), "method"), (dict(convention="double"), "convention"),
     (dict(eta=0.0), "eta"), (dict(eta=-1.0), "eta"), (dict(steps=-1), "steps"),
     (dict(steps=1.5), "steps"), (dict(u=(1.0, 2.0, 3.0)), "u"), (dict(u=(math.nan, 0.0)), "u"),
     (dict(batch_size=0), "batch_size"), (dict(batch_size=10**9), "batch_size"),
     (dict(batch_size=1, method="paper_egd"), "batch_size")],
)
def test_bad_input_names_the_parameter(train, kwargs, name):
    X, y = train
    call = dict(u=U, eta=ETA, steps=3) | kwargs
    with pytest.raises(ValueError, match=rf"^{name} "):
        train_trajectory(X, y, **call)


def test_bad_data_shapes():
    with pytest.raises(ValueError, match="^X "):
        train_trajectory(np.zeros((4, 3)), np.zeros(4), u=U, eta=ETA, steps=1)
    with pytest.raises(ValueError, match="^y "):
        train_trajectory(np.zeros((4, 2)), np.zeros(5), u=U, eta=ETA, steps=1)
    with pytest.raises(ValueError, match="^W "):
        misclassification_rate(np.zeros((2, 3)), np.zeros((4, 2)), np.ones(4))
