"""Grokfast-EMA baseline as a small stateful filter around :func:`egd.grokfast_ema_`."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from . import defaults as D
from .transforms import grokfast_ema_, grokfast_ema_init

__all__ = ["GrokfastEMA"]


class GrokfastEMA:
    """Holds the EMA ``h`` of ``params``' gradients; call it between ``backward()`` and ``step()``.

    ``h <- alpha h + (1 - alpha) g; g <- g + lamb h`` (Lee et al. 2024), the baseline of the
    paper's comparisons, through :func:`egd.grokfast_ema_`. ``h`` starts at the first gradient
    seen. Parameters without a gradient at a call are skipped.

    Args:
        params: the parameters whose gradients are filtered (at least one).
        alpha: EMA decay in ``[0, 1]``.
        lamb: amplification ``>= 0`` of the slow component.

    Raises:
        ValueError: ``params`` empty, ``alpha`` or ``lamb`` out of range; ``load_state_dict``
            with a state for another number of parameters.

    Examples:
        >>> import torch, egd
        >>> W = torch.nn.Parameter(torch.zeros(2))
        >>> grokfast = egd.GrokfastEMA([W], alpha=0.5, lamb=2.0)
        >>> W.grad = torch.ones(2)
        >>> grokfast()  # first call: h = g, so g <- g + 2 g
        >>> W.grad
        tensor([3., 3.])
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        *,
        alpha: float = D.DEFAULT_GROKFAST_ALPHA,
        lamb: float = D.DEFAULT_GROKFAST_LAMB,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("params must hold at least one tensor")
        grokfast_ema_([], [], alpha=alpha, lamb=lamb)  # validates alpha and lamb
        self.alpha, self.lamb = alpha, lamb
        self.ema: list[Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def __call__(self) -> None:
        """Filter the current gradients in place."""
        idx = [i for i, p in enumerate(self.params) if p.grad is not None]
        for i in idx:
            if self.ema[i] is None:
                self.ema[i] = grokfast_ema_init([self.params[i].grad])[0]
        grokfast_ema_([self.params[i].grad for i in idx], [self.ema[i] for i in idx], alpha=self.alpha, lamb=self.lamb)

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "lamb": self.lamb, "ema": [None if h is None else h.clone() for h in self.ema]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["ema"]) != len(self.params):
            raise ValueError(f"state['ema'] has {len(state['ema'])} entries, expected {len(self.params)}")
        self.alpha, self.lamb = state["alpha"], state["lamb"]
        self.ema = [None if h is None else h.clone().to(p.device) for h, p in zip(state["ema"], self.params)]
