"""The paper's real tasks as seeded, deterministic data modules (Section 5, Appendix B).

Two families:

* :class:`ModularArithmetic` — ``Mod(p, op)``: all ``p**2`` pairs ``(a, b)`` with label
  ``a + b mod p`` or ``a * b mod p``, a disjoint train/test split of the pairs
  (train fraction 0.5 in the paper), input = concatenated one-hot of ``a`` and ``b``
  (length ``2p``), ``p`` classes. Optional anisotropy knob ``second_operand_scale``
  (default 1): the one-hot block of ``b`` is multiplied by it (Level 3 of the validation
  chapter; the toy's slow-direction variance is ``eps = second_operand_scale**2``).
* :class:`SparseParity` — ``Parity(n, k)``: ``x`` uniform in ``{-1, +1}^n``, label the
  product of ``k`` fixed ("secret") coordinates; ``N = 2000`` train, ``10,000`` test.

Both build a :class:`TaskData` of tensors that lives entirely on one device, so the
training engine never copies data between host and device inside an epoch.

One-hot inputs are stored as *indices*: a row ``(a, p + b)`` of an integer tensor of
shape ``(N, 2)`` stands for the 0/1 vector with ones at positions ``a`` and ``p + b``.
:class:`egd.models.TwoLayerMLP` turns such a row into ``W1[:, a] + W1[:, p + b]``, which
equals ``W1 @ x`` for the concatenated one-hot ``x`` exactly (a gather instead of a
``(N, 2p) @ (2p, width)`` product). With ``second_operand_scale != 1`` the input is no
longer 0/1, so it is stored dense, ``(N, 2p)`` float32, and the model takes its
``F.linear`` path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

DEFAULT_TRAIN_FRACTION = 0.5
DEFAULT_DATA_SEED = 0
#: Multiplier of the second operand's one-hot block: 1 is the paper's task.
DEFAULT_SECOND_OPERAND_SCALE = 1.0
DEFAULT_PARITY_TRAIN = 2000
DEFAULT_PARITY_TEST = 10_000
#: Random streams of the parity data (and, in the engine, of the initialisation): ``torch``
#: (ours, seeded torch generators) or ``numpy`` (the draws of the authors' published script,
#: to compare with the paper's single runs).
RANDOM_STREAMS = ("torch", "numpy")
MODULAR_OPS = ("add", "mul")

TaskKind = Literal["multiclass", "binary"]


@dataclass(frozen=True)
class TaskData:
    """Tensors of one task, on one device.

    ``x_*``: ``(N, d)`` float for dense inputs, or ``(N, j)`` int64 one-hot *indices*
    (the input is the sum of the ``j`` one-hot vectors of length ``in_features``).
    ``y_*``: ``(N,)`` int64 class labels (``kind == "multiclass"``) or float ``±1``
    labels (``kind == "binary"``).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    in_features: int
    out_features: int
    kind: TaskKind

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.y_test.shape[0])

    def to(self, device: torch.device | str) -> TaskData:
        return TaskData(
            self.x_train.to(device), self.y_train.to(device),
            self.x_test.to(device), self.y_test.to(device),
            self.in_features, self.out_features, self.kind,
        )


def is_prime(p: int) -> bool:
    """Trial division; ``p`` is at most a few thousand here."""
    if p < 2:
        return False
    d = 2
    while d * d <= p:
        if p % d == 0:
            return False
        d += 1
    return True


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")


@dataclass(frozen=True)
class ModularArithmetic:
    """``Mod(p, op)``: learn ``a op b mod p`` from a ``train_fraction`` of all pairs.

    ``op="mul"`` needs ``p`` prime: only then is ``{1, ..., p-1}`` a group under
    multiplication mod ``p`` (every ``a`` has an inverse), the structure the network
    has to discover. The split is a permutation of the ``p**2`` pairs drawn from
    ``seed`` (fixed across training seeds, as in the authors' code); the first
    ``floor(train_fraction * p**2)`` pairs are the training set.

    ``second_operand_scale`` (``c``, default 1): the input becomes
    ``x = [onehot(a), c * onehot(b)]``, shape ``(2p,)``. Over all pairs the input
    covariance restricted to zero-mean directions has eigenvalues ``p`` (``a`` block) and
    ``c**2 p`` (``b`` block): the toy's curvature ratio ``1/eps`` with ``eps = c**2``.
    The hidden-layer gradient's ``b`` columns are ``c`` times the backpropagated
    signal, ``dL/dW1[:, p + j] = c * sum_{i: b_i = j} dL/dh_i``. At ``c = 1`` the data are
    the paper's, bit for bit (one-hot indices); otherwise dense float32.
    """

    p: int
    op: str = "add"
    train_fraction: float = DEFAULT_TRAIN_FRACTION
    seed: int = DEFAULT_DATA_SEED
    second_operand_scale: float = DEFAULT_SECOND_OPERAND_SCALE

    def __post_init__(self) -> None:
        if not isinstance(self.p, int) or self.p < 2:
            raise ValueError(f"p must be an integer >= 2, got {self.p!r}")
        if self.op not in MODULAR_OPS:
            raise ValueError(f"op must be one of {MODULAR_OPS}, got {self.op!r}")
        if self.op == "mul" and not is_prime(self.p):
            raise ValueError(
                f"p must be prime for modular multiplication (the nonzero residues form "
                f"a group only for prime p), got p={self.p}"
            )
        _check_fraction("train_fraction", self.train_fraction)
        n_train = int(self.train_fraction * self.p**2)
        if not 1 <= n_train < self.p**2:
            raise ValueError(
                f"train_fraction={self.train_fraction} leaves an empty train or test set "
                f"for p={self.p} ({self.p**2} pairs)"
            )
        scale = self.second_operand_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"second_operand_scale must be a finite number > 0, got {scale!r}")

    def build(self, device: torch.device | str = "cpu") -> TaskData:
        p = self.p
        a = torch.arange(p).repeat_interleave(p)  # (p^2,)
        b = torch.arange(p).repeat(p)
        y = (a + b) % p if self.op == "add" else (a * b) % p
        x = torch.stack([a, p + b], dim=1)  # one-hot indices into the length-2p input
        gen = torch.Generator().manual_seed(self.seed)
        perm = torch.randperm(p * p, generator=gen)
        n_train = int(self.train_fraction * p * p)
        tr, te = perm[:n_train], perm[n_train:]
        if self.second_operand_scale != 1:
            dense = torch.zeros(p * p, 2 * p)
            rows = torch.arange(p * p)
            dense[rows, x[:, 0]] = 1.0
            dense[rows, x[:, 1]] = float(self.second_operand_scale)
            x = dense
        return TaskData(x[tr], y[tr], x[te], y[te], 2 * p, p, "multiclass").to(device)


@dataclass(frozen=True)
class SparseParity:
    """``Parity(n, k)``: ``y = prod_{i in S} x_i`` for a fixed secret ``S``, ``|S| = k``.

    ``x`` is uniform in ``{-1, +1}^n``. The secret ``S`` and both samples are drawn
    from ``seed`` (train and test are independent draws, so they may share points
    when ``2^n`` is small).
    """

    n: int
    k: int
    n_train: int = DEFAULT_PARITY_TRAIN
    n_test: int = DEFAULT_PARITY_TEST
    seed: int = DEFAULT_DATA_SEED
    stream: str = "torch"

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be an integer >= 1, got {self.n!r}")
        if not isinstance(self.k, int) or not 1 <= self.k <= self.n:
            raise ValueError(f"k must be an integer in [1, n={self.n}], got {self.k!r}")
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.stream not in RANDOM_STREAMS:
            raise ValueError(f"stream must be one of {RANDOM_STREAMS}, got {self.stream!r}")

    def secret(self) -> torch.Tensor:
        """The ``k`` coordinates whose product is the label, sorted, shape ``(k,)``."""
        if self.stream == "numpy":
            return torch.arange(self.k)
        gen = torch.Generator().manual_seed(self.seed)
        return torch.randperm(self.n, generator=gen)[: self.k].sort().values

    def build(self, device: torch.device | str = "cpu") -> TaskData:
        if self.stream == "numpy":
            # the draws of the authors' published script: one numpy RandomState, train
            # inputs then test inputs, label = product of the first k bits
            rs = np.random.RandomState(self.seed)
            x_tr = torch.from_numpy(rs.choice([-1, 1], size=(self.n_train, self.n)).astype(np.float32))
            x_te = torch.from_numpy(rs.choice([-1, 1], size=(self.n_test, self.n)).astype(np.float32))
            return TaskData(x_tr, x_tr[:, : self.k].prod(dim=1), x_te, x_te[:, : self.k].prod(dim=1),
                            self.n, 1, "binary").to(device)
        gen = torch.Generator().manual_seed(self.seed)
        secret = torch.randperm(self.n, generator=gen)[: self.k].sort().values
        x = torch.randint(0, 2, (self.n_train + self.n_test, self.n), generator=gen)
        x = x.float().mul_(2).sub_(1)
        y = x[:, secret].prod(dim=1)
        return TaskData(
            x[: self.n_train], y[: self.n_train], x[self.n_train :], y[self.n_train :],
            self.n, 1, "binary",
        ).to(device)
