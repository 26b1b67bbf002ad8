"""egd — Egalitarian Gradient Descent for PyTorch, the library.

EGD replaces a layer's gradient ``G = U S V^T`` by ``(G G^T)^{-1/2} G = U V^T`` (Eq. 11 of
Saheb Pasand & Dohmatob, ICLR 2026), so every singular direction moves at the same speed.

* :func:`orthogonalize` — the transform and its backends (``svd``, ``gram``, ``rsvd``,
  ``newton_schulz``), for a matrix or a batch ``(..., m, n)``;
* :class:`EGD`, :func:`attach`, :func:`orthogonalize_grads_` — the optimizer wrapper, the
  step-pre-hook and the functional form, for any ``torch.optim`` optimizer;
* :func:`select_params`, :func:`as_matrix` — which parameters, and their gradient as a matrix;
* :func:`column_normalize`, :func:`grokfast_ema_`, :class:`GrokfastEMA` — the baselines;
* :func:`l2_penalty` — the paper's weight decay inside the loss;
* :mod:`egd.defaults` — every default, in one place.

``import egd`` loads this library only (torch and numpy). The paper's training harness is
:mod:`egd.grokking`, the validation against the toy model ``egd.validation``, the
benchmarks ``egd.bench``.

Examples:
    >>> import torch, egd
    >>> G = torch.tensor([[3.0, 0.0], [0.0, 0.1]])
    >>> egd.orthogonalize(G)  # both singular directions now move at the same speed
    tensor([[1., 0.],
            [0., 1.]])
"""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("egd-grokking")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from . import _moved, defaults
from .grokfast import GrokfastEMA
from .optim import EGD, EGDHook, EGDOptions, attach, orthogonalize_grads_
from .params import as_matrix, select_params
from .transforms import column_normalize, grokfast_ema_, grokfast_ema_init, orthogonalize
from .weight_decay import l2_penalty

__all__ = ["__version__", "defaults", "orthogonalize", "column_normalize", "grokfast_ema_", "grokfast_ema_init",
           "EGD", "EGDHook", "EGDOptions", "attach", "orthogonalize_grads_", "select_params", "as_matrix",
           "GrokfastEMA", "l2_penalty"]

_moved.install()


def __getattr__(name: str):
    # harness names that used to live here (egd.make_config, egd.train, ...): see egd._moved
    return _moved.moved_name(name)
