"""The modular chapter's analyses: epoch cost, wall time, long runs, verdicts."""

import math

import numpy as np

from egd.book import modular
from egd.grokking import tables
from tests.book.fakes import make_run

BENCH = {"p": 97, "device_name": "test CPU", "num_threads": 2,
         "median_ms_per_epoch": {"vanilla": 20.0, "egd-svd": 40.0, "colnorm": 22.0},
         "ratio_to_vanilla": {"vanilla": 1.0, "egd-svd": 2.0, "colnorm": 1.1}}


def test_ms_per_epoch_counts_only_transformed_epochs():
    run = make_run("mod-add", "egd-svd", t95=10, epochs=20, sec_per_epoch=0.05)
    run.history["seconds"] = np.concatenate([np.arange(1, 11) * 0.2, 2.0 + np.arange(1, 11) * 0.05]).astype("f4")
    assert math.isclose(modular.ms_per_epoch(run), 200.0, rel_tol=1e-5)
    vanilla = make_run("mod-add", "vanilla", t95=10, epochs=20, sec_per_epoch=0.03)
    assert math.isclose(modular.ms_per_epoch(vanilla), 30.0, rel_tol=1e-5)


def test_convergence_summary_and_table():
    test = np.concatenate([np.full(9, 0.5), np.full(11, 0.96), np.full(100, 0.995)])
    run = make_run("mod-add", "egd-svd", t95=10, epochs=120, test_acc=test)
    s = modular.convergence_summary(run)
    assert (s["t95"], s["switch_off"], s["epochs"]) == (10, 10, 120)
    assert math.isclose(s["final_test"], 0.995) and math.isclose(s["min_test_after"], 0.96)
    t = modular.convergence_table([run])
    assert t.rows[0][:4] == ["EGD (exact)", "10", "10", "120"] and t.rows[0][5] == "99.50%"
    relapse_ok, final = modular.convergence_checks([run])
    assert relapse_ok.holds and final.holds and relapse_ok.claim.startswith("addition, p = 97, seed 0: ")
    dip = np.where(np.arange(120) == 50, 0.94, test)          # 1 point below 95%: inside the margin
    assert modular.convergence_checks([make_run("mod-add", "egd-svd", t95=10, epochs=120, test_acc=dip)])[0].holds
    relapse = np.where(np.arange(120) == 50, 0.9, test)
    bad = modular.convergence_checks([make_run("mod-add", "egd-svd", t95=10, epochs=120, test_acc=relapse)])
    assert [c.holds for c in bad] == [False, True] and "EGD (exact) 90.0%" in bad[0].ours
    vanilla = make_run("mod-add", "vanilla", t95=10, epochs=120, test_acc=np.full(120, 0.97))
    (only,) = modular.convergence_checks([vanilla])  # no switch-off to check
    assert only.holds is False and "99%" in only.claim and only.ours == "vanilla SGD 97.0%"
    assert modular.convergence_checks([]) == []


def test_epoch_cost_table_and_checks():
    runs = [make_run("mod-add", "vanilla", t95=10, sec_per_epoch=0.05)]
    t = modular.epoch_cost_table(BENCH, runs)
    by = {row[0]: row for row in t.rows}
    assert by["vanilla SGD"][1:] == ["20.0", "1.00×", "29.1", "1.00×", "50.0"]
    assert by["EGD (exact)"][3:5] == ["94.4", "3.24×"] and by["EGD (exact)"][5] == "–"
    cheaper, budget = modular.epoch_cost_checks(BENCH)
    assert cheaper.holds and not budget.holds and budget.ours.startswith("2.00×")


def rows_for(egd_t95=(100, 120, 110), vanilla_t95=(5000, 6000, 5500)):
    runs = [make_run("mod-add", "vanilla", seed=s, t95=t, sec_per_epoch=0.03) for s, t in enumerate(vanilla_t95)]
    runs += [make_run("mod-add", "egd-svd", seed=s, t95=t, sec_per_epoch=0.06) for s, t in enumerate(egd_t95)]
    runs += [make_run("mod-add", "egd-rsvd", rank=128, seed=0, t95=140),
             make_run("mod-add", "egd-rsvd", rank=64, seed=0, t95=240),
             make_run("mod-add", "colnorm", seed=0, t95=330)]
    return tables.comparison_rows(runs)


def test_wall_time_rows_estimate_from_the_benchmark():
    wall = {w["method"]: w for w in modular.wall_time_rows(rows_for(), BENCH)}
    assert set(wall) == {"vanilla", "egd-svd", "colnorm"}
    assert math.isclose(wall["vanilla"]["estimated_seconds"], 5500 * 0.020)
    assert math.isclose(wall["egd-svd"]["estimated_seconds"], 110 * 0.040)
    assert math.isclose(wall["egd-svd"]["estimated_speedup"], 110 / 4.4)
    assert math.isclose(wall["egd-svd"]["speedup_seconds"], 5500 * 0.03 / (110 * 0.06))
    t = modular.wall_time_table(list(wall.values()))
    assert len(t.header) == len(t.rows[0]) == 9


def test_same_ranking_lets_the_papers_ties_go_either_way():
    rows = {"a": {"paper": 10, "paper_has_entry": True, "median_all": 5},
            "b": {"paper": 20, "paper_has_entry": True, "median_all": 50},
            "c": {"paper": 20, "paper_has_entry": True, "median_all": 40}}
    assert modular.same_ranking(rows)
    rows["a"]["median_all"] = None  # never = +inf: now slower than b and c
    assert not modular.same_ranking(rows)
    close = {"a": {"paper": 222, "paper_has_entry": True, "median_all": 261},   # the paper's p = 79 pair
             "b": {"paper": 224, "paper_has_entry": True, "median_all": 247}}
    assert modular.same_ranking(close) and not modular.same_ranking(close, tie=0.0)


def test_modular_checks():
    checks = modular.modular_checks(rows_for(), "mod-add")
    by = {c.claim.split(": ", 1)[1]: c for c in checks}
    assert all(c.claim.startswith("addition, p = 97: ") for c in checks)
    assert by["exact EGD reaches 95% at least 10× sooner than vanilla (epochs)"].holds
    assert by["exact EGD reaches 95% at least 10× sooner than vanilla (epochs)"].ours == "50×"
    assert by["that speed-up is within a factor 2 of the paper's"].holds
    assert by["every run of every method reaches 95%"].ours == "9/9 runs of 5 methods"
    assert next(c for k, c in by.items() if k.startswith("the methods rank as in the paper")).holds
    cells = by["our median epochs lie within ±30% of the paper's in every cell"]
    assert cells.holds and cells.ours == "5 of 5 cells"
    assert not [c for c in checks if "wall time" in c.claim]  # no wall-time rows given
    wall_rows = modular.wall_time_rows(rows_for(), BENCH)
    (wall,) = [c for c in modular.modular_checks(rows_for(), "mod-add", wall_rows) if "wall time" in c.claim]
    assert wall.holds and wall.paper.startswith("10–14×") and wall.ours == "25× (run clocks: 25×)"
    # a seed that never groks: the censored median still holds, every-run fails
    failing = modular.modular_checks(rows_for(egd_t95=(100, None, None)), "mod-add")
    speed = next(c for c in failing if "10× sooner" in c.claim and "wall" not in c.claim)
    assert speed.holds is None and speed.ours == "–"
    assert not next(c for c in failing if "every run" in c.claim).holds
    assert modular.modular_checks(rows_for(), "mod-mul") == []
