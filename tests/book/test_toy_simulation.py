"""egd.book.toy_simulation: the simulation chapter's tables, summaries and verdicts."""

import math
from pathlib import Path

import numpy as np
import pytest

from egd.book import toy_simulation as sim
from egd.book.display import checks_table
from toymodel import experiments as ex

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results"


def test_profiles():
    quick, full = sim.sim_config("quick", RESULTS), sim.sim_config("full", RESULTS)
    assert quick.n < full.n and len(quick.eps_grid) < len(full.eps_grid)
    assert quick.folder == RESULTS / sim.CHAPTER
    with pytest.raises(ValueError, match="profile"):
        sim.sim_config("medium", RESULTS)


def test_default_config_follows_the_book_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("EGD_PROFILE", "full")
    monkeypatch.setenv("EGD_RESULTS_DIR", str(tmp_path))
    cfg = sim.sim_config()
    assert cfg.profile == "full" and cfg.results == tmp_path


@pytest.fixture(scope="module")
def quick_tables():
    """The committed quick-profile tables; computing any of them is an error."""
    cfg = sim.sim_config("quick", RESULTS)
    mp = pytest.MonkeyPatch()
    for name in ("shift_acceptance", "theta_sweep", "plateau_sweep", "egd_chatter", "equi_plateau_sweep",
                 "equi_eigenvalues"):
        mp.setattr(ex, name, lambda *a, _name=name, **k: pytest.fail(f"{_name} recomputed a committed table"))
    try:
        yield dict(
            cfg=cfg, acc=sim.reference_seeds(cfg), theta=sim.theta_sweep(cfg), sweep=sim.plateau_sweep(cfg),
            chatter=sim.egd_chatter(cfg), equi=sim.equi_sweep(cfg),
            eigen={t: sim.eigenvalues(cfg, t) for t in sim.EIGEN_THETAS})
    finally:
        mp.undo()


def test_committed_quick_tables_load_without_recomputing(quick_tables):
    cfg = quick_tables["cfg"]
    assert list(quick_tables["acc"]["seed"]) == list(cfg.reference_seeds)
    assert len(quick_tables["sweep"]["eps"]) == len(cfg.eps_grid) * len(cfg.seeds) * len(sim.VARIANTS)
    assert len(quick_tables["chatter"]["eps"]) == len(cfg.eps_grid) * len(sim.EGD_ETAS)


def test_seed_stats_count_failures_as_infinite():
    st = sim.seed_stats([10, math.nan, 30])
    assert (st.seeds, st.reached, st.median_all, st.median, st.min, st.max) == (3, 2, 30.0, 20.0, 10, 30)
    assert st.cells() == ["30", "20", "10–30", "2/3"]
    never = sim.seed_stats([math.nan, math.inf, 5])
    assert never.median_all is None and never.cells()[0] == "never" and never.cells()[3] == "1/3"
    assert sim.seed_stats([math.nan]).cells() == ["never", "never", "–", "0/1"]
    with pytest.raises(ValueError):
        sim.seed_stats([])


def test_plateau_rows_and_slopes(quick_tables):
    rows = sim.plateau_rows(quick_tables["sweep"])
    assert len(rows) == len(sim.VARIANTS) * len(quick_tables["cfg"].eps_grid)
    slopes = sim.variant_slopes(rows)
    assert slopes["gd", "full"][0] == pytest.approx(-1, abs=sim.SLOPE_TOLERANCE)
    assert abs(slopes["paper_egd", "full"][0]) < 1e-9
    assert slopes["egd", "full"][0] < -0.5
    pts = sim.escape_points(rows, "gd", "full")
    assert pts["yerr"].shape == (2, len(pts["eps"])) and np.all(pts["yerr"] >= 0)
    with pytest.raises(ValueError):
        sim.escape_points(rows, "egd", "64")
    table = sim.plateau_table(rows)
    assert all("$" not in cell for row in table.rows for cell in row)


def test_variant_slopes_law_on_a_synthetic_sweep():
    eps = np.repeat([0.1, 0.01, 0.001], 3)
    sweep = {"eps": eps, "method": np.array(["gd"] * 9, dtype=object), "batch": np.array(["full"] * 9, dtype=object),
             "measured": 2.0 / eps, "predicted": 2.0 / eps}
    sweep["measured"][0] = math.nan  # one seed at eps = 0.1 never escapes: the censored median still exists
    rows = sim.plateau_rows(sweep)
    assert rows[0]["stats"].reached == 2 and rows[0]["stats"].median_all == pytest.approx(20)
    assert sim.variant_slopes(rows)["gd", "full"][0] == pytest.approx(-1)


def test_corollary_gaps_and_theta_table(quick_tables):
    printed, derived = sim.corollary_gaps(quick_tables["theta"])
    assert printed > 1 and derived < sim.COROLLARY_TOLERANCE
    assert len(sim.theta_table(quick_tables["theta"]).rows) == len(quick_tables["cfg"].thetas)


def test_chatter_rate_range(quick_tables):
    lo, hi = sim.chatter_rate_range(quick_tables["chatter"])
    assert 0.95 < lo <= hi < 1.05
    with pytest.raises(ValueError, match="no row"):
        sim.chatter_rate_range(quick_tables["chatter"], settled=(1e-9, 1e-9))
    assert sim.egd_phase_estimate(0.1, 0.02) > sim.egd_phase_estimate(0.1, 0.1)


def test_equi_rows_and_slopes(quick_tables):
    rows = sim.equi_rows(quick_tables["equi"])
    measured, curve, leading = sim.equi_slopes(rows)
    assert measured == pytest.approx(curve, abs=0.05)
    assert -0.7 < measured < -0.4 and leading < -1
    eps, k, slope = sim.equi_theory_small_eps()
    assert slope == pytest.approx(-0.5, abs=0.05) and np.all(np.diff(k) > 0)
    assert len(sim.equi_slopes_table((measured, curve, leading), (eps, k, slope)).rows) == 4


def test_eigen_slopes(quick_tables):
    inside, outside = (sim.eigen_slopes(quick_tables["eigen"][t]) for t in sim.EIGEN_THETAS)
    assert inside == pytest.approx((1, 1), abs=0.05)
    assert outside[0] == pytest.approx(1, abs=0.05) and abs(outside[1]) < 0.1


def test_small_runs_summaries():
    run = ex.shift_curve(method="gd", seed=0, steps=2500, n_train=5000, n_test=5000, **sim.SETTING)
    ref = sim.reference_summary(run)
    assert ref.max_dev_at_w < ref.max_dev < 0.1
    assert ref.predicted == pytest.approx(1613) and abs(ref.gap) < 0.05
    assert len(sim.reference_table(ref).rows) == 6
    mirror = ex.shift_curve(method="gd", seed=0, steps=300, u=(0.0, -3.0), n_train=5000, n_test=5000,
                            s=ex.S, theta=ex.THETA, eta=ex.ETA)
    stated, exact = sim.mirror_deviation(mirror)
    assert stated == pytest.approx(1.0) and exact < 0.01
    assert sim.egd_slow_envelope(np.array([0]))[0] == pytest.approx(3.0)
    assert sim.fast_optimum() == pytest.approx(0.604, abs=1e-3)


def test_seed_spread_on_synthetic_tables():
    acc = {"max_dev": np.array([0.005, 0.02]), "measured": np.array([100.0, 104.0]),
           "predicted": np.array([100.0, 100.0]), "nu_ols": np.array([0.01, -0.01])}
    theory = np.zeros(3)
    spread = sim.seed_spread(acc, [np.full(3, 0.01), np.full(3, -0.01)], theory)
    assert spread.within == 1 and spread.max_gap == pytest.approx(0.04) and spread.mean_dev == 0
    assert spread.escape.median_all == 102 and spread.nu_sd == pytest.approx(0.01)


def test_equi_crossing_on_a_small_run():
    run = ex.equi_curve(eps=0.01, steps=400, seed=0, n_train=20_000, n_test=20_000)
    c = sim.equi_crossing(run)
    assert c.w_star[1] < 0 and abs(c.cross_population - c.cross_simulation) <= 5
    assert c.dev_eq19 == pytest.approx(1.0, abs=0.01) and c.dev_exact < 0.05
    assert len(sim.crossing_table(c).rows) == 6


def test_simulation_verdicts(quick_tables):
    ref = sim.ReferenceRun(max_dev=0.0094, max_dev_at_w=0.002, measured=1622, predicted=1613, error_sd=0.0104)
    theory = np.zeros(5)
    spread = sim.seed_spread(quick_tables["acc"], [np.zeros(5)], theory)
    rows = sim.plateau_rows(quick_tables["sweep"])
    equi = sim.EquiCrossing((0.03, -6.3), 104, 104, 0.008, 1.0, 0.008, (0.0, 1.0, 0.0))
    checks = sim.simulation_checks(
        ref=ref, spread=spread, mirror=(1.0, 0.0), corollary=sim.corollary_gaps(quick_tables["theta"]), rows=rows,
        slopes=sim.variant_slopes(rows), chatter=sim.chatter_rate_range(quick_tables["chatter"]), equi=equi,
        equi_slope=sim.equi_slopes(sim.equi_rows(quick_tables["equi"])),
        equi_rows_=sim.equi_rows(quick_tables["equi"]),
        eigen={t: sim.eigen_slopes(tab) for t, tab in quick_tables["eigen"].items()})
    verdicts = [c.holds for c in checks]
    assert verdicts == [True, False, True, True, True, False, False, True, True, False, True, True, False, False,
                        True, False]
    for c in checks:
        assert c.paper and c.ours
        assert all("$" not in cell for cell in (c.claim, c.paper, c.ours))
    assert len(checks_table(checks).rows) == len(checks)
