r"""Pure gradient transforms: EGD's ``U V^T`` and the paper's two baselines.

Everything here is a function of tensors with no module state, so the optimizer wrapper,
the step-pre-hook attachment, the in-place helper and the training engine all call the same
code. Shapes follow torch: a ``Linear.weight.grad`` is ``(out, in) = (m, n)``; every function
accepts a batch ``(..., m, n)``.

EGD (paper eq. 11) replaces a layer's gradient ``G = U S V^T`` (thin SVD) by

.. math::  \tilde G = (G G^T)^{-1/2} G = G (G^T G)^{-1/2} = U V^T ,

every nonzero singular value set to 1, singular vectors kept. Rank-deficient ``G`` uses the
Moore–Penrose pseudo-inverse: singular values ``<= rtol * s_max`` are dropped, so ``G = 0``
maps to 0 and nothing is ever divided by zero.

Two options cut directions on purpose (not for numerical reasons): ``rank=k`` keeps the top
``k`` singular directions, ``spectral_cutoff=c`` keeps those with ``s > c * s_max``; the rest
get no step at all. They are for gradients that are a low-rank data part plus a small
full-rank part, such as the paper's L2 term ``wd * W`` inside the loss: exact ``U V^T`` gives
the directions only weight decay acts on the same unit step as the data's directions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from . import defaults as D

__all__ = [
    "orthogonalize",
    "column_normalize",
    "grokfast_ema_",
    "grokfast_ema_init",
    "resolve_rtol",
    "ns_schedule",
    "validate_orthogonalize_options",
]

_HALF_DTYPES = (torch.float16, torch.bfloat16)


def _working_dtype(dtype: torch.dtype) -> torch.dtype:
    """Precision the data carries: half types are computed in float32."""
    return torch.float32 if dtype in _HALF_DTYPES else dtype


def _check_matrix(G: Tensor, name: str, check_finite: bool) -> None:
    if not isinstance(G, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(G).__name__}")
    if not G.is_floating_point():
        raise ValueError(f"{name} must have a real floating dtype, got {G.dtype}")
    if G.ndim < 2:
        raise ValueError(f"{name} must have shape (..., m, n) with ndim >= 2, got shape {tuple(G.shape)}")
    if check_finite and G.numel() and not bool(torch.isfinite(G).all()):
        n_nan = int(torch.isnan(G).sum())
        n_inf = int(torch.isinf(G).sum())
        raise ValueError(
            f"{name} must be finite; got {n_nan} NaN and {n_inf} inf entries "
            f"in a tensor of shape {tuple(G.shape)} (allowed: finite values only)"
        )


def resolve_rtol(rtol: float | None, m: int, n: int, dtype: torch.dtype) -> float:
    """Relative pseudo-inverse tolerance: ``rtol``, or ``max(m, n) * eps(dtype)`` when ``None``.

    ``dtype`` is the input's dtype (half types count as float32), so every method drops the
    same singular values for the same input.
    """
    if rtol is None:
        return max(m, n) * torch.finfo(_working_dtype(dtype)).eps
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0.0 <= rtol < 1.0:
        raise ValueError(f"rtol must be None or a float in [0, 1), got {rtol!r}")
    return float(rtol)


def ns_schedule(
    ns_steps: int, ns_coefficients: Sequence[float] | Sequence[Sequence[float]]
) -> list[tuple[float, float, float]]:
    """Per-step Newton–Schulz coefficients ``(a, b, c)``, validated.

    ``ns_coefficients`` is one triple used at every step, or a list of triples used in
    order with the last one repeated until ``ns_steps`` steps are done.
    """
    if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 1:
        raise ValueError(f"ns_steps must be an int >= 1, got {ns_steps!r}")
    coeffs = list(ns_coefficients) if isinstance(ns_coefficients, Sequence) else None
    if not coeffs:
        raise ValueError("ns_coefficients must be a triple (a, b, c) or a non-empty list of triples, "
                         f"got {ns_coefficients!r}")
    triples = [coeffs] if all(isinstance(c, (int, float)) for c in coeffs) else coeffs
    out = []
    for t in triples:
        finite_numbers = isinstance(t, Sequence) and all(isinstance(c, (int, float)) and math.isfinite(c) for c in t)
        if not (finite_numbers and len(t) == 3):
            raise ValueError(f"ns_coefficients must hold finite triples (a, b, c), got {t!r}")
        out.append((float(t[0]), float(t[1]), float(t[2])))
    return [out[min(i, len(out) - 1)] for i in range(ns_steps)]


def _check_direction_count(name: str, value, method: str | None, meaning: str = "") -> None:
    """``rank`` or ``batch_rank`` of an exact method: an int >= 1, and not with Newton–Schulz,
    which cannot single out directions."""
    if method == "newton_schulz":
        raise ValueError(f"{name} is not available with method='newton_schulz' (it cannot single out "
                         f"directions); got {name}={value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be None or an int >= 1{meaning}, got {value!r}")


def validate_orthogonalize_options(
    *,
    method: str | None,
    rank: int | None,
    n_iter: int,
    oversampling: int,
    rtol: float | None,
    ns_steps: int,
    ns_coefficients,
    spectral_cutoff: float | None = None,
    batch_rank: int | None = None,
) -> None:
    """Raise ``ValueError`` naming the first bad option of :func:`orthogonalize`."""
    if method is not None and method not in D.METHODS:
        raise ValueError(f"method must be one of {D.METHODS} or None (device default), got {method!r}")
    if method == "rsvd":
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be an int >= 1 for method='rsvd', got {rank!r}")
    elif rank is not None:
        _check_direction_count("rank", rank, method)
    if spectral_cutoff is not None:
        if method == "newton_schulz":
            raise ValueError(f"spectral_cutoff is not available with method='newton_schulz'; "
                             f"got spectral_cutoff={spectral_cutoff!r}")
        if (isinstance(spectral_cutoff, bool) or not isinstance(spectral_cutoff, (int, float))
                or not 0.0 <= spectral_cutoff < 1.0):
            raise ValueError(f"spectral_cutoff must be None or a float in [0, 1), got {spectral_cutoff!r}")
    if batch_rank is not None:
        _check_direction_count("batch_rank", batch_rank, method, " (the mini-batch size)")
    for name, value in (("n_iter", n_iter), ("oversampling", oversampling)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if rtol is not None:
        resolve_rtol(rtol, 1, 1, torch.float32)
        if method == "gram" and rtol < D.GRAM_RTOL_FLOOR:
            raise ValueError(f"rtol must be >= {D.GRAM_RTOL_FLOOR:g} (egd.defaults.GRAM_RTOL_FLOOR) for method='gram', "
                             f"which cannot resolve smaller singular values; got {rtol!r} (method='svd' or None "
                             f"honours it)")
    ns_schedule(ns_steps, ns_coefficients)


def _orth_svd(X: Tensor, tol: float, top: int | None = None) -> Tensor:
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    keep = S > tol * S[..., :1]  # S is sorted descending: S[..., 0] is the largest
    if top is not None:
        keep = keep & (torch.arange(S.shape[-1], device=S.device) < top)
    return (U * keep.unsqueeze(-2).to(U.dtype)) @ Vh


def _gram_inverse_sqrt(Xd: Tensor, tol: float, top: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Eigenpairs of ``Xd^T Xd`` and the pseudo-inverse square roots ``w`` of the kept ones
    (at most the ``top`` largest when given)."""
    lam, V = torch.linalg.eigh(Xd.mT @ Xd)  # ascending eigenvalues = squared singular values
    keep = lam > (tol * tol) * lam[..., -1:]
    if top is not None:
        keep = keep & (torch.arange(lam.shape[-1], device=lam.device) >= lam.shape[-1] - top)
    w = torch.where(keep, lam.clamp_min(torch.finfo(lam.dtype).tiny).rsqrt(), torch.zeros_like(lam))
    return lam, V, w


def _gram_float32_resolves(lam: Tensor, tol: float) -> bool:
    """Whether a float32 ``eigh`` of the Gram matrix is trustworthy for every matrix of the batch.

    Every eigenvalue must either be resolved (``>= lam_max / GRAM_FLOAT32_MAX_CONDITION``, so
    its relative error is at most about ``eps32 * GRAM_FLOAT32_MAX_CONDITION``) or lie clearly below
    the drop threshold ``tol^2 * lam_max`` (by more than the eigenvalue noise ``k * eps32 * lam_max``,
    ``k`` the Gram size). Anything in between could be a true zero or a true small singular
    value, which only float64 can tell apart.
    """
    eps = torch.finfo(torch.float32).eps
    top = lam[..., -1:].clamp_min(torch.finfo(torch.float32).tiny)
    resolved = lam >= top / D.GRAM_FLOAT32_MAX_CONDITION
    dropped = lam + lam.shape[-1] * eps * top < (tol * tol) * top
    return bool((resolved | dropped).all())


def _gram_float32_separates(lam: Tensor, top: int) -> bool:
    """Whether a float32 ``eigh`` can tell the ``top`` largest eigenvalues from the rest: the
    last kept one and the first dropped one must differ by more than the eigenvalue noise."""
    k = lam.shape[-1]
    if top >= k:
        return True
    eps = torch.finfo(torch.float32).eps
    gap = lam[..., k - top] - lam[..., k - top - 1]
    return bool((gap > k * eps * lam[..., -1]).all())


def _orth_gram(X: Tensor, tol: float, top: int | None = None) -> Tensor:
    # Work with the smaller Gram matrix: for tall X (m >= n), U V^T = X (X^T X)^(-1/2);
    # a wide X is transposed first. Forming X^T X squares the condition number, so a float32
    # eigh is accurate only for well-conditioned X: it is tried first (about twice as fast
    # as float64 on CPU), polished by one Newton-Schulz step, and replaced by the float64
    # computation whenever _gram_float32_resolves says it cannot be trusted.
    wide = X.shape[-2] < X.shape[-1]
    Xt = X.mT if wide else X
    tol = max(tol, D.GRAM_RTOL_FLOOR)
    if Xt.dtype == torch.float32 and D.GRAM_FLOAT32_MAX_CONDITION > 0:
        lam, V, w = _gram_inverse_sqrt(Xt, tol, top)
        if _gram_float32_resolves(lam, tol) and (top is None or _gram_float32_separates(lam, top)):
            Y = Xt @ ((V * w.unsqueeze(-2)) @ V.mT)  # one (m, n) product; the rest is (n, n)
            # One Newton-Schulz step maps each singular value s of Y to s (3 - s^2) / 2: the
            # float32 error of the small eigenvalues (relative error eps32 * cond) becomes
            # second order; kept-zero directions stay zero.
            Y = (Y @ (Y.mT @ Y)).mul_(-0.5).add_(Y, alpha=1.5)
            return Y.mT if wide else Y
    Xd = Xt.to(D.GRAM_DTYPE)
    _, V, w = _gram_inverse_sqrt(Xd, tol, top)
    Y = Xd @ ((V * w.unsqueeze(-2)) @ V.mT)
    return Y.mT if wide else Y


def _orth_rsvd(
    X: Tensor, tol: float, rank: int, n_iter: int, oversampling: int, generator: torch.Generator | None
) -> Tensor:
    # Paper Algorithm 3: a random range finder with n_iter rounds of subspace iteration,
    # then P = U^ S^^-1 U^^T and G~ = P G. With rank >= rank(G), Q spans G's row space and
    # P G = U V^T exactly.
    m, n = X.shape[-2:]
    k = min(rank + oversampling, m, n)
    gen_device = generator.device if generator is not None else X.device
    Q = torch.randn(*X.shape[:-2], n, k, generator=generator, device=gen_device, dtype=X.dtype).to(X.device)
    for _ in range(n_iter):
        Q = torch.linalg.qr(X @ Q).Q
        Q = torch.linalg.qr(X.mT @ Q).Q
    Ub, Sb, _ = torch.linalg.svd(X @ Q, full_matrices=False)
    top = torch.arange(Sb.shape[-1], device=X.device) < rank  # oversampled directions unused
    keep = top & (Sb > tol * Sb[..., :1])
    inv = torch.where(keep, Sb.clamp_min(torch.finfo(Sb.dtype).tiny).reciprocal(), torch.zeros_like(Sb))
    return (Ub * inv.unsqueeze(-2)) @ (Ub.mT @ X)


def _orth_newton_schulz(X: Tensor, schedule: list[tuple[float, float, float]]) -> Tensor:
    # X <- a X + b X (X^T X) + c X (X^T X)^2 maps each singular value s to
    # a s + b s^3 + c s^5; the cubic (1.5, -0.5, 0) has fixed point 1 for s in (0, sqrt 3).
    # Dividing by the Frobenius norm puts every s in (0, 1]. Zero singular values stay zero;
    # tiny ones converge slowly, so rtol does not apply here.
    wide = X.shape[-2] < X.shape[-1]
    Y = X.mT if wide else X
    Y = Y / torch.linalg.matrix_norm(Y, keepdim=True).clamp_min(torch.finfo(Y.dtype).tiny)
    for a, b, c in schedule:
        A = Y.mT @ Y  # the smaller (n, n) Gram matrix
        P = b * A if c == 0.0 else b * A + c * (A @ A)
        Y = a * Y + Y @ P
    return Y.mT if wide else Y


def orthogonalize(
    G: Tensor,
    *,
    method: str | None = None,
    rank: int | None = None,
    n_iter: int = D.DEFAULT_RSVD_N_ITER,
    oversampling: int = D.DEFAULT_RSVD_OVERSAMPLING,
    rtol: float | None = D.DEFAULT_RTOL,
    generator: torch.Generator | None = None,
    ns_steps: int = D.DEFAULT_NS_STEPS,
    ns_coefficients=D.DEFAULT_NS_COEFFICIENTS,
    check_finite: bool = D.DEFAULT_CHECK_FINITE,
    spectral_cutoff: float | None = None,
    batch_rank: int | None = None,
) -> Tensor:
    r"""EGD's update direction :math:`U V^\top` for :math:`G = U S V^\top` (paper Eq. 11).

    :math:`(G G^\top)^{-1/2} G = U V^\top`: every nonzero singular value set to 1, the singular
    vectors kept. Rank-deficient ``G`` uses the Moore–Penrose pseudo-inverse: singular values
    ``<= rtol * s_max`` are dropped, so ``G = 0`` maps to 0.

    Args:
        G: gradient, shape ``(..., m, n)``; any real floating dtype and device. bf16/fp16
            inputs are computed in float32 and cast back.
        method: ``"svd"`` (exact thin SVD), ``"gram"`` (exact: inverse square root of the
            smaller Gram matrix ``G^T G`` or ``G G^T`` by float64 ``eigh``), ``"rsvd"``
            (paper Algorithm 3, needs ``rank``), ``"newton_schulz"`` (polar factor by
            iterations). One of :data:`egd.defaults.METHODS`. ``None``: the device's exact
            default, :data:`egd.defaults.DEFAULT_METHOD_BY_DEVICE` (measured by
            ``python -m egd.bench``).
        rank: number of singular directions kept, the largest ones (``G~ = U_r V_r^T``).
            Required by rsvd; optional for the exact methods (``svd``, ``gram``, ``None``),
            where it truncates exactly: the top ``rank`` directions get the unit step, the
            rest none. Use it when you know how many directions carry the data, e.g. the
            mini-batch size ``B`` for a first layer (its data gradient ``sum_i d_i x_i^T``
            has rank ``<= B``) when the loss holds an L2 term and exact EGD stalls (training
            accuracy climbing, test accuracy at chance). The cut directions get no step at
            all, weight decay's included: on sparse parity (100, 3) ``rank=32`` grokked on
            10 of 10 seeds where exact EGD stalled on 2, on (400, 2) it was about 5x slower
            than exact EGD (book chapter "When exact EGD stalls"), so it is not a default.
        n_iter: rsvd power (subspace) iterations, ``>= 0``; the default
            (:data:`egd.defaults.DEFAULT_RSVD_N_ITER`) is the paper's.
        oversampling: rsvd extra random directions, ``>= 0`` (the paper uses none,
            :data:`egd.defaults.DEFAULT_RSVD_OVERSAMPLING`); they sharpen the range
            estimate but are not part of the output.
        rtol: pseudo-inverse tolerance: singular values ``<= rtol * max`` are dropped.
            ``None``: ``max(m, n) * eps`` of the input's precision. ``gram`` never resolves
            below :data:`egd.defaults.GRAM_RTOL_FLOOR`: an explicit smaller ``rtol`` with
            ``method="gram"`` is an error, and ``method=None`` uses ``svd`` then. Not used
            by ``newton_schulz``.
        generator: rsvd's random sketch; pass a seeded ``torch.Generator`` for
            reproducibility (samples are drawn on the generator's device).
        ns_steps, ns_coefficients: Newton–Schulz steps and ``(a, b, c)`` per step (one triple,
            or a list with the last repeated); default: the convergent cubic iteration
            (:data:`egd.defaults.CUBIC_NS_COEFFICIENTS`, :data:`egd.defaults.DEFAULT_NS_STEPS`
            steps).
        check_finite: raise ``ValueError`` on NaN/inf (one host sync on GPU).
        spectral_cutoff: relative spectral cutoff in ``[0, 1)``: directions with singular
            value ``<= spectral_cutoff * s_max`` get no step. Unlike ``rtol`` (numerical
            rank: which singular values are zero up to rounding) this is a modelling
            choice: it drops directions whose gradient is small but real. Use it when the
            loss holds an L2 term ``0.5 wd ||W||^2`` and ``wd * ||W||_2`` is well below the
            data gradient's singular values: exact EGD then gives each direction that only
            weight decay acts on a unit step (``lr`` per step along each). The value is
            problem-specific (0.01 suited sparse parity (100, 3) and slowed (400, 2) about
            8x). ``None`` or 0: no cut. Not used by ``newton_schulz``.
        batch_rank: the number of examples ``B`` in the mini-batch the gradient came from,
            for a loss that holds an L2 term ``0.5 wd ||W||^2``. Where the input side of
            ``G`` is the shorter (``n <= m``: a ``Linear(in, out)`` weight with
            ``in <= out``), the data gradient ``sum_i d_i x_i^T`` spans at most ``B`` input
            directions and the rest carry only ``wd * W``; exact EGD gives each of them a
            unit step, shrinking the weights on inputs the batch did not sample (the
            relevant ones included) by ``lr`` per step, which stalls some runs. There
            ``batch_rank`` keeps the top ``B`` directions, as ``rank=B`` does. Where the
            output side is the shorter (``n > m``) the extra directions are hidden units
            without a data gradient, their unit steps are fast weight decay, and the
            transform stays exact. Use it for a first layer trained with L2 weight decay
            on batches smaller than its input dimension: on sparse parity it grokked on
            every seed of the paper's three settings where exact EGD stalled on some (book
            chapter "When exact EGD stalls"); with ``B`` at least the smaller side it
            changes nothing. ``None``: no truncation. Not used by ``newton_schulz``.

    Returns:
        ``U V^T`` with ``G``'s shape, dtype and device. ``||U V^T||_F^2 = rank(G)`` (or the
        number of kept directions under ``rank`` / ``spectral_cutoff``); ``G = 0`` gives 0.

    Raises:
        TypeError: ``G`` is not a tensor.
        ValueError: bad option (unknown ``method``, ``rsvd`` without ``rank`` or ``rank`` with
            ``newton_schulz``, a negative count, ``rtol`` or ``spectral_cutoff`` outside
            ``[0, 1)``, ``batch_rank`` not a positive int, malformed
            ``ns_coefficients``), ``G`` with fewer than 2 dimensions or not floating point, or
            non-finite ``G``; the message names the parameter.

    Examples:
        >>> import torch, egd
        >>> G = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
        >>> Q = egd.orthogonalize(G, method="svd")
        >>> torch.linalg.svdvals(Q)
        tensor([1.0000, 1.0000, 1.0000, 1.0000])
        >>> torch.allclose(Q, egd.orthogonalize(G, method="gram"), atol=1e-5)
        True
        >>> torch.allclose(Q, egd.orthogonalize(G, method="rsvd", rank=4), atol=1e-5)
        True
        >>> egd.orthogonalize(torch.randn(3, 8, 5)).shape  # a batch of three 8 x 5 matrices
        torch.Size([3, 8, 5])
    """
    validate_orthogonalize_options(
        method=method, rank=rank, n_iter=n_iter, oversampling=oversampling, rtol=rtol,
        ns_steps=ns_steps, ns_coefficients=ns_coefficients, spectral_cutoff=spectral_cutoff,
        batch_rank=batch_rank,
    )
    _check_matrix(G, "G", check_finite)
    m, n = G.shape[-2:]
    if batch_rank is not None and n <= m:  # the input side is the shorter: keep the batch's directions
        rank = batch_rank if rank is None else min(rank, batch_rank)
    tol = resolve_rtol(rtol, m, n, G.dtype)
    if method is None:
        method = D.default_method(G.device)
        if method == "gram" and tol < D.GRAM_RTOL_FLOOR:
            method = "svd"  # gram would drop singular values that rtol keeps
    if G.numel() == 0:
        return torch.zeros_like(G)
    X = G.to(_working_dtype(G.dtype))
    # U V^T is invariant to G -> c G; dividing by max|G| keeps Gram matrices and Frobenius
    # norms of huge or tiny inputs away from overflow and underflow.
    amax = X.abs().amax(dim=(-2, -1), keepdim=True)
    X = X / torch.where(amax > 0, amax, torch.ones_like(amax))
    if spectral_cutoff is not None:
        tol = max(tol, float(spectral_cutoff))
    top = rank if rank is not None and rank < min(m, n) else None
    if method == "svd":
        Y = _orth_svd(X, tol, top)
    elif method == "gram":
        Y = _orth_gram(X, tol, top)
    elif method == "rsvd":
        Y = _orth_rsvd(X, tol, rank, n_iter, oversampling, generator)
    else:
        Y = _orth_newton_schulz(X, ns_schedule(ns_steps, ns_coefficients))
    return Y.to(G.dtype)


def column_normalize(
    G: Tensor, *, dim: int = -1, floor: float = D.DEFAULT_COLUMN_NORM_FLOOR
) -> Tensor:
    r"""Column-normalisation baseline: one scale per hidden unit.

    ``G / max(||G||_dim, floor)``, the L2 norm taken along ``dim``. The authors normalise the
    columns of the ``(in, hidden)`` weight matrix, i.e. the vector of incoming weights of
    each hidden unit. A torch ``Linear(in, hidden).weight`` has shape ``(hidden, in)``, so the
    same vectors are its ROWS: the default ``dim=-1`` (norm over inputs, one scale per row)
    reproduces the paper for the hidden layer. Use ``dim=-2`` for an ``(in, hidden)`` layout.

    Args:
        G: gradient, shape ``(..., m, n)``.
        dim: dimension the norm reduces over (``-1`` or ``-2``).
        floor: finite, ``> 0``; norms below it are replaced by it (the default,
            :data:`egd.defaults.DEFAULT_COLUMN_NORM_FLOOR`, is the paper's), so zero rows stay 0.

    Returns:
        A tensor of ``G``'s shape, dtype and device.

    Raises:
        ValueError: ``G`` not a floating-point matrix or batch, ``dim`` not one of the last
            two dimensions, or ``floor`` not a finite positive float.

    Examples:
        >>> import torch, egd
        >>> egd.column_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.001]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.1000]])
    """
    _check_matrix(G, "G", check_finite=False)
    if dim not in (-1, -2, G.ndim - 1, G.ndim - 2):
        raise ValueError(f"dim must be one of the last two dimensions (-1 or -2), got {dim!r}")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not (floor > 0 and math.isfinite(floor)):
        raise ValueError(f"floor must be a finite float > 0, got {floor!r}")
    X = G.to(_working_dtype(G.dtype))
    norms = torch.linalg.vector_norm(X, dim=dim, keepdim=True)
    return (X / norms.clamp_min(floor)).to(G.dtype)


def grokfast_ema_init(grads: Sequence[Tensor]) -> list[Tensor]:
    """Initial Grokfast state: a copy of the first gradients (Grokfast's convention).

    Args:
        grads: the first gradients, any shapes.

    Returns:
        A list of detached copies, one per gradient, to pass as ``ema`` to
        :func:`grokfast_ema_`.

    Examples:
        >>> import torch, egd
        >>> egd.grokfast_ema_init([torch.ones(2, 2)])[0]
        tensor([[1., 1.],
                [1., 1.]])
    """
    return [g.detach().clone() for g in grads]


def grokfast_ema_(
    grads: Sequence[Tensor],
    ema: Sequence[Tensor],
    *,
    alpha: float = D.DEFAULT_GROKFAST_ALPHA,
    lamb: float = D.DEFAULT_GROKFAST_LAMB,
) -> None:
    r"""Grokfast-EMA filter (Lee et al. 2024), in place on both lists.

    ``h <- alpha h + (1 - alpha) g`` then ``g <- g + lamb h``, for every pair ``(g, h)`` of
    ``grads`` and ``ema``. The caller holds ``ema`` (start it with :func:`grokfast_ema_init`)
    and calls this between ``backward()`` and ``step()``.

    Args:
        grads: gradients, modified in place.
        ema: running averages, same shapes, modified in place.
        alpha: EMA decay in ``[0, 1]`` (the default, :data:`egd.defaults.DEFAULT_GROKFAST_ALPHA`,
            is the value of the paper's comparisons).
        lamb: amplification ``>= 0`` of the slow component (default
            :data:`egd.defaults.DEFAULT_GROKFAST_LAMB`, likewise).

    Raises:
        ValueError: ``alpha`` or ``lamb`` out of range, ``ema`` not holding one tensor of the
            same shape per gradient.

    Examples:
        >>> import torch, egd
        >>> grads = [torch.ones(2, 2)]
        >>> ema = egd.grokfast_ema_init(grads)
        >>> egd.grokfast_ema_(grads, ema, alpha=0.5, lamb=2.0)
        >>> grads[0]  # g + lamb * (0.5 h + 0.5 g) = 1 + 2 * 1
        tensor([[3., 3.],
                [3., 3.]])
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a float in [0, 1], got {alpha!r}")
    if isinstance(lamb, bool) or not isinstance(lamb, (int, float)) or not (lamb >= 0 and math.isfinite(lamb)):
        raise ValueError(f"lamb must be a finite float >= 0, got {lamb!r}")
    grads, ema = list(grads), list(ema)
    if len(grads) != len(ema):
        raise ValueError(f"ema must hold one tensor per gradient: got {len(ema)} for {len(grads)} gradients")
    for i, (g, h) in enumerate(zip(grads, ema)):
        if g.shape != h.shape:
            raise ValueError(f"ema[{i}] must have shape {tuple(g.shape)}, got {tuple(h.shape)}")
    if not grads:
        return
    torch._foreach_mul_(ema, alpha)
    torch._foreach_add_(ema, grads, alpha=1.0 - alpha)
    torch._foreach_add_(grads, ema, alpha=lamb)
