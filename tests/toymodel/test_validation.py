"""Bad input raises ValueError naming the parameter and the allowed range."""

import numpy as np
import pytest

import toymodel as tm

OK = dict(eps=0.01, eta=0.1, s=1.0, theta=0.5, u=[0.0, 3.0])


@pytest.mark.parametrize("override,name", [
    ({"eps": 0.0}, "eps"), ({"eps": -1.0}, "eps"), ({"eta": 0.0}, "eta"), ({"s": -0.1}, "s"),
    ({"theta": 0.0}, "theta"), ({"theta": np.pi / 2}, "theta"), ({"eta": 0.8}, "eta"),
    ({"u": [1.0, 2.0, 3.0]}, "u"), ({"eps": np.nan}, "eps"),
])
def test_section3_entry_points(override, name):
    kw = {**OK, **override}
    with pytest.raises(ValueError, match=name):
        tm.plateau_length(kw.pop("eps"), **kw)
    kw = {**OK, **override}
    with pytest.raises(ValueError, match=name):
        tm.test_error_curve(3, **kw)


def test_divergence_per_method_and_convention():
    with pytest.raises(ValueError, match=r"eta.*diverges"):  # |1 - 2 eta m2| >= 1
        tm.mean_trajectory(1, eps=0.01, eta=0.5, s=1.0, u=[0, 1], convention="full")
    with pytest.raises(ValueError, match=r"eta must be < 2 here \(1 eta < 2"):
        tm.mean_trajectory(1, eps=0.01, eta=2.0, s=1.0, u=[0, 1], method="paper_egd")
    # a tiny eps is a slow contraction, not a divergence (1 - eta eps rounds to 1 in float64)
    mu, nu = tm.mean_trajectory(10**12, eps=1e-13, eta=0.1, s=1.0, u=[0, 3])
    assert nu == pytest.approx(3 * np.exp(-0.01), rel=1e-9)
    tm.mean_trajectory(1, eps=0.01, eta=5.0, s=1.0, u=[0, 1], method="egd")  # fixed-length steps
    with pytest.raises(ValueError, match="eta"):
        tm.equi_trajectory(1, eps=0.01, eta=1e3, theta=0.5, u=[0, 1])


def test_k_method_convention_and_theta_ranges():
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        tm.mean_trajectory(-1, eps=0.01, eta=0.1, s=1.0, u=[0, 1])
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        tm.equi_matrix_power(1.5, eps=0.01, eta=0.1, theta=0.5)
    with pytest.raises(ValueError, match="method"):
        tm.mean_trajectory(1, eps=0.01, eta=0.1, s=1.0, u=[0, 1], method="adam")
    with pytest.raises(ValueError, match="convention"):
        tm.mean_trajectory(1, eps=0.01, eta=0.1, s=1.0, u=[0, 1], convention="double")
    with pytest.raises(ValueError, match="theta"):
        tm.moments(0.01, 3.5)
    with pytest.raises(ValueError, match="theta"):
        tm.test_error([1.0, 0.0], eps=0.01, theta=-0.1)
    with pytest.raises(ValueError, match="formula"):
        tm.moments(0.01, 0.5, formula="guess")
    with pytest.raises(ValueError, match="s must be >= 0"):
        tm.truncated_moments(-1.0)
    with pytest.raises(ValueError, match="max_steps"):
        tm.plateau_length(0.01, eta=0.1, s=1.0, theta=0.5, u=[0, 3], max_steps=-1)
