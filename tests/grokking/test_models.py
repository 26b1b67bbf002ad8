"""The 2-layer MLP: gather path equals the dense one-hot product, init, interface."""

import math

import pytest
import torch
from torch.nn import functional as F

from egd.grokking.models import OneHotLinear, TwoLayerMLP

EXACT_DOUBLE = 1e-12
INIT_STD_RTOL = 0.05  # relative tolerance of an empirical std over >= 50k samples


def _one_hot(idx: torch.Tensor, in_features: int, dtype=torch.float64) -> torch.Tensor:
    x = torch.zeros(idx.shape[0], in_features, dtype=dtype)
    for j in range(idx.shape[1]):
        x[torch.arange(idx.shape[0]), idx[:, j]] += 1
    return x


def test_onehot_linear_matches_dense_forward_and_backward():
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(7, 10, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(7, dtype=torch.float64, generator=gen, requires_grad=True)
    idx = torch.stack([torch.randint(0, 5, (30,), generator=gen), 5 + torch.randint(0, 5, (30,), generator=gen)], 1)
    upstream = torch.randn(30, 7, dtype=torch.float64, generator=gen)
    out = OneHotLinear.apply(idx, W, b)
    gw, gb = torch.autograd.grad(out, (W, b), upstream)
    dense = F.linear(_one_hot(idx, 10), W, b)
    dw, db = torch.autograd.grad(dense, (W, b), upstream)
    assert torch.allclose(out, dense, atol=EXACT_DOUBLE, rtol=0)
    assert torch.allclose(gw, dw, atol=EXACT_DOUBLE, rtol=0)
    assert torch.allclose(gb, db, atol=EXACT_DOUBLE, rtol=0)


def test_onehot_linear_passes_gradcheck_with_repeated_indices():
    gen = torch.Generator().manual_seed(2)
    W = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True)
    idx = torch.tensor([[0, 0], [1, 3], [3, 3], [2, 1]])  # repeats: ones counted twice
    assert torch.autograd.gradcheck(lambda w, c: OneHotLinear.apply(idx, w, c), (W, b))


def test_model_gives_same_output_for_indices_and_dense_one_hot():
    model = TwoLayerMLP(10, 16, 5, generator=torch.Generator().manual_seed(1)).double()
    idx = torch.tensor([[0, 5], [4, 9], [2, 7]])
    assert torch.allclose(model(idx), model(_one_hot(idx, 10)), atol=EXACT_DOUBLE, rtol=0)


def test_paper_init_statistics():
    width, n_in = 512, 200
    model = TwoLayerMLP(n_in, width, 97, generator=torch.Generator().manual_seed(0)).requires_grad_(False)
    assert math.isclose(float(model.hidden.weight.std()), math.sqrt(2 / n_in), rel_tol=INIT_STD_RTOL)
    assert math.isclose(float(model.output.weight.std()), math.sqrt(2 / width), rel_tol=INIT_STD_RTOL)
    assert float(model.hidden.bias.abs().max()) == 0.0
    assert model.output.bias is None


def test_parity_init_has_random_bias_and_scalar_output():
    std = math.sqrt(2 / 100)
    model = TwoLayerMLP(100, 50_000, 1, hidden_bias_std=std, generator=torch.Generator().manual_seed(0))
    model.requires_grad_(False)
    assert math.isclose(float(model.hidden.bias.std()), std, rel_tol=INIT_STD_RTOL)
    assert model(torch.ones(4, 100)).shape == (4,)


def test_init_is_seeded():
    a, b = (TwoLayerMLP(6, 8, 3, generator=torch.Generator().manual_seed(5)) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_engine_interface_names_hidden_weight_and_decayed_weights():
    model = TwoLayerMLP(6, 8, 3)
    assert model.transformed_parameters() == [model.hidden.weight]
    decayed = model.decayed_parameters()
    assert len(decayed) == 2 and decayed[0] is model.hidden.weight and decayed[1] is model.output.weight
    assert all(p is not model.hidden.bias for p in decayed)


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_features=0, width=4, out_features=2), "in_features"),
    (dict(in_features=3, width=0, out_features=2), "width"),
    (dict(in_features=3, width=4, out_features=2, hidden_bias_std=-1.0), "hidden_bias_std"),
])
def test_model_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoLayerMLP(**kwargs)


def test_keep_freed_memory_is_harmless():
    from egd.grokking.cpu_allocator import keep_freed_memory

    assert keep_freed_memory() in (True, False)
    assert torch.index_select(torch.eye(3), 0, torch.tensor([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
