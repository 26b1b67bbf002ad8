r"""The "why the plateau" chapter's analyses: the hidden-layer gradient's spectrum during the plateau.

* Windows of a run, by the book's named measures (:mod:`egd.book.definitions`): the
  **plateau span** ``[T_mem, T95)``, and the **flat stretch** ``[T_mem, T50)`` where test
  accuracy is still below :data:`HALF_ACCURACY` (the part of the plateau where the test
  curve is flat; vanilla's test accuracy climbs slowly for thousands of epochs after it).
* The **decay-only direction** of modular arithmetic: every input is ``[onehot(a), onehot(b)]``,
  so ``x . v = 0`` for ``v = (1_p, -1_p) / sqrt(2p)``; the data part of the hidden-layer
  gradient ``G = sum_i delta_i x_i^T + wd W1`` annihilates ``v`` and along ``v`` the gradient is
  ``wd W1 v`` alone. For plain SGD, ``W1 v`` then shrinks by ``(1 - lr wd)`` per step, which
  predicts the smallest singular value of ``G`` over the whole run
  (:func:`predicted_decay_singular_value`).
* Condition numbers with and without that direction, per window (:func:`window_stats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from egd.grokking import tables
from egd.grokking.config import RunConfig
from egd.grokking.engine import build_model
from egd.grokking.labels import method_label
from egd.grokking.store import RunResult

from . import display
from .definitions import GROK_ACCURACY, MEMORISED_ACCURACY

__all__ = ["HALF_ACCURACY", "first_epoch_at", "memorisation_time", "windows", "kappa", "kappa_without_smallest",
           "window_stats", "plateau_rows", "plateau_table", "decay_only_direction", "max_input_overlap",
           "initial_decay_component", "predicted_decay_singular_value", "decay_rate", "plateau_checks",
           "LONG_PLATEAU", "SHORTER_FACTOR", "ILL_CONDITIONED", "RATE_TOLERANCE"]

#: The flat stretch ends at the first epoch with test accuracy at or above this.
HALF_ACCURACY = 0.5
#: Vanilla's plateau span counts as long above this many epochs.
LONG_PLATEAU = 1000
#: EGD's plateau span is "much shorter" when at least this many times shorter than vanilla's.
SHORTER_FACTOR = 10
#: A gradient counts as ill-conditioned above this condition number.
ILL_CONDITIONED = 100
#: The measured decay rate of the smallest singular value "is" weight decay's when within this
#: relative distance of ``log(1 - lr wd)``.
RATE_TOLERANCE = 0.05


def first_epoch_at(values: np.ndarray, level: float) -> int | None:
    """First 1-based epoch with ``values >= level``, or None."""
    hits = np.flatnonzero(np.asarray(values) >= level)
    return int(hits[0]) + 1 if hits.size else None


def memorisation_time(run: RunResult) -> int | None:
    """``T_mem``: the first epoch with train accuracy at or above :data:`MEMORISED_ACCURACY`."""
    return first_epoch_at(run.train_acc, MEMORISED_ACCURACY)


def windows(run: RunResult) -> dict[str, tuple[int | None, int | None]]:
    """``{"plateau span": (T_mem, T95), "flat stretch": (T_mem, T50)}`` (1-based epochs; None where
    a level is never reached)."""
    t_mem = memorisation_time(run)
    return {"plateau span": (t_mem, first_epoch_at(run.test_acc, GROK_ACCURACY)),
            "flat stretch": (t_mem, first_epoch_at(run.test_acc, HALF_ACCURACY))}


def kappa(spectra: np.ndarray) -> np.ndarray:
    """``s_max / s_min`` per row (:func:`egd.grokking.tables.condition_numbers`)."""
    return tables.condition_numbers(spectra)


def kappa_without_smallest(spectra: np.ndarray, drop: int = 1) -> np.ndarray:
    """``s_1 / s_(r - drop)`` per row of descending ``spectra`` ``(R, r)``: the condition number once
    the ``drop`` smallest singular directions are left out."""
    spectra = np.asarray(spectra, dtype=np.float64)
    if not 0 <= drop < spectra.shape[1]:
        raise ValueError(f"drop must be in [0, {spectra.shape[1] - 1}], got {drop!r}")
    return kappa(spectra[:, :spectra.shape[1] - drop])


def window_stats(run: RunResult, start: int | None, end: int | None) -> dict:
    """Medians over the spectra recorded in epochs ``[start, end)`` (1-based; a spectrum recorded
    at 0-based epoch index ``e`` belongs to epoch ``e + 1``): condition number with and without the
    smallest direction, and the gap ``s_(r-1) / s_r``. NaN medians when the window is empty."""
    epochs = np.asarray(run.spectra_epochs) + 1
    sel = np.zeros(len(epochs), dtype=bool) if start is None or end is None else (epochs >= start) & (epochs < end)
    s = np.asarray(run.spectra, dtype=np.float64)[sel]
    if not sel.any():
        return {"spectra": 0, "kappa": math.nan, "kappa_without": math.nan, "gap": math.nan}
    return {"spectra": int(sel.sum()), "kappa": float(np.median(kappa(s))),
            "kappa_without": float(np.median(kappa_without_smallest(s))),
            "gap": float(np.median(s[:, -2] / s[:, -1]))}


def plateau_rows(runs: Sequence[RunResult]) -> list[dict]:
    """One row per run and window (:func:`windows`): the window's epochs and :func:`window_stats`."""
    rows = []
    for run in runs:
        for name, (start, end) in windows(run).items():
            span = None if start is None or end is None else max(end - start, 0)
            rows.append({"method": tables.method_key(run), "window": name, "start": start, "end": end,
                         "length": span, "r": int(np.asarray(run.spectra).shape[1]), **window_stats(run, start, end)})
    return rows


def plateau_table(rows: list[dict], caption: str = "") -> display.Table:
    """:func:`plateau_rows` as a table (``r``: the number of singular values per spectrum)."""
    def num(v):
        return display.fmt_number(v, 3)

    r_ = rows[0]["r"] if rows else 0
    body = [[method_label(r["method"]), r["window"], f"{display.fmt_epochs(r['start'])} to "
             f"{display.fmt_epochs(r['end'])}", display.fmt_epochs(r["length"]), str(r["spectra"]), num(r["kappa"]),
             num(r["kappa_without"]), num(r["gap"])] for r in rows]
    header = ["method", "window", "epochs", "length", "spectra", rf"median \(\kappa = s_1/s_{{{r_}}}\)",
              rf"median \(s_1/s_{{{r_ - 1}}}\) (without the decay-only direction)",
              rf"median \(s_{{{r_ - 1}}}/s_{{{r_}}}\)"]
    return display.Table(header, body, caption=caption, align="llrrrrrr")


def decay_only_direction(p: int) -> np.ndarray:
    """The unit vector ``(1_p, -1_p) / sqrt(2p)`` of the modular input space ``R^(2p)``."""
    if not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, got {p!r}")
    return np.concatenate([np.ones(p), -np.ones(p)]) / math.sqrt(2 * p)


def max_input_overlap(config: RunConfig) -> float:
    """``max_i |x_i . v|`` over every train and test input of the run's modular task, ``v`` the
    :func:`decay_only_direction` (0 for the paper's one-hot inputs)."""
    data = config.build_task().build()
    v = decay_only_direction(config.p)
    worst = 0.0
    for x in (data.x_train, data.x_test):
        if x.dtype.is_floating_point:
            dots = x.double().numpy() @ v
        else:  # one-hot indices: x . v is the sum of v at the indices
            dots = v[x.numpy()].sum(axis=1)
        worst = max(worst, float(np.abs(dots).max()))
    return worst


def initial_decay_component(config: RunConfig) -> float:
    """``||W1(0) v||``: the initial hidden weights of the run (rebuilt from its seed) along the
    :func:`decay_only_direction`."""
    data = config.build_task().build()
    model = build_model(config, data)
    v = torch.from_numpy(decay_only_direction(config.p)).to(model.hidden.weight.dtype)
    with torch.no_grad():
        return float(torch.linalg.vector_norm(model.hidden.weight @ v))


def predicted_decay_singular_value(run: RunResult) -> np.ndarray:
    """``wd (1 - lr wd)^(steps) ||W1(0) v||`` at the run's spectrum epochs: ``||G v||`` along the
    decay-only direction under plain SGD, ``steps = epoch index x floor(n_train / batch)``.

    Only for runs without a transform (``ValueError`` otherwise): a transformed step moves ``W1 v``
    by other amounts. ``||G v||`` bounds the smallest singular value of ``G`` from above; the
    chapter compares the two (:func:`decay_rate`).
    """
    c = run.config
    if run.history["transform_active"].any():
        raise ValueError(f"the prediction holds for plain SGD steps only; run {run.name} transformed its gradient")
    if c.weight_decay_mode != "loss":
        raise ValueError("the prediction needs the weight decay inside the loss (weight_decay_mode='loss')")
    steps_per_epoch = run.summary["n_train"] // c.batch_size
    steps = np.asarray(run.spectra_epochs, dtype=np.float64) * steps_per_epoch
    return c.weight_decay * (1.0 - c.lr * c.weight_decay) ** steps * initial_decay_component(c)


def decay_rate(run: RunResult) -> dict:
    """The smallest singular value of a plain-SGD run against :func:`predicted_decay_singular_value`.

    ``rate``: the least-squares slope of ``log s_min`` per SGD step; ``predicted_rate``:
    ``log(1 - lr wd)``; ``ratio_min`` / ``ratio_max``: the range of ``s_min / predicted`` over the
    recorded spectra (at most 1: ``||G v||`` bounds ``s_min`` from above).
    """
    c = run.config
    measured = np.asarray(run.spectra, dtype=np.float64)[:, -1]
    predicted = predicted_decay_singular_value(run)
    steps = np.asarray(run.spectra_epochs, dtype=np.float64) * (run.summary["n_train"] // c.batch_size)
    slope = float(np.polyfit(steps, np.log(measured), 1)[0])
    ratio = measured / predicted
    return {"rate": slope, "predicted_rate": math.log1p(-c.lr * c.weight_decay),
            "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()), "spectra": int(len(measured))}


def plateau_checks(rows: list[dict], decay: dict | None = None, overlap: float | None = None,
                   paper_t95: dict[str, int] | None = None) -> list[display.Check]:
    """The chapter's verdicts from :func:`plateau_rows` of a vanilla and an exact-EGD run, the vanilla
    run's :func:`decay_rate`, :func:`max_input_overlap`, and the paper's epochs to 95% by method key."""
    def get(method, window):
        return next(r for r in rows if r["method"] == method and r["window"] == window)

    paper_t95 = paper_t95 or {}
    plot_only = "plot only (Figure 4)"
    v_span, e_span = get("vanilla", "plateau span"), get("egd-svd", "plateau span")
    v_flat, e_flat = get("vanilla", "flat stretch"), get("egd-svd", "flat stretch")
    paper_v = f"T95 = {display.fmt_epochs(paper_t95.get('vanilla'))}" if "vanilla" in paper_t95 else "–"
    paper_e = (f"T95 = {display.fmt_epochs(paper_t95.get('egd-svd'))} vs {display.fmt_epochs(paper_t95.get('vanilla'))}"
               if {"vanilla", "egd-svd"} <= set(paper_t95) else "–")
    v_len, e_len = v_span["length"], e_span["length"]
    checks = [
        display.Check(f"vanilla SGD's plateau span (T_mem to T95) is longer than {LONG_PLATEAU:,} epochs",
                      v_len is not None and v_len > LONG_PLATEAU, paper_v, f"{display.fmt_epochs(v_len)} epochs"),
        display.Check(f"exact EGD's plateau span is at least {SHORTER_FACTOR}× shorter",
                      e_len is not None and v_len is not None and e_len * SHORTER_FACTOR <= v_len, paper_e,
                      f"{display.fmt_epochs(e_len)} vs {display.fmt_epochs(v_len)} epochs"),
        display.Check(f"during vanilla's plateau the hidden-layer gradient is ill-conditioned (median κ > "
                      f"{ILL_CONDITIONED})", v_span["kappa"] > ILL_CONDITIONED, plot_only,
                      f"{v_span['kappa']:.0f} (span), {v_flat['kappa']:.0f} (flat stretch)"),
        display.Check("one direction dominates that condition number: without the decay-only direction κ is "
                      "at least 5× smaller", v_span["kappa"] >= 5 * v_span["kappa_without"]
                      and v_flat["kappa"] >= 5 * v_flat["kappa_without"], "–",
                      f"{v_span['kappa']:.0f} → {v_span['kappa_without']:.1f} (span), "
                      f"{v_flat['kappa']:.0f} → {v_flat['kappa_without']:.1f} (flat stretch)"),
        display.Check("EGD's own (untransformed) gradient is as ill-conditioned during its plateau: EGD "
                      "equalises the step, not the gradient",
                      e_span["kappa"] > ILL_CONDITIONED and e_flat["kappa"] > ILL_CONDITIONED, plot_only,
                      f"{e_span['kappa']:.0f} (span), {e_flat['kappa']:.0f} (flat stretch)"),
    ]
    if overlap is not None:
        checks.append(display.Check("every input is orthogonal to the decay-only direction (1, …, 1, −1, …, −1)",
                                    overlap == 0.0, "–", f"max |x·v| = {overlap:g}"))
    if decay is not None:
        rel = abs(decay["rate"] / decay["predicted_rate"] - 1)
        checks.append(display.Check(
            "vanilla's smallest singular value decays at the rate of weight decay alone, log(1 − lr·wd) per step "
            f"(within {RATE_TOLERANCE:.0%})", rel <= RATE_TOLERANCE, "–",
            f"{decay['rate']:.3e} vs {decay['predicted_rate']:.3e} ({rel:.1%} apart)"))
        checks.append(display.Check(
            "and stays a fixed fraction of the bound wd·‖W1 v‖ along the way (ratio within 0.5–1)",
            0.5 <= decay["ratio_min"] and decay["ratio_max"] <= 1.0, "–",
            f"{decay['ratio_min']:.2f}–{decay['ratio_max']:.2f} over {decay['spectra']} spectra"))
    return checks
