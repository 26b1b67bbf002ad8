r"""The validation chapter: the toy model's predictions against the torch code, three levels.

* **Level 1** (:func:`level1`): the toy's linear model trained by the torch stack against the
  numpy iteration of :mod:`toymodel`, for the three update rules.
* **Level 2** (:func:`level2`): a 2-layer ReLU network on the toy distribution
  (:mod:`egd.validation.toy_mlp`), ``eps`` swept. Its plateau measure is the toy chapters'
  *measured escape time* (:data:`egd.book.definitions.ESCAPE_LEVEL_MEASURED`), compared with the
  toy's *escape time* over the same grid; the *half-error time* (shifted test error below
  :data:`HALF_ERROR_LEVEL`) measures the wait after the escape, which the linear toy does not have.
* **Level 3** (:func:`level3`): modular addition with the second operand scaled by
  ``sqrt(eps)`` (:mod:`egd.validation.anisotropy`); *time to grok* ``T95`` and *memorisation
  time* ``T_mem`` (:mod:`egd.book.definitions`), loaded from the committed runs.

:func:`summary_checks` turns the three levels into the chapter's ✓ / ✗ rows (prediction,
measurement with its 95% interval, verdict); :func:`level2_checks` and :func:`level3_checks`
check the sentences the chapter writes about the runs. Medians over seeds count a run that
never reached the level as ``+inf`` (:func:`egd.grokking.tables.censored_median`).

Colours: harness methods use :func:`egd.book.style.method_style`; the network of level 2 uses
the colour of the harness method it runs (GD as vanilla, ``egd-svd``, rank-1 RSVD as
``egd-rsvd1``); the toy's three update rules keep the toy chapters' colours (:func:`egd.book.toy.method_style`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egd.book import definitions
from egd.book import toy as toy_chapter
from egd.book.display import Check, Table, checks_table, fmt_epochs, fmt_number, mark
from egd.book.style import MethodStyle, method_style
from egd.grokking import labels, runsets
from egd.grokking.paper_numbers import paper_epochs
from egd.grokking.store import RunResult
from egd.grokking.tables import censored_median, summarize_seeds
from egd.validation import anisotropy, toy_mlp

__all__ = [
    "SLOPE_TOLERANCE", "LEVEL1_TOLERANCE", "LEVEL1_SETTING", "HALF_ERROR_LEVEL",
    "LEVEL2_KEYS", "LEVEL2_LABELS", "toy_method_style", "level2_style", "fmt_slope", "fmt_fit",
    "verdict", "relative_deviation", "Level1", "level1", "plateau_table", "median_by_eps", "Level2", "level2",
    "level2_runs",
    "memorisation_time", "Level3", "level3", "level3_committed", "setting_label", "LEVEL3_PREDICTIONS",
    "level3_slope_table", "local_slopes", "local_slopes_table", "scale_checks",
    "plot_grok_times", "speedup", "summary_checks", "summary_table", "level2_checks",
    "level3_checks", "prose_table", "measures_table", "settings_table", "level2_table", "half_error_table",
    "level3_table", "anisotropy_table",
]

#: A measured log-log slope agrees with a prediction when the prediction lies in its 95%
#: interval or within this distance of the slope.
SLOPE_TOLERANCE = 0.1
#: How far a measured slope may be from the rounded value the prose gives ("about -1.3").
ABOUT = 0.05
#: Level 1: largest relative deviation of the torch trajectory from the numpy one (float64).
LEVEL1_TOLERANCE = 1e-6
#: Level 1's setting: the toy's Section 3 (Figure 6) with w(0) = (0, 3), the half convention.
LEVEL1_SETTING = dict(n=20_000, eps=0.01, s=1.0, u=(0.0, 3.0), eta=0.1, steps=2000, seed=0, convention="half")
HALF_ERROR_LEVEL = toy_mlp.HALF_ERROR_LEVEL
#: The paper's modulus whose Table 2 speed-up (vanilla / EGD epochs to 95%) the level-3 row quotes.
PAPER_SPEEDUP_P = 97
#: Level 2, what the prose claims: the network escapes at least this many times sooner than the toy ...
EARLY_ESCAPE_FACTOR = 10.0
#: ... EGD's escape is within this factor of GD's ...
ESCAPE_GAIN_FACTOR = 3.0
#: ... and GD's half-error time is more than this many times EGD's.
HALF_ERROR_GAIN_FACTOR = 5.0
#: ... GD's escape-time slope is this close to the toy's GD slope (without its interval holding it).
GD_SLOPE_NEAR = 0.2

#: Level 2's methods as harness method keys (for their colour): GD is vanilla, rank-1 RSVD is egd-rsvd1.
LEVEL2_KEYS: dict[str, str] = {"gd": "vanilla", "egd-svd": "egd-svd", "egd-rsvd": "egd-rsvd1"}
LEVEL2_LABELS: dict[str, str] = {"gd": "GD", "egd-svd": "EGD (exact)", "egd-rsvd": "EGD-RSVD r=1"}


def toy_method_style(method: str, *, linestyle: str = "-") -> MethodStyle:
    """Colour and label of a toy update rule (``"gd"``, ``"paper_egd"``, ``"egd"``): the toy
    chapters' style (:func:`egd.book.toy.method_style`), so a rule looks the same everywhere."""
    return toy_chapter.method_style(method, linestyle=linestyle)


def level2_style(method: str) -> MethodStyle:
    """Colour (that of the harness method it runs) and label of a level-2 method."""
    if method not in LEVEL2_KEYS:
        raise ValueError(f"method must be one of {tuple(LEVEL2_KEYS)}, got {method!r}")
    return MethodStyle(method_style(LEVEL2_KEYS[method]).color, "-", LEVEL2_LABELS[method])


# --- formatting and verdicts ------------------------------------------------------------------


def _signed(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:+.2f}".replace("-", "−")


def fmt_slope(fit: Sequence[float]) -> str:
    """``(slope, low, high)`` as ``−0.95 [−1.05, −0.84]`` (the interval left out where it is NaN)."""
    slope, low, high = fit
    if math.isfinite(low) and math.isfinite(high):
        return f"{_signed(slope)} [{_signed(low)}, {_signed(high)}]"
    return _signed(slope)


def fmt_fit(fit: dict, *, never: str = "never reached the level") -> str:
    """One entry of :func:`egd.validation.anisotropy.fit_grok_slopes` for a table cell: the fit on the
    runs that reached the level and, with censored runs, the fit with those entered at their cap
    (a lower bound on their time, so that slope is an upper bound on the true one)."""
    text = fmt_slope(fit["reached"])
    if fit["n_censored"]:
        text += (f"; {fit['n_censored']}/{fit['n_runs']} {never}, with those at the cap "
                 f"{fmt_slope(fit['at_cap'])} (an upper bound)")
    return text


def verdict(fit: dict, predicted: float) -> bool | None:
    """True / False / None (undecided) from :func:`egd.validation.anisotropy.slope_verdict`."""
    return {"holds": True, "fails": False, "undetermined": None}[
        anisotropy.slope_verdict(fit, predicted, tolerance=SLOPE_TOLERANCE)]


def _loglog_fit(x, y) -> tuple[float, float, float]:
    from toymodel.experiments import loglog_fit

    try:
        return loglog_fit(x, y)
    except ValueError:  # fewer than two usable points
        return math.nan, math.nan, math.nan


# --- level 1 -----------------------------------------------------------------------------------


def relative_deviation(reference: np.ndarray, path: np.ndarray) -> np.ndarray:
    """``|path(k) - reference(k)| / |reference(k)|`` per step ``k`` (rows of ``(K, 2)`` arrays)."""
    reference, path = np.asarray(reference, dtype=float), np.asarray(path, dtype=float)
    if reference.shape != path.shape:
        raise ValueError(f"reference and path must have the same shape, got {reference.shape} and {path.shape}")
    return np.linalg.norm(path - reference, axis=-1) / np.linalg.norm(reference, axis=-1)


@dataclass(frozen=True)
class Level1:
    """Trajectories ``w(k)`` of the toy's linear model per update rule: numpy (``reference``) and torch."""

    setting: dict
    reference: dict[str, np.ndarray]
    torch: dict[str, np.ndarray]

    def deviation(self, method: str) -> np.ndarray:
        return relative_deviation(self.reference[method], self.torch[method])

    def max_deviation(self, method: str) -> float:
        return float(self.deviation(method).max())


def level1(**setting) -> Level1:
    """Train the toy's linear model with ``toymodel.train_trajectory`` and with
    :func:`egd.validation.toy_torch.train_linear_toy`, every update rule; :data:`LEVEL1_SETTING`
    updated by ``setting``."""
    import toymodel
    from egd.validation.toy_torch import TOY_METHODS, train_linear_toy

    unknown = set(setting) - set(LEVEL1_SETTING)
    if unknown:
        raise ValueError(f"unknown level-1 settings {sorted(unknown)}; known: {sorted(LEVEL1_SETTING)}")
    s = {**LEVEL1_SETTING, **setting}
    X, y = toymodel.sample_train(s["n"], eps=s["eps"], s=s["s"], seed=s["seed"])
    reference, torch_paths = {}, {}
    for method in TOY_METHODS:
        kwargs = dict(u=s["u"], eta=s["eta"], steps=s["steps"], method=method, convention=s["convention"])
        reference[method] = toymodel.train_trajectory(X, y, **kwargs)
        torch_paths[method] = train_linear_toy(X, y, **kwargs)
    return Level1(s, reference, torch_paths)


# --- level 2 -----------------------------------------------------------------------------------


def plateau_table(runs: dict[str, dict]) -> dict[str, np.ndarray]:
    """Level-2 runs (``{method: train_toy_mlp(...)}``) as one table in the format of
    :func:`egd.validation.anisotropy.grok_table`: ``method``, ``eps``, ``seed``, ``epochs`` (the
    run's ``plateau`` step, NaN if it never got there), ``censored``, ``cap`` (the step, or
    ``max_steps`` when censored)."""
    parts = []
    for method, run in runs.items():
        plateau = np.asarray(run["plateau"], dtype=float)
        censored = ~np.isfinite(plateau)
        parts.append({"method": np.full(plateau.shape, method, dtype=object), "eps": np.asarray(run["eps"], float),
                      "seed": np.asarray(run["seed"], int), "epochs": plateau, "censored": censored,
                      "cap": np.where(censored, float(run["max_steps"]), plateau)})
    if not parts:
        raise ValueError("runs must hold at least one method")
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def median_by_eps(table: dict[str, np.ndarray], method: str) -> tuple[np.ndarray, np.ndarray]:
    """``(eps, median)`` per distinct ``eps`` (ascending) of ``method``'s rows: the median over
    seeds with censored runs counted as ``+inf`` (inf where more than half never got there)."""
    rows = table["method"] == method
    if not rows.any():
        raise ValueError(f"no rows for method {method!r}")
    eps = np.unique(table["eps"][rows])
    times = np.where(table["censored"], np.inf, table["epochs"])
    medians = [statistics.median(times[rows & np.isclose(table["eps"], e)].tolist()) for e in eps]
    return eps, np.asarray(medians, dtype=float)


@dataclass(frozen=True)
class Level2:
    """The level-2 sweeps of one profile and the toy's predictions over the same grid.

    ``escape``: ``{method: run}`` of the escape sweep (``plateau`` = measured escape time);
    ``curves``: of the curves sweep (``plateau`` = half-error time). ``toy_escape``: the toy's
    escape time ``k*`` on ``eps`` per toy update rule (``"gd"``, ``"paper_egd"``, ``"egd"``).
    """

    profile: str
    sweeps: dict[str, toy_mlp.ToyMLPSweep]
    escape: dict[str, dict]
    curves: dict[str, dict]
    toy_escape: dict[str, np.ndarray]
    #: The sweep kinds (``"escape"``, ``"curves"``) loaded from saved runs rather than computed here.
    loaded: tuple[str, ...] = ()

    @property
    def eps(self) -> np.ndarray:
        return np.asarray(self.sweeps["escape"].eps, dtype=float)

    @property
    def table(self) -> dict[str, np.ndarray]:
        """The measured escape times (:func:`plateau_table`)."""
        return plateau_table(self.escape)

    @property
    def slopes(self) -> dict[str, dict]:
        """Log-log slope of the measured escape time against eps, per method (censored runs explicit)."""
        return anisotropy.fit_grok_slopes(self.table)

    @property
    def toy_slopes(self) -> dict[str, tuple[float, float, float]]:
        """Log-log slope of the toy's escape time over the same eps grid, per toy update rule."""
        return {m: _loglog_fit(self.eps, k) for m, k in self.toy_escape.items()}

    @property
    def half_error(self) -> dict[str, np.ndarray]:
        """The curves sweep's half-error time per run (NaN: not reached by the cap), per method."""
        return {m: np.asarray(run["plateau"], dtype=float) for m, run in self.curves.items()}


def level2_runs(profile: str, results_dir: str | Path | None = None
                ) -> tuple[dict[str, toy_mlp.ToyMLPSweep], dict[str, dict | None]]:
    """Per sweep kind, the sweep the chapter shows and its saved runs (None: to compute).

    The full profile's sweep is used in *both* profiles when its runs are saved under
    ``results_dir/`` :data:`egd.validation.toy_mlp.TOY_MLP_SUBDIR` (the committed ones); else the
    profile's own sweep, loaded when saved there, or None to be computed."""
    if profile not in toy_mlp.PROFILES:
        raise ValueError(f"profile must be one of {tuple(toy_mlp.PROFILES)}, got {profile!r}")
    sweeps, runs = {}, {}
    for kind in ("escape", "curves"):
        candidates = [toy_mlp.PROFILES["full"][kind], toy_mlp.PROFILES[profile][kind]]
        found = None
        if results_dir is not None:
            folder = Path(results_dir) / toy_mlp.TOY_MLP_SUBDIR
            found = next(((c, r) for c in candidates if (r := toy_mlp.find_sweep(c, folder, kind=kind))), None)
        sweeps[kind], runs[kind] = found if found is not None else (candidates[-1], None)
    return sweeps, runs


def level2(profile: str, sweeps: dict[str, toy_mlp.ToyMLPSweep] | None = None,
           results_dir: str | Path | None = None) -> Level2:
    """The level-2 sweeps and the toy's escape time ``toymodel.plateau_length`` for the same setting.

    ``sweeps`` given: run them. Else :func:`level2_runs`: the saved runs in ``results_dir`` (the full
    profile's sweep first, in either profile); a sweep without saved runs is computed, and in the full
    profile saved there for the next build."""
    import toymodel

    saved: dict[str, dict | None] = {"escape": None, "curves": None}
    if sweeps is None:
        sweeps, saved = level2_runs(profile, results_dir)
    if set(sweeps) != {"escape", "curves"}:
        raise ValueError(f"sweeps must hold 'escape' and 'curves', got {sorted(sweeps)}")
    runs = {}
    for kind, sweep in sweeps.items():
        if saved.get(kind) is not None:
            runs[kind] = saved[kind]
        elif profile == "full" and results_dir is not None:
            runs[kind] = toy_mlp.run_or_load(sweep, Path(results_dir) / toy_mlp.TOY_MLP_SUBDIR, kind=kind)
        else:
            runs[kind] = sweep.run()
    config = sweeps["escape"].config
    eps = np.asarray(sweeps["escape"].eps, dtype=float)
    toy = {m: toymodel.plateau_length(eps, eta=config.eta, s=config.s, theta=config.theta, u=[0.0, config.zeta],
                                      method=m)
           for m in ("gd", "paper_egd", "egd")}
    loaded = tuple(kind for kind in ("escape", "curves") if saved.get(kind) is not None)
    return Level2(profile, dict(sweeps), runs["escape"], runs["curves"], toy, loaded)


# --- level 3 -----------------------------------------------------------------------------------


def _first_epoch_at(values: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(np.asarray(values) >= level)
    return int(hit[0]) + 1 if hit.size else None


def memorisation_time(run: RunResult) -> int | None:
    """``T_mem``: the first epoch (1-based) with train accuracy at or above
    :data:`egd.book.definitions.MEMORISED_ACCURACY`; None if never."""
    return _first_epoch_at(run.train_acc, definitions.MEMORISED_ACCURACY)


@dataclass(frozen=True)
class Level3:
    """The level-3 runs of one profile and what the chapter reads off them.

    ``grok``: :func:`egd.validation.anisotropy.grok_table`; ``slopes``: its
    :func:`~egd.validation.anisotropy.fit_grok_slopes`; ``conditions``:
    :func:`~egd.validation.anisotropy.condition_table`; ``block``: ``eps -> [(|G_b|/|G_a|)^-2]``
    of the full-batch gradient at initialisation, one per seed (vanilla's initialisation), or
    None when not computed (:func:`level3_committed`, whose page shows times only).
    """

    profile: anisotropy.AnisotropyProfile
    runs: list[RunResult]
    block: dict[float, list[float]] | None = None

    @property
    def grok(self) -> dict[str, np.ndarray]:
        return anisotropy.grok_table(self.runs)

    @property
    def slopes(self) -> dict[str, dict]:
        return anisotropy.fit_grok_slopes(self.grok)

    @property
    def conditions(self) -> dict[str, np.ndarray]:
        return anisotropy.condition_table(self.runs)

    @property
    def eps(self) -> np.ndarray:
        return np.asarray(sorted(self.profile.eps), dtype=float)

    def anisotropy_points(self, *, relative: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"block": (eps, values), "split": (eps, values)}``: the full-batch block ratio
        ``(|G_b|/|G_a|)^-2`` and the mini-batch spectrum split ratio of vanilla's runs, at
        initialisation, one point per seed. ``relative``: divided by their median at eps = 1
        (the toy's ``1/eps`` is 1 there)."""
        if self.block is None:
            raise ValueError("this Level3 holds no full-batch gradients (block=None): build it with level3()")
        block_eps = np.array([e for e, values in self.block.items() for _ in values], dtype=float)
        block = np.array([v for values in self.block.values() for v in values], dtype=float)
        cond = self.conditions
        vanilla = cond["method"] == "vanilla"
        points = {"block": (block_eps, block),
                  "split": (cond["eps"][vanilla].astype(float), cond["split_init"][vanilla].astype(float))}
        if relative:
            for name, (x, y) in points.items():
                at_one = np.isclose(x, 1.0)
                if not at_one.any():
                    raise ValueError("relative=True needs eps = 1 among the profile's eps")
                points[name] = (x, y / np.median(y[at_one]))
        return points

    @property
    def condition_fits(self) -> dict[str, tuple[float, float, float]]:
        """Log-log slope of each anisotropy measure against eps (the toy: -1)."""
        return {name: _loglog_fit(x, y) for name, (x, y) in self.anisotropy_points().items()}

    def eps_of(self, method: str) -> set[float]:
        """The eps values ``method`` has runs at."""
        return {anisotropy.run_eps(r.config) for r in self.runs if labels.method_key(r.config) == method}

    def runs_of(self, method: str, eps: float) -> list[RunResult]:
        return [r for r in self.runs
                if labels.method_key(r.config) == method and math.isclose(anisotropy.run_eps(r.config), eps)]


def _block_ratios(prof: anisotropy.AnisotropyProfile) -> dict[float, list[float]]:
    return {float(e): [1.0 / anisotropy.full_batch_gradient(
        anisotropy.anisotropy_config(e, "vanilla", None, s, p=prof.p, **prof.overrides))["block_ratio"]
        for s in prof.seeds] for e in prof.eps}


def level3(profile: str | anisotropy.AnisotropyProfile, results_dir: str | Path, *,
           progress: bool = False) -> Level3:
    """Load (or, where missing, train) the level-3 runs of ``profile`` from
    ``results_dir/08_anisotropy``, and the full-batch gradient at initialisation per eps and seed."""
    prof = profile if isinstance(profile, anisotropy.AnisotropyProfile) else anisotropy.PROFILES[profile]
    runs = anisotropy.run_or_load_sweep(prof, Path(results_dir) / anisotropy.ANISOTROPY_SUBDIR, progress=progress)
    return Level3(prof, runs, _block_ratios(prof))


def level3_committed(profile: str | anisotropy.AnisotropyProfile, results_dir: str | Path) -> tuple[Level3, int]:
    """The *finished* level-3 runs of ``profile`` in ``results_dir/08_anisotropy`` (nothing is
    trained: how the quick book shows the full profile's runs) and how many runs the profile has.
    No gradient is computed (``block`` is None): the times are what the page shows of them."""
    prof = profile if isinstance(profile, anisotropy.AnisotropyProfile) else anisotropy.PROFILES[profile]
    configs = anisotropy.anisotropy_configs(prof)
    runs = runsets.load_finished(configs, Path(results_dir) / anisotropy.ANISOTROPY_SUBDIR)
    return Level3(prof, runs), len(configs)


#: Overrides of a level-3 profile that set how long runs go and what they record, not the task.
_RUN_LENGTH = frozenset({"max_epochs", "patience", "spectrum_every"})


def setting_label(prof: anisotropy.AnisotropyProfile) -> str:
    """A level-3 setting in a few words: modulus, the eps range, seeds (and the quick profile's changes)."""
    eps = sorted(prof.eps)
    changes = [f"{k.replace('_', ' ')} {v:g}" if isinstance(v, (int, float)) else f"{k.replace('_', ' ')} {v}"
               for k, v in sorted(prof.overrides.items()) if k not in _RUN_LENGTH]
    changed = ", ".join(changes) if changes else "the paper's preset"
    return (f"p = {prof.p}, {changed}, \\(\\varepsilon\\) from {eps[-1]:g} to {eps[0]:g}, "
            f"{len(prof.seeds)} seeds")


#: What each level-3 method's slope is compared with: (prediction, where it comes from).
LEVEL3_PREDICTIONS = {"vanilla": (-1.0, "the toy's GD"), "egd-svd": (0.0, "the paper"),
                      "egd-rsvd128": (0.0, "the paper")}


def level3_slope_table(settings: Sequence[tuple[str, Level3, int]]) -> Table:
    """The slope of T95 against eps per method, one column per setting ``(name, level 3, runs
    planned)``: the fit with its 95% interval (and the censored runs' upper bound), its verdict
    against :data:`LEVEL3_PREDICTIONS`, and how many of the setting's runs it rests on."""
    methods = list(dict.fromkeys(m for _, l3, _ in settings for m in l3.slopes))
    methods.sort(key=lambda m: list(LEVEL3_PREDICTIONS).index(m) if m in LEVEL3_PREDICTIONS else len(methods))
    rows = []
    for method in methods:
        predicted, source = LEVEL3_PREDICTIONS.get(method, (math.nan, "–"))
        row = [method_style(method).label, f"{'0' if predicted == 0 else _signed(predicted)} ({source})"]
        for _, l3, _ in settings:
            fit = l3.slopes.get(method)
            row.append(f"{mark(verdict(fit, predicted))} {fmt_fit(fit, never='never reached 95%')}" if fit else "–")
        rows.append(row)
    rows.append(["runs finished", ""] + [f"{len(l3.runs)} / {planned}" for _, l3, planned in settings])
    return Table(["method", "predicted slope"] + [f"{name}: {setting_label(l3.profile)}" for name, l3, _ in settings],
                 rows, caption="Slope of the time to grok T95 against \\(\\varepsilon\\) (log-log, 95% interval), "
                               "per setting", align="ll" + "l" * len(settings))


def local_slopes(l3: Level3, method: str) -> list[tuple[float, float, float]]:
    """``(eps_high, eps_low, slope)`` between each two neighbouring eps of ``method``'s runs: the
    log-log slope of the median T95 (failures as never; NaN where either median is never). A
    straight line has one slope everywhere; a curve that steepens as eps falls does not."""
    eps, median = median_by_eps(l3.grok, method)
    out = []
    for (lo, t_lo), (hi, t_hi) in zip(zip(eps[:-1], median[:-1]), zip(eps[1:], median[1:])):
        finite = math.isfinite(t_lo) and math.isfinite(t_hi)
        out.append((float(hi), float(lo), math.log(t_lo / t_hi) / math.log(lo / hi) if finite else math.nan))
    return sorted(out, reverse=True)


def local_slopes_table(l3: Level3) -> Table:
    """One row per method: its median T95 at each eps and the local slope between neighbours."""
    eps = sorted(l3.profile.eps, reverse=True)
    rows = []
    for method in dict.fromkeys(l3.grok["method"]):
        found, median = median_by_eps(l3.grok, method)
        at = {float(e): m for e, m in zip(found, median)}
        slopes = {(hi, lo): sl for hi, lo, sl in local_slopes(l3, method)}
        cells = []
        for i, e in enumerate(eps):
            cells.append(fmt_epochs(at[e]) if e in at else "–")
            if i + 1 < len(eps):
                cells.append(_signed(slopes.get((e, eps[i + 1]), math.nan)))
        rows.append([method_style(method).label] + cells)
    header = ["method"]
    for i, e in enumerate(eps):
        header.append(f"T95 at {e:g}")
        if i + 1 < len(eps):
            header.append(f"slope {e:g} → {eps[i + 1]:g}")
    return Table(header, rows, caption="Median T95 per \\(\\varepsilon\\) (failures as never) and the log-log slope "
                                       "between neighbouring values")


def plot_grok_times(ax, l3: Level3) -> None:
    """T95 against eps on log-log axes: runs as dots, runs that never reached 95% as crosses at the
    cap, medians over seeds (failures as never) as lines, per method in its colour; and the toy's
    ``1/eps`` through vanilla's median at eps = 1 (dashed)."""
    grok = l3.grok
    for method in dict.fromkeys(grok["method"]):
        run_style = method_style(method)
        rows = grok["method"] == method
        done, never = rows & ~grok["censored"], rows & grok["censored"]
        ax.loglog(grok["eps"][done], grok["epochs"][done], "o", color=run_style.color, alpha=0.5, ms=5)
        ax.loglog(grok["eps"][never], grok["cap"][never], "x", color=run_style.color, ms=9)
        eps, median = median_by_eps(grok, method)
        finite = np.isfinite(median)
        ax.loglog(eps[finite], median[finite], color=run_style.color, label=run_style.label)
    eps, vanilla_median = median_by_eps(grok, "vanilla")
    at_one = np.isclose(eps, 1.0)
    if at_one.any() and np.isfinite(vanilla_median[at_one]).all():
        toy_style = toy_method_style("gd", linestyle="--")
        ax.loglog(eps, vanilla_median[at_one] / eps, "--", color=toy_style.color, lw=1.2,
                  label=r"toy GD: $1/\varepsilon$")
    ax.set_xlabel(r"$\varepsilon$ (second operand scaled by $\sqrt{\varepsilon}$)")
    ax.set_ylabel("time to grok T95 (epochs)")
    ax.set_title(f"modular addition, p = {l3.profile.p}")


def _median_all(runs: Sequence[RunResult]) -> float:
    value = censored_median([r.epochs_to_threshold for r in runs])
    return math.inf if value is None else value


def speedup(l3: Level3, eps: float, *, slow: str = "vanilla", fast: str = "egd-svd") -> float:
    """Median T95 of ``slow`` over median T95 of ``fast`` at ``eps`` (medians count failures as
    +inf): inf when only ``fast`` reached, 0 when only ``slow`` did, NaN when neither did."""
    a, b = _median_all(l3.runs_of(slow, eps)), _median_all(l3.runs_of(fast, eps))
    if math.isinf(a) and math.isinf(b):
        return math.nan
    return 0.0 if math.isinf(b) else a / b


def _speedup_cell(l3: Level3, eps: float) -> str:
    a, b = _median_all(l3.runs_of("vanilla", eps)), _median_all(l3.runs_of("egd-svd", eps))
    ratio = speedup(l3, eps)
    tail = f" = {ratio:.1f}×" if math.isfinite(ratio) and ratio > 0 else ""
    return f"vanilla {fmt_epochs(a)} / EGD {fmt_epochs(b)}{tail}"


# --- the chapter's verdicts -------------------------------------------------------------------


def _eps(e: float) -> str:
    return f"\\(\\varepsilon = {e:g}\\)"


def summary_checks(l1: Level1, l2: Level2, l3: Level3) -> list[Check]:
    """Every prediction of the chapter with its measurement and verdict, level by level."""
    checks = []
    for method in l1.reference:
        dev = l1.max_deviation(method)
        checks.append(Check(f"Level 1, {toy_chapter.METHOD_NAMES[method]}: torch and numpy trajectories agree "
                            "(largest relative deviation)", dev <= LEVEL1_TOLERANCE,
                            f"≤ {LEVEL1_TOLERANCE:.0e}", f"{dev:.1e}"))
    slopes, toy = l2.slopes, l2.toy_slopes
    measure = "slope of the measured escape time against \\(\\varepsilon\\)"
    checks.append(Check(f"Level 2, GD: {measure}", verdict(slopes["gd"], toy["gd"][0]),
                        f"{_signed(toy['gd'][0])} (the toy's GD)", fmt_fit(slopes["gd"])))
    for method in ("egd-svd", "egd-rsvd"):
        if method not in slopes:
            continue
        label = LEVEL2_LABELS[method]
        checks.append(Check(f"Level 2, {label}: {measure}", verdict(slopes[method], 0.0),
                            "0 (the paper: no \\(\\varepsilon\\) anywhere)", fmt_fit(slopes[method])))
        checks.append(Check(f"Level 2, {label}: the same slope against the toy's EGD proper",
                            verdict(slopes[method], toy["egd"][0]),
                            f"{_signed(toy['egd'][0])} (the toy's EGD proper)", fmt_fit(slopes[method])))
    grok = l3.slopes
    t95 = "slope of the time to grok T95 against \\(\\varepsilon\\)"
    checks.append(Check(f"Level 3, vanilla SGD: {t95}", verdict(grok["vanilla"], -1.0), "−1.00 (the toy's GD)",
                        fmt_fit(grok["vanilla"], never="never reached 95%")))
    for method in ("egd-svd", "egd-rsvd128"):
        if method in grok:
            checks.append(Check(f"Level 3, {method_style(method).label}: {t95}", verdict(grok[method], 0.0),
                                "0 (the paper: no \\(\\varepsilon\\) anywhere)",
                                fmt_fit(grok[method], never="never reached 95%")))
    smallest = float(min(l3.profile.eps))
    at_one, at_small = speedup(l3, 1.0), speedup(l3, smallest)
    paper_p = PAPER_SPEEDUP_P
    paper_vanilla, paper_egd = (paper_epochs("mod-add", m, p=paper_p) for m in ("vanilla", "egd-svd"))
    checks.append(Check(f"Level 3: EGD groks sooner than vanilla SGD at {_eps(1.0)} (median T95, failures "
                        "counted as never)", at_one > 1 if math.isfinite(at_one) else None,
                        f"sooner (Table 2, p = {paper_p}: {paper_vanilla:,} / {paper_egd:,} = "
                        f"{paper_vanilla / paper_egd:.0f}×)", _speedup_cell(l3, 1.0)))
    checks.append(Check(f"Level 3: EGD's advantage grows as \\(\\varepsilon\\) falls (at {_eps(smallest)} "
                        f"against {_eps(1.0)})",
                        at_small > at_one if math.isfinite(at_small) and math.isfinite(at_one) else None,
                        "grows (the toy: GD slows like \\(1/\\varepsilon\\), EGD does not)",
                        _speedup_cell(l3, smallest)))
    fits = l3.condition_fits
    for name, claim in (("block", "\\((\\Vert G_b\\Vert_F/\\Vert G_a\\Vert_F)^{-2}\\) of the full-batch gradient"),
                        ("split", "the spectrum split ratio of the mini-batch gradient")):
        fit = fits[name]
        holds = (fit[1] <= -1.0 <= fit[2] or abs(fit[0] + 1.0) <= SLOPE_TOLERANCE) if math.isfinite(fit[1]) else None
        checks.append(Check(f"Level 3: slope of {claim} at initialisation against \\(\\varepsilon\\)", holds,
                            "−1.00 (the toy: \\(1/\\varepsilon\\))", fmt_slope(fit)))
    return checks


def summary_table(checks: Sequence[Check]) -> Table:
    return checks_table(checks, caption="The toy model's predictions against the torch code (slopes: log-log "
                                        "fits with 95% intervals; a slope agrees with a prediction inside its "
                                        f"interval or within {SLOPE_TOLERANCE:g} of it)",
                        header=("prediction", "measured (95% interval)"))


def prose_table(checks: Sequence[Check], caption: str = "") -> Table:
    """A ✓ / ✗ table of the chapter's sentences: claim, the criterion it must meet, the measurement."""
    return checks_table(checks, caption=caption, header=("criterion", "measured"))


def _fmt_large(x: float) -> str:
    """Numbers of 100 and more as rounded integers with separators, smaller ones with 3 digits."""
    return fmt_number(float(round(x))) if abs(x) >= 100 else fmt_number(x)


def _ratio_range(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "–"
    return f"{min(finite):.2g}× to {max(finite):.2g}×" if len(finite) > 1 else f"{finite[0]:.2g}×"


def level2_checks(l2: Level2) -> list[Check]:
    """The chapter's sentences about level 2, checked against the runs."""
    table = l2.table
    eps_gd, gd = median_by_eps(table, "gd")
    _, egd = median_by_eps(table, "egd-svd")
    toy = np.asarray(l2.toy_escape["gd"], dtype=float)[np.argsort(l2.eps)]
    early = toy / gd
    gain = gd / egd
    half = {m: censored_median([None if not np.isfinite(t) else t for t in v]) for m, v in l2.half_error.items()}
    half = {m: math.inf if v is None else v for m, v in half.items()}
    half_gain = half["gd"] / half["egd-svd"] if math.isfinite(half["egd-svd"]) else math.nan
    gd_fit, toy_gd = l2.slopes["gd"], l2.toy_slopes["gd"][0]
    gd_slope, gd_low, gd_high = gd_fit["at_cap"] if gd_fit["n_censored"] else gd_fit["reached"]
    checks = [
        Check(f"GD's escape-time slope is within {GD_SLOPE_NEAR:g} of the toy's GD slope, and its 95% interval "
              "does not contain the toy's (near, not equal)",
              bool(abs(gd_slope - toy_gd) <= GD_SLOPE_NEAR and not gd_low <= toy_gd <= gd_high),
              f"{_signed(toy_gd)} (the toy's GD)", fmt_fit(gd_fit)),
        Check(f"GD's network escapes at least {EARLY_ESCAPE_FACTOR:g}× sooner than the toy's escape time, "
              "at every \\(\\varepsilon\\) (median over seeds)", bool(np.all(early >= EARLY_ESCAPE_FACTOR)),
              f"≥ {EARLY_ESCAPE_FACTOR:g}×", _ratio_range(early)),
        Check(f"At the escape EGD gains little: GD's median measured escape time is within {ESCAPE_GAIN_FACTOR:g}× "
              "of EGD's at every \\(\\varepsilon\\)", bool(np.all(gain <= ESCAPE_GAIN_FACTOR)),
              f"≤ {ESCAPE_GAIN_FACTOR:g}×", _ratio_range(gain)),
        Check(f"After the escape GD lingers: its median half-error time at {_eps(l2.sweeps['curves'].eps[0])} is "
              f"more than {HALF_ERROR_GAIN_FACTOR:g}× EGD's",
              half_gain > HALF_ERROR_GAIN_FACTOR if math.isfinite(half_gain) else None,
              f"> {HALF_ERROR_GAIN_FACTOR:g}×",
              f"GD {fmt_epochs(half['gd'])} / EGD {fmt_epochs(half['egd-svd'])} steps"),
    ]
    if "egd-rsvd" in l2.escape:
        _, rsvd = median_by_eps(table, "egd-rsvd")
        lag = rsvd / egd
        checks.append(Check("Rank-1 RSVD escapes with EGD at the largest \\(\\varepsilon\\) and falls behind it at "
                            "the smallest (ratio of median escape times)", bool(lag[0] > lag[-1]),
                            "larger at the smallest \\(\\varepsilon\\)",
                            f"{lag[-1]:.2g}× at {_eps(eps_gd[-1])}, {lag[0]:.2g}× at {_eps(eps_gd[0])}"))
    return checks


def level3_checks(l3: Level3) -> list[Check]:
    """The chapter's sentences about level 3, checked against the runs."""
    slopes = l3.slopes
    vanilla = slopes["vanilla"]["reached"][0]
    egd_fit = slopes["egd-svd"]
    egd = egd_fit["at_cap"][0] if egd_fit["n_censored"] else egd_fit["reached"][0]
    pairs = [(memorisation_time(r), r.epochs_to_threshold) for r in l3.runs
             if r.config.method == "vanilla" and r.epochs_to_threshold is not None]
    fraction = max((m / t for m, t in pairs if m is not None), default=math.nan)
    fits = l3.condition_fits
    cond = l3.conditions
    kappa = {e: float(np.median(cond["kappa_init"][np.isclose(cond["eps"], e)])) for e in (1.0, min(l3.profile.eps))}
    return [
        Check("Vanilla SGD's T95 is much flatter in \\(\\varepsilon\\) than \\(1/\\varepsilon\\) (slope above −0.5)",
              vanilla > -0.5, "> −0.5", _signed(vanilla)),
        Check("EGD's T95 is steeper in \\(\\varepsilon\\) than vanilla's (EGD's slope with failures at the cap)",
              egd < vanilla, f"< {_signed(vanilla)}", _signed(egd)),
        Check("Vanilla SGD memorises (T_mem) in under half its T95, in each of its "
              f"{len(pairs)} runs that reached 95%",
              bool(pairs) and all(m is not None and m < 0.5 * t for m, t in pairs),
              "T_mem / T95 < 0.5", f"largest T_mem / T95: {fmt_number(fraction, 2)}"),
        Check("The gradient's anisotropy grows as \\(\\varepsilon\\) falls, but slower than "
              "\\(1/\\varepsilon\\) (both slopes between −1 and 0)",
              all(-1 < fit[0] < 0 for fit in fits.values()), "in (−1, 0)",
              ", ".join(_signed(fit[0]) for fit in fits.values())),
        Check("The literal \\((\\sigma_{\\max}/\\sigma_{\\min})^2\\) at initialisation falls as \\(\\varepsilon\\) "
              "falls (it measures the L2 floor, not the data)",
              kappa[min(l3.profile.eps)] < kappa[1.0], "falls",
              f"{_fmt_large(kappa[1.0])} at {_eps(1.0)}, {_fmt_large(kappa[min(l3.profile.eps)])} "
              f"at {_eps(min(l3.profile.eps))}"),
    ]


def scale_checks(quick: Level3, full: Level3) -> list[Check]:
    """The chapter's sentences about level 3 at the paper's scale (``full``) against the quick
    setting (``quick``), checked against the runs."""
    steps = [sl for _, _, sl in local_slopes(full, "vanilla")]
    finite = [sl for sl in steps if math.isfinite(sl)]
    cells = ", ".join(_signed(sl) for sl in steps)
    # the steps at both ends of the eps range, not the ends of the finite ones: a censored end is a failure
    first, last = (steps[0], steps[-1]) if len(steps) >= 2 else (math.nan, math.nan)
    quick_slope, full_slope = quick.slopes["vanilla"]["reached"][0], full.slopes["vanilla"]["reached"][0]
    return [
        Check("At the paper's scale, each step down in \\(\\varepsilon\\) lengthens vanilla SGD's median T95 "
              "(every local slope below 0)", bool(finite) and all(sl < 0 for sl in finite), "all < 0", cells),
        Check("Vanilla's local slope steepens as \\(\\varepsilon\\) falls", len(finite) >= 2 and all(
            b < a for a, b in zip(finite, finite[1:])), "each below the one before", cells),
        Check("At the smallest step in \\(\\varepsilon\\) vanilla's local slope is as steep as the toy's "
              "\\(1/\\varepsilon\\)", math.isfinite(last) and last <= -1 + SLOPE_TOLERANCE,
              f"≤ {_signed(-1 + SLOPE_TOLERANCE)}", _signed(last)),
        Check("Vanilla's local slope is about −0.1 between the two largest \\(\\varepsilon\\) and about −1.3 "
              "between the two smallest", abs(first + 0.1) <= ABOUT and abs(last + 1.3) <= ABOUT,
              f"−0.1 and −1.3, each ± {ABOUT:g}", f"{_signed(first)} and {_signed(last)}"),
        Check("Vanilla's fitted slope is steeper at the paper's scale than in the quick setting",
              full_slope < quick_slope, f"< {_signed(quick_slope)} (quick)", _signed(full_slope)),
        *_scale_egd_checks(full),
    ]


def _scale_egd_checks(full: Level3) -> list[Check]:
    """Exact EGD against vanilla at the paper's scale, at every eps both have runs of."""
    slopes = full.slopes
    if "egd-svd" not in slopes:
        return []
    both = sorted(full.eps_of("egd-svd") & full.eps_of("vanilla"), reverse=True)
    ratios = [speedup(full, e) for e in both]
    egd, vanilla = slopes["egd-svd"]["reached"][0], slopes["vanilla"]["reached"][0]
    egd_fit = slopes["egd-svd"]
    if egd_fit["n_censored"]:
        egd = egd_fit["at_cap"][0]
    largest, smallest = (both[0], both[-1]) if both else (math.nan, math.nan)
    steps = [sl for _, _, sl in local_slopes(full, "egd-svd") if math.isfinite(sl)]
    return [
        Check("At the paper's scale exact EGD groks sooner than vanilla SGD at every \\(\\varepsilon\\) "
              "(median T95, failures as never)", bool(ratios) and all(r > 1 for r in ratios), "all > 1×",
              ", ".join(f"{r:.0f}×" for r in ratios)),
        Check("As in the quick setting, EGD's T95 is steeper in \\(\\varepsilon\\) than vanilla's",
              egd < vanilla, f"< {_signed(vanilla)} (vanilla)", _signed(egd)),
        Check("At the small-\\(\\varepsilon\\) end EGD's local slope is as steep as the toy's GD law or "
              "steeper", bool(steps) and min(steps) <= -1 + SLOPE_TOLERANCE, f"≤ {_signed(-1 + SLOPE_TOLERANCE)}",
              ", ".join(_signed(sl) for sl in steps)),
        Check(f"EGD's advantage over vanilla shrinks from {_eps(largest)} to {_eps(smallest)} (the paper's reading: "
              "it grows)", len(ratios) >= 2 and ratios[-1] < ratios[0], f"below {ratios[0]:.0f}×" if ratios else "–",
              f"{ratios[-1]:.0f}×" if ratios else "–"),
        *_rsvd_like_exact(full),
    ]


#: RSVD "behaves like exact EGD" when its median T95 is within this factor of exact EGD's at every eps.
RSVD_LIKE_EXACT_FACTOR = 1.5


def _rsvd_like_exact(full: Level3, method: str = "egd-rsvd128") -> list[Check]:
    """RSVD against exact EGD: within :data:`RSVD_LIKE_EXACT_FACTOR` at every eps but the smallest,
    and faster than exact EGD at the smallest."""
    eps = sorted(full.eps_of(method) & full.eps_of("egd-svd"), reverse=True)
    ratios = [_median_all(full.runs_of(method, e)) / _median_all(full.runs_of("egd-svd", e)) for e in eps]
    if len(ratios) < 2:
        return []
    cell = lambda values: ", ".join(f"{r:.2f}" if math.isfinite(r) else "–" for r in values)
    label = method_style(method).label
    return [
        Check(f"{label} behaves like exact EGD down to {_eps(eps[-2])} (median T95 within a factor "
              f"{RSVD_LIKE_EXACT_FACTOR:g} of exact EGD's)",
              all(math.isfinite(r) and 1 / RSVD_LIKE_EXACT_FACTOR <= r <= RSVD_LIKE_EXACT_FACTOR for r in ratios[:-1]),
              f"{1 / RSVD_LIKE_EXACT_FACTOR:.2f} to {RSVD_LIKE_EXACT_FACTOR:g}", cell(ratios[:-1])),
        Check(f"At {_eps(eps[-1])} {label} groks sooner than exact EGD (ratio of median T95)",
              math.isfinite(ratios[-1]) and ratios[-1] < 1, "< 1", cell(ratios[-1:])),
    ]


# --- the chapter's tables -----------------------------------------------------------------------


def measures_table() -> Table:
    """The plateau measures this chapter uses, by their names in :mod:`egd.book.definitions`."""
    rows = [["Level 2", name, definitions.DEFINITIONS[name]] for name in ("escape time", "measured escape time")]
    rows.append(["Level 2", "half-error time", f"first step with measured shifted test error below "
                                               f"{HALF_ERROR_LEVEL:g} (toy-distribution network)"])
    rows += [["Level 3", name, definitions.DEFINITIONS[name]]
             for name in ("time to grok (T95)", "memorisation time (T_mem)", "plateau span")]
    return Table(["level", "measure", "definition"], rows, caption="The plateau measures of this chapter",
                 align="lll")


def _eps_list(values: Sequence[float]) -> str:
    return ", ".join(f"{e:g}" for e in values)


def settings_table(l2: Level2, l3: Level3) -> Table:
    """What levels 2 and 3 run in this profile."""
    esc, cur = l2.sweeps["escape"], l2.sweeps["curves"]
    prof = l3.profile
    methods = ", ".join(method_style(key).label for key in dict.fromkeys(l3.grok["method"]))
    cap = prof.overrides.get("max_epochs")
    overrides = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in prof.overrides.items())
    saved = {kind: "; loaded from the committed runs" if kind in l2.loaded else "" for kind in ("escape", "curves")}
    rows = [
        ["Level 2, escape time", _eps_list(esc.eps), str(len(esc.seeds)), f"{esc.config.max_steps:,} steps",
         f"GD, EGD (exact), EGD-RSVD r=1; measured every step{saved['escape']}"],
        ["Level 2, half-error time and curves", _eps_list(cur.eps), str(len(cur.seeds)),
         f"{cur.config.max_steps:,} steps",
         f"the same methods; measured every {cur.config.eval_every} steps{saved['curves']}"],
        ["Level 3, time to grok T95", _eps_list(sorted(prof.eps, reverse=True)), str(len(prof.seeds)),
         f"{cap:,} epochs" if cap else "the preset's",
         f"{methods}; mod-add, p = {prof.p}; changed from the paper's preset: {overrides}"],
    ]
    return Table(["level and measure", "\\(\\varepsilon\\)", "seeds", "cap", "methods and setting"], rows,
                 caption=f"What this profile ({l2.profile}) runs", align="lllrl")


def level2_table(l2: Level2) -> Table:
    """Median measured escape time per method and eps (failures as never), next to the toy's escape time."""
    table = l2.table
    order = np.argsort(l2.eps)
    toy = {m: np.asarray(v, dtype=float)[order] for m, v in l2.toy_escape.items()}
    columns = {m: median_by_eps(table, m)[1] for m in l2.escape}
    eps = np.sort(l2.eps)
    header = ["\\(\\varepsilon\\)", "toy GD", "toy EGD proper", *(f"{LEVEL2_LABELS[m]}" for m in l2.escape),
              "reached / runs"]
    rows = []
    for i, e in enumerate(eps):
        at = np.isclose(table["eps"], e)
        rows.append([f"{e:g}", fmt_epochs(toy["gd"][i]), fmt_epochs(toy["egd"][i]),
                     *(fmt_epochs(columns[m][i]) for m in l2.escape),
                     f"{int((at & ~table['censored']).sum())}/{int(at.sum())}"])
    return Table(header, rows, caption="Escape time in steps: the toy's (theory) and the network's measured "
                                       "escape time (median over seeds, a run that never escaped counted as never)")


def half_error_table(l2: Level2) -> Table:
    """The curves sweep: half-error time per method (median with failures as never, median over the
    runs that got there, min–max, reached/seeds) and the final shifted test error."""
    rows = []
    for method, times in l2.half_error.items():
        reached = times[np.isfinite(times)]
        final = np.asarray(l2.curves[method]["test_error"])[:, -1]
        median_all = censored_median([float(t) if np.isfinite(t) else None for t in times])
        rows.append([LEVEL2_LABELS[method], fmt_epochs(median_all),
                     fmt_epochs(float(np.median(reached))) if reached.size else "never",
                     f"{fmt_epochs(reached.min())}–{fmt_epochs(reached.max())}" if reached.size else "–",
                     f"{reached.size}/{times.size}", f"{float(np.median(final)):.3f}"])
    cap = l2.sweeps["curves"].config.max_steps
    return Table(["method", "median (failures as never)", "median of those that got there", "min–max",
                  "reached / seeds", f"shifted test error at step {cap:,} (median)"], rows,
                 caption=f"Half-error time in steps at {_eps(l2.sweeps['curves'].eps[0])}")


def level3_table(l3: Level3) -> Table:
    """Per method and eps: T_mem (median), T95 (median with failures as never, median of those that
    reached it, min–max, reached/seeds) and the plateau span T95 − T_mem (median over reached runs)."""
    rows = []
    for method in dict.fromkeys(l3.grok["method"]):
        for e in sorted(l3.profile.eps, reverse=True):
            runs = l3.runs_of(method, e)
            if not runs:  # not committed yet (a sweep still training): no row rather than a made-up one
                continue
            s = summarize_seeds(runs)
            mem = [memorisation_time(r) for r in runs]
            spans = [r.epochs_to_threshold - m for r, m in zip(runs, mem)
                     if r.epochs_to_threshold is not None and m is not None]
            rows.append([method_style(method).label, f"{e:g}",
                         fmt_epochs(censored_median(mem)) if mem else "–",
                         fmt_epochs(s.median_all), fmt_epochs(s.median),
                         f"{fmt_epochs(s.min)}–{fmt_epochs(s.max)}" if s.reached else "–",
                         f"{s.reached}/{s.seeds}", fmt_epochs(statistics.median(spans)) if spans else "–"])
    cap = l3.profile.overrides.get("max_epochs")
    return Table(["method", "\\(\\varepsilon\\)", "T_mem", "T95 (failures as never)",
                  "T95 of those that reached it", "min–max", "reached / seeds", "plateau span"], rows,
                 caption=f"Memorisation time, time to grok and plateau span in epochs (medians over seeds; "
                         f"epoch cap {cap:,})" if cap else "Memorisation time, time to grok and plateau span")


def anisotropy_table(l3: Level3) -> Table:
    """Per eps: the toy's 1/eps and the measured anisotropy of the hidden-layer gradient (medians over seeds)."""
    cond = l3.conditions
    rows = []
    for e in sorted(l3.profile.eps, reverse=True):
        at = np.isclose(cond["eps"].astype(float), e) & (cond["method"] == "vanilla")
        rows.append([f"{e:g}", fmt_number(1 / e), fmt_number(float(np.median(l3.block[float(e)]))),
                     fmt_number(float(np.median(cond["split_init"][at].astype(float)))),
                     fmt_number(float(np.median(cond["split_plateau"][at].astype(float)))),
                     _fmt_large(float(np.median(cond["kappa_init"][at].astype(float))))])
    return Table(["\\(\\varepsilon\\)", "toy: \\(1/\\varepsilon\\)",
                  "\\((\\Vert G_b\\Vert_F/\\Vert G_a\\Vert_F)^{-2}\\), full batch, initialisation",
                  "split ratio, initialisation", "split ratio, before T95 (vanilla)",
                  "\\((\\sigma_{\\max}/\\sigma_{\\min})^2\\), initialisation"], rows,
                 caption="Anisotropy of the hidden-layer gradient (medians over seeds)")
