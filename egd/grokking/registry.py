"""Registries the training engine and the CLI dispatch on: tasks, methods, presets.

A *method* says what happens to the hidden layer's weight gradient ``G = dL/dW1``
(shape ``(width, in)``) before the plain SGD step ``W <- W - lr * G~`` (Section 4):

============================  ===========================================================
``vanilla``                   ``G~ = G``
``egd-svd``                   ``G~ = U V^T`` of the exact polar factor, Eq. (11); computed
                              by the fastest exact backend of :func:`egd.orthogonalize` for
                              the device (``egd.defaults.DEFAULT_METHOD_BY_DEVICE``)
``egd-svd-lapack``            the same ``U V^T`` from a thin float32 SVD, literally
``egd-gram``                  the same from the float64 eigendecomposition of ``G^T G``
``egd-rsvd``                  randomized SVD of rank ``rank`` (Algorithm 3)
``egd-svd-top``               exact ``U V^T`` truncated to the top ``rank`` singular
                              directions (the rest get no step); ``rank`` = the
                              mini-batch size keeps at most the data gradient's directions
``egd-svd-cut``               exact ``U V^T`` of the directions with singular value above
                              ``spectral_cutoff * s_max`` (a relative spectral cutoff)
``egd-newton-schulz``         Newton–Schulz approximation of ``U V^T`` (Muon's map)
``colnorm``                   each hidden unit's gradient row divided by ``max(norm, 0.01)``
``grokfast``                  Grokfast-EMA filter (Lee et al. 2024), on every parameter
============================  ===========================================================

Every method is switched off (plain gradients from then on) once the validation
accuracy reaches the threshold (Algorithm 1). The paper's weight decay is the L2 term
``0.5 wd (||W1||^2 + ||W2||^2)`` *inside* the loss, so its gradient ``wd * W`` is part of
``G`` and passes through the transform.

A *preset* holds the paper's hyper-parameters for a task (Section 5, Appendix B);
:func:`preset_values` returns them as a dict of :class:`egd.config.RunConfig` fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TransformKind = Literal["none", "orthogonalize", "column_normalize", "grokfast_ema"]


@dataclass(frozen=True)
class Method:
    """One entry of :data:`METHODS`.

    ``orthogonalize_method``: the ``method=`` passed to :func:`egd.orthogonalize`
    (``None`` = the exact default for the device). ``needs_rank``: the method is
    meaningless without ``rank`` (randomized SVD, exact top-``rank`` truncation).
    ``needs_cutoff``: the method needs ``spectral_cutoff``.
    """

    name: str
    transform: TransformKind
    label: str
    orthogonalize_method: str | None = None
    needs_rank: bool = False
    needs_cutoff: bool = False


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("vanilla", "none", "vanilla SGD"),
        Method("egd-svd", "orthogonalize", "EGD (exact)", None),
        Method("egd-svd-lapack", "orthogonalize", "EGD (thin SVD)", "svd"),
        Method("egd-gram", "orthogonalize", "EGD (Gram eigh)", "gram"),
        Method("egd-rsvd", "orthogonalize", "EGD-RSVD", "rsvd", needs_rank=True),
        Method("egd-svd-top", "orthogonalize", "EGD (truncated)", None, needs_rank=True),
        Method("egd-svd-cut", "orthogonalize", "EGD (cutoff)", None, needs_cutoff=True),
        Method("egd-newton-schulz", "orthogonalize", "EGD (Newton-Schulz)", "newton_schulz"),
        Method("colnorm", "column_normalize", "column norm"),
        Method("grokfast", "grokfast_ema", "Grokfast-EMA"),
    )
}

#: Task name -> (family, modular op). The CLI's ``--task`` choices are these keys.
TASKS: dict[str, tuple[str, str | None]] = {
    "mod-add": ("modular", "add"),
    "mod-mul": ("modular", "mul"),
    "parity": ("parity", None),
}

#: Losses the engine knows. ``cross_entropy`` for ``p``-class modular arithmetic;
#: ``squared`` ``mean((f(x) - y)^2)`` (the authors' code) or ``hinge``
#: ``mean(max(0, 1 - y f(x)))`` (the paper's text) for the scalar-output parity task.
LOSSES = ("cross_entropy", "squared", "hinge")

#: The paper's sparse-parity settings, keyed by ``(n, k)``: width, lr, wd, max epochs.
PARITY_PAPER: dict[tuple[int, int], tuple[int, float, float, int]] = {
    (400, 2): (50, 0.01, 1e-3, 10_100),
    (100, 3): (100, 0.042, 1e-2, 2_000),
    (50, 4): (100, 0.023, 1e-2, 6_000),
}

#: Modular arithmetic (all p): width 512, plain SGD lr 0.7, batch 512, wd 1e-4,
#: 15,000 epochs at most (Appendix B).
MODULAR_PAPER = dict(width=512, lr=0.7, batch_size=512, weight_decay=1e-4, max_epochs=15_000)

#: Parity uses the authors' squared loss: it is what produced the paper's numbers.
PARITY_LOSS = "squared"
PARITY_BATCH = 32

#: ``smoke``: a tiny, fast configuration for tests and CI (seconds on a CPU).
SMOKE_MODULAR = dict(width=64, lr=0.7, batch_size=64, weight_decay=1e-4, max_epochs=30)
SMOKE_PARITY = dict(width=16, lr=0.05, batch_size=32, weight_decay=1e-2, max_epochs=20, n_train=256, n_test=512)

PRESETS = ("paper", "smoke")


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


def preset_values(preset: str, task: str, *, n: int | None = None, k: int | None = None) -> dict:
    """Hyper-parameters of ``preset`` for ``task`` as :class:`~egd.config.RunConfig` fields.

    Parity presets exist for the paper's three ``(n, k)``; other ``(n, k)`` take the
    ``(100, 3)`` values.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    family = TASKS[task][0]
    if family == "modular":
        values = dict(MODULAR_PAPER if preset == "paper" else SMOKE_MODULAR)
        values["loss"] = "cross_entropy"
        return values
    if preset == "smoke":
        values = dict(SMOKE_PARITY)
    else:
        width, lr, wd, epochs = PARITY_PAPER.get((n, k), PARITY_PAPER[(100, 3)])
        values = dict(width=width, lr=lr, weight_decay=wd, max_epochs=epochs, batch_size=PARITY_BATCH)
    values["loss"] = PARITY_LOSS
    return values
