"""What the method chapters compute about the transform itself: its laws on an ill-conditioned
matrix ("EGD in one page") and how close the approximate routes come to it on real training
gradients ("Computing U V^T").

Every tolerance a verdict uses is a named constant here, and every verdict is a
:class:`egd.book.display.Check` (claim, the paper's number, ours, ✓ / ✗).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from egd import defaults as D
from egd.bench import transforms as bench
from egd.book.display import Check, fmt_number
from egd.grokking.models import TwoLayerMLP
from egd.grokking.tasks import ModularArithmetic, TaskData
from egd.transforms import orthogonalize, resolve_rtol

__all__ = [
    "IllConditioned", "ill_conditioned", "polar_by_eigh", "OnePage", "one_page", "one_page_checks",
    "VECTOR_TOL", "UNIT_SV_TOL", "gram_route_tolerance", "gram_float32_limits",
    "MODULAR_P", "WIDTH", "BATCH", "PAPER_WD", "ACCURACY_SEEDS", "RSVD_RANKS", "NS_STEPS", "ACC_TOL", "NS_TOL",
    "GRAM32_TOL", "COSINE_TOL", "modular_task", "hidden_gradient", "null_direction", "numerical_rank",
    "accuracy_rows", "mean_of", "Accuracy", "accuracy_summary", "accuracy_checks",
]

# --- "EGD in one page": the laws of U V^T on an ill-conditioned matrix -------------------------

#: Singular vectors kept, ``||G~ V0 - U0||_F`` and ``||U0^T G~ - V0^T||_F`` (float64 SVD route).
VECTOR_TOL = 1e-8
#: Every singular value of ``U V^T`` is 1: ``max |s_i - 1|`` (float64).
UNIT_SV_TOL = 1e-10


def gram_route_tolerance(p: int, condition: float, dtype: torch.dtype = torch.float64) -> float:
    """How far ``(G G^T)^(-1/2) G`` through an eigendecomposition of ``G G^T`` may be from the
    SVD's ``U V^T`` (Frobenius norm), for ``p`` singular values and condition number ``condition``.

    Forming ``G G^T`` squares the condition number; ``eigh`` returns its eigenvalues (and the
    eigenvectors of well-separated ones) with an absolute error of about ``p * eps * lam_max``,
    so the smallest direction's relative error is about ``p * eps * condition**2``, and the
    ``p`` directions together at most ``sqrt(p)`` times that: a first-order estimate, not a
    bound. (The measured difference also depends on how LAPACK blocks the computation, e.g.
    on the thread count.)
    """
    return math.sqrt(p) * p * float(torch.finfo(dtype).eps) * condition ** 2


@dataclass(frozen=True)
class IllConditioned:
    """``G = U0 diag(s) V0^T`` (float64) with orthonormal ``U0`` ``(m, p)``, ``V0`` ``(p, p)``."""

    G: torch.Tensor
    U0: torch.Tensor
    V0: torch.Tensor
    s: torch.Tensor

    @property
    def condition(self) -> float:
        return float(self.s.max() / self.s.min())


def ill_conditioned(m: int = 64, p: int = 40, *, condition: float = 1e6, seed: int = 0) -> IllConditioned:
    """A tall ``(m, p)`` float64 matrix with random singular vectors and singular values
    log-spaced from 1 down to ``1 / condition``."""
    if not (isinstance(m, int) and isinstance(p, int) and 1 <= p <= m):
        raise ValueError(f"need integers 1 <= p <= m, got m={m!r}, p={p!r}")
    if not (math.isfinite(condition) and condition >= 1):
        raise ValueError(f"condition must be a finite number >= 1, got {condition!r}")
    gen = torch.Generator().manual_seed(seed)
    U0, _ = torch.linalg.qr(torch.randn(m, p, generator=gen, dtype=torch.float64))
    V0, _ = torch.linalg.qr(torch.randn(p, p, generator=gen, dtype=torch.float64))
    s = torch.logspace(0, -math.log10(condition), p, dtype=torch.float64)
    return IllConditioned(U0 @ torch.diag(s) @ V0.T, U0, V0, s)


def polar_by_eigh(G: torch.Tensor, *, rtol: float = 1e-20) -> torch.Tensor:
    """``(G G^T)^(-1/2) G`` from the eigendecomposition of ``G G^T``, on its range only
    (eigenvalues above ``rtol`` times the largest): the defining formula of Eq. (11),
    computed independently of any SVD."""
    evals, evecs = torch.linalg.eigh(G @ G.mT)
    keep = evals > evals.max() * rtol
    inv_sqrt = evecs[:, keep] @ torch.diag(evals[keep].rsqrt()) @ evecs[:, keep].mT
    return inv_sqrt @ G


@dataclass(frozen=True)
class OnePage:
    """The transform of an :class:`IllConditioned` matrix and the measures the chapter checks."""

    G_egd: torch.Tensor
    s_before: torch.Tensor
    s_after: torch.Tensor
    rank: int
    frobenius_sq: float
    left_error: float
    right_error: float
    formula_error: float
    max_sv_dev: float


def one_page(mat: IllConditioned, *, method: str = "svd") -> OnePage:
    """Apply ``egd.orthogonalize(G, method=method)`` and measure its laws against the
    singular vectors ``G`` was built from and against :func:`polar_by_eigh`."""
    G_egd = orthogonalize(mat.G, method=method)
    s_after = torch.linalg.svdvals(G_egd)
    return OnePage(
        G_egd=G_egd,
        s_before=torch.linalg.svdvals(mat.G),
        s_after=s_after,
        rank=int(torch.linalg.matrix_rank(mat.G)),
        frobenius_sq=float(torch.linalg.matrix_norm(G_egd) ** 2),
        left_error=float(torch.linalg.matrix_norm(G_egd @ mat.V0 - mat.U0)),
        right_error=float(torch.linalg.matrix_norm(mat.U0.mT @ G_egd - mat.V0.mT)),
        formula_error=float(torch.linalg.matrix_norm(polar_by_eigh(mat.G) - G_egd)),
        max_sv_dev=float((s_after - 1).abs().max()),
    )


def one_page_checks(mat: IllConditioned, r: OnePage) -> list[Check]:
    """The chapter's verdicts: unit singular values, ``||G~||_F^2 = rank``, singular vectors
    kept, and the defining formula reproduced through the Gram matrix."""
    tol = gram_route_tolerance(len(mat.s), mat.condition)
    return [
        Check("every singular value of \\(U V^\\top\\) is 1", r.max_sv_dev <= UNIT_SV_TOL,
              "all 1 (Eq. 11)", f"\\(\\max_i |s_i - 1|\\) = {r.max_sv_dev:.1e} (tolerance {UNIT_SV_TOL:.0e})"),
        Check("\\(\\|\\widetilde G\\|_F^2 = \\mathrm{rank}(G)\\)",
              abs(r.frobenius_sq - r.rank) <= 2 * r.rank * UNIT_SV_TOL,
              "rank(G)", f"{r.frobenius_sq:.10f} vs rank {r.rank}"),
        Check("right singular vectors go to the left ones: \\(\\widetilde G V_0 = U_0\\)", r.left_error <= VECTOR_TOL,
              "exact", f"\\(\\|\\widetilde G V_0 - U_0\\|_F\\) = {r.left_error:.1e} (tolerance {VECTOR_TOL:.0e})"),
        Check("\\(U_0^\\top \\widetilde G = V_0^\\top\\)", r.right_error <= VECTOR_TOL,
              "exact", f"\\(\\|U_0^\\top \\widetilde G - V_0^\\top\\|_F\\) = {r.right_error:.1e} "
                       f"(tolerance {VECTOR_TOL:.0e})"),
        Check("the defining formula \\((GG^\\top)^{-1/2}G\\), through an eigendecomposition of \\(GG^\\top\\) "
              f"(condition number {mat.condition ** 2:.0e}), gives the same matrix", r.formula_error <= tol,
              "equal (Eq. 11)", f"\\(\\|\\cdot\\|_F\\) of the difference {r.formula_error:.1e} "
                                f"(first-order estimate \\(\\sqrt{{p}}\\,p\\,\\varepsilon\\,\\kappa^2\\) = {tol:.1e})"),
    ]


def gram_float32_limits(limit: float = D.GRAM_FLOAT32_MAX_CONDITION) -> dict[str, float]:
    """``gram``'s float32 path, from :data:`egd.defaults.GRAM_FLOAT32_MAX_CONDITION`: the
    largest eigenvalue ratio of the Gram matrix it accepts, the matching condition number of
    ``G`` (its square root) and the relative eigenvalue accuracy float32 leaves there."""
    eps32 = float(torch.finfo(torch.float32).eps)
    return {"gram_condition": float(limit), "g_condition": math.sqrt(limit), "eigenvalue_rel_error": eps32 * limit}


# --- "Computing U V^T": accuracy on the modular-arithmetic hidden gradient ---------------------

MODULAR_P = 97
WIDTH = 512
BATCH = 512
#: The paper's L2 coefficient for modular arithmetic (inside the loss).
PAPER_WD = 1e-4
#: Gradients (initialisations) averaged over, per profile.
ACCURACY_SEEDS = {"quick": 1, "full": 5}
RSVD_RANKS: tuple[int, ...] = (8, 16, 32, 64, 96, 128, 160, 194)
NS_STEPS: tuple[int, ...] = (1, 2, 3, 5, 8, 12, 16, 20, 25, 30, 40, 50, 60)
#: "exact": relative Frobenius error of a float32 result against the float64 SVD.
ACC_TOL = 1e-5
#: Newton–Schulz "converged".
NS_TOL = 1e-3
#: gram's float32 path: far below the minibatch noise of the gradient itself.
GRAM32_TOL = 1e-3
#: rsvd below full rank: cosine with U V^T against sqrt(r / rank) (the top-r directions only).
COSINE_TOL = 0.05
#: Newton–Schulz "diverges again": the error at the most steps over the best error.
NS_REGROWTH = 10.0
#: Muon's quintic "does not converge": max |s - 1| after 40 steps above this.
MUON_SV_SPREAD = 0.1


def modular_task(p: int = MODULAR_P) -> TaskData:
    """The paper's ``Mod(p, +)`` data (one-hot indices), train fraction 0.5."""
    return ModularArithmetic(p).build()


def hidden_gradient(task: TaskData, seed: int, *, wd: float = 0.0, width: int = WIDTH,
                    batch: int = BATCH) -> torch.Tensor:
    """The hidden-layer weight gradient ``(width, in)`` of the paper's MLP at initialisation
    (seeded), on one batch of ``batch`` training pairs, cross-entropy loss; with ``wd > 0``
    the L2 term ``0.5 wd ||W1||^2`` is in the loss, as the gradient EGD transforms in training."""
    gen = torch.Generator().manual_seed(seed)
    model = TwoLayerMLP(task.in_features, width, task.out_features, generator=gen)
    idx = torch.randperm(task.n_train, generator=gen)[:batch]
    loss = F.cross_entropy(model(task.x_train[idx]), task.y_train[idx])
    if wd:
        loss = loss + 0.5 * wd * model.hidden.weight.square().sum()
    loss.backward()
    return model.hidden.weight.grad.detach().clone()


def null_direction(p: int = MODULAR_P, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(1, ..., 1, -1, ..., -1) / sqrt(2p)``: every input is ``onehot(a) + onehot(p + b)``,
    so the ``a``-block and ``b``-block columns of the hidden gradient sum to the same vector
    and this is an exact null vector of it."""
    return torch.cat([torch.ones(p, dtype=dtype), -torch.ones(p, dtype=dtype)]) / math.sqrt(2 * p)


def numerical_rank(G: torch.Tensor, dtype: torch.dtype = torch.float32) -> int:
    """Singular values above the pseudo-inverse tolerance ``egd.orthogonalize`` uses for
    ``dtype`` input (:func:`egd.transforms.resolve_rtol`)."""
    sv = torch.linalg.svdvals(G.double())
    return int((sv > resolve_rtol(None, *G.shape[-2:], dtype) * sv[0]).sum())


def accuracy_rows(grads: Iterable[torch.Tensor], *, ranks: Sequence[int], ns_steps: Sequence[int]) -> list[dict]:
    """:func:`egd.bench.transforms.accuracy_sweep` over several gradients, rows concatenated."""
    return [row for G in grads for row in bench.accuracy_sweep(G, ranks=ranks, ns_steps=ns_steps)]


def mean_of(rows: Sequence[dict], method: str, key: str, values: Sequence[Any]) -> np.ndarray:
    """Mean of ``key`` over the rows of ``method`` at each setting in ``values`` (the rank or
    the step count); ``ValueError`` if a setting has no row."""
    out = []
    for v in values:
        hits = [r[key] for r in rows if r["method"] == method and r["value"] == v]
        if not hits:
            raise ValueError(f"no {method!r} row with value {v!r}")
        out.append(float(np.mean(hits)))
    return np.array(out)


@dataclass(frozen=True)
class Accuracy:
    """What the accuracy verdicts read, from :func:`accuracy_summary`."""

    rank: int
    gram_error: float            # gram on the rank-deficient gradient (float64 fallback)
    svd32_error: float           # float32 thin SVD
    gram32_error: float          # gram's float32 path on the full-rank gradient with the L2 term
    l2_condition: float          # condition number of that gradient
    rsvd_full_error: float       # rsvd at rank = rank(G)
    rsvd128_cosine: float
    ns_errors: dict[int, float]  # cubic Newton-Schulz: steps -> rel. error
    muon_sv_dev_40: float        # Muon's quintic, max |s - 1| after 40 steps


def accuracy_summary(rows: Sequence[dict], grads: Sequence[torch.Tensor], G_l2: torch.Tensor, rank: int,
                     ns_steps: Sequence[int] = NS_STEPS) -> Accuracy:
    """Collect the numbers the verdicts need from :func:`accuracy_rows` and the gradients."""
    sv_l2 = torch.linalg.svdvals(G_l2.double())
    return Accuracy(
        rank=rank,
        gram_error=max(r["rel_error"] for r in rows if r["method"] == "gram"),
        svd32_error=max(bench.accuracy_vs_svd(G, method="svd")["rel_error"] for G in grads),
        gram32_error=bench.accuracy_vs_svd(G_l2, method="gram")["rel_error"],
        l2_condition=float(sv_l2[0] / sv_l2[-1]),
        rsvd_full_error=float(mean_of(rows, "rsvd", "rel_error", [rank])[0]),
        rsvd128_cosine=float(mean_of(rows, "rsvd", "cosine", [128])[0]),
        ns_errors=dict(zip(ns_steps, mean_of(rows, "newton_schulz", "rel_error", ns_steps).tolist())),
        muon_sv_dev_40=float(mean_of(rows, "newton_schulz_muon", "max_sv_dev", [40])[0]),
    )


def accuracy_checks(acc: Accuracy) -> list[Check]:
    """Verdicts on the accuracy of each route against the float64 SVD."""
    ns = acc.ns_errors
    default_err = ns.get(D.DEFAULT_NS_STEPS, float("nan"))
    first_ok = next((k for k in sorted(ns) if ns[k] < NS_TOL), None)
    last = max(ns)
    expected_cos = math.sqrt(min(128, acc.rank) / acc.rank)
    return [
        Check("gram is exact on the rank-deficient training gradient (float64 fallback)", acc.gram_error < ACC_TOL,
              "exact SVD", f"rel. error {acc.gram_error:.1e} (float32 SVD {acc.svd32_error:.1e}; "
                           f"tolerance {ACC_TOL:.0e})"),
        Check(f"gram's float32 path is accurate on the full-rank gradient with the L2 term "
              f"(condition number {acc.l2_condition:.0f})", acc.gram32_error < GRAM32_TOL,
              "exact SVD", f"rel. error {acc.gram32_error:.1e} (tolerance {GRAM32_TOL:.0e})"),
        Check(f"rsvd at rank ≥ rank(G) = {acc.rank} equals the SVD", acc.rsvd_full_error < ACC_TOL,
              "same update (Algorithm 3)", f"rel. error {acc.rsvd_full_error:.1e}"),
        Check("rsvd below full rank gives the top-r update \\(U_r V_r^\\top\\): cosine with \\(UV^\\top\\) "
              "≈ \\(\\sqrt{r/\\mathrm{rank}}\\)", abs(acc.rsvd128_cosine - expected_cos) < COSINE_TOL,
              "an approximation of the same update",
              f"r = 128: cosine {acc.rsvd128_cosine:.3f} vs √(128/{acc.rank}) = {expected_cos:.3f}"),
        Check(f"cubic Newton–Schulz converges with the default {D.DEFAULT_NS_STEPS} steps", default_err < NS_TOL,
              "–", f"rel. error {default_err:.1e}; below {NS_TOL:.0e} first at {first_ok} steps"),
        Check("more Newton–Schulz steps make it worse again (no tolerance: the null direction's rounding "
              "noise grows by 1.5× per step)", ns[last] > NS_REGROWTH * min(ns.values()),
              "–", f"{ns[last]:.1e} at {last} steps, best {min(ns.values()):.1e}"),
        Check("Muon's quintic Newton–Schulz does not converge to \\(UV^\\top\\)", acc.muon_sv_dev_40 > MUON_SV_SPREAD,
              "Muon ≈ \\(UV^\\top\\) (Section 4)", f"max |s − 1| after 40 steps: {fmt_number(acc.muon_sv_dev_40, 2)}"),
    ]
