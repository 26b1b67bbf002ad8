"""``egd-grok``: choices from the registries, validation before training, commands run."""

import pytest

from egd.grokking import cli, tables
from egd.grokking import registry as methods
from egd.grokking.config import make_config
from egd.grokking.store import load_runs

TINY = ["--preset", "smoke", "--p", "23", "--max-epochs", "3", "--device", "cpu", "--no-progress", "--threads", "1"]


def _subparser(name):
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def _choices(sub, dest):
    return set(next(a for a in sub._actions if a.dest == dest).choices)


def test_choices_come_from_the_registries():
    train = _subparser("train")
    assert _choices(train, "task") == set(methods.TASKS)
    assert _choices(train, "method") == set(methods.METHODS)
    assert _choices(_subparser("sweep"), "methods") == set(methods.METHODS)


def test_train_writes_a_result_and_reuses_it(tmp_path, capsys):
    args = ["train", "--task", "mod-add", "--method", "egd-svd", "--out", str(tmp_path)] + TINY
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert "mod-add-p23-egd-svd-s0-" in first and "3 epochs" in first
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert cli.main(args) == 0
    assert capsys.readouterr().out == first


THRESHOLD_RANGE = "threshold must be a finite number > 0 and <= 1"


@pytest.mark.parametrize("argv, message", [
    (["train", "--task", "mod-add", "--method", "egd-svd", "--p", "1"], "p must be an integer >= 2, got 1"),
    (["train", "--task", "mod-mul", "--method", "egd-svd", "--p", "12"], "p must be prime"),
    (["train", "--task", "mod-add", "--method", "egd-rsvd", "--rank", "0"], "rank must be an integer >= 1, got 0"),
    (["train", "--task", "mod-add", "--method", "egd-rsvd"], "rank is required"),
    (["train", "--task", "mod-add", "--method", "vanilla", "--lr", "-0.1"], "lr must be a finite number > 0, got -0.1"),
    (["train", "--task", "mod-add", "--method", "vanilla", "--threshold", "1.5"], THRESHOLD_RANGE),
    (["train", "--task", "mod-add", "--method", "vanilla", "--threshold", "0"], THRESHOLD_RANGE),
    (["train", "--task", "mod-add", "--method", "vanilla", "--lr", "inf"], "lr must be a finite number > 0, got inf"),
    (["train", "--task", "mod-add", "--method", "vanilla", "--data-seed", "-1"], "data_seed must be an integer >= 0"),
    (["train", "--task", "mod-add", "--method", "vanilla", "--train-fraction", "1.2"], "train_fraction"),
    (["train", "--task", "parity", "--method", "vanilla", "--n", "3", "--k", "5"], "k must be an integer in [1, n=3]"),
    (["train", "--task", "parity", "--method", "vanilla", "--loss", "cross_entropy"], "loss for task 'parity'"),
    (["train", "--task", "mod-add", "--method", "vanilla", "--weight-decay-mode", "adamw"], "weight_decay_mode"),
])
def test_bad_inputs_fail_before_training(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv + ["--out", str(tmp_path), "--device", "cpu"])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize("argv", [
    ["train", "--task", "mod-div", "--method", "vanilla"],
    ["train", "--task", "mod-add", "--method", "adam"],
])
def test_unknown_task_or_method_is_an_argparse_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_make_config_rejects_unknown_names_with_valueerror():
    with pytest.raises(ValueError, match="task must be one of"):
        make_config("mod-div", "vanilla")
    with pytest.raises(ValueError, match="method must be one of"):
        make_config("mod-add", "adam")
    with pytest.raises(ValueError, match="preset must be one of"):
        make_config("mod-add", "vanilla", preset="huge")
    with pytest.raises(ValueError, match="weight_decay_mode must be one of"):
        make_config("mod-add", "vanilla", weight_decay_mode="adamw")


def test_sweep_then_report(tmp_path, capsys):
    argv = ["sweep", "--task", "mod-add", "parity", "--methods", "vanilla", "colnorm", "--p", "23",
            "--seeds", "0", "1", "--out", str(tmp_path), "--preset", "smoke", "--max-epochs", "2",
            "--no-progress", "--device", "cpu", "--threshold", "0.01", "--n", "8", "--k", "2", "--jobs", "1"]
    assert cli.main(argv) == 0
    assert len(list(tmp_path.glob("*.json"))) == 8
    capsys.readouterr()
    assert cli.main(["report", "--results", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "parity" in table and "(n,k)=(8,2)" in table and "colnorm" in table
    rows = tables.report_rows(load_runs(tmp_path))
    assert len(rows) == 4 and all(r["seeds"] == 2 for r in rows)


def test_sweep_in_parallel_processes(tmp_path):
    argv = ["sweep", "--task", "mod-add", "--methods", "egd-rsvd", "--rank", "4", "--seeds", "0", "1",
            "--jobs", "2", "--out", str(tmp_path), "--no-switch-off", "--retrain"] + TINY
    assert cli.main(argv) == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(names) == 2 and all("egd-rsvd4" in n for n in names)


def test_report_on_empty_directory(tmp_path, capsys):
    assert cli.main(["report", "--results", str(tmp_path)]) == 1
    assert "no finished runs" in capsys.readouterr().out


def test_bench_prints_times_and_ratio(capsys):
    cli.main(["bench", "--p", "37", "--methods", "egd-svd", "--repeats", "1", "--epochs", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert "vanilla" in out and "egd-svd" in out and "ratio to vanilla" in out


def test_report_keeps_variants_apart_and_counts_failures(tmp_path, capsys):
    base = ["--task", "parity", "--method", "vanilla", "--n", "8", "--k", "2", "--out", str(tmp_path),
            "--preset", "smoke", "--max-epochs", "2", "--no-progress", "--device", "cpu"]
    for extra in (["--seed", "0", "--threshold", "0.01"], ["--seed", "1", "--threshold", "0.01"],
                  ["--seed", "0", "--threshold", "0.01", "--random-streams", "numpy"],
                  ["--seed", "0", "--threshold", "0.01", "--weight-decay-mode", "decoupled"],
                  ["--seed", "0", "--threshold", "1.0"], ["--seed", "1", "--threshold", "1.0"]):
        assert cli.main(["train"] + base + extra) == 0
    rows = tables.report_rows(load_runs(tmp_path))
    by_label = {}
    for r in rows:
        by_label.setdefault(r["method"], []).append(r)
    assert set(by_label) == {"vanilla", "vanilla numpy-streams", "vanilla decoupled-wd"}
    # the two thresholds are two experiments: same label, separate rows
    assert sorted(r["seeds"] for r in by_label["vanilla"]) == [2, 2]
    never = next(r for r in by_label["vanilla"] if r["reached"] == 0)
    assert never["median"] is None and never["median_all"] is None
    capsys.readouterr()
    assert cli.main(["report", "--results", str(tmp_path)]) == 0
    assert "vanilla numpy-streams" in capsys.readouterr().out


def test_a_closed_output_pipe_ends_quietly(tmp_path):
    """`egd-grok reproduce ... --dry-run | head -1`: the reader leaves, no traceback."""
    import subprocess
    import sys

    code = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
            "from egd.grokking.cli import main; "
            "sys.exit(main(['reproduce', 'parity', '--dry-run', '--out', sys.argv[1]]))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 141 and "Traceback" not in done.stderr and done.stderr == ""
