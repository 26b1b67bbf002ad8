"""Level 2 building blocks: the toy-distribution MLP experiment and its slope fit."""

import dataclasses
import math

import numpy as np
import pytest

from egd.validation import toy_mlp
from egd.validation.toy_mlp import ToyMLPConfig, ToyMLPSweep, plateau_steps, train_toy_mlp
from toymodel.experiments import PLATEAU_THRESHOLD, loglog_fit

SMALL = ToyMLPConfig(width=16, n_train=400, n_test=1000, max_steps=600, eval_every=10)


def test_network_starts_on_the_toy_plateau_and_egd_leaves_it_first():
    config = ToyMLPConfig(max_steps=400)  # the book's network and escape level; eps = 0.01
    gd = train_toy_mlp([0.01], [0], method="gd", config=config)
    egd_run = train_toy_mlp([0.01], [0], method="egd-svd", config=config)
    # mirrored initialisation = the linear classifier x -> zeta x2: shifted test error 1
    assert gd["test_error"][0, 0] > 0.95 and egd_run["test_error"][0, 0] > 0.95
    assert np.isfinite(egd_run["plateau"][0])
    assert not (gd["plateau"][0] <= egd_run["plateau"][0])  # GD slower or censored (NaN)


def test_runs_are_deterministic():
    first = train_toy_mlp([0.1], [1], method="egd-rsvd", config=SMALL)
    second = train_toy_mlp([0.1], [1], method="egd-rsvd", config=SMALL)
    np.testing.assert_array_equal(first["test_error"], second["test_error"])


def test_plateau_steps_first_crossing_and_censoring():
    errors = np.array([[1.0, 0.9, 0.4, 0.2], [1.0, 1.0, 0.8, 0.6]])
    out = plateau_steps(errors, np.array([0, 10, 20, 30]), level=0.5)
    assert out[0] == 20 and math.isnan(out[1])


def test_loglog_fit_recovers_a_power_law_and_drops_nans():
    x = np.array([1e-3, 1e-2, 1e-1, 1e-2])
    y = 5.0 * x**-1.0 * np.array([1.0, 1.02, 0.99, 0.98])
    slope, low, high = loglog_fit(np.append(x, 1.0), np.append(y, np.nan))
    assert abs(slope + 1.0) < 0.02 and low < slope < high


@pytest.mark.parametrize("field, value", [("width", 15), ("theta", 2.0), ("eta", 0.0), ("wd", -1.0),
                                          ("plateau_level", 1.5), ("s", -0.1), ("max_steps", 0)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ToyMLPConfig(**{field: value})


def test_bad_method_and_eps():
    with pytest.raises(ValueError, match="method"):
        train_toy_mlp([0.1], [0], method="adam", config=SMALL)
    with pytest.raises(ValueError, match="eps_values"):
        train_toy_mlp([0.0], [0], method="gd", config=SMALL)


def test_default_plateau_is_the_measured_escape_time_recorded_every_step():
    assert toy_mlp.ESCAPE_LEVEL == PLATEAU_THRESHOLD == ToyMLPConfig().plateau_level
    assert ToyMLPConfig().eval_every == 1 and ToyMLPConfig().stop_early


def test_stop_early_false_runs_to_the_cap_and_keeps_the_crossing():
    config = ToyMLPConfig(width=16, n_train=400, n_test=1000, max_steps=200, eval_every=10, plateau_level=0.5)
    stopped = train_toy_mlp([0.1], [0], method="egd-svd", config=config)
    full = train_toy_mlp([0.1], [0], method="egd-svd", config=dataclasses.replace(config, stop_early=False))
    assert stopped["step"][-1] < 200 and full["step"][-1] == 200 and full["max_steps"] == 200
    assert stopped["plateau"][0] == full["plateau"][0]
    np.testing.assert_array_equal(full["test_error"][:, : stopped["step"].size], stopped["test_error"])
    with pytest.raises(ValueError, match="stop_early"):
        ToyMLPConfig(stop_early=1)


def test_sweeps_validate_and_the_book_profiles_are_complete():
    with pytest.raises(ValueError, match="eps"):
        ToyMLPSweep(eps=(0.0,), seeds=(0,), config=SMALL)
    with pytest.raises(ValueError, match="seeds"):
        ToyMLPSweep(eps=(0.1,), seeds=(), config=SMALL)
    with pytest.raises(ValueError, match="methods"):
        ToyMLPSweep(eps=(0.1,), seeds=(0,), config=SMALL, methods=("adam",))
    for profile in toy_mlp.PROFILES.values():
        assert set(profile) == {"escape", "curves"}
        assert profile["escape"].config.plateau_level == toy_mlp.ESCAPE_LEVEL
        assert profile["curves"].config.plateau_level == toy_mlp.HALF_ERROR_LEVEL
        assert not profile["curves"].config.stop_early
    runs = ToyMLPSweep(eps=(0.1,), seeds=(0,), config=SMALL, methods=("gd", "egd-svd")).run()
    assert set(runs) == {"gd", "egd-svd"}


TINY = ToyMLPSweep(eps=(0.1, 0.03), seeds=(0, 1), config=ToyMLPConfig(width=8, n_train=100, n_test=200, max_steps=40))


def test_sweep_key_names_the_settings():
    assert toy_mlp.sweep_key(TINY, "gd") == toy_mlp.sweep_key(dataclasses.replace(TINY), "gd")
    assert toy_mlp.sweep_key(TINY, "gd") != toy_mlp.sweep_key(TINY, "egd-svd")
    for changed in (dataclasses.replace(TINY, eps=(0.1, 0.01)), dataclasses.replace(TINY, seeds=(0, 2)),
                    dataclasses.replace(TINY, config=dataclasses.replace(TINY.config, max_steps=41))):
        assert toy_mlp.sweep_key(changed, "gd") != toy_mlp.sweep_key(TINY, "gd")
    with pytest.raises(ValueError, match="method must be one of the sweep's"):
        toy_mlp.sweep_key(dataclasses.replace(TINY, methods=("gd",)), "egd-svd")


def test_run_or_load_saves_each_method_once_and_loads_it_back(tmp_path, monkeypatch):
    assert toy_mlp.find_sweep(TINY, tmp_path, kind="escape") is None
    trained = toy_mlp.run_or_load(TINY, tmp_path, kind="escape")
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.npz")) == ["escape"] * 3
    assert all(trained[m]["seconds"] > 0 for m in TINY.methods)

    def no_training(*args, **kwargs):
        raise AssertionError("saved runs must be loaded, not trained")

    monkeypatch.setattr(toy_mlp, "train_toy_mlp", no_training)
    loaded = toy_mlp.run_or_load(TINY, tmp_path, kind="escape")
    found = toy_mlp.find_sweep(TINY, tmp_path, kind="escape")
    for method in TINY.methods:
        for run in (loaded[method], found[method]):
            for name in ("eps", "seed", "step", "test_error", "plateau"):
                np.testing.assert_array_equal(run[name], trained[method][name])
            assert (run["method"], run["max_steps"]) == (method, 40)
            assert run["seconds"] == pytest.approx(trained[method]["seconds"])
    assert toy_mlp.find_sweep(TINY, tmp_path, kind="curves") is None  # another kind, another file
    toy_mlp.sweep_path(TINY, "gd", tmp_path, kind="escape").unlink()
    assert toy_mlp.find_sweep(TINY, tmp_path, kind="escape") is None  # only whole sweeps are found


def test_full_escape_eps_are_two_decades_in_equal_log_steps():
    # written out to the bit (the sweep's key hashes them); numerically the logspace they stand for
    eps = np.asarray(toy_mlp.FULL_ESCAPE_EPS)
    assert eps == pytest.approx(np.logspace(-3, -1, 6), rel=1e-15)
    assert toy_mlp.PROFILES["full"]["escape"].eps == toy_mlp.FULL_ESCAPE_EPS
