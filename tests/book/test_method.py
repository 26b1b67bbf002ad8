import math

import numpy as np
import pytest
import torch

from egd import defaults as D
from egd.book import method
from egd.book.display import HOLDS, checks_table


def test_ill_conditioned_has_the_requested_spectrum_and_vectors():
    mat = method.ill_conditioned(12, 5, condition=1e3, seed=1)
    assert mat.G.shape == (12, 5) and mat.G.dtype == torch.float64
    assert math.isclose(mat.condition, 1e3, rel_tol=1e-12)
    torch.testing.assert_close(torch.linalg.svdvals(mat.G), mat.s, rtol=1e-10, atol=0)
    torch.testing.assert_close(mat.U0.T @ mat.U0, torch.eye(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="p <= m"):
        method.ill_conditioned(3, 5)
    with pytest.raises(ValueError, match="condition"):
        method.ill_conditioned(5, 3, condition=0.5)


def test_polar_by_eigh_is_u_v_t_on_a_well_conditioned_matrix_and_its_range():
    mat = method.ill_conditioned(10, 4, condition=10.0)
    torch.testing.assert_close(method.polar_by_eigh(mat.G), mat.U0 @ mat.V0.T)
    # rank-deficient: only the range of G G^T is inverted (pseudo-inverse)
    G = torch.zeros(6, 3, dtype=torch.float64)
    G[0, 0], G[1, 1] = 2.0, 0.5
    expected = torch.zeros_like(G)
    expected[0, 0] = expected[1, 1] = 1.0
    torch.testing.assert_close(method.polar_by_eigh(G), expected)


def test_one_page_checks_hold_for_the_chapter_matrix():
    mat = method.ill_conditioned()
    r = method.one_page(mat)
    assert r.rank == 40 and math.isclose(r.frobenius_sq, 40, rel_tol=1e-9)
    checks = method.one_page_checks(mat, r)
    assert [c.holds for c in checks] == [True] * 5
    # the Gram route squares the condition number: far less accurate than the SVD's vectors
    assert r.formula_error > 1e3 * max(r.left_error, r.right_error)
    assert all(row[0] == HOLDS for row in checks_table(checks).rows)


def test_one_page_checks_fail_for_a_wrong_transform():
    mat = method.ill_conditioned(20, 6, condition=100.0)
    r = method.one_page(mat)
    bad = method.OnePage(**{**r.__dict__, "max_sv_dev": 0.5, "left_error": 1.0})
    holds = [c.holds for c in method.one_page_checks(mat, bad)]
    assert holds[0] is False and holds[2] is False


def test_gram_float32_limits_follow_the_constant():
    lim = method.gram_float32_limits()
    assert lim["gram_condition"] == D.GRAM_FLOAT32_MAX_CONDITION
    assert math.isclose(lim["g_condition"] ** 2, D.GRAM_FLOAT32_MAX_CONDITION)
    assert math.isclose(lim["eigenvalue_rel_error"], torch.finfo(torch.float32).eps * D.GRAM_FLOAT32_MAX_CONDITION)
    assert method.gram_float32_limits(100.0)["g_condition"] == 10.0


@pytest.fixture(scope="module")
def small_task():
    return method.modular_task(11)


def test_hidden_gradient_has_the_null_direction_and_l2_makes_it_full_rank(small_task):
    G = method.hidden_gradient(small_task, 0, width=32, batch=16)
    assert G.shape == (32, 22)
    v = method.null_direction(11)
    assert math.isclose(float(v.norm()), 1.0)
    assert float((G.double() @ v).norm()) < 1e-5 * float(torch.linalg.matrix_norm(G.double(), ord=2))
    assert method.numerical_rank(G) < 22
    G_l2 = method.hidden_gradient(small_task, 0, wd=1e-2, width=32, batch=16)
    assert method.numerical_rank(G_l2) == 22
    torch.testing.assert_close(method.hidden_gradient(small_task, 0, width=32, batch=16), G)  # seeded


def test_accuracy_rows_mean_of_and_checks(small_task):
    grads = [method.hidden_gradient(small_task, s, width=32, batch=48) for s in (0, 1)]  # rank 2p - 1 each
    ranks, steps = (4, 22), (5, 20, 40)
    rows = method.accuracy_rows(grads, ranks=ranks, ns_steps=steps)
    assert len(rows) == 2 * (len(ranks) + 2 * len(steps) + 1)
    mean = method.mean_of(rows, "rsvd", "cosine", ranks)
    expected = np.mean([[r["cosine"] for r in rows if r["method"] == "rsvd" and r["value"] == k] for k in ranks],
                       axis=1)
    np.testing.assert_allclose(mean, expected)
    with pytest.raises(ValueError, match="no 'rsvd' row"):
        method.mean_of(rows, "rsvd", "cosine", [7])
    rank = method.numerical_rank(grads[0])
    assert rank == method.numerical_rank(grads[1]) == 21
    rows += method.accuracy_rows(grads, ranks=(rank, 128), ns_steps=())
    acc = method.accuracy_summary(rows, grads, method.hidden_gradient(small_task, 0, wd=1e-2, width=32, batch=16),
                                  rank, ns_steps=steps)
    assert acc.gram_error < method.ACC_TOL and acc.rsvd_full_error < method.ACC_TOL
    checks = method.accuracy_checks(acc)
    assert len(checks) == 7
    assert checks[0].holds and checks[2].holds


def test_accuracy_checks_read_the_newton_schulz_errors():
    acc = method.Accuracy(rank=100, gram_error=1e-8, svd32_error=1e-6, gram32_error=1e-5, l2_condition=50.0,
                          rsvd_full_error=1e-7, rsvd128_cosine=1.0,
                          ns_errors={5: 0.5, D.DEFAULT_NS_STEPS: 1e-6, 60: 0.1}, muon_sv_dev_40=0.3)
    holds = [c.holds for c in method.accuracy_checks(acc)]
    assert holds == [True, True, True, True, True, True, True]
    worse = method.Accuracy(**{**acc.__dict__, "ns_errors": {5: 0.5, D.DEFAULT_NS_STEPS: 1e-2, 60: 1e-2},
                               "rsvd128_cosine": 0.5, "muon_sv_dev_40": 0.01})
    holds = [c.holds for c in method.accuracy_checks(worse)]
    assert holds[3:] == [False, False, False, False]


def test_gram_route_tolerance_grows_with_the_squared_condition_number():
    t = method.gram_route_tolerance(40, 1e6)
    assert math.isclose(t, math.sqrt(40) * 40 * torch.finfo(torch.float64).eps * 1e12)
    assert math.isclose(method.gram_route_tolerance(40, 1e3) * 1e6, t)
    for threads in (1, 2):  # LAPACK's blocking changes the measured difference, not the verdict
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            mat = method.ill_conditioned()
            assert method.one_page(mat).formula_error <= method.gram_route_tolerance(40, mat.condition)
        finally:
            torch.set_num_threads(before)
