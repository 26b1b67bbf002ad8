"""Every default of the ``egd`` gradient transforms, in one place.

Docstrings, wrappers, the benchmark and the README read these constants, so they cannot
drift apart. Paper references are to Saheb Pasand & Dohmatob (ICLR 2026), Section 4.

Examples:
    >>> import inspect, egd
    >>> from egd import defaults
    >>> inspect.signature(egd.orthogonalize).parameters["n_iter"].default == defaults.DEFAULT_RSVD_N_ITER
    True
    >>> defaults.default_method("cpu") in defaults.EXACT_METHODS
    True
"""
from __future__ import annotations

import torch

#: Methods :func:`egd.orthogonalize` dispatches on. ``svd`` and ``gram`` are exact (up to
#: floating point); ``rsvd`` (the paper's Algorithm 3) and ``newton_schulz`` approximate.
METHODS: tuple[str, ...] = ("svd", "rsvd", "gram", "newton_schulz")
#: The exact methods among :data:`METHODS`.
EXACT_METHODS: tuple[str, ...] = ("svd", "gram")

#: Default exact method per device type, chosen from ``benchmarks/results/transforms_*.json``
#: (``python -m egd.bench``; a test checks this table against the committed CPU file): on
#: CPU the float64 eigendecomposition of the smaller Gram matrix beats the float32 thin
#: SVD on the four training shapes (512x194, 512x254, 100x50, 128x512). It does not on a
#: large square 4096x4096 matrix, where the SVD is faster: pass ``method="svd"`` there.
#: No GPU has been measured yet; ``svd`` is the conservative choice on CUDA (float64
#: ``eigh`` is slow on consumer GPUs). Device types not listed fall back to ``svd``.
DEFAULT_METHOD_BY_DEVICE: dict[str, str] = {"cpu": "gram", "cuda": "svd"}
#: Exact method of the device types :data:`DEFAULT_METHOD_BY_DEVICE` does not list.
FALLBACK_METHOD = "svd"

#: Relative tolerance of the pseudo-inverse; singular values ``<= rtol * max singular
#: value`` are dropped. ``None`` means ``max(m, n) * eps(compute dtype)``, the rule of
#: ``torch.linalg.pinv`` and ``numpy.linalg.matrix_rank``.
DEFAULT_RTOL: float | None = None
#: ``gram`` squares the singular values, so float64 ``eigh`` (eigenvalue noise about
#: ``k * eps64 * max eigenvalue``, k the Gram size) resolves singular values only
#: down to a few ``1e-7 * max singular value``; at or below this relative floor ``gram``
#: treats them as zero whatever ``rtol`` says.
GRAM_RTOL_FLOOR = 1e-6
#: The dtype in which ``gram``'s exact (fallback) path forms the Gram matrix and its eigendecomposition.
GRAM_DTYPE = torch.float64
#: ``gram`` on float32 input first tries a float32 ``eigh`` (about 2x faster on CPU) and keeps
#: it when every eigenvalue of the Gram matrix is either at least ``lam_max /
#: GRAM_FLOAT32_MAX_CONDITION`` or clearly below the drop threshold; otherwise it computes in
#: float64. 2.5e5 is a condition number of ``G`` up to 500, where ``eps32 * 2.5e5 = 0.03``
#: bounds the relative error of the smallest eigenvalue. After the polishing step the
#: measured spectral-norm error of ``U V^T`` is at most about 1.5e-2 on adversarial
#: log-spaced spectra at that limit, and about 3e-4 on the p = 97 training gradients, whose
#: condition number during training sits around 300-450 (so a lower limit would send many
#: steps to float64). 0 disables the float32 attempt (always float64).
GRAM_FLOAT32_MAX_CONDITION = 2.5e5

#: Power (subspace) iterations of the randomized SVD (Algorithm 3), the paper's value.
#: ``rank`` has no default: it must be given.
DEFAULT_RSVD_N_ITER = 2
#: Extra random directions of the randomized SVD; the paper uses none.
DEFAULT_RSVD_OVERSAMPLING = 0

#: The classical cubic Newton–Schulz iteration ``X <- 1.5 X - 0.5 X X^T X``, which converges
#: to the exact polar factor for any full-rank input (quadratically once singular values are
#: near 1).
CUBIC_NS_COEFFICIENTS: tuple[float, float, float] = (1.5, -0.5, 0.0)
#: Muon's quintic coefficients converge faster at first but do not converge to singular
#: values of 1 (they oscillate in roughly [0.7, 1.2]); pass them explicitly.
MUON_NS_COEFFICIENTS: tuple[float, float, float] = (3.4445, -4.7750, 2.0315)
#: Newton–Schulz coefficients used by default, :data:`CUBIC_NS_COEFFICIENTS`.
DEFAULT_NS_COEFFICIENTS = CUBIC_NS_COEFFICIENTS
#: Newton–Schulz steps used by default.
DEFAULT_NS_STEPS = 20

#: Whether to raise ``ValueError`` on NaN/inf gradients. On CUDA this costs one host-device sync per
#: call (per step in the wrappers); pass ``check_finite=False`` for a sync-free step.
DEFAULT_CHECK_FINITE = True

#: The floor of the column-normalisation baseline, which divides each hidden unit's
#: weight-gradient vector by ``max(norm, floor)``; the paper's value.
DEFAULT_COLUMN_NORM_FLOOR = 0.01

#: EMA decay of the Grokfast-EMA baseline (Lee et al. 2024), the value of the paper's comparisons.
DEFAULT_GROKFAST_ALPHA = 0.98
#: Amplification of the slow gradient component in Grokfast-EMA, likewise.
DEFAULT_GROKFAST_LAMB = 2.0

#: The wrappers transform by default every parameter with at least this many dimensions.
DEFAULT_MIN_NDIM = 2

#: Validation accuracy above which Algorithm 1 stops transforming.
DEFAULT_SWITCH_OFF_THRESHOLD = 0.95


def default_method(device: torch.device | str) -> str:
    """Exact method used when ``method=None``: :data:`DEFAULT_METHOD_BY_DEVICE` by device type.

    Args:
        device: a ``torch.device`` or its name (``"cpu"``, ``"cuda:1"``).

    Returns:
        One of :data:`EXACT_METHODS`; :data:`FALLBACK_METHOD` for device types not listed.

    Raises:
        RuntimeError: ``device`` is not a valid device string (raised by ``torch.device``).

    Examples:
        >>> from egd import defaults
        >>> defaults.default_method("meta") == defaults.FALLBACK_METHOD
        True
    """
    kind = torch.device(device).type
    return DEFAULT_METHOD_BY_DEVICE.get(kind, FALLBACK_METHOD)
