"""Data modules: splits, labels, determinism, argument checks."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from egd.grokking.tasks import ModularArithmetic, SparseParity, is_prime

SMALL_PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23]


def _decode(x: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    return x[:, 0], x[:, 1] - p


@pytest.mark.parametrize("op", ["add", "mul"])
def test_modular_split_is_a_disjoint_cover_of_all_pairs(op):
    p = 13
    d = ModularArithmetic(p, op).build()
    assert d.n_train == int(0.5 * p * p) and d.n_train + d.n_test == p * p
    pairs = torch.cat([d.x_train, d.x_test])
    codes = pairs[:, 0] * (2 * p) + pairs[:, 1]
    assert codes.unique().numel() == p * p  # every pair exactly once, train and test disjoint
    assert d.in_features == 2 * p and d.out_features == p and d.kind == "multiclass"


@settings(max_examples=20, deadline=None)
@given(p=st.sampled_from(SMALL_PRIMES), op=st.sampled_from(["add", "mul"]), seed=st.integers(0, 50))
def test_modular_labels_follow_the_operation(p, op, seed):
    d = ModularArithmetic(p, op, train_fraction=0.3, seed=seed).build()
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        a, b = _decode(x, p)
        assert bool(((a >= 0) & (a < p) & (b >= 0) & (b < p)).all())
        expected = (a + b) % p if op == "add" else (a * b) % p
        assert torch.equal(y, expected)


def test_modular_split_depends_only_on_the_data_seed():
    a, b, c = (ModularArithmetic(11, seed=s).build() for s in (0, 0, 1))
    assert torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)


def test_is_prime_matches_definition():
    for n in range(0, 60):
        assert is_prime(n) == (n >= 2 and all(n % d for d in range(2, n)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(p=1), r"p must be an integer >= 2, got 1"),
        (dict(p=12, op="mul"), r"p must be prime .*got p=12"),
        (dict(p=7, op="div"), r"op must be one of"),
        (dict(p=7, train_fraction=1.0), r"train_fraction must lie in the open interval \(0, 1\), got 1.0"),
        (dict(p=7, train_fraction=0.0), r"train_fraction"),
        (dict(p=2, train_fraction=0.1), r"empty train or test set"),
    ],
)
def test_modular_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModularArithmetic(**kwargs)


def test_composite_p_is_fine_for_addition():
    assert ModularArithmetic(12, "add").build().out_features == 12


def test_parity_labels_are_the_product_of_the_secret_bits():
    task = SparseParity(12, 3, n_train=200, n_test=300, seed=4)
    d = task.build()
    secret = task.secret()
    assert secret.numel() == 3 and bool((secret[1:] > secret[:-1]).all())
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert set(x.unique().tolist()) == {-1.0, 1.0}
        assert torch.equal(y, x[:, secret].prod(1))
    assert (d.n_train, d.n_test, d.in_features, d.out_features, d.kind) == (200, 300, 12, 1, "binary")
    # balanced labels for k >= 1 (mean of +-1 products close to 0)
    assert abs(float(d.y_test.mean())) < 0.2


def test_parity_is_deterministic_per_seed():
    a, b, c = (SparseParity(20, 2, 50, 50, seed=s).build() for s in (3, 3, 4))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=5, k=6), r"k must be an integer in \[1, n=5\], got 6"),
        (dict(n=5, k=0), r"k must be"),
        (dict(n=0, k=1), r"n must be an integer >= 1"),
        (dict(n=5, k=2, n_train=0), r"n_train must be an integer >= 1"),
    ],
)
def test_parity_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseParity(**kwargs)


def test_taskdata_to_device_keeps_values():
    d = SparseParity(6, 2, 10, 10).build()
    e = d.to("cpu")
    assert torch.equal(d.x_train, e.x_train) and e.kind == d.kind


def test_parity_numpy_stream_is_the_authors_draw():
    import numpy as np

    from egd.grokking.tasks import SparseParity
    data = SparseParity(12, 3, n_train=40, n_test=30, seed=7, stream="numpy").build()
    rs = np.random.RandomState(7)
    x_tr, x_te = rs.choice([-1, 1], size=(40, 12)), rs.choice([-1, 1], size=(30, 12))  # train first, then test
    assert np.array_equal(data.x_train.numpy(), x_tr) and np.array_equal(data.x_test.numpy(), x_te)
    assert np.array_equal(data.y_train.numpy(), x_tr[:, 0] * x_tr[:, 1] * x_tr[:, 2])  # first k bits
    assert SparseParity(12, 3, stream="numpy").secret().tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="stream"):
        SparseParity(12, 3, stream="jax")


def test_numpy_streams_initialisation_and_config_rules():
    import numpy as np

    from egd.grokking.config import config_key, make_config, run_name
    from egd.grokking.engine import build_model
    config = make_config("parity", "vanilla", n=12, k=3, seed=5, width=6, random_streams="numpy")
    model = build_model(config, config.build_task().build())
    rs = np.random.RandomState(5)
    w1, b1, w2 = rs.randn(12, 6) * (2 / 12) ** 0.5, rs.randn(6) * (2 / 12) ** 0.5, rs.randn(6) * (2 / 6) ** 0.5
    np.testing.assert_allclose(model.hidden.weight.detach().numpy(), w1.T, rtol=1e-6)
    np.testing.assert_allclose(model.hidden.bias.detach().numpy(), b1, rtol=1e-6)
    np.testing.assert_allclose(model.output.weight.detach().numpy()[0], w2, rtol=1e-6)
    default = make_config("parity", "vanilla", n=12, k=3, seed=5, width=6)
    assert config_key(default) == config_key(make_config("parity", "vanilla", n=12, k=3, seed=5, width=6,
                                                         random_streams="torch"))
    assert config_key(config) != config_key(default) and "-numpy-" in run_name(config)
    with pytest.raises(ValueError, match="random_streams"):
        make_config("mod-add", "vanilla", p=5, random_streams="numpy")
