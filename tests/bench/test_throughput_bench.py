"""The throughput benchmark's harness (speeds themselves live in benchmarks/results, not in tests)."""

import json

from egd.bench.throughput import (
    CPU_TARGETS,
    ONE_AT_A_TIME,
    Case,
    acceptance,
    batched,
    measure,
    one_at_a_time,
    run_benchmark,
)

TINY = Case("tiny mod-add", "mod-add", "egd-svd", dict(p=23), epochs=1, preset="smoke")


def test_modes_are_timed_in_turn_and_compared_round_by_round():
    modes = {ONE_AT_A_TIME: lambda c: one_at_a_time(c, "cpu", runs=1), "batched R=2": lambda c: batched(c, "cpu", 2)}
    lines = []
    result = measure([TINY], modes, rounds=2, echo=lines.append)[TINY.name]
    assert result["epochs_per_run"] == 1 and len(lines) == 4
    base, pair = result["modes"][ONE_AT_A_TIME], result["modes"]["batched R=2"]
    assert base["ratio_to_one_at_a_time"] == [1.0, 1.0] and base["runs_per_block"] == 1
    assert pair["runs_per_block"] == 2 and len(pair["runs_per_hour"]) == 2
    assert pair["ratio_median"] > 0 and pair["cpu_seconds_per_run_median"] > 0
    assert all(b["wall_seconds"] > 0 for b in pair["blocks"])


def test_acceptance_reads_the_median_ratio_and_skips_what_was_not_measured():
    claim, case, mode, target = CPU_TARGETS[0]
    results = {case: {"modes": {mode: {"ratio_median": 4.2, "ratio_to_one_at_a_time": [4.0, 4.2, 4.5]}}}}
    (row,) = acceptance(results, CPU_TARGETS)
    assert row == {"claim": claim, "target": target, "measured": 4.2, "holds": True, "rounds": [4.0, 4.2, 4.5]}
    results[case]["modes"][mode]["ratio_median"] = 3.9
    assert acceptance(results, CPU_TARGETS)[0]["holds"] is False


def test_the_command_writes_one_json_with_every_mode(tmp_path, capsys):
    out = tmp_path / "throughput.json"
    record = run_benchmark(out, rounds=1, cases=[TINY], dask=False, gpu=False)
    saved = json.loads(out.read_text())
    assert saved["cpu"]["device"] == "cpu" and saved["gpu"] is None
    assert set(saved["cpu"]["cases"][TINY.name]["modes"]) == {ONE_AT_A_TIME, "batched R=3", "batched R=10"}
    assert saved["cpu"]["acceptance"] == [] and record["rounds"] == 1  # the tiny case has no target
    assert "ratio" in capsys.readouterr().out
