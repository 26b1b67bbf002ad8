"""The epoch benchmark's harness (timings themselves are not asserted: speed lives in benchmarks)."""
from egd.bench.epoch import epoch_milliseconds, interleaved_epoch_milliseconds


def test_interleaved_timing_returns_one_block_per_round_and_method():
    times = interleaved_epoch_milliseconds("mod-add", ["vanilla", "egd-svd"], p=37, epochs=1, repeats=2)
    assert set(times) == {"vanilla", "egd-svd"}
    assert all(len(ms) == 2 and all(t > 0 for t in ms) for ms in times.values())


def test_single_method_timing():
    ms = epoch_milliseconds("mod-add", "colnorm", p=37, epochs=1, repeats=3)
    assert len(ms) == 3 and all(t > 0 for t in ms)
