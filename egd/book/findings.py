"""What the book found, claim by claim: the landing page's table and the reproduction scoreboard.

Every row comes from the committed results (``results/``, the quick profile's run sets plus every
finished run of the full profile found there; nothing is trained) or from the toy model's code,
and every verdict is the verdict of the chapter that shows the claim: a row picks that chapter's
:class:`~egd.book.display.Check` rows (computed by the chapter's own package functions) and
combines them with :func:`combine` (all hold: ✓, none holds: ✗, some: partial). So a row never
judges a claim differently from its chapter.

* :func:`real_task_findings` — Tables 2–4 and Figure 4, from the result files.
* :func:`toy_findings` — the toy model's theory (Theorem 1, Corollary 1, scheme (9), EGD proper,
  A.3, Theorem 2), from :mod:`egd.book.toy`.
* :func:`simulation_findings` — the same claims against finite-sample runs (Figures 6 and 8),
  from :mod:`egd.book.toy_simulation`.
* :func:`validation_findings` — the toy's predictions against the torch code, from
  :mod:`egd.book.validation`.
* :func:`findings_table` — the rows as a :class:`~egd.book.display.Table` with links to the
  chapters; :func:`scoreboard` / :func:`scoreboard_table` — one row per claim of the paper with
  its status, ``not in this build`` where no result of it exists.
* :data:`EXTRA_SOURCES` — where later chapters register their findings (e.g. Tables 6–7 of
  Appendix D) with :func:`register`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from egd.grokking import paper_numbers, runsets, tables
from egd.grokking.labels import method_label
from egd.grokking.store import RunResult

from . import display
from .display import Check, Link, Table

__all__ = ["PARTIAL", "BEYOND_THE_PAPER", "STALL", "NOT_IN_BUILD", "STATUS", "PAPER_CLAIMS", "PAPER_SHAPES", "Finding",
           "ScoreRow", "combine", "pick", "seed_range", "summarize", "load_runs", "modular_findings",
           "parity_findings", "plateau_findings", "real_task_findings", "toy_findings", "simulation_findings",
           "validation_findings", "EXTRA_SOURCES", "LATER_MODULES", "register", "extra_findings", "all_findings",
           "chapter_href", "findings_table", "scoreboard", "scoreboard_table"]

PARTIAL = "partial"
#: The key of a finding that no claim of the paper states (shown on the landing page, not on the scoreboard).
BEYOND_THE_PAPER = "beyond the paper"
NOT_IN_BUILD = "not in this build"
#: Scoreboard status of a claim from the verdicts of its rows.
STATUS = {display.HOLDS: "reproduced", PARTIAL: "partly reproduced", display.FAILS: "not reproduced",
          display.UNDECIDED: "undecided", NOT_IN_BUILD: NOT_IN_BUILD}

#: The chapters, by the file name the book gives them.
MODULAR, PARITY, PLATEAU = "05_modular_arithmetic", "06_sparse_parity", "07_why_the_plateau"
TOY, SIMULATION, VALIDATION = "02_toy_model", "04_theory_meets_simulation", "08_validation"
OTHER_MODELS = "10_other_models"
STALL = "11_when_egd_stalls"
THEORIES = "12_which_theory"
TITLES = {THEORIES: "Which theory predicts the plateau?", STALL: "When exact EGD stalls",
          MODULAR: "Modular arithmetic", PARITY: "Sparse parity", PLATEAU: "Why the plateau",
          TOY: "The toy model", SIMULATION: "Theory meets simulation", VALIDATION: "Validation",
          OTHER_MODELS: "Other models and optimizers"}

#: Every claim of the paper the scoreboard lists, in the paper's order: (key, what it states).
PAPER_CLAIMS = (
    ("Theorem 1", "test error of GD on the toy model, Eq. (7)"),
    ("Corollary 1", "plateau length: ~1/ε for a large initialisation, with τ = |u₂| tan θ m₂/m₁"),
    ("Scheme (9)", "the accelerated scheme on the toy removes ε from the plateau"),
    ("EGD on the toy", "EGD (Eq. 11) removes ε from the toy's plateau"),
    ("A.3", "same train and test distribution: the moment integrals"),
    ("Theorem 2", "A.3's plateau lasts Θ(1/(ηε)), both eigenvalues Θ(ε)"),
    ("Table 2", "modular addition: EGD groks far sooner than vanilla SGD"),
    ("Table 3", "modular multiplication: the same"),
    ("Table 4", "sparse parity: EGD and RSVD grok far sooner than vanilla SGD"),
    ("Table 6", "MNIST (Appendix D): EGD groks sooner than AdamW and Grokfast"),
    ("Table 7", "transformer on x·y mod 97 (Appendix D): EGD groks sooner than Adam"),
    ("Figure 1", "modular arithmetic training curves: vanilla plateaus, EGD groks early"),
    ("Figure 2", "sparse parity training curves"),
    ("Figure 3", "sparse parity training curves, the RSVD ranks"),
    ("Figure 4", "the hidden layer's gradient is ill-conditioned during the plateau"),
    ("Figure 6", "Theorem 1 against experiment, small and large initialisation and scheme (9)"),
    ("Figure 8", "Theorem 2 against experiment"),
)
#: Claims whose evidence is another claim's: a figure of the runs behind a table.
SAME_EVIDENCE = {"Figure 1": ("Table 2", "Table 3"), "Figure 2": ("Table 4",), "Figure 3": ("Table 4",)}


@dataclass(frozen=True)
class Finding:
    """One claim of the paper against ours: the claim, the paper's number, ours, the verdict
    (✓, ✗, :data:`PARTIAL`, – or :data:`NOT_IN_BUILD`), the chapter that shows it (file name),
    the :data:`PAPER_CLAIMS` key it bears on (:data:`BEYOND_THE_PAPER` for a finding the paper
    does not state), other keys it bears on too, and optionally a label in the chapter."""

    claim: str
    paper: str
    ours: str
    verdict: str
    chapter: str
    key: str
    anchor: str = ""
    also: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.also)


def combine(checks: Sequence[Check]) -> str:
    """One verdict from a chapter's checks: ✓ if every decided one holds, ✗ if none does,
    :data:`PARTIAL` if some do; – when none is decided (or there are none)."""
    decided = [bool(c.holds) for c in checks if c.holds is not None]
    if not decided:
        return display.UNDECIDED
    if all(decided):
        return display.HOLDS
    return display.FAILS if not any(decided) else PARTIAL


def pick(checks: Sequence[Check], *fragments: str, optional: bool = False) -> list[Check]:
    """The checks whose claim contains every one of ``fragments``; ``KeyError`` if there is none
    (a chapter's wording changed: the finding must be looked at again), unless ``optional`` (a
    check the chapter makes only when some runs exist)."""
    chosen = [c for c in checks if all(f in c.claim for f in fragments)]
    if not chosen and not optional:
        raise KeyError(f"no check whose claim contains {fragments!r}")
    return chosen


def _epochs_or_inf(run: RunResult) -> float:
    return math.inf if run.epochs_to_threshold is None else float(run.epochs_to_threshold)


def seed_range(runs: Sequence[RunResult]) -> str:
    """Epochs to 95% over seeds as the book reports them everywhere: the median counting a seed
    that never got there as +inf, [min–max] over all seeds (``never`` for a failure), the number
    of seeds (and how many reached the threshold when not all did)."""
    if not runs:
        return display.UNDECIDED
    s = tables.summarize_seeds(list(runs))
    values = sorted(_epochs_or_inf(r) for r in runs)
    lo, hi = (display.fmt_epochs(None if math.isinf(v) else v) for v in (values[0], values[-1]))
    seeds = "1 seed" if s.seeds == 1 else f"{s.seeds} seeds"
    reached = "" if s.reached == s.seeds else f", {s.reached} reached"
    spread = "" if s.seeds == 1 else f" [{lo}–{hi}]"
    return f"{display.fmt_epochs(s.median_all)}{spread}, {seeds}{reached}"


def _fold(value: float | None) -> str:
    return display.UNDECIDED if value is None else f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


def load_runs(task: str, results_dir: str | os.PathLike) -> list[RunResult]:
    """The table runs of ``task`` (``mod-add``, ``mod-mul`` or ``parity``) found in ``results_dir``:
    the quick profile's set and every finished run of the full profile's; nothing is trained."""
    from .reproduction import load_table_runs

    if task == "parity":
        quick, full = runsets.parity_configs("quick"), runsets.parity_configs("full")
    else:
        quick, full = runsets.modular_configs(task, "quick"), runsets.modular_configs(task, "full")
    return load_table_runs(quick, full, results_dir, train_missing=False)


# --- the real tasks --------------------------------------------------------------------------------------------


def modular_findings(results_dir: str | os.PathLike) -> list[Finding]:
    """Tables 2 and 3 at every p with runs of both vanilla and exact EGD: exact EGD's speed-up over
    vanilla in epochs, judged by :func:`egd.book.modular.modular_checks` (at least 10×, and within a
    factor 2 of the paper's)."""
    from . import modular

    out = []
    for task, key, name in (("mod-add", "Table 2", "addition"), ("mod-mul", "Table 3", "multiplication")):
        runs = load_runs(task, results_dir)
        rows = tables.comparison_rows(runs)
        checks = modular.modular_checks(rows, task)
        for p in sorted({r.config.p for r in runs}):
            shape = f"p={p}"
            here = {r["method"]: r for r in rows if r["shape"] == shape}
            if "vanilla" not in here or "egd-svd" not in here:
                continue
            where = f"{name}, p = {p}:"
            chosen = pick(checks, where, "sooner than vanilla (epochs)") + pick(checks, where, "that speed-up")
            egd, van = here["egd-svd"], here["vanilla"]
            of = {m: [r for r in runs if r.config.p == p and tables.method_key(r) == m] for m in ("egd-svd", "vanilla")}
            out.append(Finding(
                f"{key}, {name}, p = {p}: exact EGD groks far sooner than vanilla SGD",
                f"{_fold(egd['paper_speedup_epochs'])} ({display.fmt_epochs(egd['paper'])} vs "
                f"{display.fmt_epochs(van['paper'])} epochs)",
                f"{_fold(egd['speedup_epochs'])} (EGD {seed_range(of['egd-svd'])}; vanilla "
                f"{seed_range(of['vanilla'])})", combine(chosen), MODULAR, key))
    return out


def parity_findings(results_dir: str | os.PathLike) -> list[Finding]:
    """Table 4 at every (n, k) with runs: exact EGD (fast or stalled, seed by seed), the RSVD ranks,
    and the runs on the authors' own random draws; verdicts of :func:`egd.book.parity.checks_by_shape`
    and :func:`egd.book.parity.authors_checks`."""
    from . import parity
    from .reproduction import load_table_runs, shape_title

    runs = load_runs("parity", results_dir)
    rows = tables.comparison_rows(runs)
    checks = parity.checks_by_shape(rows, runs)
    out = []
    for shape in sorted({r["shape"] for r in rows}):
        here = {r["method"]: r for r in rows if r["shape"] == shape}
        title = shape_title(shape)
        egd = parity.runs_of(runs, "egd-svd", shape)
        if egd:
            fast = sum(r.epochs_to_threshold is not None and r.epochs_to_threshold <= parity.FAST_WITHIN for r in egd)
            never = sum(r.epochs_to_threshold is None for r in egd)
            chosen = (pick(checks, title, "exact EGD's median") + pick(checks, title, "exact EGD reaches 95% within")
                      + pick(checks, title, "vanilla's median", optional=True))
            van = parity.runs_of(runs, "vanilla", shape)
            out.append(Finding(
                f"Table 4, parity {title}: exact EGD groks within {parity.FAST_WITHIN} epochs",
                f"{display.fmt_epochs(here['egd-svd']['paper'])} epochs (vanilla "
                f"{display.fmt_epochs(here['vanilla']['paper']) if 'vanilla' in here else '–'})",
                f"EGD {seed_range(egd)}: {fast} within {parity.FAST_WITHIN} epochs, {never} never within the "
                "budget" + (f"; vanilla {seed_range(van)}" if van else ""), combine(chosen), PARITY, "Table 4"))
        ranks = [k for k in ("egd-rsvd40", "egd-rsvd30", "egd-rsvd20", "egd-rsvd10") if k in here]
        if ranks:
            chosen = [c for k in ranks for c in pick(checks, title, f"{method_label(k)} reaches 95% sooner",
                                                     optional=True)]
            chosen += pick(checks, title, "RSVD of rank below the batch size", optional=True)
            out.append(Finding(
                f"Table 4, parity {title}: RSVD groks sooner than vanilla SGD at every rank",
                ", ".join(f"r = {k[8:]}: {display.fmt_epochs(here[k]['paper'])}" for k in ranks),
                "; ".join(f"r = {k[8:]}: {seed_range(parity.runs_of(runs, k, shape))}" for k in ranks),
                combine(chosen), PARITY, "Table 4"))
    authors = load_table_runs(runsets.parity_authors_configs("quick"), runsets.parity_authors_configs("full"),
                              results_dir, train_missing=False)
    a_rows = tables.comparison_rows(authors)
    for shape in sorted({r["shape"] for r in a_rows}):
        a_checks = parity.authors_checks(a_rows, shape)
        if not a_checks:
            continue
        n, k = (int(x) for x in shape.split("=")[1].strip("()").split(","))
        by = {tables.method_key(r).split(" ")[0]: r for r in authors if tables.shape_label(r) == shape}
        pe, pv = (paper_numbers.paper_epochs("parity", m, n=n, k=k) for m in ("egd-svd", "vanilla"))
        out.append(Finding(
            f"Table 4, parity {shape_title(shape)}, the authors' random draws: exact EGD fast, vanilla at least 5× "
            "slower",
            f"EGD {display.fmt_epochs(pe)}, vanilla {display.fmt_epochs(pv)} epochs",
            f"EGD {display.fmt_epochs(by['egd-svd'].epochs_to_threshold)} epochs, vanilla "
            f"{display.fmt_epochs(by['vanilla'].epochs_to_threshold)} (1 run each)",
            combine(a_checks), PARITY, "Table 4"))
    return out


#: The run of Figure 4's analysis: modular addition, p = 97, seed 0.
PLATEAU_P, PLATEAU_SEED = 97, 0


def plateau_findings(results_dir: str | os.PathLike) -> list[Finding]:
    """Figure 4: the condition number of the hidden layer's gradient during vanilla's plateau,
    with and without the direction only the weight decay acts on, and EGD's own; verdicts of
    :func:`egd.book.plateau.plateau_checks`. Empty when the two runs are not in ``results_dir``."""
    from . import plateau

    configs = [runsets.modular_config("mod-add", PLATEAU_P, m, None, PLATEAU_SEED) for m in ("vanilla", "egd-svd")]
    found = runsets.load_finished(configs, results_dir)
    if len(found) != 2:
        return []
    vanilla, egd = found
    rows = plateau.plateau_rows([vanilla, egd])
    paper_t95 = {m: paper_numbers.paper_epochs("mod-add", m, p=PLATEAU_P) for m in ("vanilla", "egd-svd")}
    checks = plateau.plateau_checks(rows, plateau.decay_rate(vanilla), plateau.max_input_overlap(vanilla.config),
                                    paper_t95)
    span = {r["method"]: r for r in rows if r["window"] == "plateau span"}
    v, e = span["vanilla"], span["egd-svd"]
    return [
        Finding(f"Figure 4, addition, p = {PLATEAU_P}: the hidden layer's gradient is ill-conditioned during "
                "vanilla's plateau",
                "spread singular values (a plot, no number)",
                f"κ = {v['kappa']:.0f} (median over the plateau span, seed {PLATEAU_SEED})",
                combine(pick(checks, "during vanilla's plateau the hidden-layer gradient is ill-conditioned")),
                PLATEAU, "Figure 4"),
        Finding("… mostly along one direction that carries no data, only weight decay",
                "not in the paper",
                f"κ = {v['kappa']:.0f} with it, {v['kappa_without']:.1f} without it; EGD's own gradient during its "
                f"plateau κ = {e['kappa']:.0f} (EGD equalises the step, not the gradient)",
                combine(pick(checks, "one direction dominates") + pick(checks, "EGD's own")), PLATEAU,
                BEYOND_THE_PAPER),
    ]


def real_task_findings(results_dir: str | os.PathLike) -> list[Finding]:
    """:func:`modular_findings`, :func:`parity_findings` and :func:`plateau_findings`."""
    return modular_findings(results_dir) + parity_findings(results_dir) + plateau_findings(results_dir)


# --- the toy model -----------------------------------------------------------------------------------------------


def toy_findings(profile: str = "quick") -> list[Finding]:
    """The toy model's theory against our derivations: the verdicts of
    :func:`egd.book.toy.theory_checks`, computed as the chapter computes them."""
    from . import toy

    checks = toy.theory_checks(tau=toy.tau_comparison(), scan=toy.escape_scan(toy.eps_grid(profile)),
                               sign=toy.sign_check(), integrals=toy.a3_integrals(),
                               eigen=toy.a3_eigenvalue_ranges(), a3=toy.a3_escape())

    def row(claim, fragment, key):
        chosen = pick(checks, fragment)
        c = chosen[0]
        return Finding(claim, c.paper, c.ours, combine(chosen), TOY, key)

    return [
        row("Theorem 1, Eq. (7): the test error of a weight vector", "Theorem 1, Eq. (7)", "Theorem 1"),
        row("Corollary 1 (A): under GD the plateau grows like 1/ε", "Corollary 1 (A)", "Corollary 1"),
        row("Corollary 1: the plateau ratio τ, with tan θ", "Corollary 1: the plateau ratio", "Corollary 1"),
        row("Scheme (9), the paper's accelerated scheme on the toy (a Newton step), removes ε from the plateau",
            "Scheme (9)", "Scheme (9)"),
        row("EGD proper (Eq. 11) removes ε from the toy's plateau", "EGD (Eq. 11)", "EGD on the toy"),
        row("A.3: the moment integrals as printed", "A.3: the moment integrals", "A.3"),
        Finding("Theorem 2: both eigenvalues of A.3's Σ are Θ(ε)", "\\(\\lambda_\\pm = \\Theta(\\varepsilon)\\)",
                "; ".join(c.ours for c in pick(checks, "eigenvalues") + pick(checks, "A.3: the same for")),
                combine(pick(checks, "eigenvalues") + pick(checks, "A.3: the same for")), TOY, "Theorem 2"),
        row("Theorem 2: A.3's escape time formula", "A.3 (Theorem 2)", "Theorem 2"),
    ]


def simulation_findings(cfg=None) -> list[Finding]:
    """The toy's theory against finite-sample runs: the verdicts of
    :func:`egd.book.toy_simulation.simulation_checks`, from the same runs and saved tables as the
    chapter (``cfg``: :func:`egd.book.toy_simulation.sim_config`, default the book's profile)."""
    from . import toy_simulation as sim

    cfg = cfg or sim.sim_config()
    run = sim.reference_run()
    ref = sim.reference_summary(run)
    spread = sim.seed_spread(sim.reference_seeds(cfg), sim.seed_curves(cfg), run["theorem1"])
    mirror = sim.mirror_deviation(sim.mirror_run())
    corollary = sim.corollary_gaps(sim.theta_sweep(cfg))
    rows = sim.plateau_rows(sim.plateau_sweep(cfg))
    slopes = sim.variant_slopes(rows)
    chatter = sim.chatter_rate_range(sim.egd_chatter(cfg))
    crossing = sim.equi_crossing(sim.equi_runs(cfg)[0])
    a3_rows = sim.equi_rows(sim.equi_sweep(cfg))
    a3_slopes = sim.equi_slopes(a3_rows)
    eig = {theta: sim.eigen_slopes(sim.eigenvalues(cfg, theta)) for theta in sim.EIGEN_THETAS}
    checks = sim.simulation_checks(ref=ref, spread=spread, mirror=mirror, corollary=corollary, rows=rows,
                                   slopes=slopes, chatter=chatter, equi=crossing, equi_slope=a3_slopes,
                                   equi_rows_=a3_rows, eigen=eig)

    def row(claim, fragments, key, also=()):
        chosen = [c for f in fragments for c in pick(checks, f)]
        ours = chosen[0].ours if len(chosen) == 1 else summarize(chosen)
        return Finding(claim, chosen[0].paper, ours, combine(chosen), SIMULATION, key, also=also)

    return [
        row("Figure 6: Theorem 1 describes finite-sample GD runs", ("Theorem 1 describes", "for each of",
                                                                    "for the mean curve"), "Figure 6",
            also=("Theorem 1",)),
        row("Corollary 1 (A) in simulation: GD's escape time ∝ 1/ε", ("Corollary 1 (A)",), "Corollary 1"),
        row("EGD proper (Eq. 11) removes ε from the plateau, in simulation", ("EGD (Eq. 11) removes",),
            "EGD on the toy"),
        row("Figure 8: A.3's error formula, Eq. (19), describes the run", ("A.3: Eq. (19)",), "Figure 8"),
        row("Theorem 2 in simulation: A.3's escape time Θ(1/(ηε))", ("A.3 (Theorem 2)",), "Theorem 2"),
    ]


def validation_findings(profile: str, results_dir: str | os.PathLike) -> list[Finding]:
    """The toy model's predictions against the torch code: the verdicts of
    :func:`egd.book.validation.summary_checks`, level by level. Empty when the committed level-3
    runs are not all in ``results_dir`` (the findings never train)."""
    from egd.validation import anisotropy

    from . import validation

    prof = anisotropy.PROFILES[profile]
    folder = Path(results_dir) / anisotropy.ANISOTROPY_SUBDIR
    configs = anisotropy.anisotropy_configs(prof)
    if len(runsets.load_finished(configs, folder)) != len(configs):
        return []
    checks = validation.summary_checks(validation.level1(), validation.level2(profile),
                                       validation.level3(profile, results_dir))
    claims = {1: "Level 1: the toy's linear model trained by the torch code follows the numpy iteration",
              2: "Level 2: a ReLU network on the toy's data: how its escape time scales with ε",
              3: "Level 3: modular addition with one slow direction of size ε: how the time to grok scales with ε"}
    return [Finding(claim, "the toy model's predictions", summarize(pick(checks, f"Level {level}")),
                    combine(pick(checks, f"Level {level}")), VALIDATION, "Validation")
            for level, claim in claims.items()]


def summarize(checks: Sequence[Check]) -> str:
    """How many of a chapter's checks hold, and the measurement of each that does not."""
    decided = [c for c in checks if c.holds is not None]
    held = sum(bool(c.holds) for c in decided)
    text = f"{held} of {len(decided)} hold"
    misses = [c for c in decided if not c.holds]
    if misses:
        text += "; not: " + "; ".join(f"{_strip_level(c.claim)} ({c.ours})" for c in misses)
    return text


def _strip_level(claim: str) -> str:
    return re.sub(r"^Level \d+[,:]?\s*", "", claim)


# --- later chapters ----------------------------------------------------------------------------------------------

#: Findings of chapters added later: ``name -> function(results_dir) -> list[Finding]``; :func:`scoreboard`
#: shows the claims they bear on (:attr:`Finding.key`, e.g. ``"Table 6"``). Add one with :func:`register`.
EXTRA_SOURCES: dict[str, Callable[[Path], list[Finding]]] = {}
#: Modules of later chapters whose ``findings(results_dir)`` function, where the module exists, adds
#: its rows without a change here: Appendix D's MNIST and transformer runs (Tables 6 and 7), the
#: two plateau laws fitted on one grid of runs, and the fix of exact EGD's stall.
LATER_MODULES = ("egd.book.appendix_d", "egd.book.theories", "egd.book.stall")


def register(name: str, source: Callable[[Path], list[Finding]]) -> None:
    """Add a chapter's findings (``source(results_dir)``) to :func:`extra_findings` and the scoreboard."""
    EXTRA_SOURCES[name] = source


def extra_findings(results_dir: str | os.PathLike) -> list[Finding]:
    """The findings of every registered source (:data:`EXTRA_SOURCES`) and of every module of
    :data:`LATER_MODULES` that exists and defines ``findings``."""
    import importlib
    import importlib.util

    sources = dict(EXTRA_SOURCES)
    for name in LATER_MODULES:
        if name not in sources and importlib.util.find_spec(name) is not None:
            source = getattr(importlib.import_module(name), "findings", None)
            if source is not None:
                sources[name] = source
    return [f for source in sources.values() for f in source(Path(results_dir))]


# --- tables ----------------------------------------------------------------------------------------------------


def chapter_href(f: Finding) -> str:
    """The built page of the finding's chapter, relative to a page at the book's root."""
    return f"notebooks/{f.chapter}.html" + (f"#{f.anchor}" if f.anchor else "")


def findings_table(findings: Sequence[Finding], caption: str = "") -> Table:
    """One row per finding: verdict, claim, the paper's number, ours, a link to the chapter."""
    body = [[f.verdict, f.claim, f.paper, f.ours, Link(TITLES.get(f.chapter, f.chapter), chapter_href(f))]
            for f in findings]
    return Table(["", "claim", "paper", "ours", "chapter"], body, caption=caption, align="cllll")


#: The shapes of the paper's tables: a table's row is complete when each has a finding.
PAPER_SHAPES = {
    "Table 2": tuple(f"p = {p}" for p in paper_numbers.TABLE2_MOD_ADD),
    "Table 3": tuple(f"p = {p}" for p in paper_numbers.TABLE3_MOD_MUL),
    "Table 4": tuple(f"(n, k) = ({n}, {k})" for n, k in paper_numbers.TABLE4_PARITY),
}


@dataclass(frozen=True)
class ScoreRow:
    """One claim of the paper on the scoreboard: its key and statement, its verdict (as in
    :class:`Finding`), what the findings behind it say, their chapters, and the shapes of a
    table that have no finding in this build."""

    key: str
    what: str
    verdict: str
    findings: str
    chapters: tuple[str, ...]
    #: The shapes without a finding, one entry per table (``"p = 79, p = 127"``; prefixed with the
    #: table, ``"Table 3 at ..."``, for a figure of that table's runs).
    missing: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        text = STATUS[self.verdict]
        if self.missing and self.verdict != NOT_IN_BUILD:
            text += f"; {', '.join(self.missing)} {NOT_IN_BUILD}"
        return text


def scoreboard(findings: Sequence[Finding]) -> list[ScoreRow]:
    """One row per claim of :data:`PAPER_CLAIMS`: its status from the verdicts of the findings that
    bear on it (:func:`combine` over their verdicts, :data:`PARTIAL` counting as both a ✓ and a ✗),
    and the chapters they come from; :data:`NOT_IN_BUILD` when no finding bears on it (its runs are
    not in the results folder, or no chapter of this build computes it). Figures 1–3 show the runs
    of Tables 2–4 and take their status (:data:`SAME_EVIDENCE`); a table's shapes without a finding
    (:data:`PAPER_SHAPES`) are named."""
    by_key: dict[str, list[Finding]] = {}
    for f in findings:
        for key in f.keys:
            by_key.setdefault(key, []).append(f)
    out = []
    for key, what in PAPER_CLAIMS:
        sources = SAME_EVIDENCE.get(key, (key,))
        rows = [f for k in sources for f in by_key.get(k, [])]
        missing = []
        for k in sources:
            claims = [f.claim for f in by_key.get(k, [])]
            absent = [shape for shape in PAPER_SHAPES.get(k, ()) if not any(shape in c for c in claims)]
            if absent:
                missing.append(", ".join(absent) if k == key else f"{k} at {', '.join(absent)}")
        missing = tuple(missing)
        if not rows:
            out.append(ScoreRow(key, what, NOT_IN_BUILD, "no result of it in this build", (), missing))
            continue
        verdicts = [f.verdict for f in rows]
        checks = [Check("", True) for v in verdicts if v in (display.HOLDS, PARTIAL)]
        checks += [Check("", False) for v in verdicts if v in (display.FAILS, PARTIAL)]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in (display.HOLDS, PARTIAL, display.FAILS,
                                                                  display.UNDECIDED) if v in verdicts)
        via = "" if key not in SAME_EVIDENCE else f" (the runs of {' and '.join(sources)})"
        text = f"{len(rows)} finding{'s' if len(rows) > 1 else ''}: {counts}{via}"
        out.append(ScoreRow(key, what, combine(checks), text, tuple(dict.fromkeys(f.chapter for f in rows)),
                            missing))
    return out


def scoreboard_table(rows: Sequence[ScoreRow], caption: str = "") -> Table:
    """:func:`scoreboard` as a table: the paper's claim, what it states, its status, the findings
    behind it, links to their chapters."""
    body = [[r.key, r.what, r.status, r.findings,
             [Link(TITLES.get(c, c), f"notebooks/{c}.html") for c in r.chapters] or display.UNDECIDED]
            for r in rows]
    return Table(["claim", "what the paper states", "status", "findings", "chapter"], body, caption=caption,
                 align="lllll")

def all_findings(profile: str, results_dir: str | os.PathLike) -> list[Finding]:
    """Every finding of the book: the real tasks, the toy model's theory, its simulation, the
    validation, and the registered later chapters (:data:`EXTRA_SOURCES`)."""
    return (real_task_findings(results_dir) + toy_findings(profile)
            + simulation_findings(_sim_config(profile, results_dir))
            + validation_findings(profile, results_dir) + extra_findings(results_dir))


def _sim_config(profile: str, results_dir: str | os.PathLike):
    from . import toy_simulation as sim

    return sim.sim_config(profile, results_dir)
