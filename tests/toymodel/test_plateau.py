"""Plateau length: exact crossing vs Corollary 1, and the eps-scaling laws, measured."""

import numpy as np
import pytest

from toymodel import plateau_length, plateau_ratio, test_error_curve

BASE = dict(eta=0.1, s=1.0, u=[0.0, 3.0])
EPS_GRID = np.logspace(-4, -1, 13)
SLOPE_TOL = 0.05
CROSSING_RTOL = 0.01


def _slope(eps, k):
    return np.polyfit(np.log(eps), np.log(k), 1)[0]


def test_exact_is_first_k_with_error_below_one():
    for method in ("gd", "paper_egd", "egd"):
        k = plateau_length(0.01, theta=0.5, method=method, **BASE)
        assert np.isfinite(k) and k >= 1
        e = test_error_curve(np.array([k - 1, k]), eps=0.01, theta=0.5, method=method, **BASE)
        assert e[0] == 1.0 and e[1] < 1.0


@pytest.mark.parametrize("theta", [0.35, 0.6, 1.2])
def test_derived_threshold_matches_exact_crossing_paper_does_not(theta):
    eps = np.array([1e-3, 1e-2])
    exact = plateau_length(eps, theta=theta, **BASE)
    derived = plateau_length(eps, theta=theta, regime="large_init", **BASE)
    paper = plateau_length(eps, theta=theta, regime="large_init", tau_formula="paper", **BASE)
    np.testing.assert_allclose(derived, exact, rtol=CROSSING_RTOL)
    assert np.all(np.abs(paper / exact - 1) > 0.2)  # tan vs cot: off by log(tan^2)/log(tau)
    ratio = plateau_ratio(s=1.0, theta=theta, u=[0.0, 3.0], formula="paper") / plateau_ratio(
        s=1.0, theta=theta, u=[0.0, 3.0])
    assert ratio == pytest.approx(np.tan(theta) ** 2)


def test_theta_pi_over_4_both_thresholds_agree():
    a = plateau_length(1e-2, theta=np.pi / 4, regime="large_init", **BASE)
    b = plateau_length(1e-2, theta=np.pi / 4, regime="large_init", tau_formula="paper", **BASE)
    assert a == pytest.approx(b)


def test_gd_slope_is_minus_one():
    k = plateau_length(EPS_GRID, theta=np.pi / 4, **BASE)
    assert _slope(EPS_GRID, k) == pytest.approx(-1.0, abs=SLOPE_TOL)


def test_paper_egd_slope_is_zero():
    k = plateau_length(EPS_GRID, theta=np.pi / 4, method="paper_egd", **BASE)
    assert _slope(EPS_GRID, k) == pytest.approx(0.0, abs=SLOPE_TOL)


def test_egd_plateau_still_grows_like_a_power_of_one_over_eps():
    # measured, not assumed: between -1 and -0.5 over [1e-4, 1e-1] at this init (see the chapter)
    k = plateau_length(EPS_GRID, theta=np.pi / 4, method="egd", **BASE)
    slope = _slope(EPS_GRID, k)
    assert -1.0 - SLOPE_TOL < slope < -0.5
    gd = plateau_length(EPS_GRID, theta=np.pi / 4, **BASE)
    assert np.all(k < gd)
    # the phase estimate (symmetric 2-cycle) is an upper estimate of the exact length
    est = plateau_length(EPS_GRID, theta=np.pi / 4, method="egd", regime="large_init", **BASE)
    assert np.all(est >= 0.9 * k)


def test_full_convention_halves_gd_plateau():
    half = plateau_length(1e-3, theta=0.5, **BASE)
    full = plateau_length(1e-3, theta=0.5, convention="full", **BASE)
    assert full / half == pytest.approx(0.5, rel=CROSSING_RTOL)


def test_small_init_regimes():
    small = dict(eta=0.1, s=1.0, u=[0.0, 0.05])
    exact = plateau_length(1e-3, theta=0.5, **small)
    ours = plateau_length(1e-3, theta=0.5, regime="small_init_fast", **small)
    paper = plateau_length(1e-3, theta=0.5, regime="small_init", **small)
    assert abs(exact - ours) <= 1.0  # eps-free: nu barely moves while mu relaxes
    assert paper > 10 * exact  # Corollary 1 (B)'s log(1/(tau eps)) is not what happens
    assert np.isfinite(plateau_length(1e-3, theta=0.5, method="paper_egd", regime="small_init_fast", **small))
    assert plateau_length(1e-3, theta=0.5, method="egd", regime="small_init_fast", **small) >= 0
    with pytest.raises(ValueError, match="regime"):
        plateau_length(1e-3, theta=0.5, method="egd", regime="small_init", **small)


def test_theorem1_formula_and_max_steps_options():
    a = plateau_length(1e-2, theta=0.5, formula="theorem1", **BASE)
    assert a == plateau_length(1e-2, theta=0.5, **BASE)
    assert plateau_length(1e-4, theta=0.5, max_steps=10, **BASE) == np.inf
    assert plateau_length(1e-4, theta=0.5, method="egd", max_steps=10, **BASE) == np.inf
