"""The plateau chapter's analyses: windows, condition numbers, the decay-only direction and its prediction."""

import math

import numpy as np
import pytest
import torch

from egd.book import plateau
from egd.grokking.config import make_config
from egd.grokking.engine import build_model
from egd.grokking.runner import train
from tests.book.fakes import make_run


def test_windows_follow_the_named_measures():
    train_acc = np.r_[np.full(4, 0.5), np.ones(46)]           # T_mem = 5
    test_acc = np.r_[np.full(19, 0.01), np.full(10, 0.6), np.ones(21)]  # T50 = 20, T95 = 30
    run = make_run("mod-add", "vanilla", t95=30, epochs=50, train_acc=train_acc, test_acc=test_acc)
    assert plateau.memorisation_time(run) == 5
    assert plateau.windows(run) == {"plateau span": (5, 30), "flat stretch": (5, 20)}
    assert plateau.first_epoch_at(np.array([0.1, 0.2]), 0.5) is None


def test_condition_numbers_with_and_without_the_smallest_direction():
    spectra = np.array([[8.0, 4.0, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(plateau.kappa(spectra), [16.0, 1.0])
    np.testing.assert_allclose(plateau.kappa_without_smallest(spectra), [4.0, 1.0])
    np.testing.assert_allclose(plateau.kappa_without_smallest(spectra, drop=2), [2.0, 1.0])
    np.testing.assert_allclose(plateau.kappa_without_smallest(spectra, drop=0), plateau.kappa(spectra))
    with pytest.raises(ValueError, match="drop"):
        plateau.kappa_without_smallest(spectra, drop=4)


def test_window_stats_take_the_spectra_inside_the_window():
    spectra = np.array([[10.0, 5.0, 1.0], [20.0, 4.0, 2.0], [30.0, 3.0, 1.0]])
    run = make_run("mod-add", "vanilla", t95=30, epochs=40, spectra=spectra, spectra_epochs=[0, 10, 20])
    stats = plateau.window_stats(run, 11, 21)   # the spectra of epochs 11 and 21 (0-based indices 10 and 20)
    assert stats["spectra"] == 1 and stats["kappa"] == 10.0 and stats["kappa_without"] == 5.0 and stats["gap"] == 2.0
    both = plateau.window_stats(run, 1, 12)
    assert both["spectra"] == 2 and both["kappa"] == 10.0 and both["gap"] == 3.5
    empty = plateau.window_stats(run, 5, 6)
    assert empty["spectra"] == 0 and math.isnan(empty["kappa"])
    assert plateau.window_stats(run, None, 6)["spectra"] == 0
    rows = plateau.plateau_rows([run])
    assert [r["window"] for r in rows] == ["plateau span", "flat stretch"] and rows[0]["r"] == 3
    t = plateau.plateau_table(rows)
    assert r"\(s_1/s_{2}\)" in t.header[6] and t.rows[0][0] == "vanilla SGD"


def test_the_decay_only_direction_is_orthogonal_to_every_input():
    v = plateau.decay_only_direction(23)
    assert math.isclose(np.linalg.norm(v), 1.0) and v.shape == (46,)
    config = make_config("mod-add", "vanilla", preset="smoke", p=23)
    assert plateau.max_input_overlap(config) == 0.0
    scaled = make_config("mod-add", "vanilla", preset="smoke", p=23, second_operand_scale=0.5)
    assert math.isclose(plateau.max_input_overlap(scaled), 0.5 / math.sqrt(46), rel_tol=1e-6)
    with pytest.raises(ValueError, match="p must be"):
        plateau.decay_only_direction(1)


def test_initial_decay_component_is_the_runs_own_initial_weights():
    config = make_config("mod-add", "vanilla", preset="smoke", p=23, seed=3)
    model = build_model(config, config.build_task().build())
    v = torch.from_numpy(plateau.decay_only_direction(23)).float()
    with torch.no_grad():
        expected = float((model.hidden.weight @ v).norm())
    assert math.isclose(plateau.initial_decay_component(config), expected, rel_tol=1e-6)


def test_plain_sgd_moves_w1_along_v_by_weight_decay_alone():
    """Trained for real: G v = wd W1 v, so plain SGD scales W1 v by (1 - lr wd) per step, exactly."""
    from egd.grokking.engine import Trainer

    config = make_config("mod-add", "vanilla", preset="smoke", p=23, weight_decay=2e-2, lr=0.5, max_epochs=6,
                         patience=None, spectrum_every=2, threshold=0.999)
    data = config.build_task().build()
    model = build_model(config, data)
    v = torch.from_numpy(plateau.decay_only_direction(23)).float()
    with torch.no_grad():
        start = model.hidden.weight @ v
    Trainer(model, data, config).run()
    steps = config.max_epochs * (data.n_train // config.batch_size)
    with torch.no_grad():
        torch.testing.assert_close(model.hidden.weight @ v, start * (1 - config.lr * config.weight_decay) ** steps,
                                   rtol=1e-4, atol=1e-6)


def test_the_prediction_bounds_the_smallest_singular_value():
    config = make_config("mod-add", "vanilla", preset="smoke", p=23, weight_decay=2e-2, lr=0.5, max_epochs=40,
                         patience=None, spectrum_every=4, threshold=0.999)
    run = train(config)
    predicted = plateau.predicted_decay_singular_value(run)
    assert predicted[0] == pytest.approx(2e-2 * plateau.initial_decay_component(config))
    assert np.all(run.spectra[:, -1] <= predicted * (1 + 1e-4))
    d = plateau.decay_rate(run)
    assert math.isclose(d["predicted_rate"], math.log1p(-0.5 * 2e-2))
    assert d["rate"] < 0 and d["ratio_max"] <= 1.0 + 1e-4 and d["spectra"] == 10


def test_the_prediction_refuses_transformed_runs():
    with pytest.raises(ValueError, match="plain SGD"):
        plateau.predicted_decay_singular_value(make_run("mod-add", "egd-svd", t95=10))
    with pytest.raises(ValueError, match="inside the loss"):
        plateau.predicted_decay_singular_value(make_run("mod-add", "vanilla", t95=10, weight_decay_mode="decoupled"))


def rows(v_span=(300, 6000, 190.0, 15.0), v_flat=(300, 3600, 110.0, 14.0), e_span=(24, 119, 145.0, 12.0),
         e_flat=(24, 56, 220.0, 12.0)):
    out = []
    cases = (("vanilla", "plateau span", v_span), ("vanilla", "flat stretch", v_flat),
             ("egd-svd", "plateau span", e_span), ("egd-svd", "flat stretch", e_flat))
    for method, window, (start, end, k, kw) in cases:
        out.append({"method": method, "window": window, "start": start, "end": end, "length": end - start,
                    "kappa": k, "kappa_without": kw, "gap": 10.0, "spectra": 5, "r": 194})
    return out


def test_plateau_checks():
    decay = {"rate": -6.95e-5, "predicted_rate": -7.0e-5, "ratio_min": 0.68, "ratio_max": 0.82, "spectra": 123}
    checks = plateau.plateau_checks(rows(), decay, 0.0, {"vanilla": 5392, "egd-svd": 116})
    assert all(c.holds for c in checks) and len(checks) == 8
    assert checks[0].paper == "T95 = 5,392" and checks[1].paper == "T95 = 116 vs 5,392"
    assert checks[2].paper == "plot only (Figure 4)"
    bad = plateau.plateau_checks(rows(v_span=(300, 6000, 50.0, 15.0)))
    assert [c.holds for c in bad] == [True, True, False, False, True]
    slow_decay = dict(decay, rate=-5e-5)
    assert not plateau.plateau_checks(rows(), slow_decay)[-2].holds
