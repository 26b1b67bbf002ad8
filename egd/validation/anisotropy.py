r"""Level 3 of the validation: modular addition with a controlled slow direction.

The toy model (Section 3) has inputs ``x ~ N(0, diag(1, eps))``: the curvature of the
squared loss is ``diag(m2, eps)``, ratio ``1/eps`` (a ratio of *squared* singular values
of the data), and GD's plateau grows like ``1/eps``. Here the same knob is put on the real
task: :class:`egd.tasks.ModularArithmetic` with ``second_operand_scale = sqrt(eps)`` feeds
``x = [onehot(a), sqrt(eps) onehot(b)]`` (length ``2p``) to the paper's MLP, so the input
covariance on zero-mean directions has eigenvalues ``p`` and ``eps p`` — the toy's ratio
``1/eps`` exactly — and the hidden-layer gradient's ``b`` columns carry a factor
``sqrt(eps)``.

Reparametrising ``u = sqrt(eps) W1[:, b-block]`` (the weights the function sees) gives the
two predictions tested here, for one SGD step with learning rate ``lr``:

* vanilla: ``du = -lr (eps dL/du + wd u)``: the data pull on ``u`` is ``eps`` times
  slower, as in the toy, so time-to-grok ~ ``eps^-1`` (log-log slope -1);
* EGD: ``W1 <- W1 - lr U V^T`` undoes the *scale* of the gradient, not the factor
  ``sqrt(eps)`` in the forward map. If the ``a`` and ``b`` blocks of ``G`` had orthogonal
  left singular spaces, ``U V^T`` would be blockwise and scale-free and
  ``du = -lr sqrt(eps) (U V^T)_b`` (slope -1/2); for one example, ``G = g x^T`` and
  ``U V^T = g x^T / (|g| |x|)``, whose ``b`` part is ``sqrt(eps) / sqrt(1 + eps)`` of it, so
  ``du ~ eps`` (slope -1, no gain). The paper's claim (its ``Sigma^-1`` scheme, Eq. (9)):
  no ``eps`` anywhere (slope 0).

Time-to-grok = first epoch with test accuracy >= the run's ``threshold``
(:func:`egd.train.summarize`); a run that never gets there by ``max_epochs`` is
*censored*: kept in every table and figure, at the cap, and never silently dropped.

Pure functions (tables, fits, spectra summaries) are separate from :func:`run_or_load_sweep`,
which trains missing runs through :func:`egd.train.train` and saves them keyed by config.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from egd.grokking.config import RunConfig, make_config
from egd.grokking.engine import build_model, per_example_loss
from egd.grokking.labels import method_key
from egd.grokking.runner import train
from egd.grokking.store import RunResult

__all__ = ["run_eps", "AnisotropyProfile", "PROFILES", "anisotropy_config", "anisotropy_configs", "run_or_load_sweep",
           "grok_table", "fit_grok_slopes", "slope_verdict", "spectrum_split_ratio", "condition_table",
           "full_batch_gradient", "ANISOTROPY_SUBDIR"]

#: Level-3 runs live in their own subfolder of the results folder.
ANISOTROPY_SUBDIR = "08_anisotropy"
DEFAULT_CONFIDENCE = 0.95
EPS_DIGITS = 12


@dataclass(frozen=True)
class AnisotropyProfile:
    """One sweep: ``eps`` values x ``methods`` ((name, rank) pairs) x ``seeds``.

    ``overrides``: :class:`~egd.config.RunConfig` fields set on top of the paper preset
    (``make_config(..., preset="paper")``); the quick profile changes p and a few
    hyper-parameters, the full profile only the epoch cap.
    """

    p: int
    eps: tuple[float, ...]
    seeds: tuple[int, ...]
    methods: tuple[tuple[str, int | None], ...]
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.eps or any(not (math.isfinite(e) and 0 < e <= 1) for e in self.eps):
            raise ValueError(f"eps must be a non-empty tuple of numbers in (0, 1], got {self.eps!r}")
        if not self.seeds:
            raise ValueError("seeds must be non-empty")
        if not self.methods:
            raise ValueError("methods must be non-empty")


#: quick (CI, 2-core CPU): p = 31 instead of 97 and, so that vanilla groks at eps = 1 in
#: ~10^3 epochs, train fraction 0.8 (paper 0.5), batch 64 (paper 512, which would exceed
#: the 768 training pairs) and wd 3e-4 (paper 1e-4; EGD fails to reach 95% at >= 1e-3,
#: vanilla needs > 1e-4 to grok within the budget). Three eps, two seeds, 1,500 epochs cap.
#: full: the paper's preset at p = 97, five eps, three seeds, EGD-RSVD r = 128 as well,
#: an epoch cap that leaves room for a 1/eps law from vanilla's ~5,400 epochs at eps = 1.
PROFILES: dict[str, AnisotropyProfile] = {
    "quick": AnisotropyProfile(
        p=31, eps=(1.0, 0.5, 0.25), seeds=(0, 1), methods=(("vanilla", None), ("egd-svd", None)),
        overrides=dict(train_fraction=0.8, batch_size=64, weight_decay=3e-4, max_epochs=1500, patience=0,
                       spectrum_every=25)),
    "full": AnisotropyProfile(
        p=97, eps=(1.0, 0.5, 0.25, 0.125, 0.0625), seeds=(0, 1, 2),
        methods=(("vanilla", None), ("egd-svd", None), ("egd-rsvd", 128)),
        overrides=dict(max_epochs=100_000, patience=0, spectrum_every=50)),
}


def _profile(profile: str | AnisotropyProfile) -> AnisotropyProfile:
    if isinstance(profile, AnisotropyProfile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {tuple(PROFILES)} or an AnisotropyProfile, got {profile!r}")
    return PROFILES[profile]


def anisotropy_config(eps: float, method: str, rank: int | None, seed: int, *, p: int, device: str = "cpu",
                      **overrides) -> RunConfig:
    """``mod-add`` at modulus ``p`` with ``second_operand_scale = sqrt(eps)``; paper preset + ``overrides``."""
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    return make_config("mod-add", method, p=p, rank=rank, seed=seed, device=device,
                       second_operand_scale=math.sqrt(eps), **overrides)


def anisotropy_configs(profile: str | AnisotropyProfile, device: str = "cpu") -> list[RunConfig]:
    """Every run of a profile, ordered method x eps x seed."""
    prof = _profile(profile)
    return [anisotropy_config(e, m, r, s, p=prof.p, device=device, **prof.overrides)
            for m, r in prof.methods for e in prof.eps for s in prof.seeds]


def run_or_load_sweep(profile: str | AnisotropyProfile, results_dir: str | os.PathLike,
                      *, device: str = "cpu", progress: bool = False) -> list[RunResult]:
    """The finished run of every config of ``profile``: loaded by key from ``results_dir``
    (the committed ones are in the :data:`ANISOTROPY_SUBDIR` subfolder of the results
    folder), or trained and saved there."""
    return [train(c, out_dir=Path(results_dir), progress=progress) for c in anisotropy_configs(profile, device)]


def run_eps(config: RunConfig) -> float:
    """The toy's ``eps = second_operand_scale**2`` (rounded: ``sqrt(0.5)**2`` is not 0.5 in floats)."""
    return round(config.second_operand_scale ** 2, EPS_DIGITS)


def grok_table(runs: list[RunResult]) -> dict[str, np.ndarray]:
    """One row per run: ``method`` (label), ``eps``, ``seed``, ``epochs`` (NaN if censored),
    ``censored`` (bool), ``cap`` (epochs run when censored = ``max_epochs``, else the time).
    """
    rows = [(method_key(r.config), run_eps(r.config), r.config.seed,
             r.epochs_to_threshold, r.summary["epochs_run"]) for r in runs]
    reached = [t for *_, t, _ in rows]
    return {
        "method": np.array([m for m, *_ in rows], dtype=object),
        "eps": np.array([e for _, e, *_ in rows], dtype=float),
        "seed": np.array([s for _, _, s, *_ in rows], dtype=int),
        "epochs": np.array([np.nan if t is None else t for t in reached], dtype=float),
        "censored": np.array([t is None for t in reached], dtype=bool),
        "cap": np.array([float(n if t is None else t) for *_, t, n in rows], dtype=float),
    }


def _safe_fit(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from toymodel.experiments import loglog_fit  # toymodel is numpy-only; keep egd's import light

    try:
        return loglog_fit(x, y, confidence=confidence)
    except ValueError:  # fewer than two distinct eps left: no slope to report
        return math.nan, math.nan, math.nan


def fit_grok_slopes(table: dict[str, np.ndarray], *, confidence: float = DEFAULT_CONFIDENCE) -> dict[str, dict]:
    """Log-log slope of time-to-grok against eps, per method, two ways.

    ``reached``: fit on the runs that reached the threshold only (censored runs left out:
    biased towards 0 when the slow runs are the censored ones). ``at_cap``: censored runs
    entered at their cap, a lower bound on their time, so the true slope is at most
    (more negative than) this one whenever the censoring is at small eps. Both are
    ``(slope, low, high)`` from :func:`toymodel.experiments.loglog_fit`; NaN where fewer
    than two distinct eps remain. ``n_censored``: runs that never reached the threshold.
    """
    out = {}
    for method in dict.fromkeys(table["method"]):
        rows = table["method"] == method
        eps = table["eps"][rows]
        out[method] = {
            "reached": _safe_fit(eps, table["epochs"][rows], confidence),
            "at_cap": _safe_fit(eps, table["cap"][rows], confidence),
            "n_runs": int(rows.sum()),
            "n_censored": int(table["censored"][rows].sum()),
        }
    return out


def slope_verdict(fit: dict, predicted: float, *, tolerance: float) -> str:
    """``"holds"`` / ``"fails"`` / ``"undetermined"`` for one entry of :func:`fit_grok_slopes`.

    Without censoring: holds when ``predicted`` lies in the ``reached`` interval or within
    ``tolerance`` of its slope. With censored runs (assumed at the small-eps end, where
    the times are longest) the ``at_cap`` slope is an upper bound on the true one: fails
    when ``predicted`` exceeds its interval by more than ``tolerance``, undetermined
    otherwise. NaN fits are undetermined.
    """
    slope, low, high = fit["reached"] if fit["n_censored"] == 0 else fit["at_cap"]
    if not (math.isfinite(slope) and math.isfinite(low)):
        return "undetermined"
    if fit["n_censored"] == 0:
        return "holds" if (low <= predicted <= high or abs(slope - predicted) <= tolerance) else "fails"
    return "fails" if predicted > high + tolerance else "undetermined"


def spectrum_split_ratio(singular_values: np.ndarray, p: int) -> np.ndarray:
    r"""Squared ratio of the medians of the upper and lower halves of a gradient spectrum.

    ``singular_values``: ``(..., 2p)`` descending singular values of the hidden-layer
    gradient ``G`` (``(width, 2p)``, ``width >= 2p``). Returns
    ``(median(s[:p]) / median(s[p:2p-1]))**2``, shape ``(...)``.

    Why this and not ``(s_max/s_min)**2``: the data part of ``G`` has rank at most
    ``2p - 1`` (every input has exactly one ``a`` and one ``b`` entry, so
    ``G [1_a; -1_b / c] = 0``) and the L2 term ``wd W1`` fills the remaining direction
    and lifts every small one to ``~ wd * s(W1)``: ``s_min`` measures the weight decay,
    not the data. If the ``a`` and ``b`` blocks separated cleanly, the upper half would be
    the ``a`` block and the lower the ``b`` block, and the toy predicts this ratio to grow
    like ``1/eps`` (its curvature ratio is a ratio of *squared* singular values).
    """
    s = np.asarray(singular_values, dtype=float)
    if s.shape[-1] < 2 * p:
        raise ValueError(f"singular_values must have at least 2p = {2 * p} entries on the last axis, "
                         f"got {s.shape[-1]}")
    from .theories import split_ratio

    return split_ratio(s, 2 * p - 1)  # the data part's rank; its halves are s[:p] and s[p:2p-1]


def full_batch_gradient(config: RunConfig, *, include_l2: bool = True) -> dict[str, np.ndarray]:
    """Hidden-layer gradient on the whole training set at initialisation, and its blocks.

    ``G = dL/dW1`` (``(width, 2p)``) for the model ``build_model(config, data)`` (seeded),
    ``L`` = mean cross-entropy (+ ``0.5 wd ||W1||^2`` when ``include_l2``). Returns the
    singular values of ``G`` (``sv``, descending), of its ``a`` columns (``sv_a``) and
    ``b`` columns (``sv_b``), and ``block_ratio = (||G_b||_F / ||G_a||_F)**2``.
    """
    data = config.build_task().build("cpu")
    model = build_model(config, data)
    out = model(data.x_train)
    loss = per_example_loss(out, data.y_train, config.loss).mean()
    (grad,) = torch.autograd.grad(loss, [model.hidden.weight])
    if include_l2:
        grad = grad + config.weight_decay * model.hidden.weight.detach()
    p = config.p
    g = grad.double()
    svd = lambda m: torch.linalg.svdvals(m).numpy()
    return {"sv": svd(g), "sv_a": svd(g[:, :p]), "sv_b": svd(g[:, p:]),
            "block_ratio": float(g[:, p:].square().sum() / g[:, :p].square().sum())}


def condition_table(runs: list[RunResult]) -> dict[str, np.ndarray]:
    """Per run: ``eps``, ``method``, the split ratio of the mini-batch gradient spectrum at
    initialisation (``split_init``, epoch 0) and its median over the recorded epochs before
    the threshold (``split_plateau``; all recorded epochs for censored runs), and the
    literal ``(s_max / s_min)**2`` at initialisation (``kappa_init``).
    """
    rows = []
    for r in runs:
        p = r.config.p
        spectra, epochs = np.asarray(r.spectra, dtype=float), np.asarray(r.spectra_epochs)
        if spectra.shape[0] == 0:
            raise ValueError(f"run {r.name} recorded no gradient spectra (spectrum_every = 0)")
        split = spectrum_split_ratio(spectra, p)
        limit = r.epochs_to_threshold if r.epochs_to_threshold is not None else np.inf
        before = epochs < limit
        rows.append((run_eps(r.config), method_key(r.config), split[0],
                     float(np.median(split[before])) if before.any() else split[0],
                     (spectra[0, 0] / spectra[0, 2 * p - 1]) ** 2))
    names = ("eps", "method", "split_init", "split_plateau", "kappa_init")
    return {n: np.array([row[i] for row in rows], dtype=object if n == "method" else float)
            for i, n in enumerate(names)}
