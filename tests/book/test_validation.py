"""The validation chapter's analyses (egd.book.validation): formats, verdicts, tables, the three levels."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from egd.book import definitions, display, style, toy, validation
from egd.grokking.store import find_run, save_run
from egd.validation import anisotropy, toy_mlp

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "results" / anisotropy.ANISOTROPY_SUBDIR

SMALL_MLP = toy_mlp.ToyMLPConfig(width=8, n_train=200, n_test=400, max_steps=300)
TINY_SWEEPS = {
    "escape": toy_mlp.ToyMLPSweep(eps=(0.1, 0.03, 0.01), seeds=(0, 1), config=SMALL_MLP),
    "curves": toy_mlp.ToyMLPSweep(eps=(0.01,), seeds=(0, 1), config=toy_mlp.ToyMLPConfig(
        width=8, n_train=200, n_test=400, max_steps=100, eval_every=10, plateau_level=toy_mlp.HALF_ERROR_LEVEL,
        stop_early=False)),
}
TINY_L3 = anisotropy.AnisotropyProfile(
    p=7, eps=(1.0, 0.25), seeds=(0,), methods=(("vanilla", None), ("egd-svd", None)),
    overrides=dict(preset="smoke", train_fraction=0.6, batch_size=16, max_epochs=4, patience=0, spectrum_every=2,
                   threshold=0.3))


@pytest.fixture(scope="module")
def small_levels(tmp_path_factory):
    l1 = validation.level1(n=2000, steps=50)
    l2 = validation.level2("quick", sweeps=TINY_SWEEPS)
    l3 = validation.level3(TINY_L3, tmp_path_factory.mktemp("results"))
    return l1, l2, l3


# --- styles and formats ------------------------------------------------------------------------


def test_level2_methods_take_the_colour_of_the_harness_method_they_run():
    assert validation.level2_style("gd").color == style.method_style("vanilla").color
    assert validation.level2_style("egd-svd").color == style.method_style("egd-svd").color
    assert validation.level2_style("egd-rsvd").color == style.method_style("egd-rsvd1").color
    with pytest.raises(ValueError, match="method"):
        validation.level2_style("adam")


def test_toy_methods_have_one_distinct_colour_each():
    colours = {m: validation.toy_method_style(m).color for m in toy.METHOD_COLORS}
    assert len(set(colours.values())) == 3
    assert validation.toy_method_style("gd", linestyle="--").linestyle == "--"
    with pytest.raises(ValueError, match="method"):
        validation.toy_method_style("newton")


def test_slopes_are_formatted_with_their_interval_and_censoring():
    assert validation.fmt_slope((-0.951, -1.052, -0.84)) == "−0.95 [−1.05, −0.84]"
    assert validation.fmt_slope((0.5, math.nan, math.nan)) == "+0.50"
    clean = {"reached": (-1.0, -1.2, -0.8), "at_cap": (-1.0, -1.2, -0.8), "n_runs": 4, "n_censored": 0}
    assert validation.fmt_fit(clean) == "−1.00 [−1.20, −0.80]"
    censored = {**clean, "at_cap": (-2.0, -2.5, -1.5), "n_censored": 1}
    text = validation.fmt_fit(censored, never="never reached 95%")
    assert "1/4 never reached 95%" in text and "−2.00 [−2.50, −1.50] (an upper bound)" in text


def test_verdicts_follow_the_censored_slope_rule():
    clean = {"reached": (-1.05, -1.3, -0.8), "at_cap": (-1.05, -1.3, -0.8), "n_censored": 0}
    assert validation.verdict(clean, -1.0) is True
    assert validation.verdict(clean, 0.0) is False
    censored = {"reached": (-0.5, -0.9, -0.1), "at_cap": (-2.0, -2.5, -1.5), "n_censored": 2}
    assert validation.verdict(censored, 0.0) is False
    assert validation.verdict(censored, -3.0) is None


def test_checks_table_names_its_number_columns():
    table = display.checks_table([display.Check("c", True, "1", "2")], header=("prediction", "measured"))
    assert list(table.header) == ["", "claim", "prediction", "measured"]
    assert list(display.checks_table([]).header) == ["", "claim", "paper", "ours"]
    with pytest.raises(ValueError, match="header"):
        display.checks_table([], header=("one",))


# --- level 1 ----------------------------------------------------------------------------------


def test_relative_deviation():
    ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_allclose(validation.relative_deviation(ref, ref + [[0.0, 0.5], [0.0, 0.0]]), [0.1, 0.0])
    with pytest.raises(ValueError, match="shape"):
        validation.relative_deviation(ref, ref[:1])


def test_level1_torch_matches_numpy_for_every_rule(small_levels):
    l1 = small_levels[0]
    assert set(l1.reference) == {"gd", "paper_egd", "egd"}
    for method in l1.reference:
        assert l1.reference[method].shape == (51, 2)
        assert l1.max_deviation(method) <= validation.LEVEL1_TOLERANCE
    with pytest.raises(ValueError, match="unknown"):
        validation.level1(steps_per_epoch=3)


# --- level 2 ----------------------------------------------------------------------------------


def test_plateau_table_marks_censored_runs_at_the_cap():
    runs = {"gd": {"eps": np.array([0.1, 0.01]), "seed": np.array([0, 0]), "plateau": np.array([20.0, np.nan]),
                   "max_steps": 500}}
    table = validation.plateau_table(runs)
    assert table["method"].tolist() == ["gd", "gd"]
    assert table["censored"].tolist() == [False, True]
    assert table["cap"].tolist() == [20.0, 500.0]
    with pytest.raises(ValueError, match="method"):
        validation.plateau_table({})


def test_median_by_eps_counts_failures_as_never():
    table = {"method": np.array(["m"] * 5, dtype=object), "eps": np.array([0.1, 0.1, 0.01, 0.01, 0.01]),
             "epochs": np.array([10.0, 30.0, 100.0, np.nan, np.nan]),
             "censored": np.array([False, False, False, True, True])}
    eps, median = validation.median_by_eps(table, "m")
    assert eps.tolist() == [0.01, 0.1]
    assert math.isinf(median[0]) and median[1] == 20.0
    with pytest.raises(ValueError, match="no rows"):
        validation.median_by_eps(table, "other")


def test_level2_predictions_and_tables(small_levels):
    l2 = small_levels[1]
    assert set(l2.escape) == set(l2.curves) == set(toy_mlp.TOY_MLP_METHODS)
    assert abs(l2.toy_slopes["gd"][0] + 1.0) < 0.05  # the toy's GD escape time ~ 1/eps
    assert l2.toy_slopes["paper_egd"][0] == pytest.approx(0.0)  # the paper's scheme: no eps at all
    assert set(l2.slopes) == set(toy_mlp.TOY_MLP_METHODS)
    assert all(times.shape == (2,) for times in l2.half_error.values())
    assert len(validation.level2_table(l2).rows) == 3
    assert len(validation.half_error_table(l2).rows) == 3
    checks = validation.level2_checks(l2)
    assert len(checks) == 5 and all(c.holds in (True, False, None) for c in checks)
    with pytest.raises(ValueError, match="escape"):
        validation.level2("quick", sweeps={"escape": TINY_SWEEPS["escape"]})


# --- level 3 ----------------------------------------------------------------------------------


def _stub(runs_by_method):
    return SimpleNamespace(runs_of=lambda method, eps: [SimpleNamespace(epochs_to_threshold=t)
                                                       for t in runs_by_method[method]])


def test_speedup_counts_failures_as_never():
    assert validation.speedup(_stub({"vanilla": [100, 200], "egd-svd": [10, 20]}), 1.0) == pytest.approx(10.0)
    assert validation.speedup(_stub({"vanilla": [100], "egd-svd": [None]}), 1.0) == 0.0
    assert math.isinf(validation.speedup(_stub({"vanilla": [None], "egd-svd": [5]}), 1.0))
    assert math.isnan(validation.speedup(_stub({"vanilla": [None], "egd-svd": [None]}), 1.0))
    # two seeds, one failure: the median counting it as never is never
    assert validation.speedup(_stub({"vanilla": [100, 100], "egd-svd": [5, None]}), 1.0) == 0.0


def test_memorisation_time_is_the_first_epoch_at_the_level():
    level = definitions.MEMORISED_ACCURACY
    run = SimpleNamespace(train_acc=np.array([0.2, level - 1e-9, level, 1.0]))
    assert validation.memorisation_time(run) == 3
    assert validation.memorisation_time(SimpleNamespace(train_acc=np.array([0.5, 0.6]))) is None


def test_every_level_feeds_the_summary(small_levels):
    l1, l2, l3 = small_levels
    checks = validation.summary_checks(l1, l2, l3)
    # 3 level-1 rows, 1 + 2 x 2 level-2 rows, 2 slopes + 2 speed-ups + 2 anisotropies at level 3
    assert len(checks) == 3 + 5 + 6
    assert all(c.holds in (True, False, None) for c in checks)
    assert all("$" not in c.claim + c.paper + c.ours for c in checks)  # math only as \( ... \)
    table = validation.summary_table(checks)
    assert list(table.header)[2:] == ["prediction", "measured (95% interval)"]
    assert len(validation.level3_checks(l3)) == 5
    for table in (validation.settings_table(l2, l3), validation.level3_table(l3), validation.anisotropy_table(l3),
                  validation.measures_table()):
        assert table.rows and "<table" in table._repr_html_()
    relative = l3.anisotropy_points(relative=True)
    for x, y in relative.values():
        assert np.median(y[np.isclose(x, 1.0)]) == pytest.approx(1.0)


def test_measures_table_uses_the_books_names():
    names = [row[1] for row in validation.measures_table().rows]
    assert set(names) - {"half-error time"} <= set(definitions.DEFINITIONS)


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="no committed level-3 runs")
def test_committed_quick_runs_are_loaded_not_trained_and_the_chapter_sentences_hold():
    profile = anisotropy.PROFILES["quick"]
    for config in anisotropy.anisotropy_configs(profile):
        assert find_run(config, COMMITTED) is not None, config
    l3 = validation.level3("quick", REPO / "results")
    assert len(l3.runs) == len(anisotropy.anisotropy_configs(profile))
    failed = [c.claim for c in validation.level3_checks(l3) if c.holds is not True]
    assert not failed, failed
    assert validation.speedup(l3, 1.0) > 1


def test_level2_loads_the_saved_full_sweep_in_either_profile(tmp_path, monkeypatch):
    full = {"escape": TINY_SWEEPS["escape"], "curves": TINY_SWEEPS["curves"]}
    quick = {"escape": toy_mlp.ToyMLPSweep(eps=(0.1, 0.03), seeds=(0,), config=SMALL_MLP),
             "curves": TINY_SWEEPS["curves"]}
    monkeypatch.setattr(toy_mlp, "PROFILES", {"quick": quick, "full": full})
    sweeps, runs = validation.level2_runs("quick", tmp_path)
    assert sweeps == quick and runs == {"escape": None, "curves": None}
    assert validation.level2_runs("quick", None)[0] == quick
    with pytest.raises(ValueError, match="profile must be one of"):
        validation.level2_runs("huge", tmp_path)

    computed = validation.level2("full", results_dir=tmp_path)  # computed, and saved in the full profile
    assert computed.loaded == () and computed.sweeps == full

    def no_training(*args, **kwargs):
        raise AssertionError("saved sweeps must be loaded, not trained")

    monkeypatch.setattr(toy_mlp, "train_toy_mlp", no_training)
    for profile in ("quick", "full"):
        l2 = validation.level2(profile, results_dir=tmp_path)
        assert l2.loaded == ("escape", "curves") and l2.sweeps == full
        np.testing.assert_array_equal(l2.escape["gd"]["plateau"], computed.escape["gd"]["plateau"])
    assert "loaded from the committed runs" in str(validation.settings_table(
        l2, validation.level3(TINY_L3, tmp_path)).rows[0][-1])


COMMITTED_L2 = REPO / "results" / toy_mlp.TOY_MLP_SUBDIR


@pytest.mark.skipif(not COMMITTED_L2.is_dir(), reason="no committed level-2 sweeps")
def test_committed_level2_sweep_is_loaded_and_its_slopes_are_decisive():
    l2 = validation.level2("quick", results_dir=REPO / "results")
    assert "escape" in l2.loaded and l2.sweeps["escape"] == toy_mlp.PROFILES["full"]["escape"]
    eps = np.unique(l2.eps)
    assert len(eps) >= 6 and math.log10(eps.max() / eps.min()) >= 2 - 1e-9 and len(l2.sweeps["escape"].seeds) >= 10
    for method, fit in l2.slopes.items():
        _, low, high = fit["reached"]
        assert fit["n_censored"] == 0 and high - low <= 0.5, (method, fit)


def test_committed_level3_loads_only_finished_runs_and_trains_nothing(small_levels, tmp_path):
    l3 = small_levels[2]
    empty, planned = validation.level3_committed(TINY_L3, tmp_path)
    assert (len(empty.runs), planned) == (0, len(anisotropy.anisotropy_configs(TINY_L3)))
    assert not list(tmp_path.rglob("*.json"))  # nothing trained
    assert validation.level3_table(empty).rows == []
    for run in l3.runs[:2]:  # two of the four runs committed: those are found, the rest left out
        save_run(run, tmp_path / anisotropy.ANISOTROPY_SUBDIR)
    some, _ = validation.level3_committed(TINY_L3, tmp_path)
    assert sorted(r.name for r in some.runs) == sorted(r.name for r in l3.runs[:2])
    assert some.eps_of("vanilla") == {anisotropy.run_eps(r.config) for r in l3.runs[:2]}
    with pytest.raises(ValueError, match="no full-batch gradients"):  # none computed for committed runs
        some.anisotropy_points()


def test_slope_table_puts_settings_side_by_side(small_levels):
    l3 = small_levels[2]
    table = validation.level3_slope_table([("small", l3, 4), ("half", validation.Level3(l3.profile, l3.runs[:2],
                                                                                         l3.block), 4)])
    assert [row[0] for row in table.rows] == ["vanilla SGD", "EGD (exact)", "runs finished"]
    assert table.rows[0][1] == "−1.00 (the toy's GD)" and table.rows[1][1] == "0 (the paper)"
    assert table.rows[-1][2:] == ["4 / 4", "2 / 4"]
    assert table.rows[1][3] == "–"  # the half setting has no EGD runs
    assert table.rows[0][2][0] in (display.HOLDS, display.FAILS, display.UNDECIDED)
    assert "p = 7" in table.header[2] and "2 seeds" not in table.header[2] and "1 seeds" in table.header[2]


def test_setting_label_names_what_the_quick_profile_changes():
    assert validation.setting_label(anisotropy.PROFILES["full"]).startswith("p = 97, the paper's preset")
    quick = validation.setting_label(anisotropy.PROFILES["quick"])
    assert "p = 31" in quick and "train fraction 0.8" in quick and "max epochs" not in quick


def test_plot_grok_times_draws_every_method(small_levels):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    validation.plot_grok_times(ax, small_levels[2])
    labels = ax.get_legend_handles_labels()[1]
    assert {"vanilla SGD", "EGD (exact)"} <= set(labels)
    plt.close(fig)


def test_local_slopes_between_neighbouring_eps(small_levels):
    l3 = small_levels[2]
    slopes = validation.local_slopes(l3, "vanilla")
    assert [(hi, lo) for hi, lo, _ in slopes] == [(1.0, 0.25)]
    eps, median = validation.median_by_eps(l3.grok, "vanilla")
    if np.isfinite(median).all():
        assert slopes[0][2] == pytest.approx(np.log(median[0] / median[1]) / np.log(eps[0] / eps[1]))
    table = validation.local_slopes_table(l3)
    assert table.header == ["method", "T95 at 1", "slope 1 → 0.25", "T95 at 0.25"]


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="no committed level-3 runs")
def test_committed_full_scale_runs_hold_the_chapters_sentences():
    full, planned = validation.level3_committed("full", REPO / "results")
    if len({anisotropy.run_eps(r.config) for r in full.runs if r.config.method == "vanilla"}) < 3:
        pytest.skip("fewer than three eps of the full level 3 committed")
    quick = validation.level3("quick", REPO / "results")
    failed = [c.claim for c in validation.scale_checks(quick, full) if c.holds is not True]
    assert not failed, failed


def test_scale_checks_fail_when_the_smallest_eps_step_is_censored(monkeypatch):
    # vanilla never grokked at the smallest eps: the last local slope is NaN, and the sentences about
    # "the smallest step" must fail rather than read the last finite step instead
    steps = [(1.0, 0.5, -0.1), (0.5, 0.25, -0.3), (0.25, 0.125, -1.3), (0.125, 0.0625, math.nan)]
    monkeypatch.setattr(validation, "local_slopes", lambda l3, method: steps)
    quick = SimpleNamespace(slopes={"vanilla": {"reached": (-0.1, -0.2, 0.0)}})
    full = SimpleNamespace(slopes={"vanilla": {"reached": (-0.6, -0.7, -0.5)}})
    checks = {c.claim: c for c in validation.scale_checks(quick, full)}
    smallest = [c for claim, c in checks.items() if claim.startswith("At the smallest step")]
    quoted = [c for claim, c in checks.items() if "about −1.3" in claim]
    assert smallest and quoted
    assert smallest[0].holds is False and smallest[0].ours == "–"
    assert quoted[0].holds is False
    steps[-1] = (0.125, 0.0625, -1.28)
    checks = validation.scale_checks(quick, full)
    assert all(c.holds for c in checks if c.claim.startswith("At the smallest step") or "about −1.3" in c.claim)
