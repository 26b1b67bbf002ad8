"""The step-cost benchmark of Appendix D's settings (timings are not asserted: speed lives in benchmarks)."""
import json

import pytest

from egd.bench import step_cost
from egd.grokking.config import make_config


def test_interleaved_step_timing_one_block_per_round_and_method():
    configs = {"vanilla": make_config("digits", "vanilla", preset="smoke"),
               "egd-svd": make_config("digits", "egd-svd", preset="smoke")}
    times = step_cost.step_milliseconds(configs, steps=2, repeats=3)
    assert set(times) == {"vanilla", "egd-svd"}
    assert all(len(ms) == 3 and all(t > 0 for t in ms) for ms in times.values())
    with pytest.raises(ValueError, match="repeats"):
        step_cost.step_milliseconds(configs, repeats=0)


def test_settings_are_the_chapters_runs():
    tf = step_cost.setting_configs("transformer")
    assert set(tf) == {"vanilla", "egd-svd", "egd-rsvd36", "grokfast"}
    assert tf["egd-svd"].weight_decay == 5e-3 and tf["vanilla"].weight_decay == 0
    digits = step_cost.setting_configs("digits")
    assert {c.weight_decay for c in digits.values()} == {step_cost.DIGITS_BENCH_WEIGHT_DECAY}
    with pytest.raises(ValueError, match="setting"):
        step_cost.setting_configs("cifar")


def test_record_written_as_json(tmp_path, monkeypatch):
    small = {"vanilla": make_config("digits", "vanilla", preset="smoke"),
             "grokfast": make_config("digits", "grokfast", preset="smoke")}
    monkeypatch.setattr(step_cost, "setting_configs", lambda setting, device="cpu": small)
    out = tmp_path / "steps.json"
    record = step_cost.run_benchmark(("digits",), steps=1, repeats=2, out=out)
    saved = json.loads(out.read_text())
    assert saved["settings"]["digits"]["ratio_to_baseline"]["vanilla"] == 1.0
    assert saved["settings"] == json.loads(json.dumps(record["settings"]))
