"""The status page's cost of the full profile: sums per group, the table, the sentences."""

import pytest

from egd.book import profile_cost
from egd.grokking import runsets
from egd.grokking.runsets import SetCost


def _costs(transformer_device="cpu (AMD EPYC)"):
    return [SetCost("modular", 108, 108, 7200.0, ("cpu (AMD EPYC)",)),
            SetCost("anisotropy", 45, 40, 3600.0, ("cpu (AMD EPYC)",)),
            SetCost("transformer", 12, 9, 1800.0, (transformer_device,))]


def test_groups_sum_their_own_sets():
    costs = _costs()
    main = profile_cost.group_cost(costs, runsets.MAIN_TEXT)
    assert (main.runs, main.finished, main.missing, main.seconds) == (153, 148, 5, 10800.0)
    everything = profile_cost.group_cost(costs, runsets.ALL)
    assert (everything.runs, everything.finished, everything.seconds) == (165, 157, 12600.0)
    assert everything.command == "egd-grok reproduce all --profile full"


def test_table_has_a_row_per_set_and_per_group_with_hours():
    table = profile_cost.cost_table(_costs())
    assert [r[0] for r in table.rows][:3] == ["modular", "anisotropy", "transformer"]
    assert table.rows[0][2:4] == ["108 / 108", "2"] and table.rows[1][3] == "1"
    assert table.rows[-2][2:4] == ["148 / 153", "3"] and table.rows[-1][2:4] == ["157 / 165", "3.5"]
    assert "notebooks/08_validation.html" in table._repr_html_()
    stall = profile_cost.cost_table([SetCost("stall", 1, 1, 1.0)])
    assert str(stall.rows[0][1]) == "When exact EGD stalls"  # the chapter's title, not its file name


def test_summary_states_hours_wall_time_missing_runs_and_devices():
    text = profile_cost.cost_summary(_costs())
    assert "3 core-hours" in text and "about 1.5 hours of wall time" in text
    assert "5 of its 153 runs are not committed yet" in text
    assert "No run of the full profile trained on a GPU" in text
    complete = [SetCost("modular", 2, 2, 36.0, ("cpu (AMD EPYC)",))]
    assert "a second call trains nothing" in profile_cost.cost_summary(complete).split("\n")[0]
    assert "0.01 core-hours" in profile_cost.cost_summary(complete)


def test_a_gpu_run_is_named():
    assert "GPU runs: cuda (NVIDIA H200)." in profile_cost.cost_summary(_costs("cuda (NVIDIA H200)"))


@pytest.mark.parametrize("name", runsets.group_run_sets(runsets.ALL))
def test_every_set_of_all_has_a_chapter(name):
    assert name in profile_cost.SET_CHAPTERS
