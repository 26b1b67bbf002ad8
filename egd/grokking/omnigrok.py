"""Omnigrok's MNIST model (Liu et al. 2023), the model of Appendix D's image runs.

A 3-layer ReLU MLP ``in -> width -> width -> 10`` built from ``nn.Linear`` layers with
torch's default initial distribution (weight and bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``),
then every parameter multiplied by ``init_scale`` (8 in Omnigrok's and the public runs:
the large initialisation that makes MNIST grok). EGD transforms all three weight matrices
(the public runs' choice); weight decay, as AdamW's over ``model.parameters()`` there,
covers every parameter.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: Omnigrok's initial scale.
DEFAULT_INIT_SCALE = 8.0


class ThreeLayerMLP(nn.Module):
    """``f(x) = W3 relu(W2 relu(W1 x + b1) + b2) + b3``, all parameters ``x init_scale`` at init.

    ``x``: float ``(N, in_features)`` (flattened images); returns ``(N, out_features)``.
    """

    def __init__(self, in_features: int, width: int, out_features: int, *, init_scale: float = DEFAULT_INIT_SCALE,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("width", width), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in
                                    ((in_features, width), (width, width), (width, out_features)))
        with torch.no_grad():
            for layer in self.layers:
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator).mul_(init_scale)
                layer.bias.uniform_(-bound, bound, generator=generator).mul_(init_scale)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return F.linear(x, self.layers[-1].weight, self.layers[-1].bias)

    def transformed_parameters(self) -> list[nn.Parameter]:
        """The three weight matrices (the public EGD runs transform all of them)."""
        return [layer.weight for layer in self.layers]

    def decayed_parameters(self) -> list[nn.Parameter]:
        """Every parameter: the public runs decay ``model.parameters()`` (AdamW's ``weight_decay``)."""
        return list(self.parameters())

    def hidden_weight(self) -> nn.Parameter:
        """``W1``: its norm is the history's ``hidden_norm``."""
        return self.layers[0].weight

    def output_weight(self) -> nn.Parameter:
        """``W3``, the output layer: its norm is the history's ``output_norm``."""
        return self.layers[-1].weight
