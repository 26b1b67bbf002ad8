"""The decoder-only transformer of Appendix D: the public scripts' function, token layout, interface."""

import pytest
import torch
from torch import nn

from egd.grokking.engine import TrainableModel
from egd.grokking.tasks import ModularArithmetic
from egd.grokking.transformer import DecoderTransformer

ATOL = 1e-5  # float32: same function, other summation order (fused projections, last position only)


class PublicBlock(nn.Module):
    """The block as the public scripts write it, with torch's nn.MultiheadAttention (sequence first)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        mask = torch.triu(torch.full((len(x), len(x)), -float("inf")), diagonal=1)
        x = self.ln_1(x)
        a, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        x = x + a
        return x + self.mlp(self.ln_2(x))


def public_forward(model: DecoderTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Logits of the last position, computed by the public architecture with our weights."""
    dim = model.token_embedding.weight.shape[1]
    h = model.token_embedding(tokens.T) + model.position_embedding.weight[:, None, :]
    for ours in model.blocks:
        block = PublicBlock(dim, ours.heads)
        with torch.no_grad():
            block.ln_1.load_state_dict(ours.ln_1.state_dict())
            block.ln_2.load_state_dict(ours.ln_2.state_dict())
            block.attn.in_proj_weight.copy_(ours.qkv.weight)
            block.attn.in_proj_bias.copy_(ours.qkv.bias)
            block.attn.out_proj.load_state_dict(ours.attn_out.state_dict())
            block.mlp[0].load_state_dict(ours.mlp_in.state_dict())
            block.mlp[2].load_state_dict(ours.mlp_out.state_dict())
        h = block(h)
    return model.head(model.ln_f(h))[-1]


def test_forward_equals_the_public_architecture():
    p = 11
    model = DecoderTransformer(p, 32, heads=4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # make biases and norms nontrivial, so the comparison covers them
        for name, t in model.named_parameters():
            if "ln" in name or "bias" in name:
                t.add_(0.1 * torch.randn(t.shape, generator=torch.Generator().manual_seed(len(name))))
    data = ModularArithmetic(p, "mul").build()
    tokens = model.tokens(data.x_train)
    ours = model(data.x_train)
    assert ours.shape == (data.n_train, p + 2)
    assert torch.allclose(ours, public_forward(model, tokens), atol=ATOL, rtol=0)


def test_tokens_are_a_op_b_equals():
    p = 7
    model = DecoderTransformer(p, 8, heads=2)
    x = torch.tensor([[3, p + 5], [0, p + 0]])
    assert model.tokens(x).tolist() == [[3, p + 1, 5, p], [0, p + 1, 0, p]]
    with pytest.raises(ValueError, match="token indices"):
        model.tokens(torch.zeros(2, 2 * p))


def test_interface_and_transformed_matrices():
    model = DecoderTransformer(97, 128)
    assert isinstance(model, TrainableModel)
    shapes = [tuple(w.shape) for w in model.transformed_parameters()]
    assert shapes == [(512, 128), (128, 512)] * 2
    assert len(model.decayed_parameters()) == len(list(model.parameters()))
    assert model.output_weight() is model.head.weight and model.head.bias is None


def test_initial_values_follow_the_seed_and_torch_defaults():
    a = DecoderTransformer(97, 128, generator=torch.Generator().manual_seed(1))
    b = DecoderTransformer(97, 128, generator=torch.Generator().manual_seed(1))
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(x, y), name
    block = a.blocks[0]
    assert block.qkv.weight.abs().max() <= (6 / (128 + 3 * 128)) ** 0.5
    assert block.mlp_in.weight.abs().max() <= 128**-0.5 and block.mlp_out.weight.abs().max() <= 512**-0.5
    assert torch.count_nonzero(block.qkv.bias) == 0 and torch.count_nonzero(block.attn_out.bias) == 0
    assert 0.9 < a.token_embedding.weight.std().item() < 1.1


@pytest.mark.parametrize("bad", [dict(p=0), dict(width=30, heads=4), dict(heads=True)])
def test_bad_arguments_are_refused(bad):
    args = dict(p=5, width=8, heads=2) | bad
    with pytest.raises(ValueError):
        DecoderTransformer(args.pop("p"), args.pop("width"), **args)
