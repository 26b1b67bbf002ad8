"""``egd-grok reproduce all``: every registered set into its subfolder, once; and the recorded cost."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from egd.grokking import cli
from egd.grokking import runsets as experiments
from egd.grokking.config import make_config, run_name


def _tiny(seed: int, **overrides):
    return make_config("mod-add", "vanilla", preset="smoke", p=11, width=8, batch_size=16, max_epochs=2, patience=None,
                       seed=seed, **overrides)


@pytest.fixture
def tiny_sets(monkeypatch):
    """Three registered sets of two-epoch runs: two in 'all' (root and a subfolder), one left out."""
    sets = {
        "first": (lambda profile, device: [_tiny(0), _tiny(1)], ""),
        "second": (lambda profile, device: [_tiny(2, lr=0.5)], "second"),
        "elsewhere": (lambda profile, device: [_tiny(3)], "elsewhere"),
    }
    monkeypatch.setattr(experiments, "RUN_SETS", sets)
    monkeypatch.setattr(experiments, "NOT_IN_ALL", {"elsewhere": "needs another machine"})
    return sets


def test_all_is_every_registered_set_but_the_left_out_ones():
    names = experiments.all_run_sets()
    assert names == [n for n in experiments.RUN_SETS if n not in experiments.NOT_IN_ALL]
    assert {"modular", "parity", "parity-authors", "anisotropy"} <= set(names)
    assert "gpu-comparison" not in names and "gpu-comparison" in experiments.NOT_IN_ALL


def test_the_anisotropy_set_is_the_validation_chapters_level_3():
    from egd.validation import anisotropy

    for profile in experiments.PROFILES:
        configs, subdir = experiments.run_set("anisotropy", profile)
        assert subdir == anisotropy.ANISOTROPY_SUBDIR
        assert configs == anisotropy.anisotropy_configs(profile)


def test_reproduce_all_trains_each_set_into_its_folder_once(tmp_path, tiny_sets, monkeypatch, capsys):
    argv = ["reproduce", "all", "--out", str(tmp_path), "--jobs", "1", "--no-progress", "--device", "cpu"]
    assert cli.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "reproduce first (quick): 2 runs, 0 finished" in out
    assert "reproduce second (quick): 1 runs, 0 finished" in out
    assert "elsewhere left out: needs another machine" in out and "reproduce elsewhere" not in out
    assert not list(tmp_path.rglob("*.json"))  # a dry run trains nothing

    assert cli.main(argv) == 0
    capsys.readouterr()
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(run_name(_tiny(s)) for s in (0, 1))
    assert len(list((tmp_path / "second").glob("*.json"))) == 1
    assert not (tmp_path / "elsewhere").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a second invocation must train nothing")

    monkeypatch.setattr(cli, "_run_sweep", no_training)
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 runs, 2 finished" in out and "1 runs, 1 finished" in out
    assert cli.main([*argv, "--dry-run"]) == 0
    assert "to train" not in capsys.readouterr().out


def test_a_registered_set_joins_all(tmp_path, tiny_sets, monkeypatch, capsys):
    monkeypatch.setitem(experiments.RUN_SETS, "late", (lambda profile, device: [_tiny(4)], "late"))
    assert cli.main(["reproduce", "all", "--out", str(tmp_path), "--dry-run"]) == 0
    assert "reproduce late (quick): 1 runs, 0 finished" in capsys.readouterr().out


def _fake_run(seconds, batch_runs=None):
    env = {} if batch_runs is None else {"engine": "batched", "batch_runs": batch_runs}
    return SimpleNamespace(history={"seconds": np.asarray(seconds, dtype=np.float32)}, env=env)


def test_recorded_seconds_counts_each_batch_once():
    single = [_fake_run([1.0, 2.0, 10.0]), _fake_run([0.5, 4.0])]
    # one batch of three: the same clock, runs leaving at different epochs; another batch of two
    batch = [_fake_run([0.25, 3.0]), _fake_run([0.25, 3.0, 7.0]), _fake_run([0.25, 3.0, 7.0, 9.0])]
    other = [_fake_run([0.75, 5.0], 2), _fake_run([0.75, 5.0, 6.0], 2)]
    for run in batch:
        run.env = {"engine": "batched", "batch_runs": 3}
    assert experiments.recorded_seconds(single) == pytest.approx(14.0)
    assert experiments.recorded_seconds(single + batch + other) == pytest.approx(14.0 + 9.0 + 6.0)
    assert experiments.recorded_seconds([]) == 0.0


def test_profile_wall_time_sums_the_finished_runs_and_counts_the_missing(tmp_path, tiny_sets):
    assert [(c.name, c.runs, c.finished, c.missing, c.seconds) for c in
            experiments.profile_wall_time("quick", tmp_path)] == [("first", 2, 0, 2, 0.0), ("second", 1, 0, 1, 0.0)]
    experiments.run_or_load([_tiny(0)], tmp_path)
    second = experiments.run_or_load([_tiny(2, lr=0.5)], tmp_path / "second")
    costs = {c.name: c for c in experiments.profile_wall_time("quick", tmp_path)}
    assert (costs["first"].finished, costs["first"].missing) == (1, 1)
    assert costs["second"].missing == 0
    assert costs["second"].seconds == pytest.approx(float(second[0].history["seconds"][-1]))
    assert costs["first"].seconds > 0
    assert costs["second"].devices == (f"cpu ({second[0].env['device_name']})",)
    assert [c.name for c in experiments.profile_wall_time("quick", tmp_path, names=["elsewhere"])] == ["elsewhere"]


def test_grokfast_is_a_column_of_the_full_modular_tables_only():
    quick = experiments.modular_configs("mod-add", "quick")
    full = experiments.modular_configs("mod-mul", "full")
    assert "grokfast" not in {c.method for c in quick}
    grokfast = [c for c in full if c.method == "grokfast"]
    assert len(grokfast) == 3 * len(experiments.FULL_SEEDS)
    assert {(c.grokfast_alpha, c.grokfast_lamb) for c in grokfast} == {(0.98, 2.0)}
    paper = [c for c in full if c.method != "grokfast"]
    assert len(paper) == 3 * len(experiments.MODULAR_METHODS) * len(experiments.FULL_SEEDS)
    # the paper's preset, the method (and the spectrum sampling tied to it) the only difference
    vanilla_twin = dataclasses.replace(grokfast[0], method="vanilla",
                                       spectrum_every=experiments.SPECTRUM_EVERY["vanilla"])
    assert vanilla_twin in paper


def test_main_text_is_all_but_appendix_d():
    main = experiments.group_run_sets(experiments.MAIN_TEXT)
    assert experiments.group_run_sets(experiments.ALL) == experiments.all_run_sets()
    assert set(experiments.all_run_sets()) - set(main) == {"transformer", "digits"}
    assert {"modular", "parity", "parity-authors", "anisotropy"} <= set(main)
    assert set(experiments.group_left_out(experiments.MAIN_TEXT)) == {"gpu-comparison", "transformer", "digits"}
    with pytest.raises(ValueError, match="group must be one of"):
        experiments.group_run_sets("modular")


def test_reproduce_main_text_leaves_out_appendix_d(tmp_path, tiny_sets, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "NOT_IN_MAIN_TEXT", {"second": "an appendix"})
    argv = ["reproduce", "main-text", "--out", str(tmp_path), "--jobs", "1", "--no-progress", "--device", "cpu"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "reproduce main-text: second left out: an appendix" in out
    assert "reproduce main-text: elsewhere left out: needs another machine" in out
    assert "reproduce first (quick): 2 runs, 0 finished" in out and "reproduce second" not in out
    assert len(list(tmp_path.glob("*.json"))) == 2 and not (tmp_path / "second").exists()


def test_reproduce_at_another_thread_count_points_to_the_checkpoint_it_would_not_resume(tmp_path, tiny_sets,
                                                                                         capsys):
    from egd.grokking.store import checkpoint_path

    checkpoint_path(_tiny(0), tmp_path).write_bytes(b"a checkpoint at one thread")
    argv = ["reproduce", "first", "--out", str(tmp_path), "--no-progress", "--device", "cpu", "--dry-run"]
    assert cli.main([*argv, "--threads", "2"]) == 0
    captured = capsys.readouterr()
    seed0_at_2 = run_name(dataclasses.replace(_tiny(0), threads=2))
    assert f"{seed0_at_2} has no checkpoint at --threads 2" in captured.err
    assert "Pass --threads 1 to resume that one" in captured.err
    assert "training would start a new run from scratch" in captured.err  # a dry run starts nothing
    assert "to train (a checkpoint at --threads 1 is there)" in captured.out
    assert captured.err.count("has no checkpoint") == 1  # seed 1 has no checkpoint at any count
    assert cli.main([*argv, "--threads", "1"]) == 0  # at the checkpoint's own count: nothing to say
    assert "has no checkpoint" not in capsys.readouterr().err
