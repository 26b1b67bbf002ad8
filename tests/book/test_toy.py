"""egd.book.toy: the toy-model chapter's analyses and verdicts."""

import math
import re

import numpy as np
import pytest
import sympy as sp

import toymodel
from egd.book import definitions, toy
from egd.book.display import FAILS, HOLDS


def bare_symbols(latex: str, name: str) -> list[str]:
    """Occurrences of ``name`` as a lone symbol (not inside a command such as ``\\epsilon``)."""
    return re.findall(rf"(?<![\\A-Za-z]){name}(?![A-Za-z])", latex)


def test_each_toy_method_has_one_colour_and_a_label():
    assert set(toy.METHOD_COLORS) == set(toy.METHODS) == set(toy.METHOD_LABELS) == set(toy.METHOD_NAMES)
    assert len(set(toy.METHOD_COLORS.values())) == len(toy.METHODS)
    for m in toy.METHODS:
        st = toy.method_style(m)
        assert st.color == toy.METHOD_COLORS[m] and st.kwargs()["label"] == toy.METHOD_LABELS[m]
    assert "$" not in "".join(toy.METHOD_NAMES.values())
    with pytest.raises(ValueError, match="method"):
        toy.method_style("vanilla")


def test_profile_grids():
    assert toy.eps_grid("quick").size == 7 and toy.eps_grid("full").size == 13
    assert toy.eps_grid("quick")[0] == pytest.approx(1e-4) and toy.eps_grid("quick")[-1] == pytest.approx(0.1)
    assert toy.curve_steps("quick").max() == 3000 and toy.curve_steps("full").max() == 30000
    with pytest.raises(ValueError, match="profile"):
        toy.eps_grid("medium")


def test_formatting_helpers():
    assert toy.pct(0.0123) == "1.23%" and toy.pct(2.478, 0) == "248%"
    assert toy.slope(-0.998) == "−0.998" and toy.slope(0.25) == "+0.250"
    assert toy.slope(-1e-32) == "0.000" == toy.slope(2e-4)


def test_measures_table_names_the_levels_of_the_definitions():
    t = toy.measures_table()
    assert [r[0].split(" \\(")[0] for r in t.rows] == ["escape time", "measured escape time"]
    assert f"{definitions.ESCAPE_LEVEL_MEASURED:g}" in t.rows[1][2]


def test_corollary_one_with_cot_theta_matches_the_exact_escape_time_and_tan_does_not():
    cmp = toy.tau_comparison()
    assert cmp.derived_error < toy.TAU_TOLERANCE
    assert cmp.printed_error > 1.0
    # the two readings coincide at theta = pi/4
    same = toy.tau_comparison(thetas=(math.pi / 4,))
    np.testing.assert_allclose(same.derived, same.printed)
    assert len(toy.tau_table(cmp).rows) == 4


def test_escape_scan_slopes():
    scan = toy.escape_scan(toy.eps_grid("quick"))
    assert scan.slopes["gd"] == pytest.approx(-1, abs=0.01)
    assert scan.slopes["paper_egd"] == pytest.approx(0, abs=1e-9)
    assert -0.95 < scan.slopes["egd"] < -0.6
    # the 2-cycle estimate (symmetric cycle) is an upper estimate of EGD proper's escape time
    assert np.all(scan.egd_estimate >= scan.kstar["egd"])
    assert [r[0] for r in toy.slopes_table(scan).rows] == [toy.METHOD_NAMES[m] for m in toy.METHODS]


def test_two_cycle_display_defines_every_symbol():
    latex = toy.two_cycle_latex()
    assert not bare_symbols(latex, "e")
    assert r"\epsilon^{2} \nu^{2}" in latex  # e = eps |nu| written out
    # the multiplier is below 1 exactly when eps |nu| < eta m2 / 2
    mult = toymodel.symbolic.egd_two_cycle()["multiplier"]
    eta, m2 = 0.1, 2.5
    at = lambda e: float(mult.subs({toymodel.symbolic.eta: eta, toymodel.symbolic.m2: m2, toymodel.symbolic.e: e}))
    assert at(0.99 * eta * m2 / 2) < 1 < at(1.01 * eta * m2 / 2)


def test_equation_seven_ignores_the_sign_of_w2():
    chk = toy.sign_check()
    assert chk.eq7_ignores_sign
    assert chk.theorem1[0] == pytest.approx(chk.theorem1[1]) == pytest.approx(chk.exact[0])
    assert chk.exact[1] == 0.0
    assert toy.sign_table(chk).rows[1][0].startswith("\\((")


def test_a3_integrals_as_printed_are_wrong_and_sign_corrected_ones_match():
    chk = toy.a3_integrals()
    assert chk.quadrature_error < 1e-8
    assert chk.printed_error > 100
    assert len(toy.a3_integrals_table(chk).rows) == 3


def test_a3_eigenvalues_theta_eps_only_below_half_pi():
    ranges = toy.a3_eigenvalue_ranges()
    assert toy.eigenvalues_theta_eps(ranges, below_half_pi=True)
    assert not toy.eigenvalues_theta_eps(ranges, below_half_pi=False)
    with pytest.raises(ValueError, match="above"):
        toy.eigenvalues_theta_eps(ranges[:1], below_half_pi=False)
    # the lambda+ of theta > pi/2 tends to a constant: lambda+/eps grows like 1/eps
    beyond = [r for r in ranges if r.theta > math.pi / 2][0]
    assert beyond.plus[1] > 1e5


def test_a3_leading_order_is_orders_of_magnitude_too_long():
    esc = toy.a3_escape()
    np.testing.assert_array_equal(esc.exact, [64, 233])
    assert np.all(esc.ratio > 100) and not esc.leading_holds


@pytest.fixture(scope="module")
def checks():
    return toy.theory_checks(tau=toy.tau_comparison(), scan=toy.escape_scan(toy.eps_grid("quick")),
                             sign=toy.sign_check(), integrals=toy.a3_integrals(),
                             eigen=toy.a3_eigenvalue_ranges(), a3=toy.a3_escape())


def test_theory_verdicts(checks):
    verdicts = [c.holds for c in checks]
    assert verdicts == [True, True, False, True, True, False, False, False, True, False, False]
    assert all(isinstance(v, bool) for v in verdicts)


def test_verdict_rows_name_the_paper_and_ours_without_dollar_math(checks):
    from egd.book.display import checks_table

    table = checks_table(checks)
    assert {r[0] for r in table.rows} == {HOLDS, FAILS}
    for c in checks:
        assert c.paper and c.ours and c.paper != "–"
        for cell in (c.claim, c.paper, c.ours):
            assert "$" not in cell
            assert cell.count("\\(") == cell.count("\\)")
    tau_row = checks[2]
    assert "\\tan\\theta" in tau_row.paper and "\\cot\\theta" in tau_row.ours


def test_sympy_zero_helper_accepts_matrices_and_tuples():
    assert toy._sympy_zero(sp.zeros(2, 1)) and toy._sympy_zero((sp.Integer(0), sp.Integer(0)))
    assert not toy._sympy_zero((sp.Integer(1),))
