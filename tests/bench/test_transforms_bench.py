"""The benchmark's pure parts, its CLI, and the committed CPU results that pick the default."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import egd
from egd import defaults as D
from egd.bench import transforms as bench

REPO = Path(__file__).resolve().parents[2]
COMMITTED_CPU = REPO / "benchmarks" / "results" / "transforms_cpu.json"
ACC_TOL = 1e-6  # float32 exact methods vs the float64 SVD, well-conditioned input


def test_benchmark_device_records_every_config_and_skips_useless_rsvd():
    configs = {"svd": {"method": "svd"}, "gram": {"method": "gram"},
               "rsvd_r2": {"method": "rsvd", "rank": 2}, "rsvd_r9": {"method": "rsvd", "rank": 9}}
    recs = bench.benchmark_device("cpu", shapes=[(8, 4), (5, 12)], configs=configs, repeats=3, budget_s=10.0)
    assert [(tuple(r["shape"]), r["label"]) for r in recs] == [
        ((8, 4), "svd"), ((8, 4), "gram"), ((8, 4), "rsvd_r2"),
        ((5, 12), "svd"), ((5, 12), "gram"), ((5, 12), "rsvd_r2")]
    for r in recs:
        assert r["repeats"] == 3 and 0 < r["min_ms"] <= r["median_ms"]
    assert bench.fastest_exact_method(recs, [(8, 4), (5, 12)]) in D.EXACT_METHODS


def test_fastest_exact_method_rule():
    recs = [{"shape": [2, 2], "label": "svd", "min_ms": 3.0}, {"shape": [2, 2], "label": "gram", "min_ms": 1.0},
            {"shape": [3, 3], "label": "svd", "min_ms": 1.0}, {"shape": [3, 3], "label": "gram", "min_ms": 2.5}]
    assert bench.fastest_exact_method(recs, [(2, 2), (3, 3)]) == "gram"  # total 3.5 < 4.0
    assert bench.fastest_exact_method(recs, [(3, 3)]) == "svd"
    with pytest.raises(ValueError, match="must time"):
        bench.fastest_exact_method(recs, [(4, 4)])


def test_time_call_stops_at_budget_and_validates():
    calls = []
    times = bench.time_call(lambda: calls.append(1), device=torch.device("cpu"), repeats=5, budget_s=0.0)
    assert len(times) == 1 and len(calls) == 2  # one warm-up, one timed call
    with pytest.raises(ValueError, match="repeats"):
        bench.time_call(lambda: None, device=torch.device("cpu"), repeats=0, budget_s=1.0)


def test_cli_writes_json_atomically(tmp_path):
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--out-dir", str(tmp_path), "--shapes", "6x4", "3x7", "--repeats", "1", "--budget-s", "0",
                           "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    doc = json.loads((tmp_path / "transforms_cpu.json").read_text())
    assert doc["device"] == "cpu" and doc["torch_version"] == torch.__version__ and doc["device_name"]
    assert doc["default_chosen_on"] == [[6, 4], [3, 7]] and doc["num_threads"] == 2
    assert {r["label"] for r in doc["records"]} == {"svd", "gram", "newton_schulz", "newton_schulz_muon5"}
    assert [p.name for p in tmp_path.iterdir()] == ["transforms_cpu.json"]  # no temporary left behind
    with pytest.raises(SystemExit):
        bench.main(["--out-dir", str(tmp_path), "--shapes", "6by4"])
    with pytest.raises(SystemExit):
        bench.main(["--out-dir", str(tmp_path), "--threads", "0"])


def test_cli_no_large_times_the_training_shapes(tmp_path):
    assert bench.main(["--out-dir", str(tmp_path), "--no-large", "--devices", "cpu", "--repeats", "1",
                       "--budget-s", "0"]) == 0
    doc = json.loads((tmp_path / "transforms_cpu.json").read_text())
    assert {tuple(r["shape"]) for r in doc["records"]} == set(bench.TRAINING_SHAPES)
    assert doc["fastest_exact_method"] in D.EXACT_METHODS


def test_accuracy_sweep_orders_methods_sensibly():
    gen = torch.Generator().manual_seed(0)
    G = torch.randn(64, 24, generator=gen)
    rows = bench.accuracy_sweep(G, ranks=[4, 24], ns_steps=[2, 20])
    by = {(r["method"], r["value"]): r for r in rows}
    assert by[("gram", None)]["rel_error"] < ACC_TOL
    assert by[("rsvd", 24)]["rel_error"] < 10 * ACC_TOL
    # rank r of 24 directions: U_r V_r^T, so the error is sqrt(1 - r/24) and the cosine sqrt(r/24)
    assert by[("rsvd", 4)]["cosine"] == pytest.approx((4 / 24) ** 0.5, abs=0.02)
    assert by[("newton_schulz", 20)]["rel_error"] < by[("newton_schulz", 2)]["rel_error"]
    assert by[("newton_schulz_muon", 20)]["max_sv_dev"] > 0.1  # Muon's quintic stops short of 1
    assert all(-1 <= r["cosine"] <= 1 + 1e-12 for r in rows)


def test_committed_cpu_benchmark_supports_the_cpu_default():
    doc = json.loads(COMMITTED_CPU.read_text())
    assert {tuple(r["shape"]) for r in doc["records"]} >= set(bench.BENCH_SHAPES)
    assert doc["fastest_exact_method"] == bench.fastest_exact_method(doc["records"])
    assert D.DEFAULT_METHOD_BY_DEVICE["cpu"] == doc["fastest_exact_method"]
    assert egd.defaults.default_method("cpu") in D.EXACT_METHODS


@pytest.mark.parametrize("shape", [(48, 20), (20, 48)])
def test_gram_step_breakdown_times_every_piece(shape):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    pieces = bench.gram_step_breakdown(G, repeats=2, budget_s=0.1)
    assert list(pieces) == ["gram", "eigh", "apply", "polish", "orthogonalize"]
    assert all(np.isfinite(ms) and ms > 0 for ms in pieces.values())
