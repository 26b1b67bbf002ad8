"""Names and defaults shared by the analytic layer of the toy model (one home for defaults).

``METHODS``
    ``"gd"``        plain gradient descent, Eq. (2).
    ``"paper_egd"`` the paper's accelerated scheme, Eq. (9): ``w <- w - eta Sigma^-1 grad``
                    (a Newton / natural-gradient step; iteration matrix ``(1 - eta) I``).
    ``"egd"``       EGD proper, Eq. (11), on the toy's 1 x 2 gradient matrix, which is
                    normalised GD ``w <- w - eta g / ||g||``.
``CONVENTIONS``
    ``"half"`` the gradient of ``(1/n)||Xw - Y||^2`` without its factor 2 (paper, Section 3);
    ``"full"`` the true gradient, factor 2 kept (paper, Appendix A.3).
``ERROR_FORMULAS``
    ``"geometric"`` the exact test error of a weight vector (probability of a sign
                    mismatch on the double wedge), valid for every ``w``;
    ``"theorem1"``  Eq. (7) / Eq. (19) verbatim, which ignores the sign of ``w^(2)``
                    and agrees with ``"geometric"`` whenever ``w^(2) sin(theta) >= 0``.
"""

from __future__ import annotations

import math

METHODS = ("gd", "paper_egd", "egd")
CONVENTIONS = ("half", "full")
ERROR_FORMULAS = ("geometric", "theorem1")

#: Factor multiplying ``eta`` in the step: the "full" gradient keeps the 2 of d/dw ||.||^2.
CONVENTION_FACTOR = {"half": 1.0, "full": 2.0}

DEFAULT_METHOD = "gd"
DEFAULT_CONVENTION_SECTION3 = "half"  # Section 3 drops the factor 2
DEFAULT_CONVENTION_A3 = "full"  # Appendix A.3 keeps it
DEFAULT_ERROR_FORMULA = "geometric"

#: Plateau-length regimes of Section 3. "small_init_fast" is our own derivation (see plateau.py).
REGIMES = ("exact", "large_init", "small_init", "small_init_fast")
DEFAULT_REGIME = "exact"
#: Which plateau ratio the asymptotic formulas use: ours, |u2| m2 / (m1 tan theta), or the
#: paper's Corollary 1 as printed, |u2| tan(theta) m2 / m1 (they agree at theta = pi/4).
TAU_FORMULAS = ("derived", "paper")
DEFAULT_TAU_FORMULA = "derived"

#: A.3 moments: our closed form, quadrature of the (sign-corrected) integrals, or the
#: integrals exactly as PAPER.md prints them (for side-by-side only; they are wrong).
MOMENT_FORMULAS = ("closed_form", "quadrature", "paper_integrals")
DEFAULT_MOMENT_FORMULA = "closed_form"
A3_REGIMES = ("exact", "leading")

#: Hard cap on iterations searched for a plateau end; the search returns inf beyond it.
DEFAULT_MAX_STEPS = 10**8
#: Exhaustive plateau scans evaluate closed forms in chunks growing from MIN to MAX steps.
SCAN_CHUNK_MIN = 1024
SCAN_CHUNK_MAX = 1 << 20
#: Work bound of the exact plateau searches (a few seconds each): the linear methods test
#: every step only while their fast mode still moves (at most this many steps; beyond it
#: the iterates run along a line, where the error changes at most once and is bisected),
#: and EGD, a nonlinear map iterated in Python, runs at most ``EGD_EXACT_STEP_LIMIT``
#: steps. A search that would need more raises ValueError naming the parameter.
EXHAUSTIVE_STEP_LIMIT = 1 << 20
EGD_EXACT_STEP_LIMIT = 1 << 21
#: The fast mode counts as settled once its amplitude is below this fraction of the
#: iterate's size: below float64 resolution, so the rest of the path is a line.
FAST_MODE_SETTLED = 1e-17

THETA_SHIFT_RANGE = (0.0, math.pi / 2)  # open interval, Section 3
THETA_EQUI_RANGE = (0.0, math.pi)  # (0, pi], Appendix A.3 and test_error
