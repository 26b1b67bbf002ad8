"""The toy model with an L2 term: the paper's toy at weight decay 0, the gradient map iterated
directly, and what the weight decay does to the plateau."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodel import l2_plateau_length, l2_trajectory, mean_trajectory, plateau_length, test_error
from toymodel.train_moments import truncated_moments

BASE = dict(eta=0.1, s=1.0, u=(0.0, 3.0))


@settings(max_examples=25, deadline=None)
@given(eps=st.floats(1e-3, 0.3), eta=st.floats(0.01, 0.5), theta=st.floats(0.2, 1.3),
       u2=st.floats(0.5, 5.0), method=st.sampled_from(("gd", "egd")))
def test_without_weight_decay_it_is_the_papers_toy(eps, eta, theta, u2, method):
    kw = dict(eps=eps, eta=eta, s=1.0, u=(0.0, u2))
    mu, nu = l2_trajectory(300, weight_decay=0.0, method=method, **kw)
    want_mu, want_nu = mean_trajectory(np.arange(301), method=method, **kw)
    np.testing.assert_allclose(mu, want_mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nu, want_nu, rtol=1e-12, atol=1e-12)
    got = l2_plateau_length(weight_decay=0.0, theta=theta, method=method, max_steps=20_000, **kw)
    want = float(plateau_length(eps, eta=eta, s=1.0, theta=theta, u=(0.0, u2), method=method, regime="exact",
                                max_steps=20_000))
    assert got == want


@pytest.mark.parametrize("method", ["gd", "egd"])
@pytest.mark.parametrize("lam", [0.003, 0.2, 1.5])
def test_the_iterates_are_the_l2_gradient_map_iterated(method, lam):
    # g(w) = (m2 mu - m1, eps nu) + lam w, stepped plainly or normalised, one step at a time
    eps, eta = 0.02, 0.1
    m1, m2 = (float(x) for x in truncated_moments(1.0))
    w = np.array(BASE["u"], dtype=float)
    want = [w.copy()]
    for _ in range(200):
        g = np.array([m2 * w[0] - m1, eps * w[1]]) + lam * w
        w = w - eta * (g / np.linalg.norm(g) if method == "egd" else g)
        want.append(w.copy())
    mu, nu = l2_trajectory(200, eps=eps, weight_decay=lam, method=method, **BASE)
    np.testing.assert_allclose(np.stack([mu, nu], axis=-1), np.array(want), rtol=1e-10, atol=1e-12)


def test_the_plateau_ends_at_the_first_step_below_error_one():
    kw = dict(eps=0.01, theta=math.pi / 4, weight_decay=0.05, **BASE)
    for method in ("gd", "egd"):
        k = l2_plateau_length(method=method, **kw)
        mu, nu = l2_trajectory(int(k), eps=0.01, weight_decay=0.05, method=method, **BASE)
        errors = test_error(np.stack([mu, nu], axis=-1), eps=0.01, theta=math.pi / 4)
        assert errors[-1] < 1 and np.all(errors[:-1] == 1)


def test_weight_decay_shortens_the_gd_plateau_and_never_stalls_it():
    lams = [0.0, 1e-3, 1e-2, 1e-1, 1.0]
    k = [l2_plateau_length(eps=0.001, theta=math.pi / 4, weight_decay=lam, **BASE) for lam in lams]
    assert all(math.isfinite(x) for x in k) and k == sorted(k, reverse=True) and k[0] > 10 * k[-1]


def test_a_plateau_past_the_budget_is_inf():
    assert l2_plateau_length(eps=1e-6, theta=math.pi / 4, weight_decay=0.0, max_steps=50, **BASE) == math.inf


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(weight_decay=-0.1), "weight_decay"),
    (dict(weight_decay=float("nan")), "weight_decay"),
    (dict(weight_decay=0.1, eta=1.9), "eta"),  # gd: eta (m2 + weight_decay) >= 2 diverges
    (dict(weight_decay=0.1, method="paper_egd"), "method"),
    (dict(weight_decay=0.1, u=(0.0, 1.0, 2.0)), "u"),
    (dict(weight_decay=0.1, u=[(0.0, 1.0), (0.0, 2.0)]), "u"),
])
def test_bad_input_names_the_parameter(kwargs, match):
    kw = dict(eps=0.01, eta=0.1, s=1.0, u=(0.0, 3.0)) | kwargs
    with pytest.raises(ValueError, match=match):
        l2_trajectory(5, **kw)
    with pytest.raises(ValueError, match=match):
        l2_plateau_length(theta=0.5, **kw)
