r"""A decoder-only transformer for ``a op b mod p`` (Appendix D; Power et al. 2022).

The architecture of the public scripts the paper's Table 7 comes from (the Grokfast
authors' ``main.py``, reused by the EGD authors): token and position embeddings, two
causal blocks of width 128 with 4 heads, a final LayerNorm and a bias-free head over the
``p + 2`` tokens. An equation ``a op b = c`` is the sequence ``a, op, b, =``; the model
predicts ``c`` at the last position, and loss and accuracy are on that answer token only.

One block, as those scripts write it (note the residual: it starts from the *normalised*
input, not from the block's input; we keep that quirk so the numbers are comparable):

.. math::
    h = \mathrm{LN}_1(x), \quad x' = h + \mathrm{Attn}(h), \quad
    \mathrm{out} = x' + W_{\text{out}}\,\mathrm{GELU}(W_{\text{in}}\,\mathrm{LN}_2(x') + b_{\text{in}}) + b_{\text{out}}

EGD transforms each block's two MLP matrices ``W_in`` ``(4 d, d)`` and ``W_out``
``(d, 4 d)`` (the public runs' choice). Weight decay, as in the public runs (Adam's own
``weight_decay`` over ``model.parameters()``), covers every parameter.

Initial values follow torch's defaults for the same modules (``nn.Embedding``:
``N(0, 1)``; ``nn.MultiheadAttention``: Xavier-uniform input projection, zero biases;
``nn.Linear``: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weight and bias; LayerNorm: 1 and
0), drawn from the given generator so a seed fixes them.

Cost: only the answer position is read, so the last block computes its queries, attention
output, MLP and the head for that one position (its keys and values still need every
position). That is the same function as the full forward pass, about a third cheaper.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: The public setting: 2 blocks, 4 heads; the width comes from the run config (128).
DEFAULT_LAYERS = 2
DEFAULT_HEADS = 4
#: MLP hidden size = MLP_RATIO * width.
MLP_RATIO = 4
#: Tokens per equation fed to the model: ``a, op, b, =``.
SEQUENCE_LENGTH = 4


def _uniform_(t: Tensor, bound: float, generator: torch.Generator | None) -> None:
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=generator)


def _linear(fan_in: int, fan_out: int, bias: bool, generator: torch.Generator | None) -> nn.Linear:
    """``nn.Linear`` with torch's default initial distribution, drawn from ``generator``."""
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    bound = 1.0 / math.sqrt(fan_in)
    _uniform_(layer.weight, bound, generator)
    if bias:
        _uniform_(layer.bias, bound, generator)
    return layer


class Block(nn.Module):
    """One causal block: multi-head attention then a GELU MLP, each after a LayerNorm."""

    def __init__(self, dim: int, heads: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width must be a multiple of heads={heads}, got {dim}")
        self.heads = heads
        self.ln_1 = nn.LayerNorm(dim)
        self.ln_2 = nn.LayerNorm(dim)
        # nn.MultiheadAttention's parametrisation and initial distribution
        self.qkv = nn.Linear(dim, 3 * dim)
        _uniform_(self.qkv.weight, math.sqrt(6.0 / (dim + 3 * dim)), generator)
        nn.init.zeros_(self.qkv.bias)
        self.attn_out = _linear(dim, dim, True, generator)
        nn.init.zeros_(self.attn_out.bias)
        self.mlp_in = _linear(dim, MLP_RATIO * dim, True, generator)
        self.mlp_out = _linear(MLP_RATIO * dim, dim, True, generator)

    def _split(self, t: Tensor) -> Tensor:
        n, s, d = t.shape
        return t.view(n, s, self.heads, d // self.heads).transpose(1, 2)  # (N, heads, S, d_head)

    def forward(self, x: Tensor, *, last_only: bool = False) -> Tensor:
        """``x``: ``(N, S, d)``; returns ``(N, S, d)``, or ``(N, 1, d)`` for the last position only."""
        h = self.ln_1(x)
        d = h.shape[-1]
        if last_only:
            w_q, w_kv = self.qkv.weight.split([d, 2 * d])
            b_q, b_kv = self.qkv.bias.split([d, 2 * d])
            k, v = F.linear(h, w_kv, b_kv).chunk(2, dim=-1)
            h = h[:, -1:]  # only the last position's output is read; it sees every position
            q = F.linear(h, w_q, b_q)
            a = F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v))
        else:
            q, k, v = self.qkv(h).chunk(3, dim=-1)
            a = F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v), is_causal=True)
        a = a.transpose(1, 2).reshape(h.shape)
        x = h + self.attn_out(a)
        return x + self.mlp_out(F.gelu(self.mlp_in(self.ln_2(x))))


class DecoderTransformer(nn.Module):
    """Decoder-only transformer on the equations of ``Mod(p, op)``; logits of the answer token.

    Parameters
    ----------
    p:
        The modulus: tokens ``0..p-1`` are residues, ``p`` is ``=`` and ``p + 1`` the
        operation (as in the public scripts).
    width, layers, heads:
        Model width ``d``, number of blocks, attention heads (public setting: 128, 2, 4).
    generator:
        Source of the initial weights (seeded by the engine, for determinism).

    ``forward(x)``: ``x`` int64 ``(N, 2)`` rows ``(a, p + b)``, the one-hot indices of
    :class:`egd.grokking.tasks.ModularArithmetic` (the model builds the token sequence
    ``a, op, b, =`` itself), or ``(N, 4)`` token sequences; returns ``(N, p + 2)`` logits.
    """

    def __init__(self, p: int, width: int = 128, *, layers: int = DEFAULT_LAYERS, heads: int = DEFAULT_HEADS,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, value in (("p", p), ("width", width), ("layers", layers), ("heads", heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.p = p
        self.vocab = p + 2
        self.token_embedding = nn.Embedding(self.vocab, width)
        self.position_embedding = nn.Embedding(SEQUENCE_LENGTH, width)
        with torch.no_grad():
            self.token_embedding.weight.normal_(generator=generator)
            self.position_embedding.weight.normal_(generator=generator)
        self.blocks = nn.ModuleList(Block(width, heads, generator) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        self.head = _linear(width, self.vocab, False, generator)

    def tokens(self, x: Tensor) -> Tensor:
        """``(N, 4)`` token sequences ``a, op, b, =`` from ``(N, 2)`` rows ``(a, p + b)``."""
        if x.dtype.is_floating_point:
            raise ValueError("the transformer reads token indices (int64); got a dense float input "
                             "(second_operand_scale != 1 has no token form)")
        if x.shape[-1] == SEQUENCE_LENGTH:
            return x
        if x.shape[-1] != 2:
            raise ValueError(f"x must have shape (N, 2) or (N, {SEQUENCE_LENGTH}), got {tuple(x.shape)}")
        a, b = x[:, 0], x[:, 1] - self.p
        return torch.stack([a, torch.full_like(a, self.p + 1), b, torch.full_like(a, self.p)], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.token_embedding(self.tokens(x)) + self.position_embedding.weight
        for i, block in enumerate(self.blocks):
            h = block(h, last_only=i == len(self.blocks) - 1)
        return self.head(self.ln_f(h[:, -1]))

    def transformed_parameters(self) -> list[nn.Parameter]:
        """Each block's two MLP matrices (the public EGD runs' choice)."""
        return [w for b in self.blocks for w in (b.mlp_in.weight, b.mlp_out.weight)]

    def decayed_parameters(self) -> list[nn.Parameter]:
        """Every parameter: the public runs decay ``model.parameters()`` (Adam's ``weight_decay``)."""
        return list(self.parameters())

    def hidden_weight(self) -> nn.Parameter:
        """The first block's ``W_in``: its norm is the history's ``hidden_norm``."""
        return self.blocks[0].mlp_in.weight

    def output_weight(self) -> nn.Parameter:
        """The head: its norm is the history's ``output_norm``."""
        return self.head.weight
