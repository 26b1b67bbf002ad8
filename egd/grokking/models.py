"""The paper's 2-layer ReLU MLP (Section 5, Appendix B) and the interface the engine uses.

``f(x) = W2 relu(W1 x + b1)`` with ``W1: (width, in)``, ``b1: (width,)``,
``W2: (out, width)`` and no output bias. Paper init: ``W1 ~ N(0, 2/in)``,
``W2 ~ N(0, 2/width)``, ``b1 = 0`` (modular arithmetic) or ``b1 ~ N(0, 2/in)``
(sparse parity).

Any ``torch.nn.Module`` can be trained by :class:`egd.grokking.engine.Trainer` if it
satisfies :class:`egd.grokking.engine.TrainableModel`: ``transformed_parameters()`` (the
weight matrices whose gradients the method transforms; here only the hidden layer's
weight, as in the paper's main results), ``decayed_parameters()`` (the weights in the L2
term ``0.5 wd sum ||W||^2`` of the loss; biases excluded), and ``hidden_weight()`` /
``output_weight()`` (the weights whose norms the history records).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class TwoLayerMLP(nn.Module):
    """``f(x) = W2 relu(W1 x + b1)``; accepts dense or one-hot-index inputs.

    Parameters
    ----------
    in_features, width, out_features:
        Layer sizes; ``hidden.weight`` is ``W1`` of shape ``(width, in_features)``,
        ``output.weight`` is ``W2`` of shape ``(out_features, width)``.
    hidden_bias_std:
        Standard deviation of the initial ``b1`` (0 for modular arithmetic,
        ``sqrt(2/in)`` for sparse parity).
    generator:
        Source of the initial weights (seeded by the engine, for determinism).

    ``forward(x)``: ``x`` float ``(N, in)``, or int64 ``(N, j)`` indices of the ones of a
    0/1 input; returns ``(N, out)``, or ``(N,)`` when ``out_features == 1``.
    """

    def __init__(
        self,
        in_features: int,
        width: int,
        out_features: int,
        *,
        hidden_bias_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("width", width), ("out_features", out_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if hidden_bias_std < 0:
            raise ValueError(f"hidden_bias_std must be >= 0, got {hidden_bias_std!r}")
        self.hidden = nn.Linear(in_features, width)
        self.output = nn.Linear(width, out_features, bias=False)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.randn(width, in_features, generator=generator) * math.sqrt(2 / in_features))
            self.hidden.bias.copy_(torch.randn(width, generator=generator) * hidden_bias_std)
            self.output.weight.copy_(torch.randn(out_features, width, generator=generator) * math.sqrt(2 / width))

    def hidden_preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """``W1 x + b1``, shape ``(N, width)``; a gather for one-hot-index inputs."""
        if x.dtype.is_floating_point:
            return F.linear(x, self.hidden.weight, self.hidden.bias)
        return OneHotLinear.apply(x, self.hidden.weight, self.hidden.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(torch.relu(self.hidden_preactivation(x)), self.output.weight)
        return out.squeeze(-1) if out.shape[-1] == 1 else out

    def transformed_parameters(self) -> list[nn.Parameter]:
        """Weights whose gradient the method transforms: ``[W1]`` (paper's main results)."""
        return [self.hidden.weight]

    def decayed_parameters(self) -> list[nn.Parameter]:
        """Weights in the loss's L2 term ``0.5 wd (||W1||^2 + ||W2||^2)``; no bias."""
        return [self.hidden.weight, self.output.weight]

    def hidden_weight(self) -> nn.Parameter:
        """``W1``: its norm is the history's ``hidden_norm``."""
        return self.hidden.weight

    def output_weight(self) -> nn.Parameter:
        """``W2``, the output layer: its norm is the history's ``output_norm``."""
        return self.output.weight


class OneHotLinear(torch.autograd.Function):
    """``W x + b`` for 0/1 inputs ``x`` given by the indices of their ones.

    ``idx``: int64 ``(N, j)``; ``weight``: ``(out, in)``; ``bias``: ``(out,)``.
    Forward: ``b + sum_j W[:, idx[:, j]]`` (a gather), equal to ``F.linear(onehot, W, b)``.
    Backward: ``dW[:, i] = sum of the output gradients of the rows whose input has a one
    at ``i`` (an ``index_add``). Both are exact, and on a CPU several times cheaper than
    the dense product with the mostly-zero input (and than autograd's generic indexing
    backward, which sorts the indices).
    """

    @staticmethod
    def forward(ctx, idx: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        weight_t = weight.t().contiguous()  # row gathers from a contiguous copy: several x faster
        pre = torch.index_select(weight_t, 0, idx[:, 0])
        for j in range(1, idx.shape[1]):
            pre.add_(torch.index_select(weight_t, 0, idx[:, j]))
        pre.add_(bias)
        ctx.save_for_backward(idx)
        ctx.in_features = weight.shape[1]
        return pre

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (idx,) = ctx.saved_tensors
        grad_weight_t = grad.new_zeros(ctx.in_features, grad.shape[1])
        for j in range(idx.shape[1]):
            grad_weight_t.index_add_(0, idx[:, j], grad)
        return None, grad_weight_t.t(), grad.sum(0)
