"""Laws of the pure transforms in egd.transforms (paper eq. 11, Algorithm 3, baselines)."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import egd
from egd import defaults as D
from egd.transforms import ns_schedule, resolve_rtol

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# Tolerances (absolute, on entries or singular values of outputs whose singular values are 1).
F64_TOL = 1e-9          # float64 exact methods on condition numbers <= 1e3
F32_TOL = 2e-4          # float32 exact methods on condition numbers <= 10
GRAM_F64_TOL = 1e-6     # gram squares the condition number: float64 eigh of G^T G
NS_TOL = 1e-4           # cubic Newton-Schulz, default steps, condition number <= 4
RSVD_TOP_TOL = 1e-3     # rsvd with rank < rank(G), spectral gap >= 10x, n_iter = 2
HALF_TOL = 2e-2         # bf16/fp16 outputs (8-bit mantissa)
GRAM_MIXED_TOL = 2e-2   # gram's float32 path, spectral norm, at its largest accepted condition number
EXACT_KW = {"svd": {}, "gram": {}}
ALL_KW = {"svd": {}, "gram": {}, "rsvd": {"rank": 10_000}, "newton_schulz": {}}

# per test, not a global profile: other test modules keep their own hypothesis settings
PROPERTY = settings(derandomize=True, deadline=None, max_examples=25)


def make_matrix(m, n, *, rank=None, cond=10.0, scale=1.0, batch=(), seed=0, dtype=torch.float64):
    """G = U diag(s) V^T with known orthonormal U (m, r), V (n, r), s from 1 down to 1/cond."""
    gen = torch.Generator().manual_seed(seed)
    r = min(m, n) if rank is None else rank
    U = torch.linalg.qr(torch.randn(*batch, m, r, generator=gen, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(*batch, n, r, generator=gen, dtype=torch.float64)).Q
    s = torch.logspace(0, -math.log10(cond), r, dtype=torch.float64) if r > 1 else torch.ones(r, dtype=torch.float64)
    G = (U * s) @ V.mT * scale
    return G.to(dtype), U, V, s


def inv_sqrt_psd(A, tol):
    lam, Q = torch.linalg.eigh(A)
    w = torch.where(lam > tol * lam[..., -1:], lam.clamp_min(1e-300).rsqrt(), torch.zeros_like(lam))
    return (Q * w.unsqueeze(-2)) @ Q.mT


shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))
batches = st.sampled_from([(), (3,), (2, 2)])


@PROPERTY
@given(shape=shapes, batch=batches, rank_frac=st.floats(0.1, 1.0), log_scale=st.sampled_from([-30, -5, 0, 5, 30]),
       seed=st.integers(0, 2**16))
def test_exact_methods_give_u_vt_of_known_factors(shape, batch, rank_frac, log_scale, seed):
    m, n = shape
    r = max(1, int(rank_frac * min(m, n)))
    G, U, V, _ = make_matrix(m, n, rank=r, cond=1e3, scale=10.0**log_scale, batch=batch, seed=seed)
    expected = U @ V.mT  # same singular subspaces, every singular value 1
    for method in D.EXACT_METHODS:
        out = egd.orthogonalize(G, method=method)
        tol = GRAM_F64_TOL if method == "gram" else F64_TOL
        torch.testing.assert_close(out, expected, atol=tol, rtol=0, msg=f"{method} {shape} {batch}")


@PROPERTY
@given(shape=shapes, batch=batches, seed=st.integers(0, 2**16), method=st.sampled_from(D.METHODS))
def test_nonzero_singular_values_are_one(shape, batch, seed, method):
    m, n = shape
    r = max(1, min(m, n) // 2)
    G, *_ = make_matrix(m, n, rank=r, cond=3.0, batch=batch, seed=seed)
    out = egd.orthogonalize(G, method=method, **({"rank": r} if method == "rsvd" else {}))
    sv = torch.linalg.svdvals(out)
    tol = NS_TOL if method == "newton_schulz" else GRAM_F64_TOL
    torch.testing.assert_close(sv[..., :r], torch.ones_like(sv[..., :r]), atol=tol, rtol=0)
    assert sv[..., r:].numel() == 0 or float(sv[..., r:].abs().max()) <= tol
    # ||U V^T||_F^2 = rank(G)
    torch.testing.assert_close(out.square().sum((-2, -1)), torch.full(batch, float(r), dtype=out.dtype),
                               atol=r * tol, rtol=0)


@pytest.mark.parametrize("method", D.METHODS)
@pytest.mark.parametrize("c", [1e-20, 1e-3, 7.0, 1e20])
def test_invariant_to_positive_scaling(method, c):
    G, *_ = make_matrix(30, 12, cond=3.0, seed=1)
    kw = {"rank": 12} if method == "rsvd" else {}
    base = egd.orthogonalize(G, method=method, generator=torch.Generator().manual_seed(0), **kw)
    scaled = egd.orthogonalize(c * G, method=method, generator=torch.Generator().manual_seed(0), **kw)
    torch.testing.assert_close(scaled, base, atol=F64_TOL, rtol=0)


@PROPERTY
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_left_and_right_forms_agree(shape, seed):
    # (G G^T)^(-1/2) G = G (G^T G)^(-1/2) = U V^T, with pseudo-inverse square roots.
    m, n = shape
    G, *_ = make_matrix(m, n, rank=max(1, min(m, n) - 1), cond=10.0, seed=seed)
    left = inv_sqrt_psd(G @ G.mT, 1e-12) @ G
    right = G @ inv_sqrt_psd(G.mT @ G, 1e-12)
    torch.testing.assert_close(left, right, atol=GRAM_F64_TOL, rtol=0)
    torch.testing.assert_close(egd.orthogonalize(G, method="svd"), left, atol=GRAM_F64_TOL, rtol=0)


def test_egd_is_root_fisher_times_natural_gradient():
    # U V^T = F^(1/2) F^+ G with F = G G^T (paper Section 4).
    G, *_ = make_matrix(9, 14, rank=6, cond=5.0, seed=3)
    F = G @ G.mT
    lam, Q = torch.linalg.eigh(F)
    F_half = (Q * lam.clamp_min(0).sqrt()) @ Q.mT
    natural = torch.linalg.pinv(F, hermitian=True, rtol=1e-10) @ G
    torch.testing.assert_close(F_half @ natural, egd.orthogonalize(G, method="svd"), atol=GRAM_F64_TOL, rtol=0)


@PROPERTY
@given(shape=shapes, batch=batches, seed=st.integers(0, 2**16), extra=st.integers(0, 5),
       oversampling=st.integers(0, 3))
def test_rsvd_with_rank_at_least_rank_g_equals_svd(shape, batch, seed, extra, oversampling):
    m, n = shape
    r = max(1, min(m, n) // 2)
    G, *_ = make_matrix(m, n, rank=r, cond=100.0, batch=batch, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    out = egd.orthogonalize(G, method="rsvd", rank=r + extra, oversampling=oversampling, generator=gen)
    torch.testing.assert_close(out, egd.orthogonalize(G, method="svd"), atol=GRAM_F64_TOL, rtol=0)


def test_rsvd_below_rank_keeps_top_directions_only():
    # G~ = U_r V_r^T: directions past rank r get no update at all (paper, Algorithm 3).
    m, n, r = 60, 40, 5
    gen = torch.Generator().manual_seed(0)
    U = torch.linalg.qr(torch.randn(m, n, generator=gen, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64)).Q
    s = torch.cat([torch.full((r,), 10.0), torch.full((n - r,), 1.0)]).double()  # 10x gap
    G = (U * s) @ V.mT
    for n_iter, oversampling in [(2, 0), (1, 5), (4, 2)]:
        out = egd.orthogonalize(G, method="rsvd", rank=r, n_iter=n_iter, oversampling=oversampling,
                                generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(out, U[:, :r] @ V[:, :r].mT, atol=RSVD_TOP_TOL, rtol=0)


def test_rsvd_is_reproducible_with_a_seeded_generator():
    G, *_ = make_matrix(50, 30, seed=4, dtype=torch.float32)
    a = egd.orthogonalize(G, method="rsvd", rank=8, n_iter=0, generator=torch.Generator().manual_seed(5))
    b = egd.orthogonalize(G, method="rsvd", rank=8, n_iter=0, generator=torch.Generator().manual_seed(5))
    c = egd.orthogonalize(G, method="rsvd", rank=8, n_iter=0, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(512, 194), (100, 50), (128, 512), (2, 33, 17)])
def test_float32_methods_agree_with_svd_on_well_conditioned_input(device, shape):
    G, *_ = make_matrix(*shape[-2:], cond=4.0, batch=shape[:-2], seed=7, dtype=torch.float32)
    G = G.to(device)
    ref = egd.orthogonalize(G, method="svd")
    assert ref.dtype == torch.float32 and ref.device == G.device
    for method, kw, tol in [("gram", {}, F32_TOL), ("rsvd", {"rank": min(shape[-2:])}, F32_TOL),
                            ("newton_schulz", {}, NS_TOL + F32_TOL)]:
        torch.testing.assert_close(egd.orthogonalize(G, method=method, **kw), ref, atol=tol, rtol=0, msg=method)


def test_newton_schulz_coefficient_schedules():
    G, *_ = make_matrix(40, 25, cond=4.0, seed=8)
    # Muon's quintic does not converge to 1: singular values land in a band around 1.
    muon = torch.linalg.svdvals(egd.orthogonalize(G, method="newton_schulz", ns_steps=5,
                                                  ns_coefficients=D.MUON_NS_COEFFICIENTS))
    assert 0.6 < float(muon.min()) and float(muon.max()) < 1.3
    assert float((muon - 1).abs().max()) > NS_TOL
    # A per-step list: Muon's steps to grow small singular values, then cubic steps to converge.
    sched = [D.MUON_NS_COEFFICIENTS] * 3 + [D.CUBIC_NS_COEFFICIENTS]
    assert ns_schedule(8, sched) == [D.MUON_NS_COEFFICIENTS] * 3 + [D.CUBIC_NS_COEFFICIENTS] * 5
    mixed = egd.orthogonalize(G, method="newton_schulz", ns_steps=8, ns_coefficients=sched)
    torch.testing.assert_close(mixed, egd.orthogonalize(G, method="svd"), atol=NS_TOL, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", D.METHODS)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (0, 3)])
def test_zero_input_gives_zero(device, method, shape):
    G = torch.zeros(shape, device=device)
    out = egd.orthogonalize(G, method=method, **({"rank": 2} if method == "rsvd" else {}))
    assert out.shape == G.shape and torch.equal(out, G)


@pytest.mark.parametrize("method", D.METHODS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_raises_naming_g(method, bad):
    G = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    G[2, 1] = bad
    with pytest.raises(ValueError, match=r"^G must be finite"):
        egd.orthogonalize(G, method=method, **({"rank": 2} if method == "rsvd" else {}))


def test_check_finite_false_skips_the_check():
    G, *_ = make_matrix(6, 4, seed=9)
    torch.testing.assert_close(egd.orthogonalize(G, check_finite=False), egd.orthogonalize(G), atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("method", D.METHODS)
def test_dtype_preserved_and_half_computed_in_float32(dtype, method):
    G64, *_ = make_matrix(20, 12, cond=3.0, seed=10)
    G = G64.to(dtype)
    out = egd.orthogonalize(G, method=method, **({"rank": 12} if method == "rsvd" else {}))
    assert out.dtype == dtype
    ref = egd.orthogonalize(G.double(), method="svd")
    tol = HALF_TOL if dtype in (torch.float16, torch.bfloat16) else NS_TOL + F32_TOL
    torch.testing.assert_close(out.double(), ref, atol=tol, rtol=0)


@pytest.mark.parametrize("method", D.METHODS)
def test_rtol_drops_small_singular_values(method):
    U = torch.linalg.qr(torch.randn(10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)).Q
    G = (U * torch.tensor([1.0, 1e-2], dtype=torch.float64)) @ V.mT
    kw = {"rank": 2} if method == "rsvd" else {}
    if method == "newton_schulz":  # no rtol: converges to rank 2 given enough steps
        out = egd.orthogonalize(G, method=method, ns_steps=40)
        torch.testing.assert_close(out, U @ V.mT, atol=NS_TOL, rtol=0)
        return
    torch.testing.assert_close(egd.orthogonalize(G, method=method, rtol=0.1, **kw), U[:, :1] @ V[:, :1].mT,
                               atol=GRAM_F64_TOL, rtol=0)
    torch.testing.assert_close(egd.orthogonalize(G, method=method, rtol=1e-3, **kw), U @ V.mT,
                               atol=GRAM_F64_TOL, rtol=0)


def test_default_rtol_and_gram_floor():
    assert resolve_rtol(None, 512, 194, torch.float32) == 512 * torch.finfo(torch.float32).eps
    assert resolve_rtol(None, 3, 4, torch.bfloat16) == 4 * torch.finfo(torch.float32).eps
    assert resolve_rtol(0.25, 3, 4, torch.float64) == 0.25
    # gram cannot resolve singular values below GRAM_RTOL_FLOOR * s_max: with rtol=None it drops
    # them (documented), an explicit smaller rtol is refused, and the device default (gram on
    # CPU) hands such an rtol, or float64's default one, to the SVD, which honours it
    U = torch.linalg.qr(torch.randn(10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).Q
    G = (U * torch.tensor([1.0, D.GRAM_RTOL_FLOOR / 10], dtype=torch.float64)) @ U.mT
    assert torch.linalg.matrix_rank(egd.orthogonalize(G, method="gram")) == 1
    with pytest.raises(ValueError, match="rtol must be >= 1e-06 .* for method='gram'"):
        egd.orthogonalize(G, method="gram", rtol=1e-12)
    assert torch.linalg.matrix_rank(egd.orthogonalize(G, method="svd", rtol=1e-12)) == 2
    for rtol in (1e-12, None):
        assert torch.linalg.matrix_rank(egd.orthogonalize(G, rtol=rtol)) == 2, rtol
    assert torch.linalg.matrix_rank(egd.orthogonalize(G, rtol=D.GRAM_RTOL_FLOOR * 2)) == 1
    tall = U * torch.tensor([1.0, D.GRAM_RTOL_FLOOR / 10], dtype=torch.float64)  # exactly rank 2, no noise
    torch.testing.assert_close(egd.orthogonalize(tall, rtol=0), U, atol=GRAM_F64_TOL, rtol=0)


def _gram_float64_path(G, monkeypatch, **kw):
    with monkeypatch.context() as m:
        m.setattr(D, "GRAM_FLOAT32_MAX_CONDITION", 0)
        return egd.orthogonalize(G, method="gram", **kw)


@pytest.mark.parametrize("shape", [(512, 194), (60, 90)])
@pytest.mark.parametrize("cond", [3.0, 100.0, 0.99 * math.sqrt(D.GRAM_FLOAT32_MAX_CONDITION)])
def test_gram_float32_path_accuracy_up_to_its_condition_limit(shape, cond, monkeypatch):
    # Inside the accepted range the float32 path is used (it differs from the float64 path)
    # and stays within GRAM_MIXED_TOL of the float64 SVD in spectral norm.
    G64, *_ = make_matrix(*shape, cond=cond, seed=5)
    G = G64.float()
    out = egd.orthogonalize(G, method="gram")
    assert not torch.equal(out, _gram_float64_path(G, monkeypatch))
    err = torch.linalg.matrix_norm(out.double() - egd.orthogonalize(G64, method="svd"), ord=2)
    assert err < GRAM_MIXED_TOL


@pytest.mark.parametrize("case", ["ill_conditioned", "rank_deficient", "batch_with_one_bad"])
def test_gram_falls_back_to_float64_when_float32_cannot_resolve(case, monkeypatch):
    limit = math.sqrt(D.GRAM_FLOAT32_MAX_CONDITION)
    if case == "ill_conditioned":
        G64, *_ = make_matrix(80, 40, cond=3 * limit, seed=6)
    elif case == "rank_deficient":  # a true zero and a true tiny singular value look alike in float32
        G64, *_ = make_matrix(80, 40, rank=30, seed=7)
    else:
        good, *_ = make_matrix(80, 40, cond=10.0, seed=8)
        bad, *_ = make_matrix(80, 40, cond=3 * limit, seed=9)
        G64 = torch.stack([good, bad])
    G = G64.float()
    out = egd.orthogonalize(G, method="gram")
    assert torch.equal(out, _gram_float64_path(G, monkeypatch))
    ref = egd.orthogonalize(G.double(), method="svd", rtol=resolve_rtol(None, 80, 40, torch.float32))
    assert torch.linalg.matrix_norm(out.double() - ref, ord=2).max() < F32_TOL
    if case == "rank_deficient":
        assert int(torch.linalg.matrix_rank(out)) == 30


def test_gram_float32_path_keeps_clearly_dropped_directions_dropped(monkeypatch):
    # With a large rtol the float32 path decides drops itself when they are unambiguous.
    U = torch.linalg.qr(torch.randn(50, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(20, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)).Q
    G64 = (U * torch.tensor([1.0, 0.5, 1e-3], dtype=torch.float64)) @ V.mT + 0.0
    G64 = G64 + 1e-2 * torch.linalg.qr(torch.randn(50, 20, generator=torch.Generator().manual_seed(5),
                                                    dtype=torch.float64)).Q
    G = G64.float()
    out = egd.orthogonalize(G, method="gram", rtol=0.2)
    assert not torch.equal(out, _gram_float64_path(G, monkeypatch, rtol=0.2))
    assert int(torch.linalg.matrix_rank(out, atol=0.5)) == 2
    torch.testing.assert_close(out.double(), egd.orthogonalize(G64, method="svd", rtol=0.2), atol=1e-4, rtol=0)


def test_default_method_is_exact_per_device():
    for kind in ("cpu", "cuda", "mps"):
        assert D.default_method(kind) in D.EXACT_METHODS
    # float32 with the default rtol (40 * eps32, above gram's floor): the device's default
    G, *_ = make_matrix(40, 30, seed=11, dtype=torch.float32)
    expected = egd.orthogonalize(G, method=D.default_method(G.device))
    assert torch.equal(egd.orthogonalize(G), expected)
    # float64's default rtol (7 * eps64) is below gram's floor: the SVD, which honours it
    G, *_ = make_matrix(7, 5, seed=11)
    assert torch.equal(egd.orthogonalize(G), egd.orthogonalize(G, method="svd"))


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"method": "qr"}, "method"),
        ({"method": "svd", "rank": 0}, "rank"),
        ({"method": "gram", "rank": 2.0}, "rank"),
        ({"method": "newton_schulz", "rank": 3}, "rank"),
        ({"spectral_cutoff": 1.0}, "spectral_cutoff"),
        ({"spectral_cutoff": -0.1}, "spectral_cutoff"),
        ({"spectral_cutoff": True}, "spectral_cutoff"),
        ({"method": "newton_schulz", "spectral_cutoff": 0.1}, "spectral_cutoff"),
        ({"batch_rank": 0}, "batch_rank"),
        ({"batch_rank": 4.0}, "batch_rank"),
        ({"batch_rank": True}, "batch_rank"),
        ({"method": "newton_schulz", "batch_rank": 4}, "batch_rank"),
        ({"method": "rsvd"}, "rank"),
        ({"method": "rsvd", "rank": 0}, "rank"),
        ({"n_iter": -1}, "n_iter"),
        ({"oversampling": 1.5}, "oversampling"),
        ({"rtol": 1.0}, "rtol"),
        ({"rtol": -0.1}, "rtol"),
        ({"ns_steps": 0}, "ns_steps"),
        ({"ns_coefficients": (1.0, 2.0)}, "ns_coefficients"),
        ({"ns_coefficients": []}, "ns_coefficients"),
        ({"ns_coefficients": [(1.0, float("nan"), 0.0)]}, "ns_coefficients"),
    ],
)
def test_bad_options_raise_naming_the_parameter(kwargs, param):
    with pytest.raises(ValueError, match=rf"^{param} "):
        egd.orthogonalize(torch.ones(3, 2), **kwargs)


def test_bad_input_shapes_and_types():
    with pytest.raises(ValueError, match=r"^G must have shape"):
        egd.orthogonalize(torch.ones(3))
    with pytest.raises(ValueError, match=r"^G must have a real floating dtype"):
        egd.orthogonalize(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"^G must be a torch.Tensor"):
        egd.orthogonalize([[1.0, 2.0]])


# ---------------------------------------------------------------- truncation: rank and spectral_cutoff

TRUNCATING_METHODS = ("svd", "gram", None)


@PROPERTY
@given(shape=shapes, batch=batches, seed=st.integers(0, 2**16), frac=st.floats(0.05, 1.0),
       method=st.sampled_from(TRUNCATING_METHODS))
def test_rank_keeps_exactly_the_top_directions_with_unit_singular_values(shape, batch, seed, frac, method):
    m, n = shape
    k = max(1, int(frac * min(m, n)))
    G, U, V, _ = make_matrix(m, n, cond=1e2, batch=batch, seed=seed)  # distinct singular values 1 .. 1e-2
    out = egd.orthogonalize(G, method=method, rank=k)
    sv = torch.linalg.svdvals(out)
    torch.testing.assert_close(sv[..., :k], torch.ones_like(sv[..., :k]), atol=GRAM_F64_TOL, rtol=0)
    assert sv[..., k:].numel() == 0 or float(sv[..., k:].abs().max()) <= GRAM_F64_TOL  # output rank k
    torch.testing.assert_close(out, U[..., :k] @ V[..., :k].mT, atol=GRAM_F64_TOL, rtol=0)


@PROPERTY
@given(shape=shapes, seed=st.integers(0, 2**16), method=st.sampled_from(TRUNCATING_METHODS),
       extra=st.integers(0, 5))
def test_rank_and_cutoff_change_nothing_when_nothing_is_cut(shape, seed, method, extra):
    m, n = shape
    G, *_ = make_matrix(m, n, cond=1e2, seed=seed)
    exact = egd.orthogonalize(G, method=method)
    torch.testing.assert_close(egd.orthogonalize(G, method=method, rank=min(m, n) + extra), exact,
                               atol=F64_TOL, rtol=0)
    torch.testing.assert_close(egd.orthogonalize(G, method=method, spectral_cutoff=1e-3), exact,
                               atol=F64_TOL, rtol=0)  # smallest singular value is 1e-2 of the largest
    torch.testing.assert_close(egd.orthogonalize(G, method=method, spectral_cutoff=0.0), exact,
                               atol=F64_TOL, rtol=0)


@PROPERTY
@given(shape=shapes, batch=batches, seed=st.integers(0, 2**16), cutoff=st.floats(1e-3, 0.9),
       method=st.sampled_from(TRUNCATING_METHODS + ("rsvd",)))
def test_spectral_cutoff_keeps_the_directions_above_the_fraction(shape, batch, seed, cutoff, method):
    m, n = shape
    G, U, V, s = make_matrix(m, n, cond=1e4, batch=batch, seed=seed)
    keep = s > cutoff * s[0]
    # singular values are log-spaced: skip draws that put one within 1% of the cut
    if bool(((s / (cutoff * s[0]) - 1).abs() < 1e-2).any()):
        return
    kw = {"rank": min(m, n), "generator": torch.Generator().manual_seed(seed)} if method == "rsvd" else {}
    out = egd.orthogonalize(G, method=method, spectral_cutoff=cutoff, **kw)
    k = int(keep.sum())
    tol = RSVD_TOP_TOL if method == "rsvd" else GRAM_F64_TOL
    torch.testing.assert_close(out, U[..., :k] @ V[..., :k].mT, atol=tol, rtol=0)


def test_l2_directions_get_no_step_under_truncation():
    # A rank-8 data gradient plus wd * W: exact U V^T moves all 20 directions by one unit;
    # rank=8 and a cutoff between the two parts move only the data's 8.
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(20, 8, generator=gen, dtype=torch.float64) @ torch.randn(8, 30, generator=gen,
                                                                                dtype=torch.float64)
    W = torch.randn(20, 30, generator=gen, dtype=torch.float64) / 30**0.5
    G = data + 1e-3 * W
    exact = egd.orthogonalize(G)
    assert round(float(exact.square().sum())) == 20
    for kw in ({"rank": 8}, {"spectral_cutoff": 1e-2}):
        out = egd.orthogonalize(G, **kw)
        assert round(float(out.square().sum())) == 8, kw
        U, _, Vh = torch.linalg.svd(data)
        torch.testing.assert_close(out, U[:, :8] @ Vh[:8], atol=1e-2, rtol=0)  # the data's polar factor


@PROPERTY
@given(shape=shapes, batch=batches, seed=st.integers(0, 2**16), b=st.integers(1, 40),
       method=st.sampled_from(TRUNCATING_METHODS))
def test_batch_rank_truncates_only_where_the_input_side_is_the_shorter(shape, batch, seed, b, method):
    # (m, n) = (out, in): n <= m is rank=b exactly, n > m is the exact transform, bit for bit
    m, n = shape
    G, *_ = make_matrix(m, n, cond=1e2, batch=batch, seed=seed)
    want = egd.orthogonalize(G, method=method, rank=b) if n <= m else egd.orthogonalize(G, method=method)
    assert torch.equal(egd.orthogonalize(G, method=method, batch_rank=b), want)
    # with rank too: the smaller of the two where the rule truncates
    want = egd.orthogonalize(G, method=method, rank=min(b, 3) if n <= m else 3)
    assert torch.equal(egd.orthogonalize(G, method=method, rank=3, batch_rank=b), want)


def test_batch_rank_spares_the_unsampled_inputs_of_a_tall_layer_only():
    # a batch of 4 inputs in 12 dimensions: the data gradient sum_i d_i x_i^T has rank 4 and
    # its input side (the rows of V^T) lies in the span of the 4 inputs
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(4, 12, generator=gen, dtype=torch.float64)
    tall = torch.randn(30, 4, generator=gen, dtype=torch.float64) @ X + 1e-3 * torch.randn(30, 12, generator=gen,
                                                                                            dtype=torch.float64)
    exact, kept = egd.orthogonalize(tall), egd.orthogonalize(tall, batch_rank=4)
    outside = torch.eye(12, dtype=torch.float64) - torch.linalg.pinv(X) @ X  # inputs the batch did not sample
    assert float((exact @ outside).norm()) > 2.0  # exact EGD steps along 8 unsampled inputs
    assert float((kept @ outside).norm()) < 1e-2
    wide = tall.T.contiguous()  # 12 hidden units, 30 inputs: the rule keeps the exact transform
    assert torch.equal(egd.orthogonalize(wide, batch_rank=4), egd.orthogonalize(wide))


def test_gram_float32_path_with_rank():
    G, U, V, _ = make_matrix(64, 32, cond=30.0, seed=5)
    out = egd.orthogonalize(G.float(), method="gram", rank=10)
    torch.testing.assert_close(out.double(), U[:, :10] @ V[:, :10].mT, atol=GRAM_MIXED_TOL, rtol=0)
    # a tie at the cut cannot be told apart in float32: the float64 path decides
    s = torch.cat([torch.ones(10), torch.ones(22) * 0.5]).double()
    tied = (U * s) @ V.mT
    out = egd.orthogonalize(tied.float(), method="gram", rank=12)
    assert round(float(out.double().square().sum())) == 12


# ---------------------------------------------------------------- column normalisation

def test_column_normalize_one_scale_per_hidden_unit():
    gen = torch.Generator().manual_seed(0)
    G = torch.randn(6, 4, generator=gen, dtype=torch.float64)  # torch Linear layout (hidden, in)
    G[1] *= 1e-4  # a hidden unit whose gradient norm is below the floor
    out = egd.column_normalize(G)
    norms = out.norm(dim=-1)
    big = torch.ones(6, dtype=torch.bool)
    big[1] = False
    torch.testing.assert_close(norms[big], torch.ones(5, dtype=torch.float64), atol=F64_TOL, rtol=0)
    torch.testing.assert_close(out[1], G[1] / D.DEFAULT_COLUMN_NORM_FLOOR, atol=0, rtol=F64_TOL)
    # the authors' layout is (in, hidden): columns there are rows here
    torch.testing.assert_close(egd.column_normalize(G.mT, dim=-2), out.mT, atol=0, rtol=0)
    # each row keeps its direction
    torch.testing.assert_close(out * G.norm(dim=-1, keepdim=True).clamp_min(D.DEFAULT_COLUMN_NORM_FLOOR), G,
                               atol=F64_TOL, rtol=0)


def test_column_normalize_floor_zero_rows_and_half():
    G = torch.zeros(3, 5)
    assert torch.equal(egd.column_normalize(G, floor=0.5), G)
    H = torch.randn(4, 8, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    assert egd.column_normalize(H).dtype == torch.bfloat16
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match=r"^floor "):
            egd.column_normalize(G, floor=bad)
    with pytest.raises(ValueError, match=r"^dim "):
        egd.column_normalize(G, dim=0 if G.ndim > 2 else 5)


# ---------------------------------------------------------------- Grokfast-EMA

def test_grokfast_ema_matches_the_recursion():
    gen = torch.Generator().manual_seed(0)
    alpha, lamb = 0.9, 1.5
    seq = [[torch.randn(3, 2, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float64)]
           for _ in range(5)]
    ema = egd.grokfast_ema_init(seq[0])
    h = [t.clone() for t in seq[0]]
    for grads in seq:
        expected = []
        for i, g in enumerate(grads):
            h[i] = alpha * h[i] + (1 - alpha) * g
            expected.append(g + lamb * h[i])
        work = [g.clone() for g in grads]
        egd.grokfast_ema_(work, ema, alpha=alpha, lamb=lamb)
        for w, e, hi, ei in zip(work, expected, h, ema):
            torch.testing.assert_close(w, e, atol=F64_TOL, rtol=0)
            torch.testing.assert_close(ei, hi, atol=F64_TOL, rtol=0)


def test_grokfast_ema_limits_and_validation():
    g = torch.ones(2, 2)
    ema = [torch.full((2, 2), 5.0)]
    work = [g.clone()]
    egd.grokfast_ema_(work, ema, alpha=1.0, lamb=0.0)  # alpha = 1: h frozen; lamb = 0: g unchanged
    assert torch.equal(ema[0], torch.full((2, 2), 5.0)) and torch.equal(work[0], g)
    with pytest.raises(ValueError, match=r"^alpha "):
        egd.grokfast_ema_([g], [g.clone()], alpha=1.5)
    with pytest.raises(ValueError, match=r"^lamb "):
        egd.grokfast_ema_([g], [g.clone()], lamb=-1.0)
    with pytest.raises(ValueError, match=r"^ema "):
        egd.grokfast_ema_([g], [])
    with pytest.raises(ValueError, match=r"^ema\[0\] "):
        egd.grokfast_ema_([g], [torch.ones(3)])
