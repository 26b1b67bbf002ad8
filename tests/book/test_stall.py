"""egd.book.stall: the gradient split of a rerun, the seeds shown, the comparison and its verdicts."""
import math

import numpy as np
import pytest
import torch

from egd.book import display, stall
from egd.grokking.config import make_config
from egd.grokking.engine import Trainer, build_model
from egd.grokking.store import RunResult

SMOKE = dict(preset="smoke", n=10, k=2, max_epochs=4, patience=None)


def fake_run(method, seed, reached, **kw):
    config = make_config("parity", method, seed=seed, **kw)
    history = {"hidden_norm": np.array([1.0, 2.0]), "test_correct": np.array([1, 2])}
    return RunResult(config=config, history=history, spectra=np.zeros((0, 1)), spectra_epochs=np.zeros(0),
                     summary={"epochs_to_threshold": reached, "seconds_to_threshold": None, "n_train": 2000,
                              "n_test": 10_000})


def test_gradient_split_retraces_the_run_and_splits_each_singular_value():
    config = make_config("parity", "egd-svd", seed=3, **SMOKE)
    split = stall.gradient_split(config, [2, 0])
    assert split.epochs == (0, 2) and split.total.shape == (2, min(16, 10))
    # the rerun is the plain engine's run, bit for bit, at the same thread count
    data = config.build_task().build("cpu")
    trainer = Trainer(build_model(config, data), data, config)
    threads = torch.get_num_threads()
    torch.set_num_threads(stall.RERUN_THREADS)
    try:
        trainer.run(stop_after=3)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(split.history, np.asarray(trainer.state.history.hidden_norm, dtype=float))
    # epoch 0's first step sees the initial weights: the decay part is wd times their singular values
    W1 = build_model(config, data).hidden_weight().detach().double()
    np.testing.assert_allclose(split.decay[0], config.weight_decay * torch.linalg.svdvals(W1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(split.hidden_norm[0], float(torch.linalg.vector_norm(W1)), rtol=1e-6)
    # the data gradient of a batch of B examples has rank <= B; each s_i = data part + decay part
    assert (split.data[:, config.batch_size:] < 1e-10).all()
    assert (np.diff(split.total, axis=1) <= 1e-12).all()
    assert (np.abs(split.data_part) <= split.total + 1e-9 + split.decay[:, :1]).all()


def test_gradient_split_refuses_a_run_without_decay_in_the_loss():
    with pytest.raises(ValueError, match="weight decay in the loss"):
        stall.gradient_split(make_config("parity", "egd-svd", weight_decay_mode="decoupled", **SMOKE), [0])
    with pytest.raises(ValueError, match="epochs must be"):
        stall.gradient_split(make_config("parity", "egd-svd", **SMOKE), [])


def test_wd_dominated_counts_directions_where_decay_gives_more_than_half():
    split = stall.GradientSplit(epochs=(0,), total=np.array([[4.0, 2.0, 1.0]]), data=np.zeros((1, 3)),
                                decay=np.zeros((1, 3)), data_part=np.array([[3.9, 0.9, 0.2]]),
                                hidden_norm=np.ones(1), history=np.ones(1), batch_size=1)
    assert stall.wd_dominated(split).tolist() == [2]


def test_stall_and_grok_pick_the_lowest_stalled_and_the_fastest_seed():
    runs = [fake_run("egd-svd", 0, None), fake_run("egd-svd", 1, None), fake_run("egd-svd", 2, 300),
            fake_run("egd-svd", 3, 57)]
    stalled, grokked = stall.stall_and_grok(runs)
    assert (stalled.config.seed, grokked.config.seed) == (0, 3)
    with pytest.raises(ValueError, match="never reached"):
        stall.stall_and_grok(runs[2:])


def test_candidate_rows_table_recommendation_and_checks():
    top = [fake_run("egd-svd-top", s, 60 + s, rank=32) for s in range(10)]
    cut = [fake_run("egd-svd-cut", s, None if s < 2 else 80, spectral_cutoff=1e-2) for s in range(10)]
    exact = [fake_run("egd-svd", s, None if s < 2 else 200 + s) for s in range(10)]
    rows = stall.candidate_rows(top + cut + exact, cost_ms={"egd-svd-top32": 1.0})
    assert [r["method"] for r in rows] == ["egd-svd", "egd-svd-top32", "egd-svd-cut0.01"]
    by = {r["method"]: r for r in rows}
    assert by["egd-svd-top32"]["median_all"] == 64.5 and by["egd-svd-top32"]["reached"] == 10
    assert by["egd-svd-cut0.01"]["reached"] == 8 and by["egd-svd"]["cost_ms"] is None
    assert stall.recommended(rows)["method"] == "egd-svd-top32"
    assert stall.recommended([by["egd-svd-cut0.01"]]) is None  # 8/10 seeds: not enough
    table = stall.candidate_table(rows)
    assert len(table.rows) == 3 and table.rows[0][6] == "115"  # the paper's exact EGD beside ours
    partial = stall.stall_checks(stall.candidate_rows(top[:4]))
    assert [c.holds for c in partial] == [None, None] and "4 of 10 seeds finished" in partial[0].ours
    checks = stall.stall_checks(rows)
    verdicts = {c.claim: c.holds for c in checks}
    assert verdicts["exact EGD reaches 95% on every seed"] is False
    assert [c.holds for c in checks if c.claim.startswith("EGD (truncated)")] == [True, True]
    assert [c.holds for c in checks if c.claim.startswith("EGD (cutoff)")] == [False, True]
    assert all(isinstance(c, display.Check) for c in checks)


def test_modular_rows_ratios_recommendation_and_checks():
    def mod(method, seed, reached, **kw):
        config = make_config("mod-add", method, p=97, seed=seed, **kw)
        history = {"train_loss": np.array([1.0, 0.5 + (method == "egd-svd-cut")]), "seconds": np.random.rand(2)}
        return RunResult(config=config, history=history, spectra=np.zeros((0, 1)), spectra_epochs=np.zeros(0),
                         summary={"epochs_to_threshold": reached, "seconds_to_threshold": None})

    runs = ([mod("egd-svd", s, 100 + s) for s in range(3)] + [mod("egd-svd-top", s, 100 + s, rank=512)
                                                            for s in range(3)]
            + [mod("egd-svd-cut", s, 130 + s, spectral_cutoff=1e-2) for s in range(3)])
    rows = stall.modular_rows(runs, ("mod-add",))
    assert [r["method"] for r in rows] == ["egd-svd", "egd-svd-cut0.01", "egd-svd-top512"]
    ratio = {r["method"]: r["ratio"] for r in rows}
    assert ratio["egd-svd-top512"] == 1.0 and math.isclose(ratio["egd-svd-cut0.01"], 131 / 101)
    assert len(stall.modular_table(rows).rows) == 3
    assert {r["method"]: r["identical"] for r in rows} == {"egd-svd": 3, "egd-svd-cut0.01": 0, "egd-svd-top512": 3}
    parity = [{"method": "egd-svd-top32", "seeds": 10, "reached": 10, "median_all": 60.0, "cost_ms": 1.0},
              {"method": "egd-svd-cut0.01", "seeds": 10, "reached": 10, "median_all": 50.0, "cost_ms": 1.0}]
    assert stall.recommended(parity)["method"] == "egd-svd-top32"  # no tuned constant, though slower
    assert stall.recommended(parity[1:])["method"] == "egd-svd-cut0.01"
    assert stall.recommended(parity[1:], rows) is None  # the cutoff is 31% slower on mod-add
    assert stall.recommended(parity, [r for r in rows if r["method"] == "egd-svd"]) is None  # not measured
    checks = {c.claim: c.holds for c in stall.stall_checks([], modular=rows)}
    assert list(checks.values()) == [False, True]


def test_transform_cost_times_each_method_and_vanilla_is_free():
    cost = stall.transform_cost(["vanilla", "egd-svd", "egd-svd-top32", "egd-svd-cut0.01",
                                 "egd-svd decoupled-wd"], repeats=3)
    assert cost["vanilla"] == 0.0
    assert all(v > 0 and math.isfinite(v) for k, v in cost.items() if k != "vanilla")


def test_the_keys_are_the_run_sets():
    assert stall.FIX_KEYS == ("egd-svd-top32", "egd-svd-cut0.01", "egd-svd-cut0.001", "egd-svd decoupled-wd",
                              "egd-svd-batch")
    assert {"egd-svd-batch", "vanilla", "egd-svd decoupled-wd"} <= set(stall.SHAPE_KEYS)
    assert stall.CANDIDATE_KEYS[:2] == ("vanilla", "egd-svd")


def test_lr_matrix_norm_and_seed_points():
    config = make_config("parity", "egd-svd")
    assert math.isclose(stall.lr_matrix_norm(config), 0.042 * 100)
    epochs, reached = stall.seed_points([fake_run("egd-svd", 0, None), fake_run("egd-svd", 1, 57)])
    assert epochs.tolist() == [2000.0, 57.0] and reached.tolist() == [False, True]


def test_directions_cut_by_the_batch_size_rule():
    parity = stall.directions_cut(make_config("parity", "egd-svd"))
    assert parity == {"task": "parity", "shape": (100, 100), "batch_size": 32, "kept": 32, "cut": 68,
                      "batch_rank_cut": 68}
    modular = stall.directions_cut(make_config("mod-add", "egd-svd", p=97))
    assert modular["batch_size"] == 512 and modular["cut"] == 0 and modular["kept"] == min(modular["shape"])
    wide = stall.directions_cut(make_config("parity", "egd-svd", n=400, k=2))  # 50 units, 400 inputs
    assert (wide["shape"], wide["cut"], wide["batch_rank_cut"]) == ((50, 400), 18, 0)
    table = stall.truncation_table([make_config("parity", "egd-svd"), make_config("mod-add", "egd-svd", p=97),
                                    make_config("parity", "egd-svd", n=400, k=2)], ["parity", "mod-add", "wide"])
    assert [(row[5], row[-1]) for row in table.rows] == [("truncated", "truncated"),
                                                         ("exact EGD, bit for bit", "exact EGD, bit for bit"),
                                                         ("truncated", "exact EGD, bit for bit")]


def test_truncation_that_cuts_nothing_trains_exactly_like_exact_egd():
    """The modular rule (rank = batch size >= min(width, in)): the same run, bit for bit."""
    from egd.grokking.runner import train

    kw = dict(preset="smoke", p=23, max_epochs=3, patience=None)
    exact = train(make_config("mod-add", "egd-svd", **kw), out_dir=None)
    top = train(make_config("mod-add", "egd-svd-top", rank=64, **kw), out_dir=None)
    assert stall.directions_cut(top.config)["cut"] == 0
    for name in ("train_loss", "test_loss", "hidden_norm", "test_correct"):
        np.testing.assert_array_equal(top.history[name], exact.history[name])


def test_directions_below_counts_what_a_cutoff_drops():
    spectra = np.array([[2.0, 1.0, 0.02, 0.01], [1.0, 0.5, 0.2, 0.1]])
    assert stall.directions_below(spectra, 0.01).tolist() == [2, 0]


def test_shape_rows_table_and_checks_on_the_other_parity_settings():
    runs = [fake_run("egd-svd-top", s, 100 + s, rank=32, n=50, k=4) for s in range(10)]
    runs += [fake_run("egd-svd-top", s, None, rank=32, n=400, k=2) for s in range(3)]
    runs += [fake_run("egd-svd", s, 300, n=50, k=4) for s in range(10)]
    rows = stall.shape_rows(runs)
    assert [(r["n"], r["k"], r["method"], r["paper"]) for r in rows] == [
        (400, 2, "egd-svd-top32", 109), (50, 4, "egd-svd", 254), (50, 4, "egd-svd-top32", 254)]
    assert rows[2]["median_all"] == 104.5 and rows[0]["reached"] == 0
    assert len(stall.shape_table(rows).rows) == 3
    parity = [{"method": "egd-svd-top32", "seeds": 10, "reached": 10, "median_all": 60.0, "cost_ms": 1.0}]
    assert stall.recommended(parity, shapes=rows)["method"] == "egd-svd-top32"  # Parity(400, 2) unfinished
    slow = [dict(r, median_all=600.0) if r["method"] == "egd-svd-top32" and r["n"] == 50 else r for r in rows]
    assert stall.recommended(parity, shapes=slow) is None  # more than 2x the paper's 254 on Parity(50, 4)
    # the batch-rank rule comes first when it passes everywhere, whatever its median
    rule = [dict(r, method="egd-svd-batch", median_all=r["median_all"] and r["median_all"] + 20) for r in rows
            if r["method"] == "egd-svd-top32"]
    both = parity + [{"method": "egd-svd-batch", "seeds": 10, "reached": 10, "median_all": 70.0, "cost_ms": 1.0}]
    assert stall.recommended(both, shapes=rows + rule)["method"] == "egd-svd-batch"
    failing = [dict(r, reached=8) if r["n"] == 50 else r for r in rule]
    assert stall.recommended(both, shapes=rows + failing)["method"] == "egd-svd-top32"
    checks = stall.stall_checks([], shapes=rows)  # verdicts for the fixes only
    assert [c.holds for c in checks] == [None, None, True, True]


def test_twin_rows_pair_the_rule_with_the_variant_it_computes():
    square = dict(n=100, k=3)
    wide = dict(n=400, k=2)
    runs = [fake_run("egd-svd-batch", s, 50, **square) for s in range(3)]
    runs += [fake_run("egd-svd-top", s, 50, rank=32, **square) for s in range(3)]
    runs += [fake_run("egd-svd-batch", s, 60, **wide) for s in range(2)]
    runs += [fake_run("egd-svd", 0, 60, **wide)]
    runs[3].history["hidden_norm"] = np.array([1.0, 3.0])  # seed 0's twin differs
    assert stall.twin_key(runs[0].config) == "egd-svd-top32" and stall.twin_key(runs[-1].config) == "egd-svd"
    rows = stall.twin_rows(runs)
    assert [(r["n"], r["twin"], r["identical"], r["seeds"]) for r in rows] == [
        (100, "egd-svd-top32", 2, 3), (400, "egd-svd", 1, 1)]
    assert stall.twin_table(rows).rows[0] == ["Parity(100, 3)", "EGD (truncated) r=32", "2/3"]


def test_toy_l2_grid_marks_divergence_and_stalls():
    rows = stall.toy_l2_rows(weight_decays=(0.0, 0.5), etas=(0.1, 1.9), budget=2_000)
    by = {(r["method"], r["eta"]): r["lengths"] for r in rows}
    assert by[("gd", 1.9)] == [None, None]  # 1.9 (m2 + lambda) >= 2: gd diverges, egd does not
    assert all(x is not None for x in by[("egd", 1.9)])
    assert by[("gd", 0.1)][1] < by[("gd", 0.1)][0]  # the weight decay shortens the plateau
    assert stall.toy_l2_stalls(rows) == []
    short = stall.toy_l2_rows(weight_decays=(0.0, 0.5), etas=(0.1,), budget=1_000)
    assert stall.toy_l2_stalls(short) == [("gd", 0.1, 0.0)]  # 1,603 steps: past a 1,000-step budget
    table = stall.toy_l2_table(short)
    assert table.rows[0][2:] == ["never (stall)", "35"] and table.header[2] == "λ = 0"
