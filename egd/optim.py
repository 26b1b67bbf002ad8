r"""EGD as an optimizer: one in-place core, three ways to use it.

* :func:`orthogonalize_grads_` — in place on ``p.grad``, for custom loops;
* :class:`EGD` — wraps any ``torch.optim.Optimizer`` (SGD, Adam, AdamW, ...);
* :func:`attach` — a ``register_step_pre_hook`` on an existing optimizer, removable.

All three call :func:`orthogonalize_grads_` with the same :class:`EGDOptions`, i.e. the
keyword options of :func:`egd.orthogonalize` (``method``, ``rank``, ``n_iter``,
``oversampling``, ``rtol``, ``ns_steps``, ``ns_coefficients``, ``check_finite``,
``spectral_cutoff``, ``batch_rank``).
Each selected gradient is viewed as a matrix ``(shape[0], -1)`` (conv weights
``(out, in*kh*kw)``), replaced by ``U V^T`` (paper eq. 11) and written back in place.

Algorithm 1 (switch-off): call ``switch_off_if(val_acc)`` after each evaluation; once the
metric exceeds the threshold the transform is disabled for good and the inner optimizer
takes plain steps. Weight decay: see :mod:`egd.weight_decay`.
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import defaults as D
from .params import as_matrix
from .transforms import orthogonalize, validate_orthogonalize_options

__all__ = ["EGDOptions", "orthogonalize_grads_", "EGD", "attach", "EGDHook"]


@dataclasses.dataclass(frozen=True)
class EGDOptions:
    """The keyword options of :func:`egd.orthogonalize`, validated once at construction.

    The fields and their defaults are those of :func:`egd.orthogonalize` (from
    :mod:`egd.defaults`); :class:`EGD`, :func:`attach` and :func:`orthogonalize_grads_` build one
    from their keyword arguments.

    Raises:
        ValueError: an option :func:`egd.orthogonalize` rejects, or ``check_finite`` not a bool.

    Examples:
        >>> import egd
        >>> egd.EGDOptions(method="rsvd", rank=64).rank
        64
        >>> egd.EGDOptions(method="rsvd")
        Traceback (most recent call last):
        ...
        ValueError: rank must be an int >= 1 for method='rsvd', got None
    """

    method: str | None = None
    rank: int | None = None
    n_iter: int = D.DEFAULT_RSVD_N_ITER
    oversampling: int = D.DEFAULT_RSVD_OVERSAMPLING
    rtol: float | None = D.DEFAULT_RTOL
    ns_steps: int = D.DEFAULT_NS_STEPS
    ns_coefficients: Any = D.DEFAULT_NS_COEFFICIENTS
    check_finite: bool = D.DEFAULT_CHECK_FINITE
    spectral_cutoff: float | None = None
    batch_rank: int | None = None

    def __post_init__(self) -> None:
        validate_orthogonalize_options(
            method=self.method, rank=self.rank, n_iter=self.n_iter, oversampling=self.oversampling,
            rtol=self.rtol, ns_steps=self.ns_steps, ns_coefficients=self.ns_coefficients,
            spectral_cutoff=self.spectral_cutoff, batch_rank=self.batch_rank,
        )
        if not isinstance(self.check_finite, bool):
            raise ValueError(f"check_finite must be a bool, got {self.check_finite!r}")

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> EGDOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown EGD option(s) {unknown}; allowed: {sorted(known)}")
        return cls(**options)


def _check_finite_all(grads: list[Tensor]) -> None:
    # One reduction and one host sync for all gradients instead of one per matrix.
    ok = torch.stack([torch.isfinite(g).all().to(grads[0].device) for g in grads]).all()
    if not bool(ok):
        for i, g in enumerate(grads):
            if not bool(torch.isfinite(g).all()):
                raise ValueError(
                    f"params[{i}].grad must be finite; got {int(torch.isnan(g).sum())} NaN and "
                    f"{int(torch.isinf(g).sum())} inf entries in shape {tuple(g.shape)}"
                )


def orthogonalize_grads_(
    params: Iterable[Tensor],
    *,
    generator: torch.Generator | None = None,
    options: EGDOptions | None = None,
    **kwargs: Any,
) -> None:
    """In place: ``p.grad <- U V^T`` of ``as_matrix(p.grad)`` for every ``p`` with a gradient (paper Eq. 11).

    The functional form, for custom training loops: call it between ``backward()`` and the
    optimizer's step.

    Args:
        params: tensors with ``ndim >= 2`` (parameters without ``.grad`` are skipped).
        generator: seeds rsvd's sketches.
        options: an :class:`EGDOptions`; or give its fields as keyword arguments.

    Raises:
        ValueError: a parameter with ``ndim < 2`` or a sparse gradient, a non-finite gradient
            (when ``check_finite``), both ``options`` and keyword options, or an unknown or
            invalid option.

    Examples:
        >>> import torch, egd
        >>> W = torch.nn.Parameter(torch.zeros(3, 2))
        >>> W.grad = torch.tensor([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
        >>> egd.orthogonalize_grads_([W], method="svd")
        >>> W.grad
        tensor([[1., 0.],
                [0., 1.],
                [0., 0.]])
    """
    if options is None:
        options = EGDOptions.from_kwargs(kwargs)
    elif kwargs:
        raise ValueError(f"give either options or keyword options, not both (got {sorted(kwargs)})")
    params = list(params)
    for i, p in enumerate(params):
        if p.ndim < 2:
            raise ValueError(f"params[{i}] must have ndim >= 2 for EGD, got shape {tuple(p.shape)}")
        if p.grad is not None and p.grad.is_sparse:
            raise ValueError(f"params[{i}].grad is sparse; EGD needs dense gradients")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    if options.check_finite:
        _check_finite_all(grads)
    kw = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    kw.update(check_finite=False, generator=generator)  # finiteness checked above, once
    for g in grads:
        g.copy_(orthogonalize(as_matrix(g), **kw).view_as(g))


class _Switchable:
    """``enabled`` flag with Algorithm 1's one-way switch-off."""

    enabled: bool

    def switch_off_if(self, metric: float | Tensor, threshold: float = D.DEFAULT_SWITCH_OFF_THRESHOLD) -> bool:
        """Disable the transform for good once ``metric > threshold``; return ``enabled``.

        Call it after each evaluation with the validation accuracy (Algorithm 1; the default
        threshold is :data:`egd.defaults.DEFAULT_SWITCH_OFF_THRESHOLD`). A tensor metric is read
        once here (outside ``step()``).

        Raises:
            ValueError: ``threshold`` not a finite float, or ``metric`` NaN.
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite float, got {threshold!r}")
        value = float(metric)
        if math.isnan(value):
            raise ValueError(f"metric must not be NaN, got {metric!r}")
        if value > threshold:
            self.enabled = False
        return self.enabled


def _resolve_selection(candidates: list[Tensor], params: Iterable[Tensor] | None, where: str) -> list[Tensor]:
    if params is None:
        return [p for p in candidates if p.ndim >= D.DEFAULT_MIN_NDIM]
    known = {id(p) for p in candidates}
    chosen = list(params)
    for i, p in enumerate(chosen):
        if id(p) not in known:
            raise ValueError(f"params[{i}] (shape {tuple(p.shape)}) is not a parameter of {where}")
        if p.ndim < 2:
            raise ValueError(f"params[{i}] must have ndim >= 2 for EGD, got shape {tuple(p.shape)}")
    return chosen


def _optimizer_params(optimizer: Optimizer) -> list[Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class EGD(Optimizer, _Switchable):
    r"""Egalitarian Gradient Descent around any torch optimizer.

    ``step()`` replaces the ``.grad`` of each selected parameter by ``U V^T`` (paper eq. 11;
    :func:`orthogonalize_grads_`) and then calls ``optimizer.step()``. ``param_groups``,
    ``state``, ``defaults``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` are the
    inner optimizer's, so LR schedulers and Lightning treat it as that optimizer.

    Args:
        optimizer: the inner optimizer (``SGD(model.parameters(), lr=0.7)``, ``AdamW``...).
        params: parameters to transform, all belonging to ``optimizer``; default: all of
            its parameters with ``ndim >= 2`` (see :func:`egd.select_params`).
        enabled: start with the transform on (Algorithm 1 turns it off).
        generator: seeds rsvd's sketches.
        **options: :class:`EGDOptions` fields (``method``, ``rank``, ``n_iter``,
            ``oversampling``, ``rtol``, ``ns_steps``, ``ns_coefficients``, ``check_finite``,
            ``spectral_cutoff``). With an L2 term in the loss, ``rank`` (e.g. the batch
            size) or ``spectral_cutoff`` keep the weight-decay-only directions from
            getting unit steps, for runs where exact EGD stalls; see :func:`egd.orthogonalize`.

    Raises:
        TypeError: ``optimizer`` is not a ``torch.optim.Optimizer``.
        ValueError: ``optimizer`` is already an :class:`EGD`, ``params`` holds a tensor the
            optimizer does not own or with ``ndim < 2``, ``enabled`` is not a bool, or an
            option is unknown or invalid.

    Examples:
        >>> import torch, egd
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1))
        >>> loss = model(torch.randn(16, 4)).square().mean()
        >>> loss.backward(); opt.step(); opt.zero_grad()
        >>> opt.switch_off_if(0.99)  # Algorithm 1: above the threshold, plain SGD steps from now on
        False

    The threshold of ``switch_off_if`` defaults to
    :data:`egd.defaults.DEFAULT_SWITCH_OFF_THRESHOLD`.

    ``step(closure)`` evaluates the closure once, transforms, then steps the inner optimizer
    without it (re-evaluating optimizers such as LBFGS are not supported).

    Host-device synchronisation in ``step()``: one for the joint finiteness check of all
    selected gradients (``check_finite=False`` removes it) plus whatever the linear algebra
    needs (``svd``/``eigh`` check their status on CUDA; ``newton_schulz`` needs none).
    Weight decay: the inner optimizer's ``weight_decay`` acts after the transform; put the
    paper's L2 term in the loss (:func:`egd.l2_penalty`) to pass it through the transform.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        params: Iterable[Tensor] | None = None,
        *,
        enabled: bool = True,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(optimizer, EGD):
            raise ValueError("optimizer is already an EGD wrapper; wrap the inner optimizer once")
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be a bool, got {enabled!r}")
        self.options = EGDOptions.from_kwargs(options)
        self.optimizer = optimizer
        self._select_all = params is None
        self.egd_params = _resolve_selection(_optimizer_params(optimizer), params, "the wrapped optimizer")
        self.enabled = enabled
        self.generator = generator
        # What Optimizer.__init__ sets up, minus param_groups/state, which are the inner's.
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            setattr(self, name, OrderedDict())
        self._patch_step_function()

    # The inner optimizer's containers, looked up each time: load_state_dict replaces them.
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self):  # type: ignore[override]
        return self.optimizer.state

    @state.setter
    def state(self, value) -> None:
        self.optimizer.state = value

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.optimizer.defaults = value

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._patch_step_function()

    def __repr__(self) -> str:
        opts = ", ".join(f"{f.name}={getattr(self.options, f.name)!r}" for f in dataclasses.fields(self.options))
        return f"EGD(enabled={self.enabled}, {len(self.egd_params)} params, {opts},\n  optimizer={self.optimizer!r})"

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        """Transform the selected gradients (when enabled), then step the inner optimizer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.enabled:
            orthogonalize_grads_(self.egd_params, generator=self.generator, options=self.options)
        self.optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer; with the default selection its ``ndim >= 2``
        parameters are transformed too."""
        before = {id(p) for p in _optimizer_params(self.optimizer)}
        self.optimizer.add_param_group(param_group)
        if self._select_all:
            new = [p for p in _optimizer_params(self.optimizer) if id(p) not in before]
            self.egd_params += [p for p in new if p.ndim >= D.DEFAULT_MIN_NDIM]

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The inner optimizer's state dict plus ``"egd": {"enabled": ...}``."""
        sd = self.optimizer.state_dict()
        sd["egd"] = {"enabled": self.enabled}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        sd = dict(state_dict)
        egd_state = sd.pop("egd", None)
        self.optimizer.load_state_dict(sd)
        if egd_state is not None:
            self.enabled = bool(egd_state["enabled"])


class EGDHook(_Switchable):
    """Handle returned by :func:`attach`: ``enabled``, ``switch_off_if`` and ``remove()``.

    Not constructed directly.

    Raises:
        ValueError: from ``switch_off_if``, as :meth:`EGD.switch_off_if`.

    Examples:
        >>> import torch, egd
        >>> hook = egd.attach(torch.optim.SGD([torch.nn.Parameter(torch.zeros(3, 2))], lr=0.1))
        >>> hook.enabled, hook.switch_off_if(0.5), hook.switch_off_if(1.0)
        (True, True, False)
        >>> hook.remove()
    """

    def __init__(self, params: list[Tensor], options: EGDOptions, generator: torch.Generator | None, enabled: bool):
        self.egd_params = params
        self.options = options
        self.generator = generator
        self.enabled = enabled
        self._handle = None

    def __call__(self, optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        if self.enabled:
            with torch.no_grad():
                orthogonalize_grads_(self.egd_params, generator=self.generator, options=self.options)

    def remove(self) -> None:
        """Detach from the optimizer (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def attach(
    optimizer: Optimizer,
    params: Iterable[Tensor] | None = None,
    *,
    enabled: bool = True,
    generator: torch.Generator | None = None,
    **options: Any,
) -> EGDHook:
    """Make an existing optimizer take EGD steps through ``register_step_pre_hook``.

    Same arguments as :class:`EGD`. Returns an :class:`EGDHook`; ``hook.remove()`` restores
    plain steps, ``hook.switch_off_if(val_acc)`` implements Algorithm 1. The optimizer object
    is unchanged, so code that holds it (schedulers, checkpoints) keeps working; the hook's
    ``enabled`` flag is not part of the optimizer's ``state_dict``.

    Raises:
        TypeError: ``optimizer`` is not a ``torch.optim.Optimizer``.
        ValueError: as :class:`EGD`.

    Examples:
        >>> import torch, egd
        >>> W = torch.nn.Parameter(torch.zeros(3, 2))
        >>> sgd = torch.optim.SGD([W], lr=1.0)
        >>> hook = egd.attach(sgd, method="svd")
        >>> W.grad = torch.tensor([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
        >>> sgd.step()  # the step sees U V^T, not the raw gradient
        >>> torch.equal(W.data, -torch.eye(3, 2))
        True
        >>> hook.remove()  # plain SGD steps again
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be a bool, got {enabled!r}")
    opts = EGDOptions.from_kwargs(options)
    chosen = _resolve_selection(_optimizer_params(optimizer), params, "the optimizer")
    hook = EGDHook(chosen, opts, generator, enabled)
    hook._handle = optimizer.register_step_pre_hook(hook)
    return hook
