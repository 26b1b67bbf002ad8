"""Micro-benchmark of :func:`egd.orthogonalize` methods, and their accuracy against the SVD.

``python -m egd.bench`` times every method on the shapes that matter (the modular-arithmetic
hidden layer 512x194 / 512x254 for p = 97 / 127, a sparse-parity layer 100x50, a wide
128x512, and a large 4096x4096) on CPU, and on CUDA when available, and writes one JSON per
device to ``benchmarks/results/transforms_<device>.json`` (atomically). The JSON also names
the fastest exact method on the training shapes: ``egd.defaults.DEFAULT_METHOD_BY_DEVICE``
must agree with it (a test checks the committed file).

The timing and accuracy functions are pure (tensors in, numbers out); only :func:`main`
touches files.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from egd import defaults as D
from egd.grokking.environment import device_name
from egd.grokking.files import atomic_write_json
from egd.transforms import orthogonalize, resolve_rtol

__all__ = [
    "BENCH_SHAPES", "TRAINING_SHAPES", "METHOD_CONFIGS", "time_call", "benchmark_device",
    "fastest_exact_method", "gram_step_pieces", "gram_step_breakdown", "accuracy_vs_svd", "accuracy_sweep",
    "run", "main",
]

#: (m, n) shapes timed; the first four are the training shapes the default is chosen on.
TRAINING_SHAPES: tuple[tuple[int, int], ...] = ((512, 194), (512, 254), (100, 50), (128, 512))
LARGE_SHAPES: tuple[tuple[int, int], ...] = ((4096, 4096),)
BENCH_SHAPES = TRAINING_SHAPES + LARGE_SHAPES

#: Method configurations timed: label -> orthogonalize kwargs. rsvd ranks as in Table 2.
METHOD_CONFIGS: dict[str, dict[str, Any]] = {
    "svd": {"method": "svd"},
    "gram": {"method": "gram"},
    "rsvd_r128": {"method": "rsvd", "rank": 128},
    "rsvd_r64": {"method": "rsvd", "rank": 64},
    "newton_schulz": {"method": "newton_schulz"},
    "newton_schulz_muon5": {"method": "newton_schulz", "ns_steps": 5, "ns_coefficients": D.MUON_NS_COEFFICIENTS},
}

DEFAULT_REPEATS = 30          # timed calls per (shape, method) on small shapes
DEFAULT_TIME_BUDGET_S = 2.0   # per (shape, method): fewer repeats when one call is slow
LARGE_MAX_REPEATS = 2         # 4096x4096 on 2 CPU cores takes tens of seconds per call
#: Not timed on LARGE_SHAPES: 20 cubic steps are 40 products of 4096x4096 matrices (minutes on
#: 2 cores); Muon's 5-step variant stands for Newton-Schulz there.
LARGE_SKIP_LABELS: tuple[str, ...] = ("newton_schulz",)
DEFAULT_OUT_DIR = Path("benchmarks") / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], *, device: torch.device, repeats: int, budget_s: float,
              warmup: bool = True) -> list[float]:
    """Wall-clock seconds of ``fn()`` (synchronised on CUDA): up to ``repeats`` calls, stopping
    early once ``budget_s`` is spent (always at least one timed call)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup:
        fn()
        _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def benchmark_device(
    device: torch.device | str,
    *,
    shapes: Sequence[tuple[int, int]] = BENCH_SHAPES,
    configs: dict[str, dict[str, Any]] = METHOD_CONFIGS,
    repeats: int = DEFAULT_REPEATS,
    budget_s: float = DEFAULT_TIME_BUDGET_S,
    large_max_repeats: int = LARGE_MAX_REPEATS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every config on every shape (float32 Gaussian input); one record per pair.

    rsvd configs whose rank is not below ``min(m, n)`` are skipped (they would equal svd).
    Shapes in :data:`LARGE_SHAPES` get at most ``large_max_repeats`` calls, no warm-up, and
    skip :data:`LARGE_SKIP_LABELS`.
    """
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    records = []
    for m, n in shapes:
        G = torch.randn(m, n, generator=gen).to(device)
        large = (m, n) in LARGE_SHAPES
        for label, kw in configs.items():
            if kw.get("rank") is not None and kw["rank"] >= min(m, n):
                continue
            if large and label in LARGE_SKIP_LABELS:
                continue
            kw = dict(kw)
            if kw["method"] == "rsvd":
                kw["generator"] = torch.Generator(device=device).manual_seed(seed)
            if progress:
                progress(f"{device.type} {m}x{n} {label}")
            times = time_call(lambda: orthogonalize(G, **kw), device=device,
                              repeats=large_max_repeats if large else repeats,
                              budget_s=budget_s, warmup=not large)
            records.append({
                "shape": [m, n], "label": label, "method": kw["method"], "rank": kw.get("rank"),
                "median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
                "repeats": len(times), "times_ms": [1e3 * t for t in times],
            })
    return records


def fastest_exact_method(records: Sequence[dict[str, Any]],
                         shapes: Sequence[tuple[int, int]] = TRAINING_SHAPES) -> str:
    """The exact method with the smallest total time over ``shapes``, per shape the fastest
    call (``min_ms``): on a shared machine the minimum is the timing least inflated by other
    processes, the median is recorded beside it."""
    totals = {}
    wanted = {tuple(s) for s in shapes}
    for method in D.EXACT_METHODS:
        times = [r["min_ms"] for r in records if r["label"] == method and tuple(r["shape"]) in wanted]
        if len(times) != len(shapes):
            raise ValueError(f"records must time {method!r} on every shape of {list(shapes)}")
        totals[method] = sum(times)
    return min(totals, key=totals.get)


def gram_step_pieces(G: torch.Tensor) -> dict[str, Callable[[], Any]]:
    """The pieces of one exact-EGD step by the ``gram`` method, as calls to time.

    For a tall ``G`` of shape ``(m, n)`` (a wide one is transposed): ``gram`` (``X^T X``),
    ``eigh`` (of the ``(n, n)`` Gram matrix), ``apply`` (``X S``, an ``(m, n)`` product) and
    ``polish`` (the Newton-Schulz step, two ``(m, n)`` products).
    """
    X = G.mT if G.shape[-2] < G.shape[-1] else G
    M = X.mT @ X
    S = torch.linalg.eigh(M).eigenvectors  # any (n, n) matrix: a product's cost does not depend on it
    Y = X @ S
    return {
        "gram": lambda: X.mT @ X,
        "eigh": lambda: torch.linalg.eigh(M),
        "apply": lambda: X @ S,
        "polish": lambda: Y @ (Y.mT @ Y),
    }


def gram_step_breakdown(G: torch.Tensor, *, repeats: int = 50, budget_s: float = 1.0) -> dict[str, float]:
    """Median milliseconds of the pieces of one exact-EGD step by the ``gram`` method.

    For a tall ``G`` of shape ``(m, n)`` (a wide one is transposed): ``gram`` (``X^T X``, an
    ``(m, n)`` product), ``eigh`` (of the ``(n, n)`` Gram matrix, in ``G``'s dtype), ``apply``
    (``X S`` with ``S = (X^T X)^(-1/2)``, an ``(m, n)`` product), ``polish`` (the Newton-Schulz
    step, two ``(m, n)`` products) and ``orthogonalize`` (the whole call, for comparison).
    """
    pieces = gram_step_pieces(G)
    pieces["orthogonalize"] = lambda: orthogonalize(G, method="gram", check_finite=False)
    return {name: 1e3 * statistics.median(time_call(fn, device=G.device, repeats=repeats, budget_s=budget_s))
            for name, fn in pieces.items()}


def accuracy_vs_svd(G: torch.Tensor, **kwargs: Any) -> dict[str, float]:
    """How far ``orthogonalize(G, **kwargs)`` is from the exact ``U V^T`` (float64 SVD with
    the same pseudo-inverse tolerance).

    Returns the relative Frobenius error ``||Y - U V^T||_F / ||U V^T||_F``, the cosine
    ``<Y, U V^T> / (||Y|| ||U V^T||)`` (alignment of the update direction) and the largest
    deviation of a singular value of ``Y`` from 1 among the top ``rank(G)``.
    """
    # The reference drops the same singular values as the method (rtol resolved for G's
    # precision): a float32 gradient's singular values below ~eps32 * s_max are rounding
    # noise, and comparing against a float64 SVD that keeps them would measure that noise.
    m, n = G.shape[-2:]
    exact = orthogonalize(G.double(), method="svd", rtol=resolve_rtol(kwargs.get("rtol"), m, n, G.dtype))
    Y = orthogonalize(G, **kwargs).double()
    r = int(round(float(exact.square().sum())))  # ||U V^T||_F^2 = rank(G)
    sv = torch.linalg.svdvals(Y)[:r]
    return {
        "rel_error": float(torch.linalg.norm(Y - exact) / torch.linalg.norm(exact)),
        "cosine": float((Y * exact).sum() / (torch.linalg.norm(Y) * torch.linalg.norm(exact)).clamp_min(1e-300)),
        "max_sv_dev": float((sv - 1).abs().max()) if r else 0.0,
    }


def accuracy_sweep(G: torch.Tensor, *, ranks: Sequence[int], ns_steps: Sequence[int],
                   seed: int = 0) -> list[dict[str, Any]]:
    """:func:`accuracy_vs_svd` for rsvd at each rank (paper's n_iter) and Newton–Schulz at
    each step count (cubic and Muon's quintic), plus gram; one record per setting."""
    rows = []
    for r in ranks:
        gen = torch.Generator(device=G.device).manual_seed(seed)
        acc = accuracy_vs_svd(G, method="rsvd", rank=int(r), generator=gen)
        rows.append({"method": "rsvd", "param": "rank", "value": int(r), **acc})
    for name, coeffs in (("newton_schulz", D.CUBIC_NS_COEFFICIENTS), ("newton_schulz_muon", D.MUON_NS_COEFFICIENTS)):
        for k in ns_steps:
            acc = accuracy_vs_svd(G, method="newton_schulz", ns_steps=int(k), ns_coefficients=coeffs)
            rows.append({"method": name, "param": "ns_steps", "value": int(k), **acc})
    rows.append({"method": "gram", "param": None, "value": None, **accuracy_vs_svd(G, method="gram")})
    return rows


def run(device: torch.device | str, *, default_shapes: Sequence[tuple[int, int]] = TRAINING_SHAPES,
        **kwargs: Any) -> dict[str, Any]:
    """Benchmark one device and return the JSON document; the fastest exact method is
    chosen on ``default_shapes``."""
    device = torch.device(device)
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    records = benchmark_device(device, **kwargs)
    doc = {
        "device": device.type,
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "dtype": "float32",
        "records": records,
        "default_chosen_on": [list(s) for s in default_shapes],
        "fastest_exact_method": fastest_exact_method(records, default_shapes),
        "default_method_in_code": D.default_method(device),
        "wall_s": time.perf_counter() - t0,
        # other processes on the machine inflate timings: the 1-minute load average says how much
        "load_avg_1min": [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
    }
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egd.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where transforms_<device>.json go")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--budget-s", type=float, default=DEFAULT_TIME_BUDGET_S)
    parser.add_argument("--no-large", action="store_true", help="skip the 4096x4096 shape")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) first (on a busy shared machine 1 thread avoids "
                             "OpenMP threads spinning against other processes)")
    parser.add_argument("--shapes", nargs="+", default=None, metavar="MxN",
                        help="time these shapes instead (the default choice then uses them too)")
    args = parser.parse_args(argv)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    shapes = TRAINING_SHAPES if args.no_large else BENCH_SHAPES
    if args.shapes:
        try:
            shapes = tuple(tuple(int(v) for v in s.lower().split("x")) for s in args.shapes)
        except ValueError:
            parser.error(f"--shapes must look like 512x194, got {args.shapes}")
        if any(len(s) != 2 or min(s) < 1 for s in shapes):
            parser.error(f"--shapes must look like 512x194, got {args.shapes}")
    for dev in devices:
        doc = run(dev, shapes=shapes, repeats=args.repeats, budget_s=args.budget_s,
                  default_shapes=shapes if args.shapes else TRAINING_SHAPES,
                  progress=lambda s: print(s, flush=True))
        path = args.out_dir / f"transforms_{torch.device(dev).type}.json"
        atomic_write_json(path, doc)
        print(f"wrote {path}: fastest exact method {doc['fastest_exact_method']!r}, "
              f"code default {doc['default_method_in_code']!r}, {doc['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
