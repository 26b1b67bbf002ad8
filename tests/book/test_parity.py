"""The parity chapter's analyses: per-seed outcomes, the fast and the stuck seed, verdicts."""

import math

import numpy as np
import pytest

from egd.book import parity
from egd.grokking import tables
from tests.book.fakes import make_run

SHAPE = "(n,k)=(100,3)"


def seeds(method, t95s, rank=None, **kw):
    return [make_run("parity", method, rank=rank, seed=s, t95=t, **kw) for s, t in enumerate(t95s)]


def test_median_seed_and_fast_and_stuck():
    runs = seeds("egd-svd", (None, 300, 57, None, 200))
    assert parity.median_seed_run(runs).config.seed == 1           # 57, 200, [300], inf, inf
    fast, stuck = parity.fast_and_stuck(runs)
    assert (fast.config.seed, stuck.config.seed) == (2, 0)
    all_reach = seeds("egd-svd", (90, 300, 57))
    assert [r.config.seed for r in parity.fast_and_stuck(all_reach)] == [2, 1]  # the slowest is the "stuck" one
    with pytest.raises(ValueError, match="at least two"):
        parity.fast_and_stuck(runs[:1])
    with pytest.raises(ValueError, match="no run reached"):
        parity.fast_and_stuck(seeds("egd-svd", (None, None)))


def test_seed_outcomes_count_fast_seeds_and_keep_failures():
    runs = seeds("egd-svd", (None, 300, 57, 310)) + seeds("vanilla", (400, None, None))
    rows = parity.seed_outcome_rows(runs, ["egd-svd", "vanilla", "colnorm"], SHAPE, within=300)
    egd, van = rows
    assert (egd["seeds"], egd["reached"], egd["fast"]) == (4, 3, 2)
    assert egd["median_all"] == 305 and egd["median"] == 300
    assert van["median_all"] is None and egd["budget"] == 2000
    t = parity.seed_outcome_table(rows, within=300)
    assert t.rows[0][-1] == "0: never, 1: 300, 2: 57, 3: 310" and t.rows[1][4] == "never"
    epochs, reached = parity.two_way_points(parity.runs_of(runs, "egd-svd", SHAPE))
    np.testing.assert_array_equal(epochs, [2000, 300, 57, 310])
    np.testing.assert_array_equal(reached, [False, True, True, True])


def test_weight_decay_numbers():
    runs = [make_run("parity", "egd-svd", seed=s, t95=50, hidden_norm=np.full(100, v)) for s, v in enumerate((3, 4, 5))]
    assert parity.first_epoch_norm(runs) == 4.0
    c = runs[0].config
    assert math.isclose(parity.lr_matrix_norm(c), c.lr * math.sqrt(c.width * c.n))


def comparison(egd_t95, vanilla_t95, extra=()):
    runs = seeds("egd-svd", egd_t95) + seeds("vanilla", vanilla_t95) + list(extra)
    return tables.comparison_rows(runs)


def test_parity_checks_count_failures_and_never_say_every_seed_for_one():
    extra = [make_run("parity", "egd-rsvd", rank=r, seed=0, t95=t) for r, t in ((40, None), (30, 80), (20, 99),
                                                                                  (10, 450))]
    extra += seeds("egd-svd", (400, 450, 500), weight_decay_mode="decoupled")
    rows = comparison((None, None, 100, 150, 200), (300, 900, None, 1000, 1200), extra)
    checks = {c.claim: c for c in parity.parity_checks(rows, SHAPE, budget=2000)}
    median = checks["exact EGD's median over seeds (failures = +inf) is at most 300 epochs"]
    assert median.holds and median.ours == "200 (3/5 reached)" and median.paper == "115 (one run)"
    assert not checks["exact EGD reaches 95% within the 2,000-epoch budget on all 5 seeds"].holds
    ratio = checks["vanilla's median (failures = +inf) is at least 5× exact EGD's"]
    assert ratio.holds and ratio.ours == "5.0×"  # 1000 / 200
    assert not checks["vanilla SGD reaches 95% on all 5 seeds"].holds
    decoupled = next(c for c in checks.values() if "after the transform" in c.claim)
    assert decoupled.holds and decoupled.claim.endswith("on all 3 seeds")
    r40 = checks["EGD-RSVD r=40 reaches 95% sooner than vanilla (medians, failures = +inf)"]
    assert not r40.holds and r40.ours == "never vs 1,000 (1 seed)"
    low = next(c for c in checks.values() if "below the batch size" in c.claim)
    assert low.holds and low.claim.endswith("in each of their runs (EGD-RSVD r=30: 1 seed, EGD-RSVD r=20: 1 seed, "
                                            "EGD-RSVD r=10: 1 seed)")
    assert "every seed" not in low.claim and "each of its seeds" not in low.claim
    high = next(c for c in checks.values() if "keep more directions" in c.claim)
    assert high.holds
    assert not any("every seed" in c.claim for c in checks.values())
    # one seed each: the claims name that one seed
    one = {c.claim: c for c in parity.parity_checks(comparison((100,), (900,), []), SHAPE, budget=2000)}
    assert one["exact EGD reaches 95% within the 2,000-epoch budget on its one seed"].holds
    assert one["vanilla SGD reaches 95% on its one seed"].holds


def test_parity_checks_when_exact_egd_never_groks():
    rows = comparison((None, None, 100), (300, 400, 500))
    checks = {c.claim: c for c in parity.parity_checks(rows, SHAPE, budget=2000)}
    assert checks["exact EGD's median over seeds (failures = +inf) is at most 300 epochs"].holds is False
    assert checks["vanilla's median (failures = +inf) is at least 5× exact EGD's"].holds is None


def test_authors_checks():
    runs = [make_run("parity", "egd-svd", seed=42, t95=155, data_seed=0, random_streams="numpy"),
            make_run("parity", "vanilla", seed=42, t95=None, data_seed=0, random_streams="numpy")]
    rows = tables.comparison_rows(runs)
    # the rows name the authors' runs by their variant; the checks still find both methods
    assert sorted(r["method"] for r in rows) == ["egd-svd numpy-streams", "vanilla numpy-streams"]
    fast, ratio = parity.authors_checks(rows, SHAPE)
    assert fast.holds and fast.ours == "155" and fast.paper == "115"
    assert ratio.holds and ratio.ours == "never vs 155"
    assert parity.authors_checks(rows, "(n,k)=(50,4)") == []


def test_first_epoch_norm_and_authors_tables():
    runs = [make_run("parity", "vanilla", seed=s, t95=50, hidden_norm=np.full(100, 12.0 + s)) for s in range(3)]
    runs += [make_run("parity", "egd-svd", seed=0, t95=50, hidden_norm=np.full(100, 3.75))]
    t = parity.first_epoch_norm_table(runs, SHAPE)
    assert t.rows == [["vanilla SGD", "3", "13.00"], ["EGD (exact)", "1", "3.75"]]
    authors = [make_run("parity", m, seed=42, t95=t, data_seed=0, random_streams="numpy")
               for m, t in (("vanilla", None), ("egd-svd", 155))]
    t = parity.authors_table(authors)
    assert t.rows == [["(n, k) = (100, 3)", "EGD (exact)", "115", "155", "2,000"],
                      ["(n, k) = (100, 3)", "vanilla SGD", "1,784", "never", "2,000"]]


def test_checks_by_shape_prefix_every_claim():
    runs = seeds("egd-svd", (100, 120)) + seeds("vanilla", (900, 1000))
    runs += [make_run("parity", "vanilla", seed=0, t95=4000, n=50, k=4)]
    checks = parity.checks_by_shape(tables.comparison_rows(runs), runs)
    shapes = {c.claim.split(":")[0] for c in checks}
    assert shapes == {"(n, k) = (100, 3)", "(n, k) = (50, 4)"}
    assert any("6,000-epoch budget" in c.claim for c in checks) is False  # (50, 4) has no exact-EGD row here
    assert any("2,000-epoch budget" in c.claim for c in checks)


def test_difference_notes_add_the_run_on_the_authors_draws():
    runs = seeds("egd-svd", (50, 55, 60), n=400, k=2) + seeds("vanilla", (7000, 7100, 7200), n=400, k=2)
    rows = tables.comparison_rows(runs)
    authors = [make_run("parity", "egd-svd", seed=42, t95=95, n=400, k=2, random_streams="numpy"),
               make_run("parity", "vanilla", seed=42, t95=None, n=400, k=2, random_streams="numpy")]
    notes = parity.difference_notes(rows, authors)
    (egd,) = [n for n in notes if "EGD (exact)" in n]  # 55 against the paper's 109: outside 30%
    assert egd.endswith("On the authors' random draws (one run) ours takes 95 epochs, 0.87 times the paper's.")
    assert not any("vanilla" in n for n in notes)  # 7,100 against 7,873: within 30%, no note
    assert parity.difference_notes(rows, []) == [n.split(" On the authors'")[0] for n in notes]
    stuck = [make_run("parity", "egd-svd", seed=42, t95=None, n=400, k=2, random_streams="numpy")]
    assert parity.difference_notes(rows, stuck)[0].endswith(
        "ours never reaches 95% within its budget of 10,100 epochs.")
