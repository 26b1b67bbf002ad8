"""The symbolic layer derives the paper's closed forms (checked by substitution)."""

import numpy as np
import pytest
import sympy as sp

from toymodel import symbolic as S
from toymodel import truncated_moments

TOL = 1e-12


def test_truncated_moment_integrals_reduce_to_paper_forms():
    r1, r2 = S.moment_closed_form_residuals()
    assert r1 == 0 and r2 == 0


def test_lambdified_moments_match_numeric_layer():
    s = np.array([0.1, 0.5, 1.0, 2.0, 3.0])
    m1, m2 = truncated_moments(s)
    np.testing.assert_allclose(S.lambdified("m1")(s), m1, rtol=1e-10)
    np.testing.assert_allclose(S.lambdified("m2")(s), m2, rtol=1e-10)


@pytest.mark.parametrize("method", ["gd", "paper_egd"])
@pytest.mark.parametrize("convention", ["half", "full"])
def test_closed_form_solves_recursion(method, convention):
    assert S.recursion_residual(method, convention) == sp.zeros(6, 1)


def test_iteration_matrices():
    assert S.iteration_matrix("gd", "half") == sp.diag(1 - S.eta * S.m2, 1 - S.eta * S.eps)
    assert S.iteration_matrix("paper_egd", "full") == (1 - 2 * S.eta) * sp.eye(2)
    with pytest.raises(ValueError, match="nonlinear"):
        S.iteration_matrix("egd")


def test_threshold_is_tan_not_cot():
    num = S.threshold_inequality()["numerator"]
    expected = S.eps * (S.mu**2 * sp.sin(S.theta) ** 2 - S.nu**2 * sp.cos(S.theta) ** 2)
    assert sp.simplify(num - expected) == 0
    # the Corollary 1 ratio that follows from it differs from the printed one by tan^2
    assert sp.simplify(S.tau_paper / S.tau_derived - sp.tan(S.theta) ** 2) == 0


def test_corollary1_series_leading_term():
    tau = sp.Symbol("tau", positive=True)
    ser = S.k_star_series("half")
    assert sp.simplify(ser - (sp.log(tau) / (S.eta * S.eps) - sp.log(tau) / 2)) == 0
    assert sp.diff(S.k_star_paper_egd("half"), S.eps) == 0


def test_egd_two_cycle():
    d = S.egd_two_cycle()
    assert d["grad_norm_on_cycle"] == S.eta * S.m2 / 2
    assert sp.simplify(d["slow_factor"] - (1 - 2 * S.eps / S.m2)) == 0
    mult = sp.lambdify((S.e, S.eta, S.m2), d["multiplier"])
    # stable (multiplier < 1) exactly when the cycle exists, e < eta m2 / 2
    assert mult(0.049, 0.1, 1.0) < 1 and mult(0.01, 0.1, 1.0) < 1
    assert mult(0.051 * np.sqrt(2), 0.1, 1.0) > 1


def test_a3_closed_forms_and_leading_order():
    from toymodel import moments

    mom = S.a3_closed_form_moments()
    eps, theta = 0.01, 0.7
    psi = float(np.arctan2(np.sqrt(eps) * np.sin(theta), np.cos(theta)))
    num = moments(eps, theta)
    for name in ("Z", "a", "b", "d", "c1", "c2"):
        val = float(mom[name].subs({S.psi: psi, S.eps: eps}))
        assert val == pytest.approx(float(getattr(num, name)), rel=TOL)
    lead = S.a3_sigma_leading_order()
    assert sp.simplify(lead["det"] - sp.tan(S.theta) ** 2 / 3) == 0


def test_cayley_hamilton_interpolates_powers():
    assert S.cayley_hamilton_residual() == (0, 0)


def test_lazy_attributes():
    assert S.m2_closed == 1 + S.s * S.m1_closed
    with pytest.raises(AttributeError):
        S.no_such_thing  # noqa: B018
