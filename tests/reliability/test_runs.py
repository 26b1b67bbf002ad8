"""What a stored run means: its thread count is part of its key; divergence is a result; rtol is honoured."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import egd
from egd.grokking import cli, runsets, tables
from egd.grokking import registry as methods
from egd.grokking.config import config_key, make_config, run_name
from egd.grokking.runner import train
from egd.grokking.store import find_run, load_run, load_runs

REPO = Path(__file__).resolve().parents[2]
#: Names of GPU configs before the ``threads`` field existed: they must not move.
GPU_NAMES_BEFORE_THREADS = {("mod-add", "egd-svd", 0): "mod-add-p97-egd-svd-s0-959e7b22b48f",
                            ("parity", "egd-svd", 0): "parity-n100k3-egd-svd-s0-d688d7068e1a"}


# ----------------------------------------------------------------------------- threads


def test_one_thread_keeps_every_committed_key_and_other_counts_get_their_own():
    base = make_config("mod-add", "egd-svd")
    assert base.threads == 1 and make_config("mod-add", "egd-svd", threads=1) == base
    two = make_config("mod-add", "egd-svd", threads=2)
    assert config_key(two) != config_key(base)
    assert run_name(two).startswith("mod-add-p97-t2-egd-svd-s0-") and "-t" not in run_name(base)
    assert run_name(dataclasses.replace(two, threads=1)) == run_name(base)


def test_cuda_configs_carry_no_thread_count_and_keep_their_keys():
    gpu = runsets.gpu_comparison_configs()[0]
    assert gpu.threads is None
    assert run_name(gpu) == GPU_NAMES_BEFORE_THREADS[("mod-add", "egd-svd", 0)]
    parity = make_config("parity", "egd-svd", device="cuda:1", threads=4)  # the GPU computes: threads dropped
    assert parity.threads is None and run_name(parity) == GPU_NAMES_BEFORE_THREADS[("parity", "egd-svd", 0)]
    assert dataclasses.replace(gpu, device="cpu").threads == 1


@pytest.mark.skipif(not (REPO / "results").is_dir(), reason="no committed results")
def test_committed_runs_were_made_at_one_thread_and_are_found_by_their_configs():
    for path in sorted((REPO / "results").glob("*.json")):
        record = json.loads(path.read_text())
        assert record["env"]["threads"] == 1, path.name
        run = load_run(path)
        assert run.config.threads == 1 and run.name == path.stem


def test_runs_at_two_threads_are_stored_apart(tmp_path):
    one = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=3, patience=None)
    two = dataclasses.replace(one, threads=2)
    train(one, out_dir=tmp_path)
    torch.set_num_threads(2)  # what an entry point does; conftest restores 1
    assert find_run(two, tmp_path) is None  # never the 1-thread file
    result = train(two, out_dir=tmp_path)
    assert result.env["threads"] == 2 and "-t2-" in result.name
    assert len(list(tmp_path.glob("*.json"))) == 2
    rows = tables.report_rows(load_runs(tmp_path))
    assert sorted(r["method"] for r in rows) == ["vanilla", "vanilla 2-threads"]  # report keeps them apart


def test_cli_threads_option_sets_torch_and_the_config(tmp_path, capsys):
    argv = ["train", "--task", "mod-add", "--method", "vanilla", "--p", "23", "--preset", "smoke", "--max-epochs",
            "2", "--device", "cpu", "--no-progress", "--out", str(tmp_path), "--threads", "2"]
    assert cli.main(argv) == 0
    assert "-t2-vanilla-" in capsys.readouterr().out
    assert torch.get_num_threads() == 2


# ----------------------------------------------------------------------------- divergence


def _diverging(method: str, **change):
    rank = {"rank": 4} if methods.METHODS[method].needs_rank else {}
    cutoff = {"spectral_cutoff": 0.01} if methods.METHODS[method].needs_cutoff else {}
    return make_config("mod-add", method, preset="smoke", p=23, max_epochs=5, patience=None, spectrum_every=1,
                       **rank, **cutoff, **change)


@pytest.mark.parametrize("change", [dict(weight_decay=1e30), dict(lr=1e30),
                                    dict(weight_decay=1e30, weight_decay_mode="decoupled")],
                         ids=["wd1e30", "lr1e30", "wd1e30-decoupled"])
@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_every_method_records_divergence(method, change):
    result = train(_diverging(method, **change))
    assert result.summary["status"] == "diverged"
    assert result.summary["epochs_run"] <= 2


def test_every_exact_backend_and_rsvd_turn_nonfinite_input_into_divergence():
    from egd.grokking.engine import Diverged, TrainState, transform_gradients

    grads = [torch.full((8, 5), float("nan")), torch.full((8, 5), float("inf"))]
    for name in ("egd-svd", "egd-svd-lapack", "egd-gram", "egd-rsvd", "egd-newton-schulz"):
        config = _diverging(name)
        for g in grads:
            out = [g.clone()]
            try:
                transform_gradients(out, [0], methods.METHODS[name], config, TrainState(), torch.Generator())
            except Diverged:
                continue
            assert not torch.isfinite(out[0]).all(), name  # or NaN flows on to the loss check


def test_a_sequential_sweep_goes_on_past_a_diverging_run(tmp_path, capsys):
    argv = ["sweep", "--task", "mod-add", "--methods", "egd-svd", "egd-gram", "egd-rsvd", "--rank", "4", "--p", "23",
            "--preset", "smoke", "--max-epochs", "3", "--weight-decay", "1e30", "--device", "cpu", "--no-progress",
            "--jobs", "1", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count(": diverged,") == 3
    assert cli.main(argv) == 0  # and a rerun reuses the three results
    assert len(list(tmp_path.glob("*.json"))) == 3


# ----------------------------------------------------------------------------- rtol


def test_an_explicit_rtol_is_honoured_by_the_default_backend():
    # G (12 x 2) with singular values 1 and 1e-7 (float64): rtol=0 keeps both, so must the default backend
    U = torch.linalg.qr(torch.randn(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))).Q
    V = torch.linalg.qr(torch.randn(2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))).Q
    G = (U * torch.tensor([1.0, 1e-7], dtype=torch.float64)) @ V.mT
    for rtol in (0.0, 1e-9, None):
        out = egd.orthogonalize(G, rtol=rtol)
        torch.testing.assert_close(out, U @ V.mT, atol=1e-8, rtol=0)
    assert torch.linalg.matrix_rank(egd.orthogonalize(G, rtol=1e-5)) == 1
    with pytest.raises(ValueError, match="rtol must be >= 1e-06"):
        egd.orthogonalize(G, method="gram", rtol=0.0)
