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
``egd-svd-batch``             exact ``U V^T``, truncated to the top ``batch_size``
                              directions where the layer has no more inputs than hidden
                              units (``batch_rank`` of :func:`egd.orthogonalize`)
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
    ``needs_cutoff``: the method needs ``spectral_cutoff``. ``batch_rank``: the run's batch
    size is passed as ``batch_rank=`` to :func:`egd.orthogonalize`.
    """

    name: str
    transform: TransformKind
    label: str
    orthogonalize_method: str | None = None
    needs_rank: bool = False
    needs_cutoff: bool = False
    batch_rank: bool = False


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
        Method("egd-svd-batch", "orthogonalize", "EGD (batch rank)", None, batch_rank=True),
        Method("egd-newton-schulz", "orthogonalize", "EGD (Newton-Schulz)", "newton_schulz"),
        Method("colnorm", "column_normalize", "column norm"),
        Method("grokfast", "grokfast_ema", "Grokfast-EMA"),
    )
}

#: Task name -> (family, modular op). The CLI's ``--task`` choices are these keys.
#: ``digits`` and ``mnist`` (family ``image``): Appendix D's Omnigrok setting on
#: scikit-learn's 8x8 digits or on MNIST read from local IDX files (:mod:`egd.grokking.mnist`).
TASKS: dict[str, tuple[str, str | None]] = {
    "mod-add": ("modular", "add"),
    "mod-mul": ("modular", "mul"),
    "parity": ("parity", None),
    "digits": ("image", None),
    "mnist": ("image", None),
}

#: Losses the engine knows. ``cross_entropy`` for ``p``-class modular arithmetic;
#: ``squared`` ``mean((f(x) - y)^2)`` (the authors' code) or ``hinge``
#: ``mean(max(0, 1 - y f(x)))`` (the paper's text) for the scalar-output parity task;
#: ``mse`` ``mean over all entries of (f(x) - onehot(y))^2`` (torch's ``MSELoss()`` on
#: one-hot targets: Omnigrok's MNIST loss).
LOSSES = ("cross_entropy", "squared", "hinge", "mse")
#: Losses allowed per task family.
FAMILY_LOSSES: dict[str, tuple[str, ...]] = {
    "modular": ("cross_entropy",), "parity": ("squared", "hinge"), "image": ("mse", "cross_entropy"),
}

#: Models the engine builds (:func:`egd.grokking.engine.build_model`), with the task
#: families each one takes. ``mlp``: the paper's 2-layer ReLU MLP; ``mlp3``: Omnigrok's
#: 3-layer ReLU MLP (:class:`egd.grokking.omnigrok.ThreeLayerMLP`); ``transformer``: the
#: decoder-only transformer of Appendix D (:class:`egd.grokking.transformer.DecoderTransformer`).
MODELS: dict[str, tuple[str, ...]] = {
    "mlp": ("modular", "parity"),
    "mlp3": ("image",),
    "transformer": ("modular",),
}

#: Optimizers of the engine's step: ``sgd`` (the paper's plain step, the engine's own
#: arithmetic), ``adam`` and ``adamw`` (``torch.optim.Adam`` / ``AdamW`` on the
#: transformed gradients).
OPTIMIZERS = ("sgd", "adam", "adamw")

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

#: Appendix D, MNIST in the Omnigrok setting (the public ``main_mnist.py`` of the Grokfast
#: and EGD authors): 3-layer ReLU MLP of width 200, every parameter x8 at init, MSE on one-hot
#: targets, AdamW (lr 1e-3, default betas) whose own weight decay (0.01, the public default;
#: the public comparison runs used 2.0) acts on every parameter, batch 200 from the first
#: 1,000 training images, 100,000 steps at most (= 20,000 epochs of 5 steps), 85% test
#: accuracy, Grokfast-EMA alpha 0.8 and lambda 0.1. The public scripts transform every step
#: (no switch-off). Train loss and accuracy: the mean over each epoch's mini-batches (saves an
#: evaluation of the training set after every 5 steps; the test set is evaluated in full).
OMNIGROK = dict(model="mlp3", width=200, optimizer="adamw", lr=1e-3, batch_size=200, weight_decay=0.01,
                weight_decay_mode="decoupled", loss="mse", init_scale=8.0, max_epochs=20_000, threshold=0.85,
                grokfast_alpha=0.8, grokfast_lamb=0.1, switch_off=False, n_train=1000, train_metrics="batches")
#: The same on scikit-learn's digits: 1,000 training images, the other 797 for test. The
#: threshold is the one adapted in :data:`DIGITS_THRESHOLD`.
DIGITS_THRESHOLD = 0.85
SMOKE_IMAGE = dict(model="mlp3", width=16, optimizer="adamw", lr=1e-3, batch_size=50, weight_decay=0.01,
                   weight_decay_mode="decoupled", loss="mse", init_scale=8.0, max_epochs=5, threshold=0.85,
                   grokfast_alpha=0.8, grokfast_lamb=0.1, switch_off=False, n_train=200, n_test=200)
#: Appendix D, the transformer on ``x * y mod 97`` (the public ``main.py`` of the Grokfast
#: authors, reused by the EGD authors): width 128 (2 blocks, 4 heads), Adam lr 1e-3, betas
#: (0.9, 0.98), lr warm-up over the first 10 steps, batch 512, half the equations for
#: training, 95% validation accuracy, 100,000 steps at most (11,112 epochs of 9 steps),
#: Grokfast-EMA alpha 0.98 and lambda 2.0; train loss and accuracy over each epoch's mini-batches
#: (as that script logs them). Weight decay: 0 for the baseline; the public
#: Grokfast and EGD runs used Adam's own ``weight_decay`` 5e-3 (added to the transformed
#: gradient inside Adam's step). No switch-off, as in those scripts.
TRANSFORMER = dict(model="transformer", width=128, optimizer="adam", lr=1e-3, betas=(0.9, 0.98), warmup_steps=10,
                   batch_size=512, weight_decay=0.0, weight_decay_mode="decoupled", loss="cross_entropy",
                   max_epochs=11_112, threshold=0.95, grokfast_alpha=0.98, grokfast_lamb=2.0, switch_off=False,
                   train_metrics="batches")
#: Weight decay of the public transformer runs with a transform or a filter (Adam's own).
TRANSFORMER_METHOD_WEIGHT_DECAY = 5e-3

PRESETS = ("paper", "smoke", "transformer")


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


def preset_values(preset: str, task: str, *, n: int | None = None, k: int | None = None) -> dict:
    """Hyper-parameters of ``preset`` for ``task`` as :class:`~egd.config.RunConfig` fields.

    Parity presets exist for the paper's three ``(n, k)``; other ``(n, k)`` take the
    ``(100, 3)`` values. ``paper`` for ``digits`` / ``mnist`` is Appendix D's Omnigrok
    setting (:data:`OMNIGROK`); ``transformer`` (modular tasks only) is Appendix D's
    transformer with Adam (:data:`TRANSFORMER`).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    family = TASKS[task][0]
    if preset == "transformer":
        if family != "modular":
            raise ValueError(f"preset 'transformer' applies to the modular tasks, got task {task!r}")
        return dict(TRANSFORMER)
    if family == "image":
        if preset == "smoke":
            return dict(SMOKE_IMAGE)
        return {**OMNIGROK, **({"threshold": DIGITS_THRESHOLD} if task == "digits" else {})}
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
