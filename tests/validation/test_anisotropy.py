"""Level 3 building blocks: the anisotropy knob on modular addition, its config key, the sweep."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from egd.grokking.config import LATE_FIELD_DEFAULTS, config_key, make_config, run_name
from egd.grokking.models import TwoLayerMLP
from egd.grokking.tasks import ModularArithmetic
from egd.validation.anisotropy import (
    AnisotropyProfile,
    anisotropy_configs,
    condition_table,
    fit_grok_slopes,
    full_batch_gradient,
    grok_table,
    run_or_load_sweep,
    spectrum_split_ratio,
)

REPO = Path(__file__).resolve().parents[2]
GRAD_RTOL = 1e-5  # float32 gradients, two summation orders
P = 7


@pytest.mark.parametrize("scale", [0.0, -0.5, math.inf, math.nan, "0.5", True])
def test_knob_rejects_bad_scales(scale):
    with pytest.raises(ValueError, match="second_operand_scale"):
        ModularArithmetic(P, second_operand_scale=scale)


def test_knob_only_on_modular_tasks():
    with pytest.raises(ValueError, match="second_operand_scale"):
        make_config("parity", "vanilla", preset="smoke", n=10, k=2, second_operand_scale=0.5)


def test_scale_one_is_the_paper_task_bit_for_bit():
    plain = ModularArithmetic(P, "add", 0.6, 3).build()
    knob = ModularArithmetic(P, "add", 0.6, 3, second_operand_scale=1.0).build()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(plain, name), getattr(knob, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name


def test_scaled_input_is_the_scaled_one_hot():
    c = 0.3
    idx = ModularArithmetic(P, "add", 0.6, 3).build()
    dense = ModularArithmetic(P, "add", 0.6, 3, second_operand_scale=c).build()
    assert dense.x_train.shape == (idx.n_train, 2 * P) and dense.x_train.dtype == torch.float32
    expected = torch.zeros(idx.n_train, 2 * P)
    rows = torch.arange(idx.n_train)
    expected[rows, idx.x_train[:, 0]] = 1.0
    expected[rows, idx.x_train[:, 1]] = c
    assert torch.equal(dense.x_train, expected)
    assert torch.equal(dense.y_train, idx.y_train) and torch.equal(dense.y_test, idx.y_test)


def test_b_columns_of_the_gradient_carry_the_scale():
    """Hand computation: dL/dW1[:, j] = sum_i x_ij dL/dh_i, with x_ij = c for b's column."""
    c = math.sqrt(0.2)
    data = ModularArithmetic(P, second_operand_scale=c).build()
    idx = ModularArithmetic(P).build().x_train
    model = TwoLayerMLP(2 * P, 16, P, generator=torch.Generator().manual_seed(0))
    pre = model.hidden_preactivation(data.x_train)
    out = torch.nn.functional.linear(torch.relu(pre), model.output.weight)
    loss = torch.nn.functional.cross_entropy(out, data.y_train)
    grad_w, grad_pre = torch.autograd.grad(loss, [model.hidden.weight, pre])
    hand = torch.zeros(2 * P, 16)
    hand.index_add_(0, idx[:, 0], grad_pre)
    hand.index_add_(0, idx[:, 1], c * grad_pre)
    torch.testing.assert_close(grad_w, hand.t(), rtol=GRAD_RTOL, atol=1e-8)


def test_knob_is_a_reparametrisation_that_scales_b_gradients_by_c():
    """Scaled input + W1 b-block / c computes the unscaled function; then dL/dW_b = c dL/dW_b(plain)."""
    c = math.sqrt(0.05)
    plain = ModularArithmetic(P).build()
    scaled = ModularArithmetic(P, second_operand_scale=c).build()
    base = TwoLayerMLP(2 * P, 16, P, generator=torch.Generator().manual_seed(1))
    twin = TwoLayerMLP(2 * P, 16, P, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        twin.hidden.weight[:, P:] /= c

    def grad(model, x, y):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        return torch.autograd.grad(loss, [model.hidden.weight])[0]

    torch.testing.assert_close(twin(scaled.x_train), base(plain.x_train), rtol=GRAD_RTOL, atol=1e-6)
    g_plain, g_twin = grad(base, plain.x_train, plain.y_train), grad(twin, scaled.x_train, scaled.y_train)
    torch.testing.assert_close(g_twin[:, :P], g_plain[:, :P], rtol=GRAD_RTOL, atol=1e-8)
    torch.testing.assert_close(g_twin[:, P:], c * g_plain[:, P:], rtol=GRAD_RTOL, atol=1e-8)


def test_default_keys_unchanged_and_knob_changes_key_and_name():
    assert LATE_FIELD_DEFAULTS["second_operand_scale"] == 1.0
    base = make_config("mod-add", "vanilla", p=97)
    assert config_key(base) == config_key(make_config("mod-add", "vanilla", p=97, second_operand_scale=1.0))
    knob = make_config("mod-add", "vanilla", p=97, second_operand_scale=0.5)
    assert config_key(knob) != config_key(base)
    assert run_name(base) == f"mod-add-p97-vanilla-s0-{config_key(base)}"
    assert run_name(knob).startswith("mod-add-p97-b0.5-vanilla-s0-")


@pytest.mark.skipif(not (REPO / "results").is_dir(), reason="no committed results")
def test_committed_results_are_still_found_by_key():
    from egd.grokking.store import find_run, load_run

    paths = sorted((REPO / "results").glob("*.json"))
    assert paths
    written_before_the_knob = 0
    for path in paths:
        record = json.loads(path.read_text())
        written_before_the_knob += "second_operand_scale" not in record["config"]
        config = load_run(path).config
        assert config_key(config) == record["key"], path.name
        assert find_run(config, path.parent) is not None, path.name
    assert written_before_the_knob > 0  # the old files, without the field, are among them


TINY = AnisotropyProfile(p=P, eps=(1.0, 0.25), seeds=(0,), methods=(("vanilla", None), ("egd-rsvd", 4)),
                         overrides=dict(preset="smoke", train_fraction=0.6, batch_size=16, max_epochs=4,
                                        patience=0, spectrum_every=2, threshold=0.3))


def test_tiny_sweep_structure_reuse_and_censoring(tmp_path):
    torch.manual_seed(0)
    runs = run_or_load_sweep(TINY, tmp_path)
    assert len(runs) == 4 and len(list(tmp_path.glob("*.json"))) == 4
    again = run_or_load_sweep(TINY, tmp_path)  # loaded by key, not retrained
    assert [r.history["test_correct"].tolist() for r in again] == [r.history["test_correct"].tolist() for r in runs]
    table = grok_table(runs)
    assert table["method"].tolist() == ["vanilla", "vanilla", "egd-rsvd4", "egd-rsvd4"]
    np.testing.assert_allclose(table["eps"], [1.0, 0.25, 1.0, 0.25])
    assert np.array_equal(np.isnan(table["epochs"]), table["censored"])
    assert np.all(table["cap"][table["censored"]] == 4)
    slopes = fit_grok_slopes(table)
    assert set(slopes) == {"vanilla", "egd-rsvd4"}
    for method, fit in slopes.items():
        assert fit["n_runs"] == 2 and fit["n_censored"] == int(table["censored"][table["method"] == method].sum())
        assert len(fit["reached"]) == 3 and len(fit["at_cap"]) == 3
    cond = condition_table(runs)
    assert cond["split_init"].shape == (4,) and np.all(cond["split_init"] > 0)


def test_censored_runs_are_entered_at_the_cap_and_left_out_of_the_reached_fit():
    table = {"method": np.array(["v"] * 4, dtype=object), "eps": np.array([1.0, 0.5, 0.25, 0.125]),
             "seed": np.zeros(4, int), "epochs": np.array([100.0, 200.0, 400.0, np.nan]),
             "censored": np.array([False, False, False, True]), "cap": np.array([100.0, 200.0, 400.0, 500.0])}
    fit = fit_grok_slopes(table)["v"]
    assert abs(fit["reached"][0] + 1.0) < 1e-9 and fit["n_censored"] == 1
    assert fit["at_cap"][0] > fit["reached"][0]  # the cap is a lower bound: flattens the slope
    table["censored"][:] = True
    table["epochs"][:] = np.nan
    assert all(math.isnan(v) for v in fit_grok_slopes(table)["v"]["reached"])


def test_spectrum_split_ratio_and_full_batch_blocks():
    s = np.array([4.0, 4.0, 4.0, 1.0, 1.0, 1.0])
    assert spectrum_split_ratio(s, 3) == pytest.approx(16.0)
    with pytest.raises(ValueError, match="2p"):
        spectrum_split_ratio(s, 4)
    config = make_config("mod-add", "vanilla", preset="smoke", p=P, train_fraction=0.6, batch_size=16)
    plain = full_batch_gradient(config, include_l2=False)
    eps = 0.04
    scaled = full_batch_gradient(make_config("mod-add", "vanilla", preset="smoke", p=P, train_fraction=0.6,
                                             batch_size=16, second_operand_scale=math.sqrt(eps)), include_l2=False)
    assert plain["sv"].shape == (2 * P,) and plain["sv_a"].shape == (P,)
    # the b block carries a factor sqrt(eps) in G: its energy ratio drops by ~eps (the forward changes too)
    assert scaled["block_ratio"] < 4 * eps * plain["block_ratio"]
    with_l2 = full_batch_gradient(config)
    assert not np.allclose(with_l2["sv"], plain["sv"])


def test_profiles_validate_and_build():
    with pytest.raises(ValueError, match="eps"):
        AnisotropyProfile(p=P, eps=(0.0,), seeds=(0,), methods=(("vanilla", None),))
    with pytest.raises(ValueError, match="profile"):
        anisotropy_configs("huge")
    quick = anisotropy_configs("quick")
    assert {round(c.second_operand_scale**2, 12) for c in quick} == {1.0, 0.5, 0.25}
    full = anisotropy_configs("full")
    assert {c.p for c in full} == {97} and len({c.second_operand_scale for c in full}) >= 5
    assert len({c.seed for c in full}) >= 3 and all(c.lr == 0.7 and c.batch_size == 512 for c in full)


def test_cli_flag_threads_the_knob(tmp_path, capsys):
    from egd.grokking import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--task", "mod-add", "--method", "vanilla", "--second-operand-scale", "0",
                  "--out", str(tmp_path), "--device", "cpu"])
    assert exc.value.code == 2 and "second_operand_scale must be a finite number > 0" in capsys.readouterr().err
    assert cli.main(["train", "--task", "mod-add", "--method", "vanilla", "--preset", "smoke", "--p", "7",
                     "--batch-size", "8", "--max-epochs", "2", "--second-operand-scale", "0.5", "--no-progress",
                     "--out", str(tmp_path), "--device", "cpu"]) == 0
    (path,) = tmp_path.glob("*.json")
    assert json.loads(path.read_text())["config"]["second_operand_scale"] == 0.5


def test_slope_verdicts():
    from egd.validation.anisotropy import slope_verdict

    clean = {"reached": (-1.05, -1.3, -0.8), "at_cap": (-1.05, -1.3, -0.8), "n_censored": 0}
    assert slope_verdict(clean, -1.0, tolerance=0.1) == "holds"
    assert slope_verdict(clean, 0.0, tolerance=0.1) == "fails"
    censored = {"reached": (-0.5, -0.9, -0.1), "at_cap": (-2.0, -2.5, -1.5), "n_censored": 2}
    assert slope_verdict(censored, 0.0, tolerance=0.1) == "fails"  # even the bound is steeper than flat
    assert slope_verdict(censored, -3.0, tolerance=0.1) == "undetermined"
    nan = {"reached": (math.nan,) * 3, "at_cap": (math.nan,) * 3, "n_censored": 0}
    assert slope_verdict(nan, 0.0, tolerance=0.1) == "undetermined"
