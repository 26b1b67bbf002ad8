"""Finite-sample optimisers for the toy model and their test error on a held-out sample.

The model is linear, ``w in R^2``, with loss ``l(w) = (1/n) ||X w - Y||^2``. Its gradient
depends on the data only through the sufficient statistics

    Sigma^ = X^T X / n  (2, 2),      c^ = X^T Y / n  (2,),

    grad l(w) = 2 (Sigma^ w - c^).

Two conventions for the factor 2 (names shared with the theory modules):

* ``"half"``: ``g = Sigma^ w - c^`` -- the paper's Section 3, Eq. (2), which drops the 2;
* ``"full"``: ``g = 2 (Sigma^ w - c^)`` -- the true gradient, used in Appendix A.3.

Three update rules, ``w <- w - eta d``:

* ``"gd"``: ``d = g``;
* ``"paper_egd"``: ``d = Sigma^^-1 g`` -- the paper's accelerated scheme, Eq. (9) (a
  Newton / natural-gradient step: with ``"half"`` it is ``w - w_ols``, iteration matrix
  ``(1 - eta) I``);
* ``"egd"``: ``d = g / ||g||`` -- EGD proper, Eq. (11) applied to the 1 x 2 gradient
  matrix (normalised gradient descent; the convention has no effect on it).

Full batch uses the statistics of the whole train set at every step; mini-batch SGD
(``batch_size=B``) uses those of one batch per step, batches drawn by reshuffling the
train set each epoch and dropping the last partial batch.

Test error of ``w`` on a held-out sample: the fraction of points with
``sign(x^T w) != y``. It depends on ``w`` only through its angle, which gives an exact
O((n + K) log n) evaluation for ``K`` weight vectors (see :func:`misclassification_rate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from toymodel.sampling import as_generator, check_n

__all__ = [
    "METHODS",
    "CONVENTIONS",
    "DEFAULT_METHOD",
    "DEFAULT_CONVENTION",
    "sufficient_statistics",
    "gradient_factor",
    "train_trajectory",
    "stable_eta_limit",
    "misclassification_rate",
]

METHODS = ("gd", "paper_egd", "egd")
CONVENTIONS = ("half", "full")
DEFAULT_METHOD = "gd"
DEFAULT_CONVENTION = "half"
TWO_PI = 2.0 * math.pi


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    return convention


def gradient_factor(convention: str) -> float:
    """Factor in front of ``Sigma^ w - c^``: 1 for ``"half"`` (Eq. 2), 2 for ``"full"`` (A.3)."""
    return 1.0 if check_convention(convention) == "half" else 2.0


def _check_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"X must be a numeric array of shape (n, 2), got {type(X).__name__}") from None
    try:
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"y must be a numeric array of labels -1 or +1, got {type(y).__name__}") from None
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, 2) with n >= 1, got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite, got NaN or infinite entries")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must hold labels -1 or +1")
    return X, y


def _check_u(u: Sequence[float]) -> tuple[float, float]:
    try:
        u = np.asarray(u, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"u must be a finite vector of shape (2,), got {u!r}") from None
    if u.shape != (2,) or not np.all(np.isfinite(u)):
        raise ValueError(f"u must be a finite vector of shape (2,), got {u!r}")
    return float(u[0]), float(u[1])


def _check_eta(eta: float) -> float:
    try:
        eta = float(eta) if not isinstance(eta, bool) else math.nan
    except (TypeError, ValueError):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}") from None
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    return eta


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    return int(steps)


def sufficient_statistics(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Sufficient statistics of the squared loss (Eq. 2): :math:`\hat\Sigma = X^\top X/n`, :math:`\hat c = X^\top y/n`.

    The gradient of :math:`\ell(w) = \frac1n \lVert X w - y\rVert^2` is
    :math:`2(\hat\Sigma w - \hat c)`; it depends on the data only through these two.

    Parameters
    ----------
    X : array_like, shape (n, 2)
        Finite features, :math:`n \ge 1`.
    y : array_like, shape (n,)
        Labels in :math:`\{-1, +1\}`.

    Returns
    -------
    Sigma : ndarray, shape (2, 2)
    c : ndarray, shape (2,)

    Raises
    ------
    ValueError
        If the shapes are wrong, ``X`` is not finite, or a label is not :math:`\pm 1`.

    Examples
    --------
    >>> import toymodel
    >>> X, y = toymodel.sample_train(1000, eps=0.01, s=1.0, seed=0)
    >>> Sigma, c = toymodel.sufficient_statistics(X, y)
    >>> print(Sigma.round(2), c.round(2))
    [[2.58 0.  ]
     [0.   0.01]] [1.54 0.  ]
    """
    X, y = _check_data(X, y)
    n = X.shape[0]
    return X.T @ X / n, X.T @ y / n


def _batch_statistics(
    X: np.ndarray, y: np.ndarray, *, steps: int, batch_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-step mini-batch statistics, rows ``(S11, S12, S22, c1, c2)``, shape (steps, 5).

    Each epoch is a fresh permutation cut into ``n // batch_size`` batches (last partial
    batch dropped), consumed in order until ``steps`` batches are drawn.
    """
    n = X.shape[0]
    per_epoch = n // batch_size
    rows = []
    drawn = 0
    while drawn < steps:  # bounded: each pass adds per_epoch >= 1 batches
        take = min(per_epoch, steps - drawn)
        order = rng.permutation(n)[: take * batch_size].reshape(take, batch_size)
        Xb, yb = X[order], y[order]  # (take, B, 2), (take, B)
        stats = np.empty((take, 5))
        stats[:, 0] = np.einsum("bi,bi->b", Xb[..., 0], Xb[..., 0]) / batch_size
        stats[:, 1] = np.einsum("bi,bi->b", Xb[..., 0], Xb[..., 1]) / batch_size
        stats[:, 2] = np.einsum("bi,bi->b", Xb[..., 1], Xb[..., 1]) / batch_size
        stats[:, 3] = np.einsum("bi,bi->b", Xb[..., 0], yb) / batch_size
        stats[:, 4] = np.einsum("bi,bi->b", Xb[..., 1], yb) / batch_size
        rows.append(stats)
        drawn += take
    return np.concatenate(rows) if rows else np.empty((0, 5))


def _affine_maps(stats: np.ndarray, *, eta: float, factor: float, method: str) -> np.ndarray:
    """For the linear rules, ``w <- A w + b`` per step: rows ``(A11, A12, A21, A22, b1, b2)``.

    gd: ``A = I - eta f Sigma``, ``b = eta f c``; paper_egd: ``A = (1 - eta f) I``,
    ``b = eta f Sigma^-1 c`` (``f`` = :func:`gradient_factor`).
    """
    S11, S12, S22, c1, c2 = stats.T
    out = np.empty((stats.shape[0], 6))
    step = eta * factor
    if method == "gd":
        out[:, 0] = 1.0 - step * S11
        out[:, 1] = -step * S12
        out[:, 2] = -step * S12
        out[:, 3] = 1.0 - step * S22
        out[:, 4] = step * c1
        out[:, 5] = step * c2
    else:  # paper_egd: Sigma^-1 (Sigma w - c) = w - Sigma^-1 c
        det = S11 * S22 - S12 * S12
        if np.any(det <= 0):
            raise ValueError("paper_egd needs an invertible Sigma^ at every step; use batch_size >= 2")
        out[:, 0] = 1.0 - step
        out[:, 1] = 0.0
        out[:, 2] = 0.0
        out[:, 3] = 1.0 - step
        out[:, 4] = step * (S22 * c1 - S12 * c2) / det
        out[:, 5] = step * (S11 * c2 - S12 * c1) / det
    return out


def _iterate_affine(maps: list[list[float]], w1: float, w2: float, steps: int) -> np.ndarray:
    """Iterate ``w <- A_k w + b_k``; ``maps`` holds one row per step or one row for all."""
    path = [(w1, w2)]
    append = path.append
    if len(maps) == 1:
        a11, a12, a21, a22, b1, b2 = maps[0]
        for _ in range(steps):
            w1, w2 = a11 * w1 + a12 * w2 + b1, a21 * w1 + a22 * w2 + b2
            append((w1, w2))
    else:
        for a11, a12, a21, a22, b1, b2 in maps:
            w1, w2 = a11 * w1 + a12 * w2 + b1, a21 * w1 + a22 * w2 + b2
            append((w1, w2))
    return np.array(path)


def _iterate_normalised(stats: list[list[float]], w1: float, w2: float, steps: int, eta: float) -> np.ndarray:
    """Iterate EGD proper ``w <- w - eta g/||g||`` (no step when ``g = 0``)."""
    path = [(w1, w2)]
    append = path.append
    rows = stats if len(stats) > 1 else (stats[0] for _ in range(steps))
    for S11, S12, S22, c1, c2 in rows:
        g1 = S11 * w1 + S12 * w2 - c1
        g2 = S12 * w1 + S22 * w2 - c2
        norm = math.hypot(g1, g2)
        if norm > 0.0:
            w1 -= eta * g1 / norm
            w2 -= eta * g2 / norm
        append((w1, w2))
    return np.array(path)


def train_trajectory(
    X: np.ndarray,
    y: np.ndarray,
    *,
    u: Sequence[float],
    eta: float,
    steps: int,
    method: str = DEFAULT_METHOD,
    convention: str = DEFAULT_CONVENTION,
    batch_size: int | None = None,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    r"""Run ``steps`` updates from :math:`w(0) = u` on the finite train set ``(X, y)``.

    The update is :math:`w \leftarrow w - \eta d` with :math:`g = c(\hat\Sigma w - \hat c)`
    (:math:`c = 1` for ``"half"``, Eq. 2; 2 for ``"full"``, Appendix A.3) and

    * ``"gd"``: :math:`d = g` (Eq. 2);
    * ``"paper_egd"``: :math:`d = \hat\Sigma^{-1} g`, the paper's accelerated scheme (Eq. 9);
    * ``"egd"``: :math:`d = g/\lVert g\rVert`, EGD proper (Eq. 11 on the :math:`1 \times 2`
      gradient; no step when :math:`g = 0`, and the convention has no effect).

    Full batch uses the statistics of the whole train set at every step; mini-batch SGD uses
    those of one batch per step, reshuffling each epoch and dropping the last partial batch.

    Parameters
    ----------
    X : array_like, shape (n, 2)
        Finite train features.
    y : array_like, shape (n,)
        Labels in :math:`\{-1, +1\}`.
    u : sequence of 2 floats
        Initial weights :math:`w(0)`, finite.
    eta : float
        Learning rate, :math:`\eta > 0`, finite.
    steps : int
        Number of updates, :math:`\ge 0`.
    method : {"gd", "paper_egd", "egd"}
    convention : {"half", "full"}
    batch_size : int or None
        ``None`` for full batch, else the mini-batch size :math:`1 \le B \le n`
        (``"paper_egd"`` needs :math:`B \ge 2`, so that the batch :math:`\hat\Sigma` is invertible).
    seed : int, numpy.random.Generator or None
        Seeds the batch order (unused for full batch).

    Returns
    -------
    W : ndarray, shape (steps + 1, 2)
        ``W[k]`` is :math:`w(k)`.

    Raises
    ------
    ValueError
        For malformed data, an out-of-range ``u``, ``eta``, ``steps`` or ``batch_size``, or an
        unknown ``method`` or ``convention``; before any step, when ``eta`` is at or past the
        stability limit of the linear rules: ``eta < 2 / (f lambda_max(Sigma^))`` for ``"gd"``
        (full batch, and the mean of mini-batch SGD), ``eta < 2 / f`` for ``"paper_egd"``
        (``f`` = ``gradient_factor(convention)``; ``"egd"`` moves ``eta`` per step and never
        diverges); and after the run when mini-batch SGD below that limit still leaves the
        finite numbers (a batch's curvature can exceed the mean's). The message names ``eta``
        and the limit. A returned trajectory is always finite.

    Examples
    --------
    >>> import toymodel
    >>> X, y = toymodel.sample_train(1000, eps=0.01, s=1.0, seed=0)
    >>> W = toymodel.train_trajectory(X, y, u=(0.0, 3.0), eta=0.1, steps=2000)
    >>> W.shape, W[-1].round(3)
    ((2001, 2), array([0.598, 0.492]))
    """
    X, y = _check_data(X, y)
    w1, w2 = _check_u(u)
    eta = _check_eta(eta)
    steps = _check_steps(steps)
    method = check_method(method)
    factor = gradient_factor(convention)
    limit = stable_eta_limit(X, y, method=method, convention=convention)
    if eta >= limit:
        raise ValueError(f"eta must be < {limit:.6g}, the stability limit of method={method!r} on this X "
                         f"(convention={convention!r}); got eta={eta!r}: the iteration would diverge")
    if batch_size is None:
        Sigma, c = sufficient_statistics(X, y)
        stats = np.array([[Sigma[0, 0], Sigma[0, 1], Sigma[1, 1], c[0], c[1]]])
    else:
        batch_size = check_n(batch_size, "batch_size")
        if batch_size > X.shape[0]:
            raise ValueError(f"batch_size must be <= n = {X.shape[0]}, got {batch_size}")
        if method == "paper_egd" and batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 for method='paper_egd', got {batch_size}")
        stats = _batch_statistics(X, y, steps=steps, batch_size=batch_size, rng=as_generator(seed))
        if steps == 0:
            return np.array([[w1, w2]])
    if method == "egd":
        W = _iterate_normalised(stats.tolist(), w1, w2, steps, eta)
    else:
        maps = _affine_maps(stats, eta=eta, factor=factor, method=method)
        W = _iterate_affine(maps.tolist(), w1, w2, steps)
    finite = np.all(np.isfinite(W), axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ValueError(f"eta={eta!r} makes this run diverge: w is not finite from step {first} on "
                         f"(batch_size={batch_size}); the full-batch limit is eta < {limit:.6g}, and a "
                         f"mini-batch run needs a smaller eta")
    return W


def stable_eta_limit(X: np.ndarray, y: np.ndarray, *, method: str = DEFAULT_METHOD,
                     convention: str = DEFAULT_CONVENTION) -> float:
    """Largest ``eta`` (exclusive) for which the full-batch rule converges on ``(X, y)``.

    gd: ``w <- (I - eta f Sigma^) w + ...`` converges iff ``eta f lambda_max(Sigma^) < 2``;
    paper_egd: ``(1 - eta f) I`` iff ``eta f < 2``; egd: no limit (inf).
    """
    X, y = _check_data(X, y)
    method = check_method(method)
    factor = gradient_factor(convention)
    if method == "egd":
        return math.inf
    if method == "paper_egd":
        return 2.0 / factor
    with np.errstate(over="ignore", invalid="ignore"):
        Sigma, _ = sufficient_statistics(X, y)
    if not np.all(np.isfinite(Sigma)):
        raise ValueError("X is too large: X^T X / n overflows float64")
    top = float(np.linalg.eigvalsh(Sigma)[-1])
    return 2.0 / (factor * top) if top > 0 else math.inf


def misclassification_rate(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Test error :math:`\mathrm{mean}(\mathrm{sign}(x^\top w) \ne y)` on a held-out sample, for each row of ``W``.

    Point :math:`i` is misclassified by :math:`w` iff :math:`y_i x_i^\top w < 0`, i.e. iff the
    angle of :math:`w` lies in the open half-circle :math:`(\delta_i, \delta_i + \pi)`,
    :math:`\delta_i = \mathrm{angle}(y_i x_i) + \pi/2`. Sorting the :math:`\delta_i` once turns
    each evaluation into two binary searches: exact, :math:`O((n + K)\log n)`.

    * The classifier is :math:`\mathrm{sign}(x^\top w)` for the exact real vector :math:`w`, so
      the error depends only on its direction (a subnormal weight such as ``(0, 5e-324)``
      classifies like :math:`w/\lVert w\rVert`).
    * Ties (:math:`x_i^\top w = 0` exactly) have probability zero for continuous data and are
      not counted as errors.
    * :math:`w = 0` predicts 0 for every point and gets error 1.
    * A row with a NaN or infinite entry (a diverged trajectory) gets error NaN.

    Parameters
    ----------
    W : array_like, shape (K, 2) or (2,)
        Weight vectors, e.g. the output of :func:`train_trajectory`.
    X : array_like, shape (n, 2)
        Finite test features.
    y : array_like, shape (n,)
        Labels in :math:`\{-1, +1\}`.

    Returns
    -------
    ndarray, shape (K,)
        Errors in [0, 1] (NaN for non-finite rows).

    Raises
    ------
    ValueError
        If ``W`` is not of shape (K, 2), or ``X``, ``y`` are malformed or not finite.

    Examples
    --------
    >>> import math, numpy as np, toymodel
    >>> X, y = toymodel.sample_shift_test(10_000, eps=0.01, theta=math.pi / 4, seed=1)
    >>> toymodel.misclassification_rate([[0.0, 0.0], [1.0, 0.0], [np.nan, 1.0]], X, y)
    array([ 1.,  0., nan])
    """
    X, y = _check_data(X, y)
    W = np.atleast_2d(np.asarray(W, dtype=float))
    if W.ndim != 2 or W.shape[1] != 2:
        raise ValueError(f"W must have shape (K, 2), got {W.shape}")
    n = X.shape[0]
    delta = np.sort(np.mod(np.arctan2(y * X[:, 1], y * X[:, 0]) + math.pi / 2, TWO_PI))
    finite = np.all(np.isfinite(W), axis=1)
    # arctan2 depends on the direction only, so subnormal rows need no rescaling
    alpha = np.mod(np.arctan2(W[:, 1], W[:, 0]), TWO_PI)
    alpha = np.where(finite, alpha, 0.0)
    # count delta in the circular open interval (alpha - pi, alpha)
    below = np.searchsorted(delta, alpha, side="left")  # delta < alpha
    low = alpha - math.pi
    wrapped = low < 0
    count = np.where(
        wrapped,
        below + (n - np.searchsorted(delta, low + TWO_PI, side="right")),  # delta > alpha + pi
        below - np.searchsorted(delta, low, side="right"),  # alpha - pi < delta < alpha
    )
    error = count / n
    error = np.where(np.all(W == 0.0, axis=1), 1.0, error)
    return np.where(finite, error, np.nan)
