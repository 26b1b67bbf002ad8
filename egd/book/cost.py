"""What an EGD step costs: the committed benchmarks read and judged, and the pieces of one
exact step timed against them (chapter "Computing U V^T").

* :func:`transforms_benchmark` / :func:`epoch_benchmark` — the JSON files written by
  ``python -m egd.bench`` and ``egd-grok bench`` (``benchmarks/results/``);
* :func:`epoch_cost` — an exact-EGD epoch against a vanilla one, beside the paper's T4 numbers;
* :func:`exact_step_pieces` and :func:`step_floor` — where the time of one exact ``gram``
  step goes, and what that leaves for the cheapest exact epoch on this machine;
* :func:`cost_checks` — the verdicts, as :class:`egd.book.display.Check` rows.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from egd import defaults as D
from egd.bench import transforms as bench
from egd.book.display import Check, Table, fmt_number
from egd.book.style import method_style
from egd.grokking import paper_numbers
from egd.grokking.tasks import DEFAULT_TRAIN_FRACTION

__all__ = [
    "PAPER_DEVICE", "TRANSFORM_STYLES", "transform_style", "read_benchmark", "transforms_benchmark",
    "fastest_calls", "timed_shapes", "transforms_table", "cost_curves", "exact_totals", "steps_per_epoch",
    "paper_step_overhead_ms", "EpochCost", "epoch_cost", "epoch_table", "exact_step_pieces", "FLOOR_PIECES",
    "StepFloor", "step_floor", "pieces_table", "cost_checks", "HIDDEN_SHAPE", "LARGE_SHAPE",
]

PAPER_DEVICE = "Tesla T4"
#: The hidden-layer gradient of Mod(97, +) with the paper's width 512: (width, 2p).
HIDDEN_SHAPE = (512, 194)
LARGE_SHAPE = (4096, 4096)

#: Benchmark label -> (method key of the book's palette, the words a reader sees, marker, line style).
#: ``svd`` and ``gram`` are the same exact update (one colour), told apart by marker and line.
TRANSFORM_STYLES: dict[str, tuple[str, str, str, str]] = {
    "svd": ("egd-svd-lapack", "svd (thin SVD, exact)", "o", "-"),
    "gram": ("egd-gram", "gram (Gram eigendecomposition, exact)", "s", "--"),
    "rsvd_r128": ("egd-rsvd128", "rsvd, r = 128", "^", "-"),
    "rsvd_r64": ("egd-rsvd64", "rsvd, r = 64", "v", "-"),
    "rsvd": ("egd-rsvd128", "rsvd", "^", "-"),
    "newton_schulz": ("egd-newton-schulz", f"Newton–Schulz, cubic ({D.DEFAULT_NS_STEPS} steps)", "D", "-"),
    "newton_schulz_muon5": ("egd-newton-schulz", "Newton–Schulz, Muon's quintic (5 steps)", "x", "--"),
    "newton_schulz_muon": ("egd-newton-schulz", "Newton–Schulz, Muon's quintic", "x", "--"),
}


def transform_style(label: str) -> dict[str, str]:
    """``ax.plot`` keywords for a benchmark label: the method's colour from
    :func:`egd.book.style.method_style`, a marker, a line style and a label."""
    if label not in TRANSFORM_STYLES:
        raise ValueError(f"label must be one of {sorted(TRANSFORM_STYLES)}, got {label!r}")
    key, words, marker, linestyle = TRANSFORM_STYLES[label]
    return {"color": method_style(key).color, "label": words, "marker": marker, "linestyle": linestyle}


def read_benchmark(folder: str | Path, name: str) -> dict[str, Any] | None:
    """The JSON document ``folder/name``, or None when there is no such file."""
    path = Path(folder) / name
    return json.loads(path.read_text()) if path.exists() else None


def transforms_benchmark(device: str, folder: str | Path, *, profile: str = "quick",
                         repeats: int = 3) -> tuple[dict[str, Any], str]:
    """``(document, origin)``: ``transforms_<device>.json`` from ``folder`` when committed;
    otherwise measured now (the four training shapes, and in the full profile the large
    square too, ``repeats`` calls each)."""
    doc = read_benchmark(folder, f"transforms_{device}.json")
    if doc is not None:
        return doc, f"read transforms_{device}.json"
    shapes = bench.BENCH_SHAPES if profile == "full" else bench.TRAINING_SHAPES
    return bench.run(device, shapes=shapes, repeats=repeats), "measured now (no committed file)"


def fastest_calls(doc: dict[str, Any]) -> dict[tuple[tuple[int, int], str], float]:
    """``(shape, label) -> milliseconds`` of the fastest timed call."""
    return {(tuple(r["shape"]), r["label"]): r["min_ms"] for r in doc["records"]}


def timed_shapes(doc: dict[str, Any]) -> list[tuple[int, int]]:
    """The shapes of the document, in the order they were timed."""
    return list(dict.fromkeys(tuple(r["shape"]) for r in doc["records"]))


def transforms_table(doc: dict[str, Any], labels: Sequence[str] = tuple(bench.METHOD_CONFIGS)) -> Table:
    """Milliseconds per call (fastest call) of every method on every timed shape."""
    best = fastest_calls(doc)
    rows = [[f"{m} × {n}", *[fmt_number(best[((m, n), lab)], 4) if ((m, n), lab) in best else "–" for lab in labels]]
            for m, n in timed_shapes(doc)]
    return Table(["shape", *labels], rows,
                 caption=f"Milliseconds per call, fastest of the timed calls, float32 input ({doc['device_name']}, "
                         f"{doc['num_threads']} threads); –: not timed (rsvd at a rank ≥ min(m, n) is the SVD)")


def cost_curves(doc: dict[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
    """``label -> (m n min(m, n), fastest call in ms)``, sorted by the first: the flop scale of
    an exact method on the x axis."""
    out = {}
    for label in dict.fromkeys(r["label"] for r in doc["records"]):
        pts = sorted((r["shape"][0] * r["shape"][1] * min(r["shape"]), r["min_ms"])
                     for r in doc["records"] if r["label"] == label)
        out[label] = ([x for x, _ in pts], [y for _, y in pts])
    return out


def exact_totals(doc: dict[str, Any], shapes: Sequence[tuple[int, int]] = bench.TRAINING_SHAPES) -> dict[str, float]:
    """Total fastest-call milliseconds of each exact method over ``shapes`` (how the default
    method per device is chosen)."""
    best = fastest_calls(doc)
    return {m: sum(best[(tuple(s), m)] for s in shapes) for m in D.EXACT_METHODS}


def steps_per_epoch(p: int = 97, batch: int = 512, train_fraction: float = DEFAULT_TRAIN_FRACTION) -> int:
    """SGD steps of one epoch of ``Mod(p, op)``: the last partial batch is dropped."""
    return int(train_fraction * p * p) // batch


def paper_step_overhead_ms(steps: int) -> float:
    """The paper's per-step EGD overhead implied by its p = 97 epoch times on a T4."""
    ms = paper_numbers.EPOCH_MS_P97
    return (ms["egd-svd"] - ms["vanilla"]) / steps


@dataclass(frozen=True)
class EpochCost:
    """An exact-EGD epoch against a vanilla one (medians of the committed epoch benchmark)."""

    device_name: str
    threads: int
    rounds: int
    epochs_per_round: int
    steps: int
    ms: dict[str, float]       # method -> median ms per epoch
    ratio: dict[str, float]    # method -> median ms / vanilla's

    @property
    def egd_ratio(self) -> float:
        return self.ratio["egd-svd"]

    @property
    def overhead_per_step_ms(self) -> float:
        return (self.ms["egd-svd"] - self.ms["vanilla"]) / self.steps

    @property
    def paper_ratio(self) -> float:
        ms = paper_numbers.EPOCH_MS_P97
        return ms["egd-svd"] / ms["vanilla"]


def epoch_cost(doc: dict[str, Any], steps: int | None = None) -> EpochCost:
    """Read an ``epoch_<device>.json`` document (``egd-grok bench``)."""
    steps = steps_per_epoch(doc.get("p", 97)) if steps is None else steps
    return EpochCost(device_name=doc["device_name"], threads=int(doc["num_threads"]), rounds=int(doc["repeats"]),
                     epochs_per_round=int(doc["epochs_per_block"]), steps=steps,
                     ms=dict(doc["median_ms_per_epoch"]), ratio=dict(doc["ratio_to_vanilla"]))


def epoch_table(cost: EpochCost) -> Table:
    """Milliseconds per epoch and the multiple of vanilla, ours and the paper's."""
    paper = paper_numbers.EPOCH_MS_P97
    rows = []
    for method, ms in cost.ms.items():
        p_ms = paper.get(method)
        rows.append([method_style(method).label, f"{ms:.1f}", f"{cost.ratio[method]:.2f}×",
                     "–" if p_ms is None else f"{p_ms:.1f}",
                     "–" if p_ms is None else f"{p_ms / paper['vanilla']:.2f}×"])
    return Table(["method", "ms per epoch (ours)", "× vanilla (ours)", f"ms per epoch ({PAPER_DEVICE})",
                  f"× vanilla ({PAPER_DEVICE})"], rows,
                 caption=f"One epoch of Mod(97, +) ({cost.steps} steps and the evaluation of every pair): ours on "
                         f"{cost.device_name} with {cost.threads} threads, median of {cost.rounds} rounds of "
                         f"{cost.epochs_per_round} epochs, methods in turn; the paper's on a {PAPER_DEVICE}")


def exact_step_pieces(G: torch.Tensor, *, rounds: int = 40, budget_s: float = 3.0,
                      clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Fastest-call milliseconds of the pieces of one exact ``gram`` step (float32 path), timed in turn.

    For a tall ``G`` (a wide one is transposed): ``gram`` (``X^T X``), ``eigh`` (of the
    ``(n, n)`` Gram matrix, in ``G``'s dtype), ``apply`` (``X S``, ``S = (X^T X)^(-1/2)``)
    and ``polish`` (the Newton–Schulz step's two products). The pieces are timed one after
    the other in each round, up to ``rounds`` rounds or ``budget_s`` seconds (at least 3
    rounds), so a busy machine slows them alike; the fastest call is the one least inflated
    by other processes, as in the transforms benchmark. (The whole call is not timed here:
    on a busy machine the longest timing is the one most often interrupted.)
    """
    if not isinstance(rounds, int) or rounds < 3:
        raise ValueError(f"rounds must be an integer >= 3, got {rounds!r}")
    fns = bench.gram_step_pieces(G)
    for fn in fns.values():  # warm-up
        fn()
    best = dict.fromkeys(fns, math.inf)
    start = clock()
    for r in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
        if r >= 2 and clock() - start > budget_s:
            break
    return {name: 1e3 * t for name, t in best.items()}


#: The pieces no exact step through the Gram matrix can skip.
FLOOR_PIECES = ("gram", "eigh", "apply")


@dataclass(frozen=True)
class StepFloor:
    """What no exact Gram step can skip (the eigendecomposition and the two products),
    against all the pieces of the step, and what it leaves for an epoch."""

    pieces: dict[str, float]
    floor_ms: float
    total_ms: float            # the sum of the pieces
    best_ratio: float          # the epoch multiple of vanilla if the step did only the floor
    measured_ratio: float

    @property
    def share(self) -> float:
        return self.floor_ms / self.total_ms


def step_floor(pieces: dict[str, float], cost: EpochCost) -> StepFloor:
    """The unavoidable share of an exact step, ``(gram + eigh + apply) / (sum of the pieces)``
    (timed together, :func:`exact_step_pieces`), applied to the measured EGD overhead of the
    epoch benchmark: ``1 + share * (egd - vanilla) / vanilla`` is the epoch multiple an exact
    step that did nothing else would reach on the benchmark's machine. Shares and ratios
    only: the pieces and the epochs are timed at different times on a machine whose speed
    drifts. The share is an upper bound of the true one (the call also does elementwise work
    and checks that are not among the pieces), so the multiple is too."""
    floor = sum(pieces[name] for name in FLOOR_PIECES)
    total = sum(pieces.values())
    best = 1.0 + floor / total * (cost.egd_ratio - 1.0)
    return StepFloor(dict(pieces), floor, total, best, cost.egd_ratio)


def pieces_table(floor: StepFloor, shape: tuple[int, int]) -> Table:
    """The pieces of one exact step, their time and their share of the sum."""
    m, n = max(shape), min(shape)
    words = {
        "gram": f"\\(X^\\top X\\): the Gram matrix ({n} × {m} times {m} × {n})",
        "eigh": f"eigendecomposition of the {n} × {n} Gram matrix",
        "apply": f"\\(X S\\), \\(S = (X^\\top X)^{{-1/2}}\\) ({m} × {n} times {n} × {n})",
        "polish": "the Newton–Schulz polish (two more products; float32 path only)",
    }
    rows = [[words[name], f"{ms:.2f}", f"{ms / floor.total_ms:.0%}", "yes" if name in FLOOR_PIECES else ""]
            for name, ms in floor.pieces.items()]
    rows.append(["all pieces", f"{floor.total_ms:.2f}", "100%", f"{floor.floor_ms:.2f} ms ({floor.share:.0%})"])
    return Table(["piece", "ms (fastest call)", "share", "needed by every exact Gram step"], rows,
                 caption=f"The pieces of one exact step on the {m} × {n} training gradient, float32, timed now "
                         "one after the other")


def cost_checks(doc: dict[str, Any], cost: EpochCost | None, *, shape: tuple[int, int] = HIDDEN_SHAPE) -> list[Check]:
    """Verdicts on speed: the default method, gram against svd and rsvd on the hidden
    gradient, the per-step and per-epoch cost against the paper's (the epoch row only with
    an epoch benchmark), and the large square (only when it was timed)."""
    best = fastest_calls(doc)
    ours = {label: best[(shape, label)] for label in ("svd", "gram", "rsvd_r128", "rsvd_r64")}
    totals = exact_totals(doc)
    default = D.default_method(doc["device"])
    where = f"{doc['device_name']}, {doc['num_threads']} threads"
    shape_words = f"{shape[0]} × {shape[1]}"
    steps = steps_per_epoch()
    paper_step = paper_step_overhead_ms(steps)
    checks = [
        Check(f"the {doc['device']} default {default!r} is the fastest exact method on the training shapes",
              default == doc["fastest_exact_method"], "– (the paper uses the SVD)",
              ", ".join(f"{m} {t:.1f} ms" for m, t in totals.items()) + " (total over four shapes)"),
        Check(f"gram is faster than the thin SVD on the {shape_words} hidden gradient", ours["gram"] < ours["svd"],
              "–", f"{ours['gram']:.2f} vs {ours['svd']:.2f} ms"),
        Check(f"RSVD r = 128 is cheaper than the exact update on {shape_words}", ours["rsvd_r128"] < ours["gram"],
              "the cheap alternative (Algorithm 3)", f"{ours['rsvd_r128']:.2f} ms vs {ours['gram']:.2f} (gram), "
              f"{ours['svd']:.2f} (svd)"),
        Check(f"RSVD r = 64 is cheaper than the exact update on {shape_words}", ours["rsvd_r64"] < ours["gram"],
              "the cheap alternative (Algorithm 3)", f"{ours['rsvd_r64']:.2f} ms vs {ours['gram']:.2f} (gram), "
              f"{ours['svd']:.2f} (svd)"),
        Check("one exact step costs less than the paper's per-step EGD overhead", ours[default] < paper_step,
              f"{paper_step:.1f} ms ({PAPER_DEVICE}, epoch times over {steps} steps)",
              f"{ours[default]:.2f} ms ({default}, {where})"),
    ]
    if cost is not None:
        ms = paper_numbers.EPOCH_MS_P97
        checks.append(Check(
            "an exact-EGD epoch costs at most the paper's multiple of a vanilla epoch (p = 97)",
            cost.egd_ratio <= cost.paper_ratio,
            f"{cost.paper_ratio:.2f}× ({ms['egd-svd']} vs {ms['vanilla']} ms, {PAPER_DEVICE})",
            f"{cost.egd_ratio:.2f}× ({cost.ms['egd-svd']:.1f} vs {cost.ms['vanilla']:.1f} ms, "
            f"{cost.device_name}, {cost.threads} threads)"))
    if (LARGE_SHAPE, "svd") in best and (LARGE_SHAPE, "gram") in best:
        svd_s, gram_s = best[(LARGE_SHAPE, "svd")] / 1e3, best[(LARGE_SHAPE, "gram")] / 1e3
        checks.append(Check(
            f"on a large square {LARGE_SHAPE[0]} × {LARGE_SHAPE[1]} matrix the thin SVD beats gram "
            "(so the default is chosen on training shapes)", svd_s < gram_s, "–",
            f"{svd_s:.1f} s vs {gram_s:.1f} s"))
    return checks
