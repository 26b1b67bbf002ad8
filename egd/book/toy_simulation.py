"""What the chapter *Theory meets simulation* computes: finite-sample runs of the toy model
beside its large-n theory, summarised into tables and verdicts.

The runs come from :mod:`toymodel.experiments`; the tables that take minutes are saved as
JSON under ``results/04_theory_meets_simulation/<name>-<profile>.json``, keyed by their
config (:func:`toymodel.experiments.cached_table`), and recomputed only when the config
changes. Everything else (single curves, a few seconds each) is computed on the fly.

Plateau measure: the **measured escape time** of :mod:`egd.book.definitions`, the first
step with test error below :data:`~egd.book.definitions.ESCAPE_LEVEL_MEASURED`; the
predicted escape time applies the same level to the theory's curve, so both sides are
measured alike. Where a table uses the theory's own level (first ``E(k) < 1``, the
**escape time**) it says so.

Over seeds, escape times are summarised as the book does everywhere: the median with
failures (runs that never escaped) counted as ``+inf``, the median over the seeds that
escaped, min–max and escaped/seeds (:func:`seed_stats`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import toymodel
from egd.grokking.tables import censored_median
from toymodel import experiments as ex

from . import settings
from .display import Check, Table, fmt_epochs, fmt_number
from .toy import METHOD_LABELS, METHOD_NAMES, METHODS, pct, slope

__all__ = [
    "CHAPTER", "N_REFERENCE", "REFERENCE_STEPS", "SGD_BATCH", "ZETAS", "EGD_ETAS", "EIGEN_THETAS", "SETTING",
    "CURVE_TOLERANCE", "PLATEAU_TOLERANCE", "SLOPE_TOLERANCE", "COROLLARY_TOLERANCE", "SGD_TOLERANCE",
    "SimConfig", "sim_config", "reference_seeds", "theta_sweep", "plateau_sweep", "egd_chatter", "equi_sweep",
    "eigenvalues", "reference_run", "seed_curves", "figure6_runs", "mirror_run", "egd_run", "equi_runs",
    "SeedStats", "seed_stats", "ReferenceRun", "reference_summary", "SeedSpread", "seed_spread",
    "reference_table", "spread_table", "slopes_table", "egd_slow_envelope", "crossing_table",
    "figure6_table", "mirror_deviation", "mirror_table", "escape_points", "fast_optimum", "egd_phase_estimate",
    "equi_slopes_table", "variant_label", "theta_table", "corollary_gaps", "plateau_rows", "plateau_table",
    "variant_slopes", "VARIANTS", "chatter_table", "chatter_rate_range", "EquiCrossing", "equi_crossing",
    "equi_rows", "equi_table", "equi_slopes", "equi_theory_small_eps", "eigen_table", "eigen_slopes",
    "simulation_checks",
]

CHAPTER = "04_theory_meets_simulation"
#: The reference run and its seed spread: n train and n test points in both profiles.
N_REFERENCE = 200_000
REFERENCE_STEPS = 5000
SGD_BATCH = 64
#: Figure 6: small and large initialisation w(0) = (0, zeta).
ZETAS = (0.1, 3.0)
EGD_ETAS = (0.02, 0.05, 0.1)
#: A.3 eigenvalues: one test direction inside the first quadrant, one outside.
EIGEN_THETAS = (math.pi / 4, 3 * math.pi / 4)
#: Seeds averaged for the mean curve (the first of the reference seeds).
MEAN_CURVE_SEEDS = 10
#: Section 3 setting: eps = 0.01, s = 1, theta = pi/4, eta = 0.1, w(0) = (0, 3).
SETTING = dict(s=ex.S, theta=ex.THETA, eta=ex.ETA, u=ex.U)
#: EGD proper's 2-cycle has settled for eps <= this and eta <= that (rows of the rate check).
CHATTER_SETTLED = (0.01, 0.05)

#: Verdict tolerances of this chapter (simulation against theory).
CURVE_TOLERANCE = 0.01       # max |simulated error - Theorem 1| over the run
PLATEAU_TOLERANCE = 0.02     # relative gap of the measured to the predicted escape time
SLOPE_TOLERANCE = 0.1        # |slope - claimed slope| of log escape time against log eps
COROLLARY_TOLERANCE = 0.05   # relative gap of Corollary 1 (A) to the measured escape time
SGD_TOLERANCE = 0.05         # relative gap of mini-batch SGD to full-batch GD
CHATTER_TOLERANCE = 0.05     # |rate / (2 eps/m2) - 1| once the 2-cycle has settled


@dataclass(frozen=True)
class SimConfig:
    """What a profile runs: sizes, grids and seeds, and where its tables are saved."""

    profile: str
    n: int
    eps_grid: tuple[float, ...]
    seeds: tuple[int, ...]
    reference_seeds: tuple[int, ...]
    curve_seeds: tuple[int, ...]
    thetas: tuple[float, ...]
    results: Path

    @property
    def folder(self) -> Path:
        return self.results / CHAPTER


_PROFILES = {
    "quick": dict(n=50_000, eps_grid=(1e-1, 1e-2, 1e-3), seeds=(0, 1, 2), reference_seeds=tuple(range(10)),
                  curve_seeds=(0, 1, 2),
                  thetas=(math.pi / 8, math.pi / 6, math.pi / 4, math.pi / 3, 3 * math.pi / 8)),
    "full": dict(n=200_000, eps_grid=(1e-1, 3e-2, 1e-2, 3e-3, 1e-3), seeds=tuple(range(10)),
                 reference_seeds=tuple(range(100)), curve_seeds=(0, 1, 2, 3, 4),
                 thetas=(math.pi / 12, math.pi / 8, math.pi / 6, math.pi / 4, math.pi / 3, 3 * math.pi / 8,
                         5 * math.pi / 12)),
}


def sim_config(profile: str | None = None, results_dir: str | Path | None = None) -> SimConfig:
    """The :class:`SimConfig` of ``profile`` (default :func:`egd.book.settings.profile`), saving under
    ``results_dir`` (default :func:`egd.book.settings.results_dir`)."""
    profile = settings.profile() if profile is None else profile
    if profile not in _PROFILES:
        raise ValueError(f"profile must be one of {tuple(_PROFILES)}, got {profile!r}")
    results = Path(results_dir) if results_dir is not None else settings.results_dir()
    return SimConfig(profile=profile, results=results, **_PROFILES[profile])


def _cached(cfg: SimConfig, name: str, config: dict, compute: Callable[[], ex.Table]) -> ex.Table:
    return ex.cached_table(cfg.folder / f"{name}-{cfg.profile}.json", dict(config, profile=cfg.profile), compute)


# --- the saved tables (same file names and config keys as the committed results) --------------


def reference_seeds(cfg: SimConfig) -> ex.Table:
    """The reference setting (n = 200,000, full-batch GD) over ``cfg.reference_seeds``:
    :func:`toymodel.experiments.shift_acceptance` (max deviation, escape times, ``nu_ols``)."""
    seeds = list(cfg.reference_seeds)
    return _cached(cfg, "acceptance", dict(seeds=seeds, n=N_REFERENCE),
                   lambda: ex.shift_acceptance(seeds, n=N_REFERENCE, steps=REFERENCE_STEPS,
                                               tol=CURVE_TOLERANCE, **SETTING))


def theta_sweep(cfg: SimConfig) -> ex.Table:
    """Measured and predicted escape time over ``cfg.thetas``, with both Corollary 1 readings."""
    return _cached(cfg, "theta", dict(thetas=list(cfg.thetas), n=cfg.n),
                   lambda: ex.theta_sweep(list(cfg.thetas), n_train=cfg.n, n_test=cfg.n))


def plateau_sweep(cfg: SimConfig) -> ex.Table:
    """Escape time over ``cfg.eps_grid`` for every optimiser (full batch) and mini-batch SGD."""
    eps, seeds = list(cfg.eps_grid), list(cfg.seeds)
    config = dict(eps=eps, seeds=seeds, n=cfg.n, batch=SGD_BATCH)
    return _cached(cfg, "plateau_sweep", config, lambda: ex.concat_tables([
        ex.plateau_sweep(eps, seeds=seeds, n_train=cfg.n, n_test=cfg.n),
        ex.plateau_sweep(eps, methods=("gd",), batch_size=SGD_BATCH, seeds=seeds, n_train=cfg.n, n_test=cfg.n),
    ]))


def egd_chatter(cfg: SimConfig) -> ex.Table:
    """EGD proper's slow-mode rate and escape time over eps and :data:`EGD_ETAS`."""
    eps = list(cfg.eps_grid)
    return _cached(cfg, "egd_chatter", dict(eps=eps, etas=EGD_ETAS, n=cfg.n),
                   lambda: ex.egd_chatter(eps, etas=EGD_ETAS, n_train=cfg.n, n_test=cfg.n))


def equi_sweep(cfg: SimConfig) -> ex.Table:
    """Appendix A.3 escape time over eps: simulation, Eq. (19) curve, the paper's leading order."""
    eps, seeds = list(cfg.eps_grid), list(cfg.seeds)
    return _cached(cfg, "equi_sweep", dict(eps=eps, seeds=seeds, n=cfg.n),
                   lambda: ex.equi_plateau_sweep(eps, seeds=seeds, n_train=cfg.n, n_test=cfg.n))


def eigenvalues(cfg: SimConfig, theta: float) -> ex.Table:
    """Eigenvalues of the sample ``Sigma^`` of A.3 over eps at ``theta``, beside the population ones."""
    eps = list(cfg.eps_grid)
    return _cached(cfg, f"eigenvalues_{theta:.3f}", dict(eps=eps, theta=theta, n=cfg.n),
                   lambda: ex.equi_eigenvalues(eps, theta=theta, n=cfg.n))


# --- runs computed on the fly -----------------------------------------------------------------


def reference_run(seed: int = 0) -> ex.Table:
    """One reference run: GD, n = 200,000 train and test points, 5,000 steps, the Section 3 setting."""
    return ex.shift_curve(method="gd", seed=seed, steps=REFERENCE_STEPS, n_train=N_REFERENCE, n_test=N_REFERENCE,
                          **SETTING)


def seed_curves(cfg: SimConfig) -> list[np.ndarray]:
    """Test-error curves of the first :data:`MEAN_CURVE_SEEDS` reference seeds."""
    return [reference_run(seed)["error"] for seed in cfg.reference_seeds[:MEAN_CURVE_SEEDS]]


def figure6_runs(cfg: SimConfig, *, steps: int = 5000, every: int = 5) -> dict[tuple[str, float], list[ex.Table]]:
    """Figure 6: every optimiser from w(0) = (0, zeta), zeta in :data:`ZETAS`, over ``cfg.curve_seeds``."""
    return {(method, zeta): [ex.shift_curve(method=method, seed=seed, steps=steps, u=(0.0, zeta), every=every,
                                            n_train=cfg.n, n_test=cfg.n, s=ex.S, theta=ex.THETA, eta=ex.ETA)
                             for seed in cfg.curve_seeds]
            for method in METHODS for zeta in ZETAS}


def mirror_run(steps: int = 3000) -> ex.Table:
    """GD from the mirrored start w(0) = (0, -3), n = 200,000, where Eq. (7) and the exact error part."""
    return ex.shift_curve(method="gd", seed=0, steps=steps, u=(0.0, -3.0), n_train=N_REFERENCE, n_test=N_REFERENCE,
                          s=ex.S, theta=ex.THETA, eta=ex.ETA)


def egd_run(cfg: SimConfig, steps: int = 400) -> ex.Table:
    """EGD proper (normalised GD), seed 0, the Section 3 setting, ``cfg.n`` points."""
    return ex.shift_curve(method="egd", seed=0, steps=steps, n_train=cfg.n, n_test=cfg.n, **SETTING)


def equi_runs(cfg: SimConfig, *, eps: float = 0.01, steps: int = 30_000) -> list[ex.Table]:
    """Figure 8: Appendix A.3 GD runs over ``cfg.curve_seeds``."""
    return [ex.equi_curve(eps=eps, steps=steps, seed=seed, n_train=cfg.n, n_test=cfg.n) for seed in cfg.curve_seeds]


# --- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedStats:
    """Escape times over seeds: ``median_all`` counts a seed that never escaped as +inf (None when that
    median is itself a failure); ``median``, ``min``, ``max`` are over the ``reached`` seeds."""

    seeds: int
    reached: int
    median_all: float | None
    median: float | None
    min: float | None
    max: float | None

    def cells(self) -> list[str]:
        """Table cells: median (failures = ∞), median (escaped), min–max, escaped/seeds."""
        span = "–" if self.min is None else f"{fmt_epochs(self.min)}–{fmt_epochs(self.max)}"
        return [fmt_epochs(self.median_all), fmt_epochs(self.median), span, f"{self.reached}/{self.seeds}"]


SEED_HEADER = ["median (never = ∞)", "median (escaped)", "min–max", "escaped / seeds"]


def seed_stats(values: Sequence[float]) -> SeedStats:
    """:class:`SeedStats` of measured escape times; NaN or inf is a seed that never escaped."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must hold at least one seed")
    reached = [v for v in values if math.isfinite(v)]
    return SeedStats(
        seeds=len(values), reached=len(reached),
        median_all=censored_median([v if math.isfinite(v) else None for v in values]),
        median=float(np.median(reached)) if reached else None,
        min=min(reached) if reached else None, max=max(reached) if reached else None)


@dataclass(frozen=True)
class ReferenceRun:
    """One reference run against Theorem 1."""

    max_dev: float        # max_k |simulated error - Theorem 1|
    max_dev_at_w: float   # max_k |simulated error - Eq. (7) at the simulated w(k)|: test-sample noise
    measured: float       # measured escape time
    predicted: float      # the same level on the Theorem 1 curve
    error_sd: float       # predicted run-to-run sd of the late error (finite n)

    @property
    def gap(self) -> float:
        return self.measured / self.predicted - 1


def reference_summary(run: ex.Table) -> ReferenceRun:
    return ReferenceRun(
        max_dev=float(np.max(np.abs(run["error"] - run["theorem1"]))),
        max_dev_at_w=float(np.max(np.abs(run["error"] - run["at_w_theorem1"]))),
        measured=ex.plateau_from_curve(run["k"], run["error"]),
        predicted=ex.plateau_from_curve(run["k"], run["theorem1"]),
        error_sd=ex.finite_n_error_sd(N_REFERENCE, eps=ex.EPS))


def reference_table(ref: ReferenceRun) -> Table:
    rows = [
        ["max |simulated error − Theorem 1| over the run", f"{ref.max_dev:.4f}"],
        ["max |simulated error − Eq. (7) at the simulated \\(w(k)\\)|", f"{ref.max_dev_at_w:.4f}"],
        ["measured escape time", fmt_epochs(ref.measured)],
        ["escape time of the Theorem 1 curve (same level)", fmt_epochs(ref.predicted)],
        ["relative gap", pct(ref.gap)],
        ["predicted run-to-run sd of the late error", f"{ref.error_sd:.4f}"],
    ]
    return Table(["quantity", "value"], rows, caption=f"One run, seed 0, n = {N_REFERENCE:,}")


@dataclass(frozen=True)
class SeedSpread:
    """The reference setting over many seeds."""

    seeds: int
    within: int               # seeds whose max deviation is <= CURVE_TOLERANCE
    median_dev: float
    max_dev: float
    escape: SeedStats         # measured escape times
    predicted: float          # escape time of the Theorem 1 curve (the same for every seed)
    max_gap: float            # largest |measured / predicted - 1|
    nu_sd: float              # sd over seeds of the slow coordinate of w_ols
    nu_sd_predicted: float
    mean_dev: float           # max_k |mean of the curves - Theorem 1|
    mean_seeds: int


def seed_spread(acc: ex.Table, curves: Sequence[np.ndarray], theory: np.ndarray) -> SeedSpread:
    """Summarise :func:`reference_seeds` and the mean of ``curves`` against the Theorem 1 curve ``theory``."""
    dev = np.asarray(acc["max_dev"], dtype=float)
    measured = np.asarray(acc["measured"], dtype=float)
    predicted = np.asarray(acc["predicted"], dtype=float)
    return SeedSpread(
        seeds=dev.size, within=int(np.sum(dev <= CURVE_TOLERANCE)), median_dev=float(np.median(dev)),
        max_dev=float(dev.max()), escape=seed_stats(measured), predicted=float(predicted[0]),
        max_gap=float(np.max(np.abs(measured / predicted - 1))),
        nu_sd=float(np.std(np.asarray(acc["nu_ols"], dtype=float))),
        nu_sd_predicted=ex.ols_slow_sd(N_REFERENCE, eps=ex.EPS),
        mean_dev=float(np.max(np.abs(np.mean(curves, axis=0) - theory))), mean_seeds=len(curves))


def spread_table(spread: SeedSpread) -> Table:
    rows = [
        ["max deviation from Theorem 1: median, largest", f"{spread.median_dev:.4f}, {spread.max_dev:.4f}"],
        [f"seeds within {CURVE_TOLERANCE:g}", f"{spread.within} of {spread.seeds}"],
        ["measured escape time: " + ", ".join(SEED_HEADER), " · ".join(spread.escape.cells())],
        ["escape time of the Theorem 1 curve", fmt_epochs(spread.predicted)],
        ["largest relative gap of a seed's escape time", pct(spread.max_gap)],
        ["sd over seeds of \\(\\hat w_{\\rm ols}^{(2)}\\): measured, predicted",
         f"{spread.nu_sd:.4f}, {spread.nu_sd_predicted:.4f}"],
        [f"max |mean of {spread.mean_seeds} curves − Theorem 1|", f"{spread.mean_dev:.4f}"],
    ]
    return Table(["quantity", "value"], rows, caption=f"{spread.seeds} seeds, n = {N_REFERENCE:,}")


def figure6_table(runs: dict[tuple[str, float], list[ex.Table]]) -> Table:
    """Measured escape time (every 5th step) per optimiser and zeta, beside Theorem 1's."""
    rows = []
    for (method, zeta), group in runs.items():
        stats = seed_stats([ex.plateau_from_curve(r["k"], r["error"]) for r in group])
        predicted = ex.plateau_from_curve(group[0]["k"], group[0]["theorem1"])
        rows.append([METHOD_NAMES[method], f"{zeta:g}", *stats.cells(), fmt_epochs(predicted)])
    return Table(["optimiser", "\\(\\zeta\\)", *SEED_HEADER, "Theorem 1"], rows,
                 caption="Measured escape time from \\(w(0) = (0, \\zeta)\\), read every 5th step")


def mirror_deviation(run: ex.Table) -> tuple[float, float]:
    """(max |simulation - Eq. (7)|, max |simulation - exact error|) along the theory's iterates."""
    return (float(np.max(np.abs(run["error"] - run["theorem1"]))),
            float(np.max(np.abs(run["error"] - run["geometric"]))))


def mirror_table(deviation: tuple[float, float]) -> Table:
    rows = [["Eq. (7) as stated", f"{deviation[0]:.3f}"], ["exact (sign-aware) error", f"{deviation[1]:.4f}"]]
    return Table(["theory", "max |simulation − theory|"], rows,
                 caption=f"GD from \\(w(0) = (0, -3)\\), n = {N_REFERENCE:,}")


def theta_table(table: ex.Table) -> Table:
    rows = [[f"{th:.4f}", fmt_epochs(m), fmt_epochs(p), f"{tp:,.0f}", f"{td:,.0f}"]
            for th, m, p, tp, td in zip(table["theta"], table["measured"], table["predicted"], table["tau_paper"],
                                        table["tau_derived"])]
    return Table(["\\(\\theta\\)", "measured escape time", "Theorem 1 curve",
                  "Corollary 1 (A), \\(\\tan\\theta\\) (printed)", "Corollary 1 (A), \\(\\cot\\theta\\) (derived)"],
                 rows, caption="Escape time against \\(\\theta\\), \\(\\varepsilon = 0.01\\), seed 0")


def corollary_gaps(table: ex.Table) -> tuple[float, float]:
    """Largest relative gap of Corollary 1 (A) to the measured escape time: (printed tan, derived cot)."""
    measured = np.asarray(table["measured"], dtype=float)
    return (float(np.max(np.abs(measured / table["tau_paper"] - 1))),
            float(np.max(np.abs(measured / table["tau_derived"] - 1))))


#: (method, batch) of the escape-time sweep: every optimiser full-batch, and GD with mini-batches.
VARIANTS = (("gd", "full"), ("gd", str(SGD_BATCH)), ("paper_egd", "full"), ("egd", "full"))


def plateau_rows(sweep: ex.Table) -> list[dict]:
    """One row per (method, batch, eps): :class:`SeedStats` of the measured escape time, the predicted one
    (Theorem 1 curve of the full-batch method) and the relative gap of the censored median to it."""
    rows = []
    eps_values = sorted({float(e) for e in sweep["eps"]}, reverse=True)
    for method, batch in VARIANTS:
        for eps in eps_values:
            sel = (sweep["method"] == method) & (sweep["batch"] == batch) & np.isclose(sweep["eps"], eps)
            if not sel.any():
                continue
            stats = seed_stats(sweep["measured"][sel])
            predicted = float(sweep["predicted"][sel][0])
            gap = math.nan if stats.median_all is None else stats.median_all / predicted - 1
            rows.append(dict(method=method, batch=batch, eps=eps, stats=stats, predicted=predicted, gap=gap))
    return rows


def variant_label(method: str, batch: str, *, plot: bool = False) -> str:
    """``"GD (Eq. 2), SGD B = 64"``; ``plot=True``: the matplotlib label (math as ``$...$``)."""
    return (METHOD_LABELS if plot else METHOD_NAMES)[method] + ("" if batch == "full" else f", SGD B = {batch}")


def escape_points(rows: Sequence[dict], method: str, batch: str) -> dict[str, np.ndarray]:
    """For a plot of one variant: ``eps``, ``median`` (never = inf), ``yerr`` (2, n) down to min and up to
    max (0 where nothing escaped) and ``predicted``."""
    mine = [r for r in rows if (r["method"], r["batch"]) == (method, batch)]
    if not mine:
        raise ValueError(f"no rows for method={method!r}, batch={batch!r}")
    median = np.array([math.inf if r["stats"].median_all is None else r["stats"].median_all for r in mine])
    low = np.array([r["stats"].min if r["stats"].min is not None else m for r, m in zip(mine, median)], dtype=float)
    high = np.array([r["stats"].max if r["stats"].max is not None else m for r, m in zip(mine, median)], dtype=float)
    yerr = np.nan_to_num(np.vstack([median - low, high - median]), nan=0.0, posinf=0.0)
    return dict(eps=np.array([r["eps"] for r in mine]), median=median, yerr=yerr,
                predicted=np.array([r["predicted"] for r in mine]))


def plateau_table(rows: Sequence[dict]) -> Table:
    cells = [[variant_label(r["method"], r["batch"]), f"{r['eps']:g}", *r["stats"].cells(),
              fmt_epochs(r["predicted"]), "–" if math.isnan(r["gap"]) else f"{100 * r['gap']:+.1f}%".replace("-", "−")]
             for r in rows]
    return Table(["optimiser", "\\(\\varepsilon\\)", *SEED_HEADER, "Theorem 1 curve", "gap of the median"], cells,
                 caption="Measured escape time against \\(\\varepsilon\\)")


def variant_slopes(rows: Sequence[dict]) -> dict[tuple[str, str], tuple[float, float]]:
    """(measured, theory) log-log slope of escape time against eps per variant; the measured one on the
    median with failures as +inf (eps values whose median is a failure drop out)."""
    out = {}
    for method, batch in VARIANTS:
        mine = [r for r in rows if (r["method"], r["batch"]) == (method, batch)]
        if not mine:
            continue
        eps = [r["eps"] for r in mine]
        median = [math.nan if r["stats"].median_all is None else r["stats"].median_all for r in mine]
        out[method, batch] = (ex.loglog_slope(eps, median), ex.loglog_slope(eps, [r["predicted"] for r in mine]))
    return out


def slopes_table(slopes: dict[tuple[str, str], tuple[float, float]]) -> Table:
    rows = [[variant_label(m, b), slope(meas), slope(theory)] for (m, b), (meas, theory) in slopes.items()]
    return Table(["optimiser", "measured (median over seeds)", "Theorem 1 curve"], rows,
                 caption="Log-log slope of the escape time against \\(\\varepsilon\\)")


def egd_slow_envelope(k: np.ndarray, *, eps: float = ex.EPS, s: float = ex.S, start: float = ex.U[1]) -> np.ndarray:
    """``start (1 - 2 eps/m2)^k``: EGD proper's slow coordinate on the symmetric 2-cycle."""
    m2 = float(toymodel.truncated_moments(s)[1])
    return start * (1 - 2 * eps / m2) ** np.asarray(k, dtype=float)


def fast_optimum(s: float = ex.S) -> float:
    """``m1/m2``: where the fast coordinate of the Section 3 toy settles."""
    m1, m2 = (float(v) for v in toymodel.truncated_moments(s))
    return m1 / m2


def egd_phase_estimate(eps: float, eta: float) -> float:
    """EGD proper's escape-time estimate with its linear phase (``toymodel.plateau_length``, large_init):
    travel of the fast coordinate, nu falling by ~eta per step while eps |nu| > eta m2/2, then the cycle."""
    return float(toymodel.plateau_length(eps, eta=eta, s=ex.S, theta=ex.THETA, u=ex.U, method="egd",
                                         regime="large_init"))


def chatter_table(table: ex.Table) -> Table:
    rows = [[f"{e:g}", f"{h:g}", f"{r:.3g}", f"{q:.3f}", fmt_epochs(m), fmt_epochs(p), f"{c:,.0f}",
             f"{egd_phase_estimate(e, h):,.0f}"]
            for e, h, r, q, m, p, c in zip(table["eps"], table["eta"], table["rate"], table["rate_ratio"],
                                           table["measured"], table["predicted"], table["chatter"])]
    return Table(["\\(\\varepsilon\\)", "\\(\\eta\\)", "decay rate of \\(|w^{(2)}|\\)",
                  "rate \\(/(2\\varepsilon/m_2)\\)", "measured escape time", "theory curve (same level)",
                  "\\(m_2\\log\\tau/(2\\varepsilon)\\)", "phase estimate"], rows,
                 caption="EGD proper (normalised GD), seed 0")


def chatter_rate_range(table: ex.Table, *, settled: tuple[float, float] = CHATTER_SETTLED) -> tuple[float, float]:
    """Range of rate / (2 eps/m2) over the rows with eps <= settled[0] and eta <= settled[1]."""
    sel = (np.asarray(table["eps"]) <= settled[0]) & (np.asarray(table["eta"]) <= settled[1])
    if not sel.any():
        raise ValueError(f"no row with eps <= {settled[0]} and eta <= {settled[1]}")
    ratio = np.asarray(table["rate_ratio"], dtype=float)[sel]
    return float(ratio.min()), float(ratio.max())


@dataclass(frozen=True)
class EquiCrossing:
    """One A.3 run: where w(k) crosses w2 = 0, and the deviations before and after."""

    w_star: tuple[float, float]
    cross_population: int
    cross_simulation: int
    dev_before: float        # max |simulation - Eq. (19)| while the population nu_k > 0
    dev_eq19: float          # over the whole run
    dev_exact: float         # max |simulation - exact error| over the whole run
    final: tuple[float, float, float]  # last error: simulation, Eq. (19), exact


def equi_crossing(run: ex.Table, *, eps: float = 0.01) -> EquiCrossing:
    mom = toymodel.moments(eps, ex.EQUI_THETA)
    _, nu = toymodel.equi_trajectory(run["k"], eps=eps, eta=ex.ETA, theta=ex.EQUI_THETA, u=ex.EQUI_U)
    early = np.asarray(nu) > 0
    return EquiCrossing(
        w_star=(float(mom.w_star[0]), float(mom.w_star[1])),
        cross_population=int(run["k"][np.argmax(~early)]),
        cross_simulation=int(run["k"][np.argmax(np.asarray(run["w2"]) < 0)]),
        dev_before=float(np.abs(run["error"] - run["theorem1"])[early].max()),
        dev_eq19=float(np.abs(run["error"] - run["theorem1"]).max()),
        dev_exact=float(np.abs(run["error"] - run["geometric"]).max()),
        final=(float(run["error"][-1]), float(run["theorem1"][-1]), float(run["geometric"][-1])))


def crossing_table(c: EquiCrossing) -> Table:
    rows = [
        ["population \\(w^* = (\\mu^*, \\nu^*)\\)", f"({c.w_star[0]:.4f}, {c.w_star[1]:.3f})"],
        ["step where \\(w^{(2)}\\) turns negative: population, simulation",
         f"{c.cross_population}, {c.cross_simulation}"],
        ["max |simulation − Eq. (19)| while \\(\\nu_k > 0\\)", f"{c.dev_before:.4f}"],
        ["max |simulation − Eq. (19)| over the run", f"{c.dev_eq19:.3f}"],
        ["max |simulation − exact error| over the run", f"{c.dev_exact:.4f}"],
        ["final error: simulation, Eq. (19), exact", ", ".join(f"{v:.4f}" for v in c.final)],
    ]
    return Table(["quantity", "value"], rows, caption="A.3 run, seed 0, \\(\\varepsilon = 0.01\\)")


def equi_rows(sweep: ex.Table) -> list[dict]:
    """One row per eps of the A.3 sweep: :class:`SeedStats`, the Eq. (19) curve's escape time, the
    paper's leading-order formula."""
    rows = []
    for eps in sorted({float(e) for e in sweep["eps"]}, reverse=True):
        sel = np.isclose(sweep["eps"], eps)
        rows.append(dict(eps=eps, stats=seed_stats(sweep["measured"][sel]), predicted=float(sweep["predicted"][sel][0]),
                         leading=float(sweep["leading"][sel][0])))
    return rows


def equi_table(rows: Sequence[dict]) -> Table:
    cells = [[f"{r['eps']:g}", *r["stats"].cells(), fmt_epochs(r["predicted"]), f"{r['leading']:,.0f}"]
             for r in rows]
    return Table(["\\(\\varepsilon\\)", *SEED_HEADER, "Eq. (19) curve",
                  "\\(\\log(|u_2-\\nu^*|/T)/(2\\eta\\lambda_-)\\)"], cells,
                 caption="A.3 measured escape time, \\(\\theta = \\pi/4\\), \\(w(0) = (0, 3)\\)")


def equi_slopes(rows: Sequence[dict]) -> tuple[float, float, float]:
    """Log-log slopes in eps: measured (censored median), Eq. (19) curve, the paper's leading order."""
    eps = [r["eps"] for r in rows]
    median = [math.nan if r["stats"].median_all is None else r["stats"].median_all for r in rows]
    return (ex.loglog_slope(eps, median), ex.loglog_slope(eps, [r["predicted"] for r in rows]),
            ex.loglog_slope(eps, [r["leading"] for r in rows]))


def equi_theory_small_eps(eps: Sequence[float] = (1e-3, 1e-4, 1e-5, 1e-6)) -> tuple[np.ndarray, np.ndarray, float]:
    """The A.3 escape time (first E(k) < 1 on the population curve) for small eps, and its slope."""
    eps = np.asarray(eps, dtype=float)
    k = np.asarray(toymodel.equi_plateau_length(eps, eta=ex.ETA, theta=ex.EQUI_THETA, u=ex.EQUI_U), dtype=float)
    return eps, k, ex.loglog_slope(eps, k)


def equi_slopes_table(slopes: tuple[float, float, float], small: tuple[np.ndarray, np.ndarray, float]) -> Table:
    """:func:`equi_slopes` and the theory's slope at small eps (:func:`equi_theory_small_eps`)."""
    eps = small[0]
    rows = [["measured escape time (median over seeds)", slope(slopes[0])],
            ["Eq. (19) curve, same level", slope(slopes[1])],
            ["the paper's rate \\(\\log(|u_2-\\nu^*|/T)/(2\\eta\\lambda_-)\\)", slope(slopes[2])],
            [f"escape time of the population curve (first \\(E(k) < 1\\)), \\(\\varepsilon\\) from "
             f"{eps.max():g} to {eps.min():g}", slope(small[2])]]
    return Table(["A.3 escape time", "log-log slope in \\(\\varepsilon\\)"], rows,
                 caption="A.3 escape time against \\(\\varepsilon\\)")


def eigen_table(table: ex.Table) -> Table:
    rows = [[f"{e:g}", f"{lm:.4g}", f"{tm:.4g}", f"{lp:.4g}", f"{tp:.4g}"]
            for e, lm, tm, lp, tp in zip(table["eps"], table["lambda_minus"], table["theory_minus"],
                                         table["lambda_plus"], table["theory_plus"])]
    theta = float(table["theta"][0])
    return Table(["\\(\\varepsilon\\)", "\\(\\lambda_-\\) (sample)", "\\(\\lambda_-\\) (population)",
                  "\\(\\lambda_+\\) (sample)", "\\(\\lambda_+\\) (population)"], rows,
                 caption=f"Eigenvalues of \\(\\Sigma\\), A.3, \\(\\theta = {theta / math.pi:.2g}\\pi\\)")


def eigen_slopes(table: ex.Table) -> tuple[float, float]:
    """Log-log slopes of the sample eigenvalues (lambda_-, lambda_+) against eps."""
    return (ex.loglog_slope(table["eps"], table["lambda_minus"]), ex.loglog_slope(table["eps"], table["lambda_plus"]))


def _eps_range(rows: Sequence[dict]) -> str:
    eps = [r["eps"] for r in rows]
    return f"\\(\\varepsilon\\) from {max(eps):g} to {min(eps):g}"


def simulation_checks(*, ref: ReferenceRun, spread: SeedSpread, mirror: tuple[float, float],
                      corollary: tuple[float, float], rows: Sequence[dict],
                      slopes: dict[tuple[str, str], tuple[float, float]], chatter: tuple[float, float],
                      equi: EquiCrossing, equi_slope: tuple[float, float, float], equi_rows_: Sequence[dict],
                      eigen: dict[float, tuple[float, float]]) -> list[Check]:
    """The chapter's verdicts: each claim, the paper's statement, our measurement, ✓ or ✗."""
    gd_meas, gd_theory = slopes["gd", "full"]
    full = {r["eps"]: r["stats"].median_all for r in rows if (r["method"], r["batch"]) == ("gd", "full")}
    sgd = {r["eps"]: r["stats"].median_all for r in rows if (r["method"], r["batch"]) == ("gd", str(SGD_BATCH))}
    sgd_gap = max((abs(sgd[e] / full[e] - 1) if sgd[e] and full[e] else math.inf) for e in sgd)
    printed, derived = corollary
    leading_ratio = min(r["leading"] / r["stats"].median_all for r in equi_rows_ if r["stats"].median_all)
    pi4, pi34 = EIGEN_THETAS
    return [
        Check("Theorem 1 describes a finite-sample GD run", ref.max_dev <= CURVE_TOLERANCE,
              "Figure 6: theory and experiment overlap",
              f"seed 0, n = {N_REFERENCE:,}: max deviation {ref.max_dev:.4f} (tolerance {CURVE_TOLERANCE:g})"),
        Check(f"… within {CURVE_TOLERANCE:g} for each of {spread.seeds} seeds", spread.within == spread.seeds,
              "not in the paper",
              f"{spread.within} of {spread.seeds} seeds; largest {spread.max_dev:.4f}; predicted finite-\\(n\\) "
              f"scatter of the late error sd {ref.error_sd:.4f}"),
        Check(f"… for the mean curve of {spread.mean_seeds} seeds", spread.mean_dev <= CURVE_TOLERANCE,
              "not in the paper", f"max deviation {spread.mean_dev:.4f}"),
        Check(f"Measured escape time within {pct(PLATEAU_TOLERANCE, 0)} of Theorem 1's",
              spread.max_gap <= PLATEAU_TOLERANCE, "not in the paper",
              f"{spread.seeds} seeds: median {fmt_number(spread.escape.median_all)} vs "
              f"{fmt_number(spread.predicted)}; largest gap {pct(spread.max_gap)}"),
        Check("Corollary 1 (A): GD escape time \\(\\propto 1/\\varepsilon\\)",
              abs(gd_meas - gd_theory) <= SLOPE_TOLERANCE and abs(gd_meas + 1) <= SLOPE_TOLERANCE, "slope −1",
              f"slope {slope(gd_meas)} (Theorem 1 curve {slope(gd_theory)}), {_eps_range(rows)}"),
        Check("Theorem 1, Eq. (7), from \\(w(0) = (0, -3)\\)", mirror[0] <= CURVE_TOLERANCE,
              "\\(E\\) depends on \\(w^{(2)}\\) only through \\(\\varepsilon\\nu^2\\)",
              f"max deviation {mirror[0]:.3f}; the exact (sign-aware) error {mirror[1]:.4f}"),
        Check("Corollary 1 as printed: \\(\\tau = |u_2|\\tan\\theta\\, m_2/m_1\\)", printed <= COROLLARY_TOLERANCE,
              "\\(\\tan\\theta\\)", f"off by up to {pct(printed, 0)} at \\(\\theta \\ne \\pi/4\\)"),
        Check("Corollary 1 with \\(\\cot\\theta\\) (derived from Eq. 7)", derived <= COROLLARY_TOLERANCE,
              "not in the paper", f"within {pct(derived, 1)} of the measured escape time"),
        Check("Scheme (9): escape time independent of \\(\\varepsilon\\)",
              abs(slopes["paper_egd", "full"][0]) <= SLOPE_TOLERANCE, "slope 0",
              f"slope {slope(slopes['paper_egd', 'full'][0])}"),
        Check("EGD (Eq. 11) removes the \\(\\varepsilon\\)-dependence",
              abs(slopes["egd", "full"][0]) <= SLOPE_TOLERANCE,
              "shown for scheme (9), a Newton step",
              f"EGD proper is normalised GD: slope {slope(slopes['egd', 'full'][0])}"),
        Check("EGD proper's slow rate \\(2\\varepsilon/m_2\\) once the 2-cycle settles",
              max(abs(chatter[0] - 1), abs(chatter[1] - 1)) <= CHATTER_TOLERANCE, "not in the paper",
              f"rate / \\((2\\varepsilon/m_2)\\) in [{chatter[0]:.3f}, {chatter[1]:.3f}] "
              f"(\\(\\varepsilon \\le {CHATTER_SETTLED[0]:g}\\), \\(\\eta \\le {CHATTER_SETTLED[1]:g}\\))"),
        Check(f"Mini-batch SGD (B = {SGD_BATCH}) escapes like full-batch GD", sgd_gap <= SGD_TOLERANCE,
              "not in the paper", f"largest gap of the medians {pct(sgd_gap, 1)}"),
        Check("A.3: Eq. (19) describes the run", equi.dev_eq19 <= CURVE_TOLERANCE, "Figure 8: theory and experiment",
              f"max deviation {equi.dev_before:.4f} while \\(\\nu_k > 0\\), {equi.dev_eq19:.3f} over the run; "
              f"the exact error {equi.dev_exact:.4f}"),
        Check("A.3 (Theorem 2): escape time \\(\\Theta(1/(\\eta\\varepsilon))\\)",
              abs(equi_slope[0] + 1) <= SLOPE_TOLERANCE,
              "slope −1; \\(k^* \\approx \\log(|u_2-\\nu^*|/T)/(2\\eta\\lambda_-)\\)",
              f"slope {slope(equi_slope[0])}; the formula is at least {leading_ratio:,.0f}× the measured escape time"),
        Check("A.3: both eigenvalues \\(\\Theta(\\varepsilon)\\), \\(\\theta = \\pi/4\\)",
              max(abs(s - 1) for s in eigen[pi4]) <= SLOPE_TOLERANCE, "slopes 1, 1",
              f"slopes {slope(eigen[pi4][0])}, {slope(eigen[pi4][1])}"),
        Check("A.3: both eigenvalues \\(\\Theta(\\varepsilon)\\), \\(\\theta = 3\\pi/4\\)",
              max(abs(s - 1) for s in eigen[pi34]) <= SLOPE_TOLERANCE, "slopes 1, 1",
              f"slopes {slope(eigen[pi34][0])}, {slope(eigen[pi34][1])}"),
    ]
