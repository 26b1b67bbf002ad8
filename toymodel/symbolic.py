r"""Symbolic layer (sympy): the toy model's formulas *derived*, not typed in.

Every derivation is a cached function (sympy is slow; nothing is computed at import). The
expressions the numerical layer and the book use are also module attributes, resolved lazily,
e.g. ``toymodel.symbolic.m1_expr``. The symbols are module attributes too: ``s``, ``t``,
``eps`` (:math:`\epsilon`), ``eta``, ``k``, ``mu``, ``nu``, ``u1``, ``u2``, ``theta``, ``m1``,
``m2``, ``psi``, ``delta``, ``e``.

Section 3 (distribution shift):

* ``m1_expr``, ``m2_expr``: :math:`E|x_1|` and :math:`E x_1^2` for :math:`N(0, 1)` conditioned
  on :math:`|x_1| \ge s`, integrated from the truncated density; ``m1_closed``, ``m2_closed``
  are the paper's :math:`\varphi(s)/Q(s)` and :math:`1 + s m_1` (Eq. 5), checked equal by
  :func:`moment_closed_form_residuals`;
* :func:`iteration_matrix`: the large-:math:`n` iteration matrix of Eq. (2) / (9) (Lemma 1);
  :func:`closed_form_iterate`: :math:`w(k) = A^k u + (I - A^k) w_{ols}` (Eq. 4 and 6),
  substituted back into the recursion by :func:`recursion_residual` (must be 0);
* ``threshold_numerator``: the numerator of :math:`r_k^2 - r^2` (Eq. 7), so that
  :math:`E(k) < 1 \iff |\nu| < |\mu| \tan\theta` (:func:`threshold_inequality`);
* ``tau_derived``, ``tau_paper``: the plateau ratios, ours :math:`|u_2| m_2/(m_1\tan\theta)` and
  Corollary 1's printed :math:`|u_2| \tan\theta\, m_2/m_1` (:func:`tau`);
* :func:`k_star_large_init` and :func:`k_star_series`: Corollary 1 (A) and its
  :math:`\epsilon`-series; :func:`egd_two_cycle`: EGD proper near the fast optimum.

Appendix A.3 (same train and test wedge distribution):

* :func:`a3_closed_form_moments`: :math:`Z, a, b, d, c_1, c_2` as functions of the wedge angle
  :math:`\psi`, derived by integrating over the whitened double wedge;
* :func:`a3_sigma_leading_order`: :math:`\Sigma/\epsilon` as :math:`\epsilon \to 0` at fixed
  :math:`\theta \in (0, \pi/2)`;
* :func:`cayley_hamilton_residual`: :math:`\alpha_k + \beta_k r - r^k` at both eigenvalues
  (must be 0).

Examples
--------
>>> import sympy as sp
>>> from toymodel import symbolic as S
>>> S.iteration_matrix("gd") == sp.diag(1 - S.eta * S.m2, 1 - S.eta * S.eps)
True
>>> S.moment_closed_form_residuals()
(0, 0)
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ._constants import CONVENTIONS, METHODS

__all__ = [
    "s", "t", "eps", "eta", "k", "mu", "nu", "u1", "u2", "theta", "m1", "m2", "psi", "delta", "e",
    "moment_integrals", "moment_closed_form_residuals", "iteration_matrix", "closed_form_iterate",
    "recursion_residual", "threshold_inequality", "k_star_large_init", "k_star_series",
    "k_star_paper_egd", "egd_two_cycle", "a3_closed_form_moments", "a3_sigma_leading_order",
    "cayley_hamilton_residual", "lambdified",
]

# Symbols. Positivity assumptions keep sympy's integrals free of Piecewise branches;
# s = 0 is recovered by continuity.
s = sp.Symbol("s", positive=True)
t = sp.Symbol("t", positive=True)
eps = sp.Symbol("epsilon", positive=True)
eta = sp.Symbol("eta", positive=True)
k = sp.Symbol("k", nonnegative=True, integer=True)
mu, nu = sp.symbols("mu nu", real=True)
u1, u2 = sp.symbols("u1 u2", real=True)
theta = sp.Symbol("theta", positive=True)
m1, m2 = sp.symbols("m1 m2", positive=True)
psi = sp.Symbol("psi", positive=True)  # A.3 wedge half-angle in whitened coordinates
delta = sp.Symbol("delta", real=True)  # mu - m1/m2, distance to the fast optimum
e = sp.Symbol("e", positive=True)  # eps * |nu|, slow component of the gradient

_CONVENTION_FACTOR = {"half": sp.Integer(1), "full": sp.Integer(2)}


def _normal_pdf(x):
    return sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


@cache
def moment_integrals() -> dict:
    """m1, m2 of the train marginal (Eq. 5) by integrating the density ``phi(t)/(2 Q(s))`` on ``|t| >= s``.

    Returns ``{"Q", "m1_expr", "m2_expr", "m1_closed", "m2_closed"}``; the ``*_expr`` are
    sympy's integrals, the ``*_closed`` the paper's forms phi(s)/Q(s) and 1 + s m1.
    """
    tail = sp.integrate(_normal_pdf(t), (t, s, sp.oo))  # Q(s), the Gaussian tail
    # symmetric density: the two tails contribute equally, the 2 cancels the 1/2 of the density
    m1_expr = sp.simplify(sp.integrate(t * _normal_pdf(t), (t, s, sp.oo)) / tail)
    m2_expr = sp.simplify(sp.integrate(t**2 * _normal_pdf(t), (t, s, sp.oo)) / tail)
    q_closed = sp.erfc(s / sp.sqrt(2)) / 2
    m1_closed = _normal_pdf(s) / q_closed
    return {
        "Q": sp.simplify(tail),
        "m1_expr": m1_expr,
        "m2_expr": m2_expr,
        "m1_closed": m1_closed,
        "m2_closed": 1 + s * m1_closed,
    }


def moment_closed_form_residuals() -> tuple:
    """(m1_expr - phi/Q, m2_expr - (1 + s m1)), simplified; both are 0 when the paper's forms hold."""
    d = moment_integrals()
    r1 = sp.simplify((d["m1_expr"] - d["m1_closed"]).rewrite(sp.erfc))
    r2 = sp.simplify((d["m2_expr"] - (1 + s * d["m1_expr"])).rewrite(sp.erfc))
    return r1, r2


def _check(method: str, convention: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def large_n_sigma() -> sp.Matrix:
    """Lemma 1: Sigma^ -> diag(m2, eps)."""
    return sp.diag(m2, eps)


def large_n_cross() -> sp.Matrix:
    """Lemma 1: X^T Y / n -> (m1, 0)."""
    return sp.Matrix([m1, 0])


def iteration_matrix(method: str = "gd", convention: str = "half") -> sp.Matrix:
    """Large-n iteration matrix A of w(k) = A w(k-1) + b.

    gd: A = I - c eta Sigma (Eq. 2), paper_egd: A = I - c eta Sigma^-1 Sigma = (1 - c eta) I
    (Eq. 9), c = 1 ("half") or 2 ("full"). egd is nonlinear (no matrix): raises ValueError.
    """
    _check(method, convention)
    c = _CONVENTION_FACTOR[convention]
    sigma = large_n_sigma()
    if method == "gd":
        return sp.eye(2) - c * eta * sigma
    if method == "paper_egd":
        return sp.simplify(sp.eye(2) - c * eta * sigma.inv() * sigma)
    raise ValueError("method 'egd' (normalised GD) has no iteration matrix: it is nonlinear")


def ols_limit() -> sp.Matrix:
    """w_ols -> Sigma^-1 (m1, 0) = (m1/m2, 0)."""
    return large_n_sigma().inv() * large_n_cross()


def closed_form_iterate(method: str = "gd", convention: str = "half") -> sp.Matrix:
    """w(k) = A^k u + (I - A^k) w_ols (Eq. 4, 6) for a diagonal A, as a 2-vector in k, u1, u2."""
    A = iteration_matrix(method, convention)
    Ak = sp.diag(A[0, 0] ** k, A[1, 1] ** k)
    return Ak * sp.Matrix([u1, u2]) + (sp.eye(2) - Ak) * ols_limit()


def recursion_residual(method: str = "gd", convention: str = "half") -> sp.Matrix:
    """Substitute the closed form back into w(k+1) = A w(k) + b (zero vector when it holds).

    b = c eta (m1, 0) for gd and c eta Sigma^-1 (m1, 0) for paper_egd. Two parts, stacked:
    (i) b - (I - A) w_ols (w_ols is the fixed point); (ii) with A = diag(alpha, beta) kept as
    symbols (sympy cannot cancel (-1)^k (x - 1)^(k+1) + (1 - x)^(k+1) on its own),
    w(k+1) - (A w(k) + (I - A) w_ols) and w(0) - u.
    """
    _check(method, convention)
    c = _CONVENTION_FACTOR[convention]
    A = iteration_matrix(method, convention)
    precond = sp.eye(2) if method == "gd" else large_n_sigma().inv()
    b = c * eta * precond * large_n_cross()
    fixed_point = sp.simplify(b - (sp.eye(2) - A) * ols_limit())
    al, be = sp.symbols("alpha beta", real=True)
    Ag = sp.diag(al, be)
    w = sp.diag(al**k, be**k) * sp.Matrix([u1, u2]) + (sp.eye(2) - sp.diag(al**k, be**k)) * ols_limit()
    step = (w.subs(k, k + 1) - (Ag * w + (sp.eye(2) - Ag) * ols_limit())).applyfunc(
        lambda x: sp.expand(sp.expand_power_exp(x))
    )
    start = sp.simplify(w.subs(k, 0) - sp.Matrix([u1, u2]))
    return sp.Matrix.vstack(fixed_point, step, start)


@cache
def threshold_inequality() -> dict:
    r"""Where Eq. (7) leaves its plateau: :math:`E < 1 \iff r_k > r`.

    :math:`r_k = \mu/\sqrt{\mu^2 + \epsilon\nu^2}`,
    :math:`r = \cos\theta/\sqrt{\cos^2\theta + \epsilon\sin^2\theta}`. For :math:`\mu > 0`,
    :math:`r_k^2 - r^2 = \epsilon(\mu^2\sin^2\theta - \nu^2\cos^2\theta)/(\text{positive})`, so
    :math:`r_k > r \iff |\nu| < |\mu|\tan\theta`.
    Returns the difference, its numerator, its denominator and the threshold on :math:`|\nu|`.
    """
    rk = mu / sp.sqrt(mu**2 + eps * nu**2)
    r = sp.cos(theta) / sp.sqrt(sp.cos(theta) ** 2 + eps * sp.sin(theta) ** 2)
    diff = sp.together(rk**2 - r**2)
    num, den = sp.fraction(diff)
    return {
        "difference": diff,
        "numerator": sp.factor(sp.expand(num)),
        "denominator": sp.factor(den),
        "nu_threshold": sp.Abs(mu) * sp.tan(theta),
    }


def tau(formula: str = "derived") -> sp.Expr:
    r"""Plateau ratio of Corollary 1 with mu -> m1/m2 after the fast phase.

    ``"derived"`` (from :func:`threshold_inequality`): :math:`\tau = |u_2| m_2/(m_1\tan\theta)`;
    ``"paper"`` (Corollary 1 as printed): :math:`\tau = |u_2| \tan\theta\, m_2/m_1`.

    Raises:
        ValueError: unknown ``formula``.
    """
    if formula == "derived":
        return sp.Abs(u2) * m2 / (m1 * sp.tan(theta))
    if formula == "paper":
        return sp.Abs(u2) * sp.tan(theta) * m2 / m1
    raise ValueError(f"formula must be one of ('derived', 'paper'), got {formula!r}")


def k_star_large_init(convention: str = "half", tau_formula: str = "derived") -> sp.Expr:
    """Corollary 1 (A): ``beta^k |u2| = (m1/m2) tan theta``, so ``k* = log(tau) / log(1/beta)``."""
    _check("gd", convention)
    beta = 1 - _CONVENTION_FACTOR[convention] * eta * eps
    return sp.log(tau(tau_formula)) / sp.log(1 / beta)


def k_star_series(convention: str = "half", order: int = 1) -> sp.Expr:
    """Series of Corollary 1 (A) in eps at fixed tau: log(tau)/(c eta eps) + log(tau)/2 + O(eps)."""
    T = sp.Symbol("tau", positive=True)
    beta = 1 - _CONVENTION_FACTOR[convention] * eta * eps
    return sp.series(sp.log(T) / sp.log(1 / beta), eps, 0, order).removeO()


def k_star_paper_egd(convention: str = "half", tau_formula: str = "derived") -> sp.Expr:
    """Scheme (9): w(k) = a^k u + (1 - a^k) w_ols, a = 1 - c eta, so k* = log(tau)/log(1/a);
    d k*/d eps = 0 (no eps anywhere)."""
    a = 1 - _CONVENTION_FACTOR[convention] * eta
    return sp.log(tau(tau_formula)) / sp.log(1 / a)


@cache
def egd_two_cycle() -> dict:
    r"""EGD proper on the toy: :math:`w \leftarrow w - \eta g/\lVert g\rVert`, :math:`g = (m_2\delta, \epsilon\nu)`.

    (Either convention: the factor 2 cancels in :math:`g/\lVert g\rVert`.) With
    :math:`e = \epsilon|\nu|` frozen (it moves slowly), the fast coordinate follows
    :math:`f(\delta) = \delta - \eta m_2\delta/\sqrt{m_2^2\delta^2 + e^2}`. A 2-cycle
    :math:`f(\delta) = -\delta` needs :math:`\lVert g\rVert = \eta m_2/2`; it exists iff
    :math:`e < \eta m_2/2`, and its multiplier :math:`f'(\delta)^2` is below 1 exactly then. On the
    cycle the slow coordinate obeys :math:`\nu \leftarrow \nu(1 - \eta\epsilon/\lVert g\rVert) =
    \nu(1 - 2\epsilon/m_2)`: the effective step :math:`\eta/\lVert g\rVert = 2/m_2` sits at GD's
    stability edge.
    """
    G = sp.sqrt(m2**2 * delta**2 + e**2)
    f = delta - eta * m2 * delta / G
    norm_on_cycle = sp.solve(sp.Eq(1 - eta * m2 / sp.Symbol("G", positive=True), -1), sp.Symbol("G", positive=True))[0]
    fprime = sp.simplify(sp.diff(f, delta))
    # on the cycle G = eta m2/2: substitute delta^2 from G^2 = m2^2 delta^2 + e^2
    delta_cycle = sp.sqrt(norm_on_cycle**2 - e**2) / m2
    multiplier = sp.simplify(fprime.subs(delta, delta_cycle) ** 2)
    slow_factor = sp.simplify(1 - eta * eps / norm_on_cycle)
    T = sp.Symbol("T", positive=True)
    nu0 = sp.Symbol("nu0", positive=True)
    k_geometric = sp.log(nu0 / T) / sp.log(1 / slow_factor)
    return {
        "map": f,
        "grad_norm_on_cycle": norm_on_cycle,
        "delta_on_cycle": delta_cycle,
        "multiplier": multiplier,
        "slow_factor": slow_factor,
        "onset_nu": eta * m2 / (2 * eps),
        "k_geometric": k_geometric,
        "k_geometric_series": sp.simplify(
            sp.series(sp.log(nu0 / T) / sp.expand_log(sp.log(1 / slow_factor), force=True), eps, 0, 1).removeO()
        ),
    }


@cache
def a3_closed_form_moments() -> dict:
    """Appendix A.3 moments from the whitened polar form.

    With x = (z1, z2/sqrt(eps)) = R (cos phi, sin phi), R ~ chi(2) independent of phi, the
    event (z^T e1)(z^T v) <= 0 is phi in (-pi/2, -pi/2 + psi) plus its antipode, psi =
    atan2(sqrt(eps) sin theta, cos theta). Write phi = varphi - pi/2, varphi uniform on (0, psi):
    z1 = R sin varphi, z2 = -sqrt(eps) R cos varphi on the half with z1 > 0, y = sign(z1).
    """
    r = sp.Symbol("R", positive=True)
    vp = sp.Symbol("varphi", positive=True)
    chi2 = r * sp.exp(-r**2 / 2)
    ER = sp.integrate(r * chi2, (r, 0, sp.oo))
    ER2 = sp.integrate(r**2 * chi2, (r, 0, sp.oo))

    def avg(expr):
        return sp.simplify(sp.integrate(expr, (vp, 0, psi)) / psi)

    se = sp.sqrt(eps)
    return {
        "E_R": ER,
        "E_R2": ER2,
        "Z": psi / sp.pi,
        "a": sp.simplify(ER2 * avg(sp.sin(vp) ** 2)),
        "b": sp.simplify(ER2 * avg(sp.sin(vp) * (-se * sp.cos(vp)))),
        "d": sp.simplify(ER2 * avg(eps * sp.cos(vp) ** 2)),
        "c1": sp.simplify(ER * avg(sp.sin(vp))),  # E z1 sign(z1) = E|z1|
        "c2": sp.simplify(ER * avg(-se * sp.cos(vp))),  # sign(z1) = +1 on this half
        "psi_of_theta": sp.atan(se * sp.tan(theta)),  # valid for theta in (0, pi/2)
    }


@cache
def a3_sigma_leading_order() -> dict:
    """Sigma/eps as eps -> 0 at fixed theta in (0, pi/2), and its eigenvalues.

    psi = atan(sqrt(eps) tan theta) -> 0, the wedge collapses onto the z2-axis and every
    entry of Sigma is O(eps): Sigma/eps -> [[2/3 tan^2, -tan], [-tan, 2]], whose
    determinant tan^2/3 > 0, so both eigenvalues are Theta(eps) (the paper's claim) with
    theta-dependent constants; at theta >= pi/2 psi does not vanish and a = Theta(1).
    """
    mom = a3_closed_form_moments()
    sub = {psi: mom["psi_of_theta"]}
    lead = {}
    for name in ("a", "b", "d"):
        expr = (mom[name].subs(sub) / eps)
        lead[name] = sp.simplify(sp.limit(expr, eps, 0))
    S = sp.Matrix([[lead["a"], lead["b"]], [lead["b"], lead["d"]]])
    return {"sigma_over_eps": S, "det": sp.simplify(S.det()), "eigenvalues": [sp.simplify(v) for v in S.eigenvals()]}


def cayley_hamilton_residual() -> tuple:
    """For M with eigenvalues r+ != r-, M^k = alpha_k I + beta_k M with
    alpha_k = (r+ r-^k - r- r+^k)/(r+ - r-), beta_k = (r+^k - r-^k)/(r+ - r-).
    The polynomial alpha_k + beta_k x interpolates x^k at both eigenvalues; returns the two
    residuals (0 after simplification)."""
    rp, rm = sp.symbols("r_plus r_minus", positive=True)
    ak = (rp * rm**k - rm * rp**k) / (rp - rm)
    bk = (rp**k - rm**k) / (rp - rm)
    return sp.simplify(ak + bk * rp - rp**k), sp.simplify(ak + bk * rm - rm**k)


def lambdified(name: str):
    """Numeric (numpy/scipy) function of a derived expression.

    ``"m1"``, ``"m2"``: f(s) from sympy's integrals; ``"k_star_large_init"``:
    f(eps, eta, u2, theta, m1, m2) (half convention, derived tau); ``"egd_k_geometric"``:
    f(nu0, T, eps, m2).
    """
    if name in ("m1", "m2"):
        return sp.lambdify(s, moment_integrals()[f"{name}_expr"], modules=["scipy", "numpy"])
    if name == "k_star_large_init":
        return sp.lambdify((eps, eta, u2, theta, m1, m2), k_star_large_init(), modules="numpy")
    if name == "egd_k_geometric":
        d = egd_two_cycle()
        T, nu0 = sp.Symbol("T", positive=True), sp.Symbol("nu0", positive=True)
        return sp.lambdify((nu0, T, eps, m2), d["k_geometric"], modules="numpy")
    raise ValueError(f"name must be one of ('m1', 'm2', 'k_star_large_init', 'egd_k_geometric'), got {name!r}")


_LAZY = {
    "m1_expr": lambda: moment_integrals()["m1_expr"],
    "m2_expr": lambda: moment_integrals()["m2_expr"],
    "m1_closed": lambda: moment_integrals()["m1_closed"],
    "m2_closed": lambda: moment_integrals()["m2_closed"],
    "threshold_numerator": lambda: threshold_inequality()["numerator"],
    "tau_derived": lambda: tau("derived"),
    "tau_paper": lambda: tau("paper"),
}


def __getattr__(name: str):
    if name in _LAZY:
        return _LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
