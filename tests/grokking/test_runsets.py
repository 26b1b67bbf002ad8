"""The book's run sets: the GPU comparison, named sets for ``egd-grok reproduce``, load-only lookup."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from egd.grokking import cli
from egd.grokking import runsets as experiments
from egd.grokking.config import config_key, make_config
from egd.grokking.runner import train


def test_gpu_comparison_is_the_p97_chapter_runs_moved_to_cuda():
    gpu = experiments.gpu_comparison_configs()
    assert len(gpu) == len(experiments.GPU_COMPARISON_METHODS) * len(experiments.QUICK_SEEDS)
    assert {c.device for c in gpu} == {"cuda"}
    assert {(c.method, c.rank) for c in gpu} == set(experiments.GPU_COMPARISON_METHODS)
    cpu = {(c.method, c.rank, c.seed): c for c in experiments.modular_configs("mod-add", "quick")}
    for c in gpu:
        twin = cpu[(c.method, c.rank, c.seed)]
        # same hyper-parameters as the CPU table, different key: the files never collide
        assert dataclasses.replace(c, device="cpu") == twin
        assert config_key(c) != config_key(twin)


def test_gpu_comparison_rejects_a_cpu_device():
    with pytest.raises(ValueError, match="device must be a CUDA device"):
        experiments.gpu_comparison_configs("cpu")


def test_run_sets_name_their_configs_and_directory():
    configs, where = experiments.run_set("modular")
    assert where == ""
    assert {c.task for c in configs} == {"mod-add", "mod-mul"}
    assert experiments.run_set("gpu-comparison", device="cuda")[1] == experiments.GPU_SUBDIR
    with pytest.raises(ValueError, match="run set must be one of"):
        experiments.run_set("tables")
    with pytest.raises(ValueError, match="profile must be one of"):
        experiments.run_set("parity", profile="huge")


def test_stall_run_set_holds_the_committed_baselines_and_the_fixes_on_ten_seeds():
    from egd.grokking.labels import variant_key

    configs, where = experiments.run_set("stall")
    assert where == ""
    counts = {}
    for c in configs:
        counts[variant_key(c)] = counts.get(variant_key(c), 0) + 1
    assert counts == {"vanilla": 10, "egd-svd": 10, "egd-svd-top32": 10, "egd-svd-cut0.01": 10,
                      "egd-svd-cut0.001": 10, "egd-svd decoupled-wd": 10, "egd-svd-batch": 10}
    assert {(c.n, c.k) for c in configs} == {(100, 3)}
    shapes, _ = experiments.run_set("stall-shapes")
    assert sorted({(c.n, c.k, variant_key(c)) for c in shapes}) == [
        (50, 4, "egd-svd"), (50, 4, "egd-svd decoupled-wd"), (50, 4, "egd-svd-batch"), (50, 4, "egd-svd-cut0.001"),
        (50, 4, "egd-svd-cut0.01"), (50, 4, "egd-svd-top32"), (50, 4, "vanilla"),
        (400, 2, "egd-svd"), (400, 2, "egd-svd decoupled-wd"), (400, 2, "egd-svd-batch"),
        (400, 2, "egd-svd-cut0.001"), (400, 2, "egd-svd-cut0.01"), (400, 2, "egd-svd-top32"), (400, 2, "vanilla")]
    assert len(shapes) == 140
    # vanilla and decoupled weight decay are Table 4's runs, under the same keys
    table4 = {config_key(c) for c in experiments.parity_configs("full")}
    assert all(config_key(c) in table4 for c in shapes if c.method == "vanilla")
    assert variant_key(shapes[20]) == "egd-svd" and (shapes[20].n, shapes[20].k) == (400, 2)
    modular, _ = experiments.run_set("stall-modular")
    assert {(c.task, c.p) for c in modular} == {("mod-add", 97), ("mod-mul", 97)}
    assert sorted({variant_key(c) for c in modular}) == ["egd-svd", "egd-svd decoupled-wd", "egd-svd-batch",
                                                         "egd-svd-cut0.001", "egd-svd-cut0.01", "egd-svd-top512",
                                                         "vanilla"]
    tables23 = {config_key(c) for c in experiments.modular_configs("mod-add", "quick")
                + experiments.modular_configs("mod-mul", "quick")}
    assert all(config_key(c) in tables23 for c in modular if c.method == "vanilla")
    # exact EGD's runs are the modular chapter's, found under their committed keys
    table = {(c.task, c.seed): c for c in experiments.modular_configs("mod-add", "quick") if c.method == "egd-svd"}
    assert all(c == table[(c.task, c.seed)] for c in modular
               if c.method == "egd-svd" and c.task == "mod-add" and c.weight_decay_mode == "loss")


def test_load_finished_finds_only_finished_runs_and_trains_nothing(tmp_path):
    done = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=3, patience=None)
    missing = dataclasses.replace(done, seed=1)
    trained = train(done, out_dir=tmp_path)
    found = experiments.load_finished([done, missing], tmp_path)
    assert len(found) == 1 and found[0].config == done
    np.testing.assert_array_equal(found[0].test_acc, trained.test_acc)
    assert len(list(tmp_path.glob("*.json"))) == 1  # the missing run was not trained


def test_reproduce_dry_run_lists_the_gpu_runs(tmp_path, capsys):
    assert cli.main(["reproduce", "gpu-comparison", "--device", "cuda", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "12 runs, 0 finished" in out
    assert out.count("to train") == 12 and "mod-add-p97-egd-rsvd128-s2-" in out
    assert not list(tmp_path.iterdir())


def test_reproduce_gpu_comparison_on_cpu_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "gpu-comparison", "--device", "cpu", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "device must be a CUDA device" in capsys.readouterr().err


def test_results_dir_is_an_argument_or_a_setting_never_the_package_location(tmp_path, monkeypatch):
    monkeypatch.delenv(experiments.RESULTS_ENV, raising=False)
    assert experiments.results_dir() == Path("results")  # relative: the working directory's
    monkeypatch.setenv(experiments.RESULTS_ENV, str(tmp_path))
    assert experiments.results_dir() == tmp_path
    assert experiments.results_dir(tmp_path / "x") == tmp_path / "x"


def test_convergence_runs_are_the_table_runs_continued_past_the_threshold():
    for task in ("mod-add", "mod-mul"):
        long = experiments.convergence_configs(task)
        assert [(c.method, c.rank) for c in long] == list(experiments.MODULAR_METHODS)
        table = {(c.method, c.rank): c for c in experiments.modular_configs(task, "quick")
                 if c.seed == experiments.CONVERGENCE_SEED}
        for c in long:
            assert c.patience == experiments.CONVERGENCE_PATIENCE > experiments.PATIENCE
            # only the patience differs, so the first epochs are the table run's, bit for bit
            assert dataclasses.replace(c, patience=experiments.PATIENCE) == table[(c.method, c.rank)]
            assert config_key(c) != config_key(table[(c.method, c.rank)])
    configs, where = experiments.run_set("modular-convergence")
    assert where == "" and len(configs) == 2 * len(experiments.MODULAR_METHODS)


def test_a_longer_patience_continues_the_same_run_bit_for_bit():
    short = make_config("parity", "egd-svd", preset="smoke", n=10, k=2, threshold=0.9, patience=2, max_epochs=30,
                        spectrum_every=1)
    long = dataclasses.replace(short, patience=6)
    a, b = train(short), train(long)
    assert a.epochs_to_threshold is not None and a.epochs_to_threshold == b.epochs_to_threshold
    assert len(b.epochs) == len(a.epochs) + 4
    for name, column in a.history.items():
        if name != "seconds":
            np.testing.assert_array_equal(b.history[name][:len(column)], column)
    np.testing.assert_array_equal(b.spectra[:len(a.spectra)], a.spectra)
