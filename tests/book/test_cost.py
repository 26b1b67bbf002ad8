import itertools
import json
import math

import pytest
import torch

from egd.bench import transforms as bench
from egd.book import cost
from egd.grokking import paper_numbers


def record(shape, label, ms):
    return {"shape": list(shape), "label": label, "min_ms": ms, "median_ms": ms}


def transforms_doc(gram=2.0, svd=5.0, rsvd128=6.0, rsvd64=3.0, large=True):
    recs = []
    for shape in bench.TRAINING_SHAPES:
        recs += [record(shape, "svd", svd), record(shape, "gram", gram), record(shape, "newton_schulz", 9.0)]
        if min(shape) > 128:
            recs.append(record(shape, "rsvd_r128", rsvd128))
        if min(shape) > 64:
            recs.append(record(shape, "rsvd_r64", rsvd64))
    if large:
        recs += [record((4096, 4096), "svd", 11_000.0), record((4096, 4096), "gram", 19_000.0)]
    return {"device": "cpu", "device_name": "Test CPU", "num_threads": 2, "records": recs,
            "fastest_exact_method": "gram" if gram < svd else "svd"}


EPOCH_DOC = {"p": 97, "device_name": "Test CPU", "num_threads": 2, "repeats": 9, "epochs_per_block": 10,
             "median_ms_per_epoch": {"vanilla": 27.0, "egd-svd": 54.0, "colnorm": 30.0},
             "ratio_to_vanilla": {"vanilla": 1.0, "egd-svd": 2.0, "colnorm": 30 / 27}}


def test_transform_style_uses_the_method_palette():
    from egd.book.style import method_style

    assert cost.transform_style("gram")["color"] == method_style("egd-svd").color
    assert cost.transform_style("svd")["color"] == cost.transform_style("gram")["color"]
    assert cost.transform_style("svd")["marker"] != cost.transform_style("gram")["marker"]
    for label in bench.METHOD_CONFIGS:
        assert cost.transform_style(label)["label"]
    with pytest.raises(ValueError, match="label"):
        cost.transform_style("qr")


def test_read_and_measure_the_transforms_benchmark(tmp_path, monkeypatch):
    assert cost.read_benchmark(tmp_path, "transforms_cpu.json") is None
    (tmp_path / "transforms_cpu.json").write_text(json.dumps(transforms_doc()))
    doc, origin = cost.transforms_benchmark("cpu", tmp_path)
    assert origin == "read transforms_cpu.json" and doc["device_name"] == "Test CPU"
    calls = {}
    monkeypatch.setattr(bench, "run", lambda device, shapes, repeats: calls.update(shapes=shapes) or {"ok": 1})
    doc, origin = cost.transforms_benchmark("cpu", tmp_path / "none", profile="quick")
    assert origin.startswith("measured now") and calls["shapes"] == bench.TRAINING_SHAPES
    cost.transforms_benchmark("cpu", tmp_path / "none", profile="full")
    assert calls["shapes"] == bench.BENCH_SHAPES


def test_tables_and_curves_from_a_document():
    doc = transforms_doc()
    table = cost.transforms_table(doc)
    assert len(table.rows) == 5 and table.rows[0][0] == "512 × 194"
    assert table.rows[2][table.header.index("rsvd_r128")] == "–"  # 100 x 50: rank 128 not timed
    curves = cost.cost_curves(doc)
    assert curves["svd"][0] == sorted(curves["svd"][0])
    assert cost.exact_totals(doc) == {"svd": 20.0, "gram": 8.0}


def test_steps_per_epoch_and_the_papers_overhead():
    assert cost.steps_per_epoch(97) == 9  # floor(4704 / 512)
    assert cost.steps_per_epoch(97, batch=4704) == 1
    ms = paper_numbers.EPOCH_MS_P97
    assert math.isclose(cost.paper_step_overhead_ms(9), (ms["egd-svd"] - ms["vanilla"]) / 9)


def test_epoch_cost_and_table():
    c = cost.epoch_cost(EPOCH_DOC)
    assert c.steps == 9 and c.egd_ratio == 2.0 and c.threads == 2
    assert math.isclose(c.overhead_per_step_ms, 3.0)
    assert math.isclose(c.paper_ratio, 94.4 / 29.1)
    table = cost.epoch_table(c)
    assert len(table.rows) == 3 and table.rows[1][2] == "2.00×" and table.rows[1][4] == "3.24×"
    assert table.rows[2][3] == "–"  # the paper gives no column-norm epoch time


def test_exact_step_pieces_time_each_piece_with_a_clock():
    ticks = itertools.count()
    pieces = cost.exact_step_pieces(torch.randn(40, 12), rounds=3, clock=lambda: float(next(ticks)))
    assert set(pieces) == {"gram", "eigh", "apply", "polish"}
    assert all(v == 1e3 for v in pieces.values())  # every timed call reads one tick
    wide = cost.exact_step_pieces(torch.randn(12, 40), rounds=3)
    assert all(v > 0 for v in wide.values())
    with pytest.raises(ValueError, match="rounds"):
        cost.exact_step_pieces(torch.randn(4, 3), rounds=2)


def test_step_floor_scales_the_measured_overhead():
    c = cost.epoch_cost(EPOCH_DOC)
    pieces = {"gram": 1.0, "eigh": 4.0, "apply": 1.0, "polish": 2.0}
    f = cost.step_floor(pieces, c)
    assert f.floor_ms == 6.0 and f.total_ms == 8.0 and math.isclose(f.share, 0.75)
    assert math.isclose(f.best_ratio, 1.75) and f.measured_ratio == 2.0
    table = cost.pieces_table(f, (194, 512))
    assert [row[3] for row in table.rows[:4]] == ["yes", "yes", "yes", ""]
    assert table.rows[-1][:3] == ["all pieces", "8.00", "100%"] and "75%" in table.rows[-1][3]
    assert "194 × 194" in table.rows[1][0]  # the Gram matrix is on the smaller side


def test_cost_checks():
    c = cost.epoch_cost(EPOCH_DOC)
    checks = cost.cost_checks(transforms_doc(), c)
    assert [ch.holds for ch in checks] == [True, True, False, False, True, True, True]
    assert "3.24×" in checks[5].paper and "2.00×" in checks[5].ours
    # rsvd cheaper, no epoch benchmark, no large square
    checks = cost.cost_checks(transforms_doc(gram=4.0, rsvd128=3.0, rsvd64=1.0, large=False), None)
    assert [ch.holds for ch in checks] == [True, True, True, True, True]
    slow = cost.epoch_cost({**EPOCH_DOC, "ratio_to_vanilla": {**EPOCH_DOC["ratio_to_vanilla"], "egd-svd": 4.0}})
    assert cost.cost_checks(transforms_doc(), slow)[5].holds is False


def test_cost_checks_on_the_committed_benchmarks():
    from egd.book import settings

    folder = settings.benchmarks_dir()
    doc = cost.read_benchmark(folder, "transforms_cpu.json")
    epoch = cost.read_benchmark(folder, "epoch_cpu.json")
    if doc is None or epoch is None:
        pytest.skip("no committed CPU benchmarks")
    checks = cost.cost_checks(doc, cost.epoch_cost(epoch))
    assert checks[0].holds  # the code's default is the benchmark's fastest exact method
    assert f"{epoch['num_threads']} threads" in checks[5].ours
