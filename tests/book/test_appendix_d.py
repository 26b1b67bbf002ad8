"""The Appendix D chapter's analyses: steps over seeds, verdicts, ordering, curves, labels, step cost."""

import math

import numpy as np
import pytest

from egd.book import appendix_d as ad
from egd.book.display import FAILS, HOLDS, UNDECIDED
from egd.book.style import method_style
from egd.grokking import runsets
from egd.grokking.labels import method_key
from egd.grokking.store import RunResult


def fake_run(method, rank, seed, epochs_to_threshold, *, setting="digits", epochs_run=None):
    """A finished run with a history that crosses the threshold at ``epochs_to_threshold`` (None: never)."""
    if setting == "digits":
        config = runsets.digits_config(method, rank, seed, 2.0)
        n_train, n_test = 1000, 797
    else:
        config = runsets.transformer_config(method, rank, seed)
        n_train, n_test = 4704, 4705
    epochs_run = epochs_run or (epochs_to_threshold or 50) + 5
    test = np.full(epochs_run, int(0.5 * n_test), dtype=np.uint32)
    if epochs_to_threshold is not None:
        test[epochs_to_threshold - 1:] = n_test
    history = {"train_correct": np.full(epochs_run, n_train, dtype=np.uint32), "test_correct": test,
               "train_loss": np.zeros(epochs_run, np.float32), "test_loss": np.zeros(epochs_run, np.float32),
               "hidden_norm": np.ones(epochs_run, np.float32), "output_norm": np.ones(epochs_run, np.float32),
               "seconds": np.arange(1, epochs_run + 1, dtype=np.float32), "transform_active": np.ones(epochs_run, bool)}
    summary = {"status": "stopped", "epochs_run": epochs_run, "epochs_to_threshold": epochs_to_threshold,
               "seconds_to_threshold": None if epochs_to_threshold is None else float(epochs_to_threshold),
               "n_train": n_train, "n_test": n_test}
    return RunResult(config, history, np.zeros((0, 1), np.float32), np.zeros(0, np.int32), summary, {})


def digits_runs():
    return ([fake_run("vanilla", None, s, e) for s, e in enumerate((8000, None, 9000))]
            + [fake_run("grokfast", None, s, e) for s, e in enumerate((300, 400, 350))]
            + [fake_run("egd-svd", None, s, e) for s, e in enumerate((100, 120, 110))]
            + [fake_run("egd-rsvd", 8, s, e) for s, e in enumerate((90, None, None))])


def test_step_rows_turn_epochs_into_steps_and_count_failures_as_inf():
    rows = {r.key: r for r in ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)}
    assert list(rows) == ["vanilla", "grokfast", "egd-svd", "egd-rsvd8"]  # the paper's order, present ones
    van = rows["vanilla"]
    assert van.steps_per_epoch == 5 and van.paper == 43_100
    assert (van.reached, van.seeds) == (2, 3)
    assert van.median_all == 9000 * 5  # sorted (8000, 9000, inf): the middle one
    assert van.median == 8500 * 5 and (van.min, van.max) == (40_000, 45_000)
    rsvd = rows["egd-rsvd8"]
    assert math.isinf(rsvd.median_all) and rsvd.median == 450 and rsvd.reached == 1
    assert rows["egd-svd"].median_all == 550


def test_transformer_steps_per_epoch_is_nine():
    row = ad.step_summary([fake_run("egd-svd", None, s, 120, setting="transformer") for s in range(3)], "egd-svd")
    assert row.steps_per_epoch == 4704 // 512 == 9 and row.median_all == 1080


def test_runs_of_an_unexpected_method_are_refused():
    with pytest.raises(ValueError, match="not in the order"):
        ad.step_rows(digits_runs(), ad.digits_paper(), ("vanilla", "grokfast"))
    with pytest.raises(ValueError, match="no runs"):
        ad.step_summary([], "vanilla")


def test_table_has_the_paper_beside_ours():
    table = ad.steps_table(ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER), "adamw")
    first = table.rows[0]
    assert first[0] == "AdamW" and first[1] == "43,100" and first[2] == "45,000" and first[-1] == "2/3"
    last = table.rows[-1]
    assert last[0] == "AdamW + EGD-RSVD r=8" and last[2] == "never" and last[3] == "450" and last[4] == "450–450"
    assert "<table" in table._repr_html_()


def test_speedup_checks_follow_the_paper_and_name_the_fastest():
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    checks = {c.claim: c for c in ad.speedup_checks(rows, "adamw", "85%")}
    egd = checks["AdamW + EGD (exact) reaches 85% in fewer steps than AdamW"]
    assert egd.holds is True and egd.paper == "700 vs 43,100" and egd.ours == "550 vs 45,000"
    assert checks["AdamW + EGD-RSVD r=8 reaches 85% in fewer steps than AdamW"].holds is False  # never vs 45,000
    best = checks["the fastest method to 85% is the paper's"]
    assert best.holds is False and "EGD-RSVD r=4" not in best.paper and "r=8" in best.paper
    assert best.ours == "AdamW + EGD (exact)"


def test_fastest_keeps_ties_and_ignores_failures():
    assert ad.fastest({"a": 3, "b": 3, "c": math.inf, "d": None}) == ["a", "b"]
    assert ad.fastest({"a": math.inf}) == []
    assert ad.fastest(ad.digits_paper()) == ["egd-rsvd4", "egd-rsvd8"]


def test_ordering_of_table_6():
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    assert ad.ordering_holds(rows) is False  # RSVD 8 never reached: slower than Grokfast
    good = [r for r in rows if r.key != "egd-rsvd8"]
    assert ad.ordering_holds(good) is True
    assert ad.ordering_holds([r for r in rows if r.key != "grokfast"]) is None


def test_baseline_reach_check():
    rows = ad.step_rows([fake_run("vanilla", None, s, e, setting="transformer") for s, e in
                         enumerate((6000, None, 7000))], ad.transformer_paper(), ad.TRANSFORMER_ORDER)
    check = ad.baseline_reach_check(rows, "adam", "95%", 100_000, 2)
    assert check.holds is True and check.ours == "2/3 seeds" and "55,780" in check.paper
    rows = ad.step_rows([fake_run("vanilla", None, s, None, setting="transformer") for s in range(3)],
                        ad.transformer_paper(), ad.TRANSFORMER_ORDER)
    assert ad.baseline_reach_check(rows, "adam", "95%", 100_000, 2).holds is False


def test_curves_are_in_steps():
    run = fake_run("egd-svd", None, 0, 10)
    steps, train, test = ad.curves(run)
    assert steps[0] == 5 and steps[-1] == 5 * run.summary["epochs_run"]
    assert test[9] == 1.0 and train.max() == 1.0


def test_labels_and_colours_are_the_methods():
    assert ad.run_label("vanilla", "adam") == "Adam"
    assert ad.run_label("egd-rsvd36", "adam") == "Adam + EGD-RSVD r=36"
    style = ad.run_style("vanilla", "adamw")
    assert style.color == method_style("vanilla").color and style.label == "AdamW"
    assert ad.run_style("grokfast", "adam").color == method_style("grokfast").color


def test_step_cost_rows():
    record = {"settings": {"digits": {"median_ms_per_step": {"vanilla": 2.0, "egd-svd": 5.0, "grokfast": 2.2}}}}
    rows = ad.step_cost_rows(record, "digits", ad.DIGITS_ORDER)
    assert rows == [("vanilla", 2.0, 1.0), ("grokfast", 2.2, pytest.approx(1.1)), ("egd-svd", 5.0, 2.5)]
    with pytest.raises(ValueError, match="no setting"):
        ad.step_cost_rows(record, "transformer", ad.TRANSFORMER_ORDER)


def test_chapter_configs_cover_both_tables():
    keys = {method_key(c) for c in runsets.digits_configs()}
    assert keys == set(ad.DIGITS_ORDER)
    assert {method_key(c) for c in runsets.transformer_configs()} == set(ad.TRANSFORMER_ORDER)
    assert {c.weight_decay for c in runsets.digits_configs()} == set(runsets.DIGITS_WEIGHT_DECAYS)
    assert all(c.optimizer == "adam" for c in runsets.transformer_configs())


def test_marks_used_by_the_chapter():
    assert {HOLDS, FAILS, UNDECIDED} == {"✓", "✗", "–"}


def test_settings_table_reads_the_configs():
    table = ad.settings_table({"transformer": runsets.transformer_configs(), "digits": runsets.digits_configs()})
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["batch, steps per epoch"] == ["512, 9", "200, 5"]
    assert rows["weight decay: baseline; with a method"] == ["0; 0.005", "0.01, 2; 0.01, 2"]
    both = "20,000 at weight decay 0.01, 100,000 at weight decay 2"
    assert rows["step budget: baseline; with a method"] == ["100,008; 20,007", f"{both}; {both}"]
    assert "warm-up 10 steps" in rows["optimizer"][0] and rows["optimizer"][1].startswith("AdamW")
    assert rows["training / test examples"] == ["4,704 / the rest", "1,000 / the rest"]
    with pytest.raises(ValueError, match="no configs"):
        ad.settings_table({"empty": []})


def test_missing_runs_are_named():
    configs = runsets.transformer_configs()[:2]
    done = [fake_run("vanilla", None, 0, 100, setting="transformer")]
    assert ad.missing_runs(configs, done) == ["vanilla adam seed 1"]


def test_fastest_statement_names_ours_and_the_papers():
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    text = ad.fastest_statement(rows, "adamw", "85%")
    assert text.startswith("Fewest steps to 85% (median over seeds, a failure as +∞): "
                           "AdamW + EGD (exact) (550 steps)")
    assert "the paper's fewest: AdamW + EGD-RSVD r=8 (500 steps)." in text
    none = ad.step_rows([fake_run("vanilla", None, s, None) for s in range(3)], ad.digits_paper(), ad.DIGITS_ORDER)
    assert ad.fastest_statement(none, "adamw", "85%").startswith("No method reaches 85%")


def test_runs_by_method_in_order():
    groups = ad.runs_by_method(digits_runs(), ad.DIGITS_ORDER)
    assert list(groups) == ["vanilla", "grokfast", "egd-svd", "egd-rsvd8"]
    assert [r.config.seed for r in groups["vanilla"]] == [0, 1, 2]


def test_ordering_checks_one_row_per_set():
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    good = [r for r in rows if r.key != "egd-rsvd8"]
    checks = ad.ordering_checks({"weight decay 0.01": rows, "weight decay 2": good, "none": []})
    assert [c.holds for c in checks] == [False, True]
    assert checks[0].claim.startswith("weight decay 0.01: every EGD variant") and checks[0].paper == ad.PAPER_ORDERING
    assert "AdamW + EGD-RSVD r=8 never" in checks[0].ours


def test_mixed_rows_take_the_baseline_from_one_weight_decay():
    slow = ad.step_rows([fake_run("vanilla", None, s, 8000) for s in range(3)], ad.digits_paper(), ad.DIGITS_ORDER)
    fast = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    mixed = ad.mixed_rows({0.01: slow, 2.0: fast}, 0.01, 2.0)
    assert [r.key for r in mixed] == ["vanilla", "grokfast", "egd-svd", "egd-rsvd8"]
    assert mixed[0].median_all == 40_000
    assert ad.mixed_rows({0.01: slow}, 0.01, 2.0) == []


def test_step_cost_table():
    record = {"settings": {"transformer": {"median_ms_per_step": {"vanilla": 100.0, "egd-svd": 130.0}}}}
    table = ad.step_cost_table(record, "transformer", ad.TRANSFORMER_ORDER, "adam")
    assert table.rows == [["Adam", "100.00", "1.00x"], ["Adam + EGD (exact)", "130.00", "1.30x"]]


def test_accuracy_levels_at_memorisation_and_at_the_end():
    runs = [fake_run("vanilla", None, s, e) for s, e in enumerate((10, 20, None))]
    for run in runs:  # memorised at epoch 3 with test 50%; the last run never reaches the threshold
        run.history["train_correct"][:2] = 0
    at_mem, final = ad.accuracy_levels(runs)
    assert at_mem == pytest.approx(int(0.5 * 797) / 797) and final == 1.0
    assert ad.accuracy_levels_text(runs) == ("test accuracy 49.9% when it has memorised its training set, 100.0% at "
                                             "the end of the run (median of 3 runs)")
    runs[0].history["train_correct"][:] = 0
    assert ad.accuracy_levels(runs[:1])[0] is None
    assert ad.accuracy_levels_text(runs[:1]) == ("it never memorises its training set (its train accuracy stays below "
                                                 "99%); test accuracy 100.0% at the end of the run (median of 1 run)")


def test_load_runs_trains_only_when_asked(tmp_path):
    from egd.grokking.config import make_config

    configs = [make_config("digits", "vanilla", preset="smoke", max_epochs=2)]
    assert ad.load_runs(configs, tmp_path) == []
    trained = ad.load_runs(configs, tmp_path, train_missing=True)
    assert len(trained) == 1 and len(ad.load_runs(configs, tmp_path)) == 1


def test_committed_runs_are_the_chapters_configs():
    from pathlib import Path

    from egd.grokking.config import run_name
    from egd.grokking.store import load_run

    folder = Path(__file__).resolve().parents[2] / "results" / runsets.OTHER_MODELS_SUBDIR
    expected = {run_name(c) for c in runsets.transformer_configs() + runsets.digits_configs()}
    for path in sorted(folder.glob("*.json")):
        run = load_run(path)
        assert path.stem == run.name and run.name in expected, path.name
        assert len(run.history["test_correct"]) == run.summary["epochs_run"]
        assert run.summary["steps_per_epoch"] == run.summary["n_train"] // run.config.batch_size


def test_lowest_accuracy_after_the_threshold():
    run = fake_run("egd-svd", None, 0, 10, setting="transformer", epochs_run=20)
    run.history["test_correct"][14] = int(0.8 * 4705)  # a dip five epochs after the threshold
    assert ad.lowest_after_threshold(run) == pytest.approx(int(0.8 * 4705) / 4705)
    assert ad.lowest_after_threshold(fake_run("egd-svd", None, 1, None, setting="transformer")) is None
    table = ad.stability_table([run, fake_run("egd-svd", None, 1, 12, setting="transformer", epochs_run=22)],
                               ad.TRANSFORMER_ORDER, "adam")
    assert table.rows == [["Adam + EGD (exact)", "2/2", "90", "90.0%", "80.0%", "1 (1/2 seeds)"]]


def test_falls_below_a_level_after_the_threshold_are_counted_per_method():
    dipping = fake_run("grokfast", None, 0, 10, setting="transformer", epochs_run=20)
    dipping.history["test_correct"][[12, 15]] = int(0.5 * 4705)  # two evaluations fall, after the threshold
    dipping.history["test_correct"][3] = 0  # before it: not a fall
    steady = [fake_run("egd-svd", None, s, 10, setting="transformer", epochs_run=20) for s in range(2)]
    never = fake_run("egd-svd", None, 2, None, setting="transformer")
    assert ad.falls_after_threshold(dipping) == 2 and ad.falls_after_threshold(steady[0]) == 0
    assert ad.falls_after_threshold(never) is None
    assert ad.falls_after_threshold(dipping, level=0.4) == 0
    with pytest.raises(ValueError, match="level must be in"):
        ad.falls_after_threshold(dipping, level=90)
    runs = [dipping, *steady, never]
    statement = ad.stability_statement(runs, ad.TRANSFORMER_ORDER, "adam")
    assert statement == ("Adam + EGD (exact) stayed at or above 90% test accuracy at every evaluation after first "
                         "reaching the threshold, on every seed; Adam + Grokfast-EMA fell below 90% at 2 evaluations "
                         "(1 of 1 seeds).")
    assert ad.stability_statement([dipping], ad.TRANSFORMER_ORDER, "adam").startswith(
        "After first reaching the threshold, Adam + Grokfast-EMA fell below 90% at 2 evaluations (1 of 1 seeds).")
    assert ad.stability_statement([never], ad.TRANSFORMER_ORDER, "adam") == "No run trained past the threshold."


def test_step_cost_table_with_seconds_to_the_threshold():
    record = {"settings": {"digits": {"median_ms_per_step": {"vanilla": 10.0, "egd-svd": 40.0, "egd-rsvd8": 20.0,
                                                             "grokfast": 11.0}}}}
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    table = ad.step_cost_table(record, "digits", ad.DIGITS_ORDER, "adamw", rows=rows)
    cells = {r[0]: r[-1] for r in table.rows}
    assert cells["AdamW"] == "450.0" and cells["AdamW + EGD (exact)"] == "22.0"
    assert cells["AdamW + EGD-RSVD r=8"] == "never"
    assert ad.seconds_per_step(record, "digits")["egd-svd"] == pytest.approx(0.04)
    with pytest.raises(ValueError, match="no setting 'gpu'"):
        ad.seconds_per_step(record, "gpu")


def test_a_baseline_without_finished_runs_is_listed_and_leaves_its_verdicts_undecided():
    configs = runsets.transformer_configs()
    runs = [fake_run(m, r, s, e, setting="transformer") for m, r, e in
            (("egd-svd", None, 56), ("grokfast", None, 130), ("egd-rsvd", 36, 55)) for s in range(3)]
    pending = ad.pending_methods(configs, runs, ad.transformer_paper(), ad.TRANSFORMER_ORDER)
    assert pending == [ad.PendingMethod("vanilla", 55_780, 3)]
    rows = ad.step_rows(runs, ad.transformer_paper(), ad.TRANSFORMER_ORDER)
    table = ad.steps_table(rows, "adam", pending=pending)
    assert [r[0] for r in table.rows] == ["Adam", "Adam + Grokfast-EMA", "Adam + EGD (exact)", "Adam + EGD-RSVD r=36"]
    assert table.rows[0][1:3] == ["55,780", ad.NOT_FINISHED] and table.rows[0][-1] == "0 of 3 finished"
    checks = ad.speedup_checks(rows, "adam", "95%", base_paper_steps=55_780)
    vs_base = [c for c in checks if "fewer steps than Adam" in c.claim]
    assert len(vs_base) == 3 and all(c.holds is None for c in vs_base)
    assert vs_base[0].paper == "910 vs 55,780" and vs_base[0].ours == f"1,170 vs {ad.NOT_FINISHED}"
    best = checks[-1]
    assert best.holds is False and "among the methods measured" in best.claim
    assert best.paper == "Adam + Grokfast-EMA" and best.ours == "Adam + EGD-RSVD r=36"
    reach = ad.baseline_reach_check(rows, "adam", "95%", 100_000, 2, pending=pending[0])
    assert reach.holds is None and reach.ours == f"{ad.NOT_FINISHED} (0 of 3)"
    with pytest.raises(ValueError, match="no runs"):
        ad.baseline_reach_check(rows, "adam", "95%", 100_000, 2)
    assert ad.pending_methods(configs, runs + [fake_run("vanilla", None, 0, None, setting="transformer")],
                              ad.transformer_paper(), ad.TRANSFORMER_ORDER) == []


def test_steps_are_whole_numbers_with_separators():
    assert ad.fmt_steps(1201.5) == "1,201.5" and ad.fmt_steps(1170.0) == "1,170" and ad.fmt_steps(55_780) == "55,780"
    assert ad.fmt_steps(None) == "never" and ad.fmt_steps(math.inf) == "never"


def test_fastest_summary_names_steps_and_seconds():
    record = {"settings": {"digits": {"median_ms_per_step": {"vanilla": 10.0, "egd-svd": 100.0, "egd-rsvd8": 20.0,
                                                             "grokfast": 11.0}}}}
    rows = ad.step_rows(digits_runs(), ad.digits_paper(), ad.DIGITS_ORDER)
    seconds = ad.seconds_to_threshold(record, "digits", rows)
    assert seconds["egd-svd"] == pytest.approx(55.0) and seconds["grokfast"] == pytest.approx(1750 * 0.011)
    assert math.isinf(seconds["egd-rsvd8"])
    text = ad.fastest_summary(rows, record, "digits", "adamw", "85%")
    assert text.startswith("Fewest steps to 85%") and "AdamW + EGD (exact) (550 steps)" in text
    assert text.endswith("Fewest seconds on this CPU (median steps x ms per step): AdamW + Grokfast-EMA (19 s).")
    assert ad.fastest_summary(rows, None, "digits", "adamw", "85%") == ad.fastest_statement(rows, "adamw", "85%")


def test_step_budget_per_weight_decay():
    assert ad.step_budget([runsets.digits_config("vanilla", None, 0, 0.01)]) == 20_000
    assert ad.step_budget([runsets.digits_config(m, r, 0, 2.0) for m, r in runsets.DIGITS_METHODS]) == 100_000
    assert ad.step_budget(runsets.transformer_configs()) == 100_008
    with pytest.raises(ValueError, match="at least one"):
        ad.step_budget([])


def test_findings_of_the_committed_runs_are_tables_6_and_7():
    from pathlib import Path

    from egd.book import findings

    results = Path(__file__).resolve().parents[2] / "results"
    rows = ad.findings(results)
    assert {f.key for f in rows} == {"Table 6", "Table 7"}
    assert all(f.chapter == ad.CHAPTER and f.chapter in findings.TITLES for f in rows)
    assert all(f.verdict in (HOLDS, FAILS, UNDECIDED, findings.PARTIAL) for f in rows)
    assert ad.findings(Path("/nonexistent-results")) == []  # no runs, no rows
    board = {r.key: r for r in findings.scoreboard(rows)}
    assert board["Table 6"].verdict != findings.NOT_IN_BUILD and board["Table 7"].verdict != findings.NOT_IN_BUILD
    assert any(f.key == "Table 7" for f in findings.extra_findings(results))  # found through LATER_MODULES


def transformer_runs_with_baseline(baseline_epochs):
    """Three seeds each of Grokfast, EGD and RSVD 36, and the baseline's finished seeds."""
    return ([fake_run(m, r, s, e, setting="transformer") for m, r, e in
             (("egd-svd", None, 130), ("grokfast", None, 101), ("egd-rsvd", 36, 109)) for s in range(3)]
            + [fake_run("vanilla", None, s, e, setting="transformer") for s, e in enumerate(baseline_epochs)])


def test_a_baseline_with_a_seed_still_training_shows_the_range_its_median_can_take():
    planned = ad.planned_seeds(runsets.transformer_configs())
    assert planned == {"vanilla": 3, "grokfast": 3, "egd-svd": 3, "egd-rsvd36": 3}
    rows = ad.step_rows(transformer_runs_with_baseline((3458, 4000)), ad.transformer_paper(), ad.TRANSFORMER_ORDER,
                        planned=planned)
    base = rows[0]
    assert base.key == "vanilla" and (base.seeds, base.planned, base.unfinished) == (2, 3, 1)
    # the third seed at once: median(0, a, b) = a; never: median(a, b, inf) = b
    assert base.median_bounds == (3458 * 9, 4000 * 9)
    assert all(r.unfinished == 0 and r.median_range is None for r in rows[1:])
    table = ad.steps_table(rows, "adam")
    assert table.rows[0][2] == "31,122–36,000" and table.rows[0][-1] == "2/2, 1 still training"
    reach = ad.baseline_reach_check(rows, "adam", "95%", 100_000, 2)
    assert reach.holds is True and "at least 2 of 3 seeds" in reach.claim
    assert reach.ours == "2/2 seeds, 1 still training"
    checks = ad.speedup_checks(rows, "adam", "95%")
    assert all(c.holds is True for c in checks[:-1]) and "still training" in checks[0].ours
    assert checks[-1].holds is True and checks[-1].ours == "Adam + Grokfast-EMA"


def test_a_seed_still_training_can_leave_the_reach_check_and_the_comparisons_undecided():
    planned = ad.planned_seeds(runsets.transformer_configs())
    one_failed = ad.step_rows(transformer_runs_with_baseline((None,)), ad.transformer_paper(), ad.TRANSFORMER_ORDER,
                              planned=planned)
    # one of three failed, two still training: 2 of 3 can still reach, and the median is anything from 0 to never
    assert one_failed[0].median_bounds == (0.0, math.inf)
    assert ad.median_text(one_failed[0]) == "undecided"
    assert ad.baseline_reach_check(one_failed, "adam", "95%", 100_000, 2).holds is None
    checks = ad.speedup_checks(one_failed, "adam", "95%")
    assert all(c.holds is None for c in checks)  # the baseline could yet be fastest
    assert ad.fastest_rows(one_failed) is None
    assert "undecided while seeds of Adam are still training" in ad.fastest_statement(one_failed, "adam", "95%")
    two_failed = ad.step_rows(transformer_runs_with_baseline((None, None)), ad.transformer_paper(),
                              ad.TRANSFORMER_ORDER, planned=planned)
    assert ad.baseline_reach_check(two_failed, "adam", "95%", 100_000, 2).holds is False
    assert math.isinf(two_failed[0].median_bounds[0])  # median(inf, inf, anything) is a failure already
    assert ad.fastest_rows(two_failed) == ["grokfast"]
    with pytest.raises(ValueError, match="planned must be at least"):
        ad.step_summary([fake_run("vanilla", None, s, 10, setting="transformer") for s in range(3)], "vanilla",
                        planned=2)


def test_seconds_leave_out_a_method_with_seeds_still_training_but_it_can_still_be_fastest():
    record = {"settings": {"transformer": {"median_ms_per_step": {"vanilla": 1.0, "grokfast": 100.0,
                                                                  "egd-svd": 100.0, "egd-rsvd36": 100.0}}}}
    planned = ad.planned_seeds(runsets.transformer_configs())
    rows = ad.step_rows(transformer_runs_with_baseline((None,)), ad.transformer_paper(), ad.TRANSFORMER_ORDER,
                        planned=planned)
    assert "vanilla" not in ad.seconds_to_threshold(record, "transformer", rows)
    assert "Fewest seconds on this CPU: undecided while seeds of Adam are still training." in ad.fastest_summary(
        rows, record, "transformer", "adam", "95%")
    finished = ad.step_rows(transformer_runs_with_baseline((3458, 4000, 3600)), ad.transformer_paper(),
                            ad.TRANSFORMER_ORDER, planned=planned)
    assert "Fewest seconds on this CPU (median steps x ms per step): Adam (32 s)" in ad.fastest_summary(
        finished, record, "transformer", "adam", "95%")


def row(key, value=None, *, low=None, high=None, paper=None):
    """A StepRow of one finished seed at ``value`` steps (None: never), or, with ``low``/``high``, of a
    method with seeds still training whose median can still be anything in [low, high]."""
    if low is None:
        v = math.inf if value is None else value
        return ad.StepRow(key, paper, 1, int(value is not None), v, value, value, value, 1)
    return ad.StepRow(key, paper, 1, 1, low, low, low, low, 1, planned=3, median_range=(low, high))


def test_the_ordering_is_decided_only_where_every_outcome_of_the_seeds_still_training_agrees():
    fast = [row("grokfast", 300), row("egd-svd", 100), row("egd-rsvd8", 120)]
    assert ad.ordering_holds([row("vanilla", low=8000, high=math.inf), *fast]) is True  # 300 < any of them
    assert ad.ordering_holds([row("vanilla", low=200, high=math.inf), *fast]) is None
    # one comparison fails for sure: no outcome of the baseline's seeds saves the ordering
    assert ad.ordering_holds([row("vanilla", low=0, high=math.inf), row("grokfast", 300), row("egd-svd", 400)]) \
        is False
    # two finished methods that both never reach: Grokfast is not faster than the baseline
    assert ad.ordering_holds([row("vanilla"), row("grokfast"), row("egd-svd", 100)]) is False
    check = ad.ordering_checks({"wd 2": [row("vanilla", low=200, high=math.inf), *fast]})[0]
    assert check.holds is None
    assert "AdamW 200 or more, or never (1/1, 2 still training)" in check.ours


def test_a_method_with_seeds_still_training_is_the_fastest_when_even_its_highest_median_is():
    others = [row("vanilla", 40_000), row("egd-svd", 120)]
    assert ad.fastest_rows([row("grokfast", low=50, high=100), *others]) == ["grokfast"]
    assert ad.fastest_rows([row("grokfast", low=50, high=130), *others]) is None
    assert ad.fastest_rows([row("grokfast", low=50, high=math.inf), *others]) is None
    assert ad.fastest_rows([row("grokfast", low=500, high=math.inf), *others]) == ["egd-svd"]
    assert ad.fastest_rows([row("grokfast", 120), *others]) == ["egd-svd", "grokfast"]  # ties kept
    assert ad.fastest_rows([row("vanilla"), row("grokfast")]) == []
    assert ad.fastest_rows([row("vanilla"), row("grokfast", low=0, high=math.inf)]) is None
    statement = ad.fastest_statement([row("grokfast", low=50, high=100), *others], "adamw", "85%")
    assert "AdamW + Grokfast-EMA (50–100 steps)" in statement


def test_an_undecided_fastest_names_only_the_methods_that_keep_it_undecided():
    rows = [row("vanilla", low=0, high=math.inf), row("grokfast", 100), row("egd-svd", low=5000, high=6000)]
    statement = ad.fastest_statement(rows, "adamw", "85%")
    assert "undecided while seeds of AdamW are still training" in statement
    assert "EGD" not in statement


def test_a_method_compared_with_a_baseline_without_finished_runs_shows_the_range_of_its_median():
    checks = ad.speedup_checks([row("grokfast", low=300, high=500)], "adamw", "85%", base_paper_steps=43_100)
    assert checks[0].holds is None and checks[0].ours == "300–500 vs no finished run"
    table = ad.step_cost_table({"settings": {"digits": {"median_ms_per_step": {"vanilla": 1.0, "grokfast": 2.0}}}},
                               "digits", ad.DIGITS_ORDER, "adamw", rows=[row("vanilla", 1000),
                                                                         row("grokfast", low=300, high=500)])
    assert table.rows[1][-1] == "0.6–1.0" and table.rows[0][-1] == "1.0"  # seconds: the range the median can take


def test_a_method_that_surely_never_reaches_is_not_faster_whatever_the_seeds_still_training_do():
    rows = [row("vanilla", low=200, high=math.inf), row("grokfast"), row("egd-svd", 100)]
    assert ad.ordering_holds(rows) is False
    assert ad.ordering_holds([row("vanilla"), row("grokfast", low=math.inf, high=math.inf), row("egd-svd", 100)]) \
        is False
    checks = ad.speedup_checks(rows, "adamw", "85%")
    assert checks[0].holds is False and checks[1].holds is True  # Grokfast never; EGD 100 below any of 200 on


def test_a_median_already_fixed_while_seeds_train_counts_as_known():
    rows = [row("vanilla", 5000), row("grokfast", low=100, high=100), row("egd-svd", 100)]
    assert ad.fastest_rows(rows) == ["egd-svd", "grokfast"]
    assert "undecided" not in ad.fastest_statement(rows, "adamw", "85%")


def test_the_papers_fastest_is_refuted_once_it_cannot_be_ours_any_more():
    rows = [row("vanilla", 100, paper=43_100), row("grokfast", low=50, high=200, paper=1_800),
            row("egd-svd", 5000, paper=700)]
    assert ad.fastest_rows(rows) is None
    assert ad.speedup_checks(rows, "adamw", "85%")[-1].holds is False  # EGD cannot be fastest any more
    rows[-1] = row("egd-svd", 90, paper=700)  # below the baseline: fastest unless Grokfast ends under 90
    assert ad.speedup_checks(rows, "adamw", "85%")[-1].holds is None


def test_the_seconds_of_a_fastest_method_with_seeds_still_training_are_a_range():
    record = {"settings": {"digits": {"median_ms_per_step": {"vanilla": 1.0, "grokfast": 1000.0}}}}
    rows = [row("vanilla", 40_000), row("grokfast", low=10, high=20)]
    summary = ad.fastest_summary(rows, record, "digits", "adamw", "85%")
    assert "AdamW + Grokfast-EMA (10–20 steps)" in summary
    assert "Fewest seconds on this CPU (median steps x ms per step): AdamW + Grokfast-EMA (10–20 s)." in summary
    with pytest.raises(ValueError, match="scale must be positive"):
        ad.fastest_rows(rows, {"vanilla": 0.0, "grokfast": 1.0})
