"""A results folder with damaged and foreign files: named, skipped or moved aside, never fatal, never lost."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from egd.grokking import cli
from egd.grokking.config import make_config, run_name
from egd.grokking.runner import train
from egd.grokking.store import (
    HISTORY_DTYPES,
    DamagedFileError,
    StoreWarning,
    checkpoint_path,
    find_run,
    load_checkpoint,
    load_run,
    save_run,
    scan_runs,
)

REPO = Path(__file__).resolve().parents[2]
METRICS = ("train_correct", "test_correct", "train_loss", "test_loss", "hidden_norm", "output_norm",
           "transform_active")


def tiny(seed=0, method="vanilla", **kw):
    return make_config("mod-add", method, preset="smoke", p=23, max_epochs=6, patience=None, seed=seed, **kw)


def same_numbers(a, b):
    for key in METRICS:
        np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    result = train(tiny(), out_dir=folder)
    return folder / f"{result.name}.json", result


def _damage(folder: Path, good: Path) -> dict[str, str]:
    """Write every kind of bad file next to a copy of ``good``; return name -> expected reason."""
    shutil.copy(good, folder / good.name)
    shutil.copy(good.with_suffix(".npz"), folder / good.with_suffix(".npz").name)
    record = json.loads(good.read_text())
    bad = {}

    def put(name, text, reason):
        (folder / name).write_text(text) if isinstance(text, str) else (folder / name).write_bytes(text)
        bad[name] = reason

    put("empty.json", "", "empty file")
    put("truncated.json", good.read_text()[: len(good.read_text()) // 2], "not valid JSON (truncated?)")
    put("binary.json", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file")
    put("list.json", "[1, 2, 3]\n", "not a run record")
    put("table.json", json.dumps({"rows": [], "caption": "a cached table"}), "not a run record")
    no_npz = dict(record, name="no-npz")
    put("no-npz.json", json.dumps(no_npz), "its config has key")  # renamed copy: name no longer matches
    for name, change, reason in (
        ("bad-config", {"config": dict(record["config"], lr=-1.0)}, "invalid config: lr must be"),
        ("unknown-field", {"config": dict(record["config"], colour="red")}, "invalid config"),
        ("wrong-key", {"key": "0123456789ab"}, "its config has key"),
        ("future-schema", {"schema": 99}, "run record of schema 99"),
        ("no-summary", {"summary": {"status": "max_epochs"}}, "summary without"),
    ):
        put(f"{name}.json", json.dumps(dict(record, **change)), reason)
    # a well-formed record whose arrays are missing or corrupt, under its own (valid) name
    other = train(tiny(seed=1))
    path = save_run(other, folder)
    path.with_suffix(".npz").unlink()
    bad[path.name] = "are missing"
    third = train(tiny(seed=2))
    path = save_run(third, folder)
    path.with_suffix(".npz").write_bytes(b"PK\x03\x04 not really a zip")
    bad[path.name] = "cannot be read"
    return bad


def test_scan_names_every_bad_file_and_keeps_the_good_one(tmp_path, good_run):
    good, result = good_run
    bad = _damage(tmp_path, good)
    scan = scan_runs(tmp_path)
    assert [r.name for r in scan.runs] == [result.name]
    skipped = {p.name: (kind, reason) for p, kind, reason in scan.skipped}
    assert set(skipped) == set(bad)
    for name, expected in bad.items():
        assert expected in skipped[name][1], (name, skipped[name])
    assert skipped["list.json"][0] == "foreign" and skipped["empty.json"][0] == "damaged"


def test_report_prints_the_rest_and_names_each_skipped_file(tmp_path, good_run, capsys):
    good, result = good_run
    bad = _damage(tmp_path, good)
    assert cli.main(["report", "--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "mod-add" in out and "vanilla" in out
    for name in bad:
        assert name in err
    assert "Traceback" not in err


def test_load_runs_warns_and_skips(tmp_path, good_run):
    from egd.grokking.store import load_runs

    good, result = good_run
    bad = _damage(tmp_path, good)
    with pytest.warns(StoreWarning) as record:
        runs = load_runs(tmp_path)
    assert [r.name for r in runs] == [result.name]
    assert len([w for w in record if issubclass(w.category, StoreWarning)]) == len(bad)


def test_load_run_errors_name_the_file(tmp_path, good_run):
    good, _ = good_run
    bad = _damage(tmp_path, good)
    for name in bad:
        with pytest.raises(DamagedFileError, match=name.replace(".", r"\.")):
            load_run(tmp_path / name)


def test_report_on_the_repositorys_own_results(capsys):
    results = REPO / "results"
    if not results.is_dir():
        pytest.skip("no committed results")
    assert cli.main(["report", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert "mod-add" in out and "not read" in err and "Traceback" not in err
    assert cli.main(["report", "--results", str(results), "--recursive"]) == 0
    out, err = capsys.readouterr()
    assert "b=" in out or "p=31" in out  # the anisotropy runs of a subfolder
    assert "foreign" in err  # the cached tables of a chapter are named, not fatal


def test_duplicates_in_subfolders_are_counted_once(tmp_path, good_run):
    good, result = good_run
    (tmp_path / "copy").mkdir()
    for folder in (tmp_path, tmp_path / "copy"):
        shutil.copy(good, folder / good.name)
        shutil.copy(good.with_suffix(".npz"), folder / good.with_suffix(".npz").name)
    scan = scan_runs(tmp_path, recursive=True)
    assert len(scan.runs) == 1 and [k for _, k, _ in scan.skipped] == ["duplicate"]


@pytest.mark.parametrize("damage", ["truncate", "empty", "drop-npz", "corrupt-npz", "other-key"])
def test_train_moves_a_damaged_result_aside_and_trains_again(tmp_path, damage):
    config = tiny()
    first = train(config, out_dir=tmp_path)
    json_path = tmp_path / f"{first.name}.json"
    npz_path = json_path.with_suffix(".npz")
    original = json_path.read_bytes()
    if damage == "truncate":
        json_path.write_bytes(original[:50])
    elif damage == "empty":
        json_path.write_bytes(b"")
    elif damage == "drop-npz":
        npz_path.unlink()
    elif damage == "corrupt-npz":
        npz_path.write_bytes(b"garbage")
    else:
        json_path.write_text(json.dumps(dict(json.loads(original), key="ffffffffffff")))
    kept = json_path.read_bytes()
    with pytest.warns(StoreWarning, match=f"{json_path.name}.*moved aside to {json_path.name}.damaged-"):
        again = train(config, out_dir=tmp_path)
    same_numbers(again, first)
    assert load_run(json_path).summary["epochs_run"] == first.summary["epochs_run"]
    aside = list(tmp_path.glob(f"{json_path.name}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == kept  # moved, not deleted
    assert train(config, out_dir=tmp_path).summary == again.summary  # and now simply reused


def test_dry_run_reports_damage_without_moving_anything(tmp_path, capsys):
    from egd.grokking import runsets

    config = runsets.modular_configs("mod-add", "quick")[0]
    path = tmp_path / f"{run_name(config)}.json"
    path.write_text("{")
    assert cli.main(["reproduce", "modular", "--dry-run", "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert f"damaged (moved aside and trained again when run)  {run_name(config)}" in capsys.readouterr().out
    assert path.read_text() == "{"  # a dry run changes nothing


def _crafted_pickle(marker: Path) -> bytes:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"format": 2, "key": "x", "evil": Payload()}, protocol=2)


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "crafted", "not-a-dict", "old-format",
                                    "other-key", "wrong-shapes"])
def test_a_damaged_checkpoint_is_moved_aside_and_the_run_starts_over(tmp_path, damage):
    config = tiny(method="egd-rsvd", rank=4)
    reference = train(config)
    partial = train(config, out_dir=tmp_path, stop_after=3, checkpoint_every=1)
    assert partial.summary["epochs_run"] == 3
    ckpt = checkpoint_path(config, tmp_path)
    good = ckpt.read_bytes()
    marker = tmp_path / "code-ran"
    if damage == "garbage":
        ckpt.write_bytes(b"\x00\x01garbage" * 10)
    elif damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "truncated":
        ckpt.write_bytes(good[: len(good) // 2])
    elif damage == "crafted":
        ckpt.write_bytes(_crafted_pickle(marker))
    elif damage == "not-a-dict":
        torch.save([1, 2, 3], ckpt)
    else:
        snap = load_checkpoint(ckpt)
        if damage == "old-format":
            snap["format"] = 1
        elif damage == "other-key":
            snap["key"] = "ffffffffffff"
        else:
            snap["model"] = {k: torch.zeros(2, 2) for k in snap["model"]}
        torch.save(snap, ckpt)
    with pytest.warns(StoreWarning, match=f"{ckpt.name}.*moved aside to {ckpt.name}.damaged-"):
        resumed = train(config, out_dir=tmp_path)
    same_numbers(resumed, reference)
    assert not marker.exists(), "a crafted checkpoint ran code"
    assert len(list(tmp_path.glob(f"{ckpt.name}.damaged-*"))) == 1
    assert not ckpt.exists()


def test_a_crafted_checkpoint_is_refused_by_the_loader(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.ckpt.pt"
    path.write_bytes(_crafted_pickle(marker))
    with pytest.raises(DamagedFileError, match="evil.ckpt.pt: checkpoint cannot be read"):
        load_checkpoint(path)
    assert not marker.exists()


def test_retrain_ignores_a_checkpoint(tmp_path, monkeypatch, capsys):
    config = tiny()
    train(config, out_dir=tmp_path, stop_after=2, checkpoint_every=1)
    assert checkpoint_path(config, tmp_path).exists()
    from egd.grokking import runner

    def refuse(*a, **k):
        raise AssertionError("--retrain read the checkpoint")

    monkeypatch.setattr(runner, "load_checkpoint", refuse)
    argv = ["train", "--task", "mod-add", "--method", "vanilla", "--p", "23", "--preset", "smoke", "--max-epochs",
            "6", "--patience", "-1", "--device", "cpu", "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv + ["--retrain"]) == 0
    assert "6 epochs" in capsys.readouterr().out
    same_numbers(find_run(config, tmp_path), train(config))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        result = train(tiny(), out_dir=tmp_path)
    finally:
        os.umask(old)
    for suffix in (".json", ".npz"):
        assert (tmp_path / f"{result.name}{suffix}").stat().st_mode & 0o777 == mode


def test_counts_past_16_bits_round_trip_and_old_16_bit_files_load(tmp_path):
    result = train(tiny())
    big = dict(result.history)
    big["test_correct"] = np.full(len(big["test_correct"]), 70_000, dtype=np.uint32)
    result.history = big
    path = save_run(result, tmp_path)
    assert load_run(path).history["test_correct"].tolist() == [70_000] * result.summary["epochs_run"]
    # a file written before the uint32 switch
    old = dict(np.load(path.with_suffix(".npz")))
    old["test_correct"] = np.asarray(result.history["train_correct"], dtype=np.uint16)
    old["train_correct"] = old["test_correct"]
    np.savez_compressed(path.with_suffix(".npz"), **old)
    loaded = load_run(path)
    assert loaded.history["test_correct"].dtype == np.uint16
    assert (loaded.test_acc <= 1).all()
    assert HISTORY_DTYPES["test_correct"] == "uint32"
