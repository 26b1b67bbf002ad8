"""What the chapter *The toy model* computes, and the look the two toy-model chapters share.

The toy model of Section 3 and Appendix A of the paper is a linear regression on
``z ~ N(0, diag(1, eps))``; :mod:`toymodel` solves it. This module turns those solutions
into what the chapter shows: the plateau-ratio comparison of Corollary 1, escape times
against ``eps`` and their log-log slopes, the Appendix A.3 checks, and the verdict table
(:func:`theory_checks`). The simulation chapter's analyses are in
:mod:`egd.book.toy_simulation`.

The toy's three optimisers are not the harness's method keys, so they have their own
styles here (:func:`method_style`): ``"gd"`` black like vanilla training, ``"egd"`` (EGD
proper) vermillion like exact EGD, ``"paper_egd"`` (the paper's ``Sigma^-1`` step) blue.

Plateau measures: :data:`egd.book.definitions.ESCAPE_LEVEL_THEORY` (escape time, first
``E(k) < 1``) throughout this chapter; the simulation chapter adds the measured escape
time (first error below :data:`egd.book.definitions.ESCAPE_LEVEL_MEASURED`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

import toymodel
from toymodel import symbolic
from toymodel.experiments import loglog_slope
from toymodel.simulate import METHODS

from . import definitions
from .display import Check, Table, fmt_number
from .style import MethodStyle

__all__ = [
    "METHODS", "METHOD_COLORS", "METHOD_LABELS", "METHOD_NAMES", "method_style", "SETTING", "THETA", "SMALL_INIT",
    "LARGE_INIT",
    "eps_grid", "curve_steps", "measures_table", "pct", "slope", "TauComparison", "tau_comparison",
    "tau_table", "EscapeScan", "escape_scan", "slopes_table", "two_cycle_latex", "SignCheck", "sign_check",
    "sign_table", "A3Integrals",
    "a3_integrals", "a3_integrals_table", "EigenRange", "a3_eigenvalue_ranges", "a3_eigenvalue_table",
    "eigenvalues_theta_eps", "A3Escape", "a3_escape", "a3_escape_table", "theory_checks",
    "TAU_TOLERANCE", "SLOPE_TOLERANCE", "EIGEN_SPREAD", "A3_LEADING_FACTOR",
]

#: One colour per toy optimiser, the same in both toy chapters.
METHOD_COLORS: dict[str, str] = {"gd": "#000000", "paper_egd": "#0072B2", "egd": "#D55E00"}
METHOD_LABELS: dict[str, str] = {
    "gd": "GD (Eq. 2)",
    "paper_egd": r"$\Sigma^{-1}$ step (Eq. 9)",
    "egd": "EGD proper (Eq. 11)",
}
#: The same names for table cells (math as ``\\(...\\)``).
METHOD_NAMES: dict[str, str] = {**METHOD_LABELS, "paper_egd": "\\(\\Sigma^{-1}\\) step (Eq. 9)"}

#: Section 3 setting of the chapter: margin s = 1, step eta = 0.1, w(0) = (0, 3), theta = pi/4.
SETTING = dict(eta=0.1, s=1.0, u=(0.0, 3.0))
THETA = math.pi / 4
SMALL_INIT = (0.0, 0.05)
LARGE_INIT = (0.0, 3.0)

#: Verdict tolerances of this chapter (theory against theory: tight).
TAU_TOLERANCE = 0.01      # relative gap between an asymptotic k* and the exact escape time
SLOPE_TOLERANCE = 0.05    # |slope - claimed slope| of log k* against log eps
EIGEN_SPREAD = 2.0        # Theta(eps): lambda/eps stays within this factor over six decades of eps
A3_LEADING_FACTOR = 2.0   # the A.3 leading-order k* counts if within this factor of the exact one


def method_style(method: str, *, linestyle: str = "-") -> MethodStyle:
    """Colour and label of a toy optimiser (``"gd"``, ``"paper_egd"``, ``"egd"``)."""
    if method not in METHOD_COLORS:
        raise ValueError(f"method must be one of {tuple(METHOD_COLORS)}, got {method!r}")
    return MethodStyle(METHOD_COLORS[method], linestyle, METHOD_LABELS[method])


def eps_grid(profile: str) -> np.ndarray:
    """The eps grid of the escape-time scan: 7 (quick) or 13 (full) points on [1e-4, 1e-1]."""
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    return np.logspace(-4, -1, 7 if profile == "quick" else 13)


def curve_steps(profile: str) -> np.ndarray:
    """Steps at which the chapter draws the Theorem 1 curves (log-spaced, up to 3,000 or 30,000)."""
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    return np.unique(np.geomspace(1, 3000 if profile == "quick" else 30000, 400).astype(int))


def measures_table() -> Table:
    """The two plateau measures of the toy chapters, from :mod:`egd.book.definitions`."""
    rows = [
        ["escape time \\(k^*\\)", definitions.DEFINITIONS["escape time"],
         f"first \\(k\\) with \\(E(k) < {definitions.ESCAPE_LEVEL_THEORY:g}\\)", "toymodel.plateau_length"],
        ["measured escape time", definitions.DEFINITIONS["measured escape time"],
         f"first \\(k\\) with error \\(< {definitions.ESCAPE_LEVEL_MEASURED:g}\\)",
         "toymodel.experiments.plateau_from_curve"],
    ]
    return Table(["name", "definition", "level", "computed by"], rows,
                 caption="The plateau measures of the toy-model chapters", align="llll")


def pct(x: float, digits: int = 2) -> str:
    """A relative gap as a percentage, ``0.0123 -> '1.23%'``."""
    return f"{100 * x:.{digits}f}%"


def slope(x: float) -> str:
    """A log-log slope with its sign and a real minus sign, ``-0.998 -> '−0.998'``; ``0.000`` unsigned."""
    if abs(x) < 5e-4:
        return "0.000"
    return f"{x:+.3f}".replace("-", "−")


# --- Corollary 1: tan theta or cot theta -----------------------------------------------------


@dataclass(frozen=True)
class TauComparison:
    """Exact escape times and Corollary 1 (A) with both plateau ratios, one row per (theta, eps)."""

    theta: np.ndarray
    eps: np.ndarray
    exact: np.ndarray
    derived: np.ndarray   # tau = |u2| m2 / (m1 tan theta)
    printed: np.ndarray   # tau = |u2| tan(theta) m2 / m1 (Corollary 1 as printed)

    @property
    def derived_error(self) -> float:
        """Largest relative gap of the cot-theta formula to the exact escape time."""
        return float(np.max(np.abs(self.derived / self.exact - 1)))

    @property
    def printed_error(self) -> float:
        """Largest relative gap of the printed (tan theta) formula to the exact escape time."""
        return float(np.max(np.abs(self.printed / self.exact - 1)))


def tau_comparison(thetas: Sequence[float] = (0.4, 1.1), eps: Sequence[float] = (1e-3, 1e-2),
                   **setting) -> TauComparison:
    """Escape time ``k*`` (exact, first ``E(k) < 1``) against Corollary 1 (A) with the derived and the
    printed plateau ratio, at ``theta != pi/4`` where the two differ by ``tan^2 theta``."""
    setting = {**SETTING, **setting}
    eps = np.asarray(eps, dtype=float)
    cols: dict[str, list] = {"theta": [], "eps": [], "exact": [], "derived": [], "printed": []}
    for theta in thetas:
        exact = toymodel.plateau_length(eps, theta=theta, **setting)
        derived = toymodel.plateau_length(eps, theta=theta, regime="large_init", **setting)
        printed = toymodel.plateau_length(eps, theta=theta, regime="large_init", tau_formula="paper", **setting)
        cols["theta"] += [float(theta)] * eps.size
        cols["eps"] += eps.tolist()
        cols["exact"] += np.asarray(exact, dtype=float).tolist()
        cols["derived"] += np.asarray(derived, dtype=float).tolist()
        cols["printed"] += np.asarray(printed, dtype=float).tolist()
    return TauComparison(**{key: np.array(value) for key, value in cols.items()})


def tau_table(cmp: TauComparison) -> Table:
    """The comparison as a table: exact escape time and both Corollary 1 readings."""
    rows = [[f"{th:.2f}", f"{e:.0e}", fmt_number(float(ex)), f"{d:,.1f}", f"{p:,.1f}"]
            for th, e, ex, d, p in zip(cmp.theta, cmp.eps, cmp.exact, cmp.derived, cmp.printed)]
    return Table(["\\(\\theta\\)", "\\(\\varepsilon\\)", "escape time \\(k^*\\) (exact)",
                  "Corollary 1 (A), \\(\\cot\\theta\\) (derived)", "Corollary 1 (A), \\(\\tan\\theta\\) (printed)"],
                 rows, caption="Escape time against Corollary 1 (A) with either plateau ratio")


# --- escape time against eps ------------------------------------------------------------------


@dataclass(frozen=True)
class EscapeScan:
    """Escape time ``k*`` (first ``E(k) < 1``) of each optimiser over ``eps``, and its log-log slope."""

    eps: np.ndarray
    kstar: dict[str, np.ndarray]
    slopes: dict[str, float]
    egd_estimate: np.ndarray  # the large-init phase estimate of EGD proper (2-cycle with x = 1/2)


def escape_scan(eps: Sequence[float], *, theta: float = THETA, **setting) -> EscapeScan:
    """:func:`toymodel.plateau_length` of every optimiser over ``eps``, with slopes d log k*/d log eps."""
    setting = {**SETTING, **setting}
    eps = np.asarray(eps, dtype=float)
    kstar = {m: np.asarray(toymodel.plateau_length(eps, theta=theta, method=m, **setting), dtype=float)
             for m in METHODS}
    slopes = {m: loglog_slope(eps, k) for m, k in kstar.items()}
    estimate = np.asarray(toymodel.plateau_length(eps, theta=theta, method="egd", regime="large_init", **setting),
                          dtype=float)
    return EscapeScan(eps, kstar, slopes, estimate)


def slopes_table(scan: EscapeScan) -> Table:
    """The log-log slope of each optimiser's escape time against eps."""
    return Table(["method", "slope \\(d\\log k^*/d\\log\\varepsilon\\)"],
                 [[METHOD_NAMES[m], slope(v)] for m, v in scan.slopes.items()],
                 caption=f"Escape time against \\(\\varepsilon\\) from {scan.eps.min():.0e} to {scan.eps.max():.0e}")


def two_cycle_latex() -> str:
    """EGD proper's 2-cycle (``toymodel.symbolic.egd_two_cycle``) as one LaTeX line.

    The derivation freezes the slow gradient component ``e = eps |nu|``; here it is written
    out as ``\\varepsilon|\\nu|`` so that every symbol of the display is defined on the page.
    """
    cyc = symbolic.egd_two_cycle()
    frozen = {symbolic.e: symbolic.eps * sp.Abs(symbolic.nu)}
    parts = [
        r"\|g\|_{\rm cycle} = " + sp.latex(cyc["grad_norm_on_cycle"].subs(frozen)),
        r"\text{multiplier} = " + sp.latex(cyc["multiplier"].subs(frozen)),
        r"\nu \leftarrow \nu\cdot" + sp.latex(cyc["slow_factor"].subs(frozen)),
    ]
    return r",\quad ".join(parts)


# --- Theorem 1: the sign of w2 ----------------------------------------------------------------


@dataclass(frozen=True)
class SignCheck:
    """Eq. (7) and the exact error at ``w = (m1/m2, +nu)`` and its mirror ``(m1/m2, -nu)``."""

    w_plus: tuple[float, float]
    theorem1: tuple[float, float]  # Eq. (7) at w+ and w-
    exact: tuple[float, float]     # the exact (geometric) error at w+ and w-

    @property
    def eq7_ignores_sign(self) -> bool:
        """Eq. (7) gives w+ and w- the same error while the exact errors differ."""
        return math.isclose(*self.theorem1) and not math.isclose(*self.exact, abs_tol=1e-12)


def sign_check(*, eps: float = 0.01, theta: float = THETA, s: float = 1.0, fraction: float = 0.5) -> SignCheck:
    """Eq. (7) against the exact error at ``w = (m1/m2, +-fraction (m1/m2) tan theta)``: a weight inside
    the escape threshold, on either side of the ``x^(1)`` axis."""
    m1, m2 = (float(v) for v in toymodel.truncated_moments(s))
    mu, nu = m1 / m2, fraction * (m1 / m2) * math.tan(theta)
    w = np.array([[mu, nu], [mu, -nu]])
    thm = np.asarray(toymodel.test_error(w, eps=eps, theta=theta, formula="theorem1"), dtype=float)
    ex = np.asarray(toymodel.test_error(w, eps=eps, theta=theta, formula="geometric"), dtype=float)
    return SignCheck((mu, nu), (float(thm[0]), float(thm[1])), (float(ex[0]), float(ex[1])))


def sign_table(chk: SignCheck) -> Table:
    """Eq. (7) and the exact error at w and at its mirror image."""
    rows = [[f"\\(({chk.w_plus[0]:.3f}, {sign * chk.w_plus[1]:+.3f})\\)", f"{t:.3f}", f"{x:.3f}"]
            for sign, t, x in zip((1, -1), chk.theorem1, chk.exact)]
    return Table(["\\(w\\)", "Eq. (7)", "exact error"], rows,
                 caption="Eq. (7) and the exact error of a weight and of its mirror image")


# --- Appendix A.3 -----------------------------------------------------------------------------


@dataclass(frozen=True)
class A3Integrals:
    """The A.3 moments a, d, c1 three ways at one (eps, theta)."""

    eps: float
    theta: float
    closed: dict[str, float]
    quadrature: dict[str, float]  # the integrals with Phi(-kappa t)
    printed: dict[str, float]     # the integrals with Phi(+kappa t), as printed

    @property
    def quadrature_error(self) -> float:
        return max(abs(self.quadrature[k] / self.closed[k] - 1) for k in self.closed)

    @property
    def printed_error(self) -> float:
        return max(abs(self.printed[k] / self.closed[k] - 1) for k in self.closed)


def a3_integrals(eps: float = 0.01, theta: float = 0.6) -> A3Integrals:
    """:func:`toymodel.moments` with ``formula`` closed_form, quadrature and paper_integrals."""
    got = {f: toymodel.moments(np.array([eps]), np.array([theta]), formula=f)
           for f in ("closed_form", "quadrature", "paper_integrals")}
    pick = {f: {k: float(getattr(m, k)[0]) for k in ("a", "d", "c1")} for f, m in got.items()}
    return A3Integrals(eps, theta, pick["closed_form"], pick["quadrature"], pick["paper_integrals"])


def a3_integrals_table(chk: A3Integrals) -> Table:
    rows = [[f"\\({k.replace('c1', 'c_1')}\\)", f"{chk.closed[k]:.6g}", f"{chk.quadrature[k]:.6g}",
             f"{chk.printed[k]:.6g}"] for k in chk.closed]
    return Table(["moment", "closed form", "integral with \\(\\Phi(-\\kappa t)\\)",
                  "integral as printed, \\(\\Phi(\\kappa t)\\)"], rows,
                 caption=f"A.3 moments at \\(\\varepsilon = {chk.eps:g}\\), \\(\\theta = {chk.theta:g}\\)")


@dataclass(frozen=True)
class EigenRange:
    """Range of ``lambda_-/eps`` and ``lambda_+/eps`` over an eps grid, at one theta."""

    theta: float
    minus: tuple[float, float]
    plus: tuple[float, float]

    @property
    def theta_eps(self) -> bool:
        """Both ratios stay within :data:`EIGEN_SPREAD` over the grid: both eigenvalues Theta(eps)."""
        return all(hi / lo <= EIGEN_SPREAD for lo, hi in (self.minus, self.plus))


def a3_eigenvalue_ranges(eps: Sequence[float] = tuple(np.logspace(-6, -1, 6)),
                         thetas: Sequence[float] = (0.3, math.pi / 4, 1.2, 2.0)) -> list[EigenRange]:
    """Eigenvalues of the population ``Sigma`` of A.3 over ``eps``, divided by ``eps``, per theta."""
    eps = np.asarray(eps, dtype=float)
    out = []
    for theta in thetas:
        lam = np.asarray(toymodel.moments(eps, theta).eigenvalues, dtype=float) / eps[:, None]
        out.append(EigenRange(float(theta), (float(lam[:, 0].min()), float(lam[:, 0].max())),
                              (float(lam[:, 1].min()), float(lam[:, 1].max()))))
    return out


def a3_eigenvalue_table(ranges: Sequence[EigenRange], eps: Sequence[float] = tuple(np.logspace(-6, -1, 6))) -> Table:
    rows = [[f"{r.theta:.2f}", "yes" if r.theta < math.pi / 2 else "no",
             f"{r.minus[0]:.3g} – {r.minus[1]:.3g}", f"{r.plus[0]:.3g} – {r.plus[1]:.3g}",
             "yes" if r.theta_eps else "no"] for r in ranges]
    lo, hi = min(eps), max(eps)
    return Table(["\\(\\theta\\)", "\\(\\theta < \\pi/2\\)", "\\(\\lambda_-/\\varepsilon\\)",
                  "\\(\\lambda_+/\\varepsilon\\)", "both \\(\\Theta(\\varepsilon)\\)"], rows,
                 caption=f"Eigenvalues of the A.3 \\(\\Sigma\\) over \\(\\varepsilon\\) from {lo:.0e} to {hi:.0e}")


def eigenvalues_theta_eps(ranges: Sequence[EigenRange], *, below_half_pi: bool) -> bool:
    """Whether every theta on one side of pi/2 has both eigenvalues Theta(eps)."""
    chosen = [r for r in ranges if (r.theta < math.pi / 2) == below_half_pi]
    if not chosen:
        raise ValueError(f"no theta {'below' if below_half_pi else 'above'} pi/2 in the ranges")
    return all(r.theta_eps for r in chosen)


@dataclass(frozen=True)
class A3Escape:
    """A.3 escape time: exact (first ``E(k) < 1`` on the population curve) and the paper's leading order."""

    eps: np.ndarray
    exact: np.ndarray
    leading: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        return self.leading / self.exact

    @property
    def leading_holds(self) -> bool:
        return bool(np.all(np.abs(np.log(self.ratio)) <= math.log(A3_LEADING_FACTOR)))


def a3_escape(eps: Sequence[float] = (1e-2, 1e-3), *, eta: float = 0.1, theta: float = THETA,
              u: Sequence[float] = (0.0, 3.0)) -> A3Escape:
    """:func:`toymodel.equi_plateau_length`, exact and ``regime="leading"``."""
    eps = np.asarray(eps, dtype=float)
    kw = dict(eta=eta, theta=theta, u=list(u))
    exact = np.asarray(toymodel.equi_plateau_length(eps, **kw), dtype=float)
    leading = np.asarray(toymodel.equi_plateau_length(eps, regime="leading", **kw), dtype=float)
    return A3Escape(eps, exact, leading)


def a3_escape_table(esc: A3Escape) -> Table:
    rows = [[f"{e:.0e}", fmt_number(float(x)), fmt_number(round(float(lead))), f"{r:.0f}×"]
            for e, x, lead, r in zip(esc.eps, esc.exact, esc.leading, esc.ratio)]
    return Table(["\\(\\varepsilon\\)", "escape time \\(k^*\\) (exact)",
                  "\\(\\log(|u_2-\\nu^*|/T)/(2\\eta\\lambda_-)\\)", "leading / exact"], rows,
                 caption="A.3 escape time from \\(w(0) = (0, 3)\\), \\(\\theta = \\pi/4\\), \\(\\eta = 0.1\\)")


# --- the verdicts -----------------------------------------------------------------------------


def _sympy_zero(residual) -> bool:
    if isinstance(residual, sp.MatrixBase):
        return residual == sp.zeros(*residual.shape)
    return all(sp.simplify(r) == 0 for r in residual)


def theory_checks(*, tau: TauComparison, scan: EscapeScan, sign: SignCheck, integrals: A3Integrals,
                  eigen: Sequence[EigenRange], a3: A3Escape) -> list[Check]:
    """The chapter's verdicts: each paper claim, the paper's statement, our number, ✓ or ✗."""
    moments_zero = _sympy_zero(symbolic.moment_closed_form_residuals())
    recursion_zero = all(_sympy_zero(symbolic.recursion_residual(m, "half")) for m in ("gd", "paper_egd"))
    below, above = ([r for r in eigen if (r.theta < math.pi / 2) == side] for side in (True, False))
    lo, hi = f"{scan.eps.min():.0e}", f"{scan.eps.max():.0e}"
    k_egd, k_newton = (fmt_number(float(scan.kstar[m][0])) for m in ("egd", "paper_egd"))
    return [
        Check("Eq. (5): moments of the train marginal", moments_zero,
              "\\(m_1 = \\varphi(s)/Q(s)\\), \\(m_2 = 1 + s\\,m_1\\)",
              "sympy's integrals minus the closed forms: " + ("0, 0" if moments_zero else "non-zero")),
        Check("Eqs. (4), (6): closed form of the iterates", recursion_zero,
              "\\(w(k) = A^k w(0) + (I - A^k) w_{\\rm ols}\\)",
              "substituted into the recursion (GD and Eq. 9): residual " + ("0" if recursion_zero else "non-zero")),
        Check("Corollary 1: the plateau ratio \\(\\tau\\)", tau.printed_error <= TAU_TOLERANCE,
              "\\(\\tau = |u_2|\\tan\\theta\\, m_2/m_1\\)",
              f"Eq. (7) gives \\(\\tau = |u_2|\\, m_2/(m_1\\tan\\theta)\\) (\\(\\cot\\theta\\)): within "
              f"{pct(tau.derived_error)} of the exact escape time; as printed off by up to {pct(tau.printed_error, 0)}"
              f" (\\(\\theta\\) = {', '.join(f'{t:g}' for t in np.unique(tau.theta))})"),
        Check("Corollary 1 (A): GD escape time \\(\\propto 1/\\varepsilon\\)",
              abs(scan.slopes["gd"] + 1) <= SLOPE_TOLERANCE,
              "\\(k^* \\approx \\log\\tau/(\\eta\\varepsilon)\\): slope −1",
              f"slope {slope(scan.slopes['gd'])} over \\(\\varepsilon\\) from {lo} to {hi}"),
        Check("Scheme (9) makes the escape time independent of \\(\\varepsilon\\)",
              abs(scan.slopes["paper_egd"]) <= SLOPE_TOLERANCE,
              "iteration matrix \\((1-\\eta)I\\): slope 0", f"slope {slope(scan.slopes['paper_egd'])}"),
        Check("EGD (Eq. 11) removes the \\(\\varepsilon\\)-dependence of the escape time",
              abs(scan.slopes["egd"]) <= SLOPE_TOLERANCE,
              "shown for scheme (9), a \\(\\Sigma^{-1}\\) (Newton / natural-gradient) step",
              f"Eq. (11) on the \\(1\\times 2\\) gradient is normalised GD: slope {slope(scan.slopes['egd'])}; "
              f"\\(k^*\\) = {k_egd} vs {k_newton} for scheme (9) at \\(\\varepsilon\\) = {lo}"),
        Check("Theorem 1, Eq. (7): the test error of \\(w\\)", not sign.eq7_ignores_sign,
              "depends on \\(w^{(2)}\\) only through \\(\\varepsilon\\nu^2\\)",
              f"at \\(w = ({sign.w_plus[0]:.3f}, \\pm{sign.w_plus[1]:.3f})\\): Eq. (7) gives "
              f"{sign.theorem1[0]:.3f} and {sign.theorem1[1]:.3f}, the exact error {sign.exact[0]:.3f} and "
              f"{sign.exact[1]:.3f}: Eq. (7) ignores the sign of \\(w^{{(2)}}\\)"),
        Check("A.3: the moment integrals", integrals.printed_error <= TAU_TOLERANCE,
              "\\(a, d, c_1\\) with \\(\\Phi(\\kappa t)\\)",
              f"as printed off by up to a factor {1 + integrals.printed_error:,.0f}; with \\(\\Phi(-\\kappa t)\\) "
              f"equal to the closed form within {integrals.quadrature_error:.0e}"),
        Check("A.3: both eigenvalues of \\(\\Sigma\\) are \\(\\Theta(\\varepsilon)\\), \\(\\theta < \\pi/2\\)",
              eigenvalues_theta_eps(eigen, below_half_pi=True), "\\(\\lambda_\\pm = \\Theta(\\varepsilon)\\)",
              "; ".join(f"\\(\\theta\\) = {r.theta:.2f}: \\(\\lambda_+/\\varepsilon\\) {r.plus[0]:.3g}–{r.plus[1]:.3g}"
                        for r in below)),
        Check("A.3: the same for \\(\\theta > \\pi/2\\)", eigenvalues_theta_eps(eigen, below_half_pi=False),
              "\\(\\lambda_\\pm = \\Theta(\\varepsilon)\\), \\(\\theta \\in (0, \\pi]\\)",
              "; ".join(f"\\(\\theta\\) = {r.theta:.2f}: \\(\\lambda_+/\\varepsilon\\) up to {r.plus[1]:.3g} "
                        "(\\(\\lambda_+ = \\Theta(1)\\))" for r in above)),
        Check("A.3 (Theorem 2): escape time from \\(w(0) = (0, 3)\\)", a3.leading_holds,
              "\\(k^* \\approx \\log(|u_2-\\nu^*|/T)/(2\\eta\\lambda_-)\\)",
              "; ".join(f"\\(\\varepsilon\\) = {e:.0e}: exact {fmt_number(float(x))}, formula "
                        f"{fmt_number(round(float(lead)))}" for e, x, lead in zip(a3.eps, a3.exact, a3.leading))),
    ]
