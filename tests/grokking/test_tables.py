"""The paper-comparison rows: ours beside the paper's, speed-ups over vanilla, the ±30% rule."""

import math

import numpy as np
import pytest

from egd.grokking import tables
from egd.grokking.config import make_config
from egd.grokking.paper_numbers import PAPER_DEVICE, TABLE2_MOD_ADD, paper_seconds
from egd.grokking.store import RunResult


def run(task, method, t95, seconds=None, rank=None, seed=0, **shape):
    config = make_config(task, method, rank=rank, seed=seed, **shape)
    summary = {"epochs_to_threshold": t95, "seconds_to_threshold": seconds if t95 is not None else None,
               "n_train": 1, "n_test": 1}
    return RunResult(config, {}, np.zeros((0, 1)), np.zeros(0), summary, {"device_name": "cpu"})


def test_paper_seconds_only_for_table2():
    assert paper_seconds("mod-add", "egd-svd", p=97) == TABLE2_MOD_ADD[97]["egd-svd"][1] == 10.9
    assert paper_seconds("mod-mul", "egd-svd", p=97) is None
    assert paper_seconds("parity", "vanilla") is None and paper_seconds("mod-add", "egd-svd", p=23) is None
    assert PAPER_DEVICE == "Tesla T4"
    with pytest.raises(ValueError, match="task must be one of"):
        paper_seconds("mnist", "egd-svd")


def test_ratio_and_agreement_rules():
    assert tables.ratio(10, 4) == 2.5
    assert tables.ratio(None, 4) is None and tables.ratio(4, None) is None and tables.ratio(4, 0) is None
    assert tables.paper_agreement(130, 100, True) == (1.3, False)      # the edge is inside
    r, differs = tables.paper_agreement(131, 100, True)
    assert math.isclose(r, 1.31) and differs
    assert tables.paper_agreement(69, 100, True)[1] and not tables.paper_agreement(70, 100, True)[1]
    assert tables.paper_agreement(None, None, True) == (None, False)  # both never
    assert tables.paper_agreement(None, 100, True) == (None, True)    # ours never, the paper's did
    assert tables.paper_agreement(50, None, True) == (None, True)     # the paper's never, ours did
    assert tables.paper_agreement(50, None, False) == (None, None)    # no such cell in the paper


def test_comparison_rows_speedups_use_the_censored_medians():
    runs = [run("mod-add", "vanilla", t, seconds=10.0 * t, seed=s) for s, t in enumerate((5000, 6000, 7000))]
    runs += [run("mod-add", "egd-svd", t, seconds=t and 0.2 * t, seed=s) for s, t in enumerate((100, 120, None))]
    runs += [run("mod-add", "colnorm", t, seconds=1.0, seed=s) for s, t in enumerate((None, None, 300))]
    rows = {r["method"]: r for r in tables.comparison_rows(runs)}
    van, egd, col = rows["vanilla"], rows["egd-svd"], rows["colnorm"]
    assert van["speedup_epochs"] == 1.0 and van["paper_speedup_epochs"] == 1.0
    # EGD: failures count as +inf, so its median is 120, not 110
    assert egd["median_all"] == 120 and egd["median"] == 110
    assert egd["speedup_epochs"] == 6000 / 120
    assert math.isclose(egd["paper_speedup_epochs"], 5392 / 116)
    assert egd["paper_seconds"] == 10.9 and math.isclose(egd["paper_speedup_seconds"], 156.9 / 10.9)
    assert egd["seconds"] == 22.0 and egd["seconds_all"] == 24.0  # over the seeds that reached; failures = +inf
    assert math.isclose(egd["speedup_seconds"], 60000 / 24.0)
    assert math.isclose(egd["vs_paper"], 120 / 116) and not egd["differs"]
    assert math.isclose(van["vs_paper"], 6000 / 5392) and not van["differs"]
    # column norm: most seeds never reached, so no speed-ups, and it differs from the paper's 328
    assert col["median_all"] is None and col["speedup_epochs"] is None and col["speedup_seconds"] is None
    assert col["differs"] and col["vs_paper"] is None


def test_comparison_rows_without_a_baseline_or_paper_entry():
    rows = tables.comparison_rows([run("mod-add", "egd-svd", 50, seconds=1.0, p=89)])
    (r,) = rows
    assert r["speedup_epochs"] is None and r["paper_speedup_epochs"] is None and r["paper_seconds"] is None
    assert r["differs"] is None and r["vs_paper"] is None


def test_parity_never_in_the_paper_counts_as_agreement():
    rows = tables.comparison_rows([run("parity", "colnorm", None, n=50, k=4),
                                   run("parity", "vanilla", 4000, seconds=1.0, n=50, k=4)])
    col = tables.row(rows, "colnorm")
    assert col["paper_has_entry"] and col["paper"] is None and col["differs"] is False
    assert col["paper_speedup_epochs"] is None and col["speedup_epochs"] is None
