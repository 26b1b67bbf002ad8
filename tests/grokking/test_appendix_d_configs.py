"""Appendix D's configs: presets, the new fields' checks, names, and that old keys do not move."""

import pytest

from egd.grokking import registry
from egd.grokking.cli import build_parser
from egd.grokking.config import LATE_FIELD_DEFAULTS, RunConfig, config_key, make_config, run_name


def test_presets_hold_the_public_settings():
    tf = make_config("mod-mul", "vanilla", preset="transformer")
    assert (tf.model, tf.optimizer, tf.lr, tf.betas, tf.batch_size, tf.warmup_steps) == \
        ("transformer", "adam", 1e-3, (0.9, 0.98), 512, 10)
    assert tf.weight_decay == 0 and tf.threshold == 0.95 and not tf.switch_off
    assert (tf.grokfast_alpha, tf.grokfast_lamb) == (0.98, 2.0)
    assert tf.max_epochs * (int(0.5 * 97**2) // 512) >= 100_000
    dg = make_config("digits", "egd-svd")
    assert (dg.model, dg.optimizer, dg.width, dg.init_scale, dg.loss, dg.batch_size, dg.n_train) == \
        ("mlp3", "adamw", 200, 8.0, "mse", 200, 1000)
    assert dg.threshold == 0.85 and dg.weight_decay_mode == "decoupled" and dg.max_epochs * 5 == 100_000
    assert (dg.grokfast_alpha, dg.grokfast_lamb) == (0.8, 0.1)
    assert make_config("mnist", "vanilla").threshold == 0.85


def test_defaults_are_not_hashed_so_old_keys_stay():
    config = make_config("mod-add", "egd-svd")
    fields = {k: v for k, v in config.to_dict().items() if k not in LATE_FIELD_DEFAULTS}
    assert all(getattr(config, k) == v for k, v in LATE_FIELD_DEFAULTS.items())
    assert len(fields) + len(LATE_FIELD_DEFAULTS) == len(config.to_dict())
    assert config_key(config) != config_key(make_config("mod-add", "egd-svd", optimizer="adam"))


def test_betas_survive_a_json_round_trip():
    import json

    config = make_config("mod-mul", "egd-svd", preset="transformer", weight_decay=5e-3)
    again = RunConfig(**json.loads(json.dumps(config.to_dict())))
    assert again == config and again.betas == (0.9, 0.98) and config_key(again) == config_key(config)


@pytest.mark.parametrize("bad, match", [
    (dict(model="transformer"), "model 'transformer' takes the tasks"),
    (dict(model="cnn"), "model"),
    (dict(optimizer="lion"), "optimizer"),
    (dict(betas=(0.9, 0.98)), "betas applies only"),
    (dict(warmup_steps=5), "warmup_steps applies only"),
    (dict(init_scale=8.0), "init_scale applies only"),
    (dict(train_metrics="sometimes"), "train_metrics"),
])
def test_bad_appendix_d_fields_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        make_config("parity", "vanilla", **bad)


@pytest.mark.parametrize("bad, match", [
    (dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (dict(betas=(0.9,)), "pair"),
    (dict(warmup_steps=-1), "warmup_steps"),
    (dict(second_operand_scale=0.5), "tokens"),
])
def test_bad_transformer_options(bad, match):
    with pytest.raises(ValueError, match=match):
        make_config("mod-mul", "vanilla", preset="transformer", **bad)


def test_image_tasks_take_their_own_model_and_losses():
    with pytest.raises(ValueError, match="loss"):
        make_config("digits", "vanilla", loss="hinge")
    with pytest.raises(ValueError, match="model 'mlp'"):
        make_config("digits", "vanilla", model="mlp", init_scale=1.0)
    with pytest.raises(ValueError, match="transformer"):
        registry.preset_values("transformer", "digits")
    assert make_config("digits", "vanilla", loss="cross_entropy").loss == "cross_entropy"


def test_run_names_say_model_and_weight_decay():
    assert run_name(make_config("mod-mul", "egd-rsvd", preset="transformer", rank=36, weight_decay=5e-3)) \
        .startswith("mod-mul-p97-transformer-wd0.005-egd-rsvd36-s0-")
    assert run_name(make_config("digits", "vanilla", weight_decay=2.0)).startswith("digits-n1000-mlp3-wd2-vanilla-")
    assert run_name(make_config("mod-add", "vanilla")).startswith("mod-add-p97-vanilla-s0-")


def test_cli_builds_the_same_configs():
    parser = build_parser()
    args = parser.parse_args(["train", "--task", "mod-mul", "--preset", "transformer", "--method", "egd-rsvd",
                              "--rank", "36", "--weight-decay", "5e-3", "--betas", "0.9", "0.99"])
    from egd.grokking.cli import _config

    config = _config(args, args.task, args.method, args.seed, args.p)
    assert config.betas == (0.9, 0.99) and config.rank == 36 and config.model == "transformer"


def test_cli_mnist_dir_sets_the_environment(tmp_path, monkeypatch):
    from egd.grokking.cli import _overrides
    from egd.grokking.mnist import MNIST_ENV

    monkeypatch.delenv(MNIST_ENV, raising=False)
    args = build_parser().parse_args(["train", "--task", "mnist", "--method", "vanilla", "--mnist-dir",
                                      str(tmp_path)])
    _overrides(args)
    import os

    assert os.environ[MNIST_ENV] == str(tmp_path)


def test_digits_budget_is_shorter_at_the_default_weight_decay_only():
    from egd.grokking import runsets

    low = runsets.digits_config("vanilla", None, 0, 0.01)
    high = runsets.digits_config("vanilla", None, 0, 2.0)
    assert low.max_epochs * 5 == 20_000 and high.max_epochs * 5 == 100_000
    assert high == make_config("digits", "vanilla", seed=0, weight_decay=2.0, patience=runsets.DIGITS_PATIENCE)


def test_fields_of_other_families_and_methods_are_refused_for_the_image_tasks():
    assert make_config("digits", "vanilla").n_test is None  # every image after the training ones
    with pytest.raises(ValueError, match="p applies only to the modular tasks"):
        make_config("digits", "vanilla", p=97)
    with pytest.raises(ValueError, match="n and k apply only to the parity task"):
        make_config("digits", "vanilla", n=100)
    with pytest.raises(ValueError, match="train_fraction applies only to modular tasks"):
        make_config("digits", "vanilla", train_fraction=0.5)
    with pytest.raises(ValueError, match="n_train applies only to parity and image tasks"):
        make_config("mod-add", "vanilla", n_train=100)
    with pytest.raises(ValueError, match="grokfast_alpha applies only to method 'grokfast'"):
        make_config("digits", "egd-svd", grokfast_alpha=0.98)  # the image preset's 0.8 is that setting's default
    with pytest.raises(ValueError, match="grokfast_alpha applies only to method 'grokfast'"):
        make_config("mod-mul", "egd-svd", preset="transformer", weight_decay=5e-3, grokfast_alpha=0.8)
    with pytest.raises(ValueError, match="loss for task 'digits'"):
        make_config("digits", "vanilla", loss="squared")
    assert make_config("digits", "grokfast", grokfast_alpha=0.9).grokfast_alpha == 0.9


def test_appendix_d_sets_join_reproduce_all():
    from egd.grokking import runsets

    names = runsets.all_run_sets()
    assert {"transformer", "digits"} <= set(names)
    for name in ("transformer", "digits"):
        configs, subdir = runsets.run_set(name)
        assert subdir == runsets.OTHER_MODELS_SUBDIR and configs


def test_mnist_dir_applies_only_to_mnist(tmp_path, capsys):
    from egd.grokking import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--task", "digits", "--method", "vanilla", "--mnist-dir", str(tmp_path),
                  "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "mnist_dir applies only to the mnist task" in capsys.readouterr().err
