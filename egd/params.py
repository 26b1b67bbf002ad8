"""Which parameters EGD transforms, and how a parameter's gradient becomes a matrix."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from torch import Tensor, nn

from . import defaults as D

__all__ = ["select_params", "as_matrix"]


def as_matrix(t: Tensor) -> Tensor:
    """View a weight (or its gradient) as the matrix EGD acts on: ``(shape[0], -1)``.

    Linear ``(out, in)`` stays as is; a conv weight ``(out, in, kh, kw)`` becomes
    ``(out, in * kh * kw)``, one row per output channel. The result is a view when the
    tensor is contiguous, so writing into it writes into ``t``.

    Raises:
        ValueError: ``t`` has fewer than 2 dimensions.

    Examples:
        >>> import torch, egd
        >>> egd.as_matrix(torch.zeros(8, 3, 2, 2)).shape  # a conv weight (out, in, kh, kw)
        torch.Size([8, 12])
    """
    if t.ndim < 2:
        raise ValueError(f"tensor must have ndim >= 2 to be a matrix, got shape {tuple(t.shape)}")
    return t.reshape(t.shape[0], -1)


def select_params(
    model: nn.Module,
    *,
    names: Iterable[str] | None = None,
    modules: Iterable[nn.Module | type] | None = None,
    min_ndim: int = D.DEFAULT_MIN_NDIM,
) -> list[nn.Parameter]:
    """Parameters of ``model`` that EGD should transform.

    Args:
        model: the network.
        names: ``fnmatch`` patterns on qualified names (``"fc1.weight"``,
            ``"blocks.*.mlp.*.weight"``); every pattern must match something.
        modules: sub-module instances or module classes (``nn.Linear``) whose parameters
            are selected.
        min_ndim: ``>= 2``; parameters with fewer dimensions (biases, norms) are never
            selected.

    With neither ``names`` nor ``modules``: every parameter with ``ndim >= min_ndim`` (the
    default of the wrappers, :data:`egd.defaults.DEFAULT_MIN_NDIM`). With both: parameters
    matching either. Order follows ``model.named_parameters()``; trainable parameters only.

    Returns:
        The selected parameters, a list.

    Raises:
        ValueError: ``min_ndim`` not an int ``>= 2``, a pattern or module entry matching
            nothing, or a ``modules`` entry that is neither a module nor a module class.

    Examples:
        >>> import torch, egd
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> [tuple(p.shape) for p in egd.select_params(model)]  # weights, not biases
        [(8, 4), (2, 8)]
        >>> [tuple(p.shape) for p in egd.select_params(model, names=["0.*"])]
        [(8, 4)]
    """
    if isinstance(min_ndim, bool) or not isinstance(min_ndim, int) or min_ndim < 2:
        raise ValueError(f"min_ndim must be an int >= 2, got {min_ndim!r}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if names is None and modules is None:
        chosen = {id(p) for _, p in named}
    else:
        chosen = set()
        for pattern in [names] if isinstance(names, str) else (names or []):
            hits = [p for n, p in named if fnmatch.fnmatchcase(n, pattern)]
            if not hits:
                examples = [n for n, _ in named[:5]]
                raise ValueError(f"names pattern {pattern!r} matches no parameter of the model; "
                                 f"names are e.g. {examples}")
            chosen.update(id(p) for p in hits)
        for m in modules or []:
            if isinstance(m, type) and issubclass(m, nn.Module):
                subs = [s for s in model.modules() if isinstance(s, m)]
            elif isinstance(m, nn.Module):
                subs = [m]
            else:
                raise ValueError(f"modules must hold nn.Module instances or classes, got {m!r}")
            if not subs:
                raise ValueError(f"modules entry {m!r} matches no sub-module of the model")
            chosen.update(id(p) for s in subs for p in s.parameters())
    return [p for _, p in named if id(p) in chosen and p.ndim >= min_ndim]
