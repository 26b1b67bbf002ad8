r"""The toy model of Section 3 trained by the torch stack (autograd + ``torch.optim`` + ``egd``).

This is the first level of the project's validation: the same linear model that
:mod:`toymodel.simulate` iterates in numpy, here a ``torch.nn.Linear(2, 1, bias=False)``
trained by autograd, ``torch.optim.SGD`` and the :class:`egd.EGD` wrapper. Agreement of the
two trajectories pins the conventions once and for all.

Model and loss: ``w`` is the ``(1, 2)`` weight, ``f(x) = x^T w`` and

    l(w) = (1/n) ||X w - Y||^2 ,        grad l = 2 (Sigma^ w - c^)  (Eq. 2),

with ``Sigma^ = X^T X / n`` and ``c^ = X^T Y / n``. The ``"half"`` convention (the paper's
Section 3) trains on ``l / 2`` so that the gradient is ``Sigma^ w - c^``; ``"full"`` trains
on ``l``. Methods, all with step ``eta``:

* ``"gd"``: plain SGD on the full batch;
* ``"egd"``: ``egd.EGD(SGD)`` with the exact SVD: the gradient is the ``1 x 2`` matrix
  ``G``, so ``U V^T = G / ||G||`` (Eq. 11 on a rank-one matrix is normalised GD);
* ``"paper_egd"``: the paper's scheme (9), ``G <- G Sigma^^-1`` before the SGD step. This
  is a natural-gradient (Newton) preconditioner, not an EGD transform; it is applied by an
  optimizer step pre-hook so that it goes through the same ``torch.optim`` machinery.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from egd.optim import EGD
from toymodel.simulate import CONVENTIONS as TOY_CONVENTIONS
from toymodel.simulate import METHODS as TOY_METHODS
from toymodel.simulate import check_convention, check_method

__all__ = ["TOY_METHODS", "TOY_CONVENTIONS", "train_linear_toy"]

# the loss l/2 ("half") has gradient Sigma^ w - c^; l ("full") the true 2 (Sigma^ w - c^)
_LOSS_SCALE = {"half": 0.5, "full": 1.0}


def _check_inputs(X: np.ndarray, y: np.ndarray, u: Sequence[float], eta: float, steps: int,
                  method: str, convention: str) -> None:
    check_method(method)
    check_convention(convention)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, 2) with n >= 1, got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if np.shape(u) != (2,) or not np.all(np.isfinite(u)):
        raise ValueError(f"u must be a finite vector of shape (2,), got {u!r}")
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")


def train_linear_toy(
    X: np.ndarray,
    y: np.ndarray,
    *,
    u: Sequence[float],
    eta: float,
    steps: int,
    method: str = "gd",
    convention: str = "half",
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Full-batch training of the toy's linear model with torch; returns ``w(k)``.

    Parameters
    ----------
    X, y : train set, shapes ``(n, 2)`` and ``(n,)``.
    u : ``w(0)``, shape ``(2,)``.
    eta : step size ``> 0``.
    steps : number of updates ``>= 0``.
    method : ``"gd"`` | ``"paper_egd"`` | ``"egd"`` (module docstring).
    convention : ``"half"`` (Section 3, Eq. 2) | ``"full"`` (true gradient, Appendix A.3).
    dtype, device : where torch computes (float64 by default, to compare with numpy).

    Returns
    -------
    W : array ``(steps + 1, 2)`` with ``W[k] = w(k)``, comparable to
        :func:`toymodel.simulate.train_trajectory` with the same arguments.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    _check_inputs(X, y, u, eta, steps, method, convention)
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=dtype, device=device)
    model = torch.nn.Linear(2, 1, bias=False).to(device=device, dtype=dtype)
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(np.asarray(u, dtype=float), dtype=dtype).reshape(1, 2))

    sgd = torch.optim.SGD(model.parameters(), lr=float(eta))
    optimizer: torch.optim.Optimizer = sgd
    if method == "egd":
        optimizer = EGD(sgd, method="svd")
    elif method == "paper_egd":
        sigma_inv = torch.linalg.inv(Xt.T @ Xt / Xt.shape[0])

        def precondition(opt, args, kwargs):  # Eq. (9): G Sigma^-1 (Sigma is symmetric)
            model.weight.grad.copy_(model.weight.grad @ sigma_inv)

        sgd.register_step_pre_hook(precondition)

    scale = _LOSS_SCALE[convention]
    path = torch.empty(steps + 1, 2, dtype=dtype, device=device)
    path[0] = model.weight.detach()[0]
    for k in range(1, steps + 1):
        optimizer.zero_grad()
        loss = scale * torch.mean((model(Xt).squeeze(1) - yt) ** 2)
        loss.backward()
        optimizer.step()
        path[k] = model.weight.detach()[0]
    return path.cpu().numpy()
