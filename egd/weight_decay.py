r"""Weight decay with EGD: two different algorithms, both expressible.

* **L2 in the loss** (the paper's main results): minimise
  ``loss + 0.5 * wd * sum ||W||^2``. The decay term is part of the gradient, so it passes
  THROUGH the EGD transform: ``W <- W - lr * orth(G + wd W)``. Write it with
  :func:`l2_penalty` added to the loss.
* **Decay after the transform**: ``W <- W - lr * (orth(G) + wd W)`` with the inner
  optimizer's own ``weight_decay`` (``SGD(weight_decay=wd)`` adds ``wd W`` to the already
  transformed gradient), or truly decoupled ``W <- (1 - lr wd) W - lr * update`` with
  ``AdamW``. ``EGD`` transforms ``.grad`` before the inner step, so whatever the inner
  optimizer does with ``weight_decay`` happens after the transform.

The two differ: through the transform the decay direction is re-weighted with every other
direction to singular value 1; after it, the decay keeps its own scale ``wd ||W||``.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["l2_penalty"]


def l2_penalty(params: Iterable[Tensor], wd: float) -> Tensor:
    r"""The paper's L2 term :math:`\frac{1}{2}\,\mathrm{wd} \sum_W \lVert W \rVert_F^2`: add it to the loss.

    In the loss, the decay is part of the gradient and passes through the EGD transform;
    an optimizer's own ``weight_decay`` acts after it instead (see :class:`egd.EGD`).

    Args:
        params: the tensors to decay (at least one).
        wd: weight-decay coefficient, finite and ``>= 0``.

    Returns:
        A 0-dimensional tensor.

    Raises:
        ValueError: ``wd`` out of range or ``params`` empty.

    Examples:
        >>> import torch, egd
        >>> egd.l2_penalty([torch.ones(2, 2)], wd=1.0)
        tensor(2.)
    """
    if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not (wd >= 0 and math.isfinite(wd)):
        raise ValueError(f"wd must be a finite float >= 0, got {wd!r}")
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor")
    return 0.5 * wd * torch.stack([p.square().sum() for p in params]).sum()
