"""Input checks for the analytic layer: every failure is a ValueError naming the
parameter, the bad value and the allowed range."""

from __future__ import annotations

import numpy as np

from ._constants import (
    CONVENTION_FACTOR,
    THETA_EQUI_RANGE,
    THETA_SHIFT_RANGE,
)


def _finite(name: str, x) -> np.ndarray:
    if isinstance(x, (bool, np.bool_)):
        raise ValueError(f"{name} must be a finite number or array, got {x!r}")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number or array, got {x!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return arr


def _first_bad(arr: np.ndarray, ok: np.ndarray):
    return arr[~ok].flat[0] if arr.ndim else arr.item()


def positive(name: str, x) -> np.ndarray:
    """``x > 0`` elementwise (eps, eta)."""
    arr = _finite(name, x)
    ok = arr > 0
    if not np.all(ok):
        raise ValueError(f"{name} must be > 0, got {_first_bad(arr, ok)!r} (allowed range (0, inf))")
    return arr


def nonnegative(name: str, x) -> np.ndarray:
    """``x >= 0`` elementwise (the truncation level s)."""
    arr = _finite(name, x)
    ok = arr >= 0
    if not np.all(ok):
        raise ValueError(f"{name} must be >= 0, got {_first_bad(arr, ok)!r} (allowed range [0, inf))")
    return arr


def steps(name: str, k) -> np.ndarray:
    """Iteration counts: integer-valued and >= 0 (returned as float64 for broadcasting)."""
    arr = _finite(name, k)
    ok = (arr >= 0) & (arr == np.round(arr))
    if not np.all(ok):
        raise ValueError(
            f"{name} must be a non-negative integer, got {_first_bad(arr, ok)!r} (allowed range 0, 1, 2, ...)"
        )
    return arr


def theta_shift(theta) -> np.ndarray:
    """Section 3 test direction: theta in the open interval (0, pi/2)."""
    arr = _finite("theta", theta)
    lo, hi = THETA_SHIFT_RANGE
    ok = (arr > lo) & (arr < hi)
    if not np.all(ok):
        raise ValueError(f"theta must lie in (0, pi/2), got {_first_bad(arr, ok)!r}")
    return arr


def theta_equi(theta) -> np.ndarray:
    """Appendix A.3 / test-error direction: theta in (0, pi]."""
    arr = _finite("theta", theta)
    lo, hi = THETA_EQUI_RANGE
    ok = (arr > lo) & (arr <= hi)
    if not np.all(ok):
        raise ValueError(f"theta must lie in (0, pi], got {_first_bad(arr, ok)!r}")
    return arr


def vector2(name: str, u) -> np.ndarray:
    """A weight vector or a batch of them: shape (..., 2)."""
    arr = _finite(name, u)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2), got shape {arr.shape}")
    return arr


def choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def convergent(name: str, factor: np.ndarray, *, what: str) -> None:
    """Linear iteration factor (e.g. ``1 - eta m2``) must satisfy |factor| < 1."""
    ok = np.abs(factor) < 1
    if not np.all(ok):
        bad = _first_bad(np.asarray(factor), ok)
        raise ValueError(
            f"{name} is too large: the iteration diverges, |{what}| = {abs(float(bad))!r} >= 1 "
            f"(allowed: |{what}| < 1)"
        )


def stable_step(x, eta, *, what: str) -> None:
    """A linear iteration ``v <- (1 - x) v`` with ``x = c eta lambda > 0`` converges iff ``x < 2``.

    Checked on ``x`` itself, not on the rounded factor ``1 - x``: a tiny ``x`` (``eps = 1e-300``)
    makes ``1 - x`` round to 1 but is a slow contraction, not a divergence. The message names
    ``eta`` and its limit ``2 eta / x``.
    """
    x, eta = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(eta, dtype=float))
    ok = x < 2
    if not np.all(ok):
        bad_x, bad_eta = float(x[~ok].flat[0]), float(eta[~ok].flat[0])
        raise ValueError(f"eta must be < {2 * bad_eta / bad_x:.6g} here ({what} < 2, else the iteration diverges), "
                         f"got eta={bad_eta!r} ({what} = {bad_x:.6g})")


def convention_factor(convention: str) -> float:
    return CONVENTION_FACTOR[convention]
