"""What the real-task chapters share: which runs a table shows, the table, the ±30% sentences, the curves."""

import dataclasses

import matplotlib
import numpy as np
import pytest

from egd.book import reproduction, style
from egd.grokking import tables
from egd.grokking.config import make_config
from egd.grokking.runner import train
from tests.book.fakes import make_run

matplotlib.use("Agg")


def smoke(seed=0, **kw):
    return make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=2, patience=None, seed=seed, **kw)


def test_table_runs_are_the_profile_set_plus_finished_full_runs_never_trained(tmp_path):
    quick, committed, missing = smoke(0), smoke(1), smoke(2)
    train(committed, out_dir=tmp_path)
    runs = reproduction.load_table_runs([quick], [quick, committed, missing], tmp_path)
    assert [r.config for r in runs] == [quick, committed]          # each once; the missing full run is absent
    assert len(list(tmp_path.glob("*.json"))) == 2                  # only the profile's own run was trained
    again = reproduction.load_table_runs([quick], [quick, committed, missing], tmp_path, train_missing=False)
    assert [r.config for r in again] == [quick, committed]
    assert reproduction.load_table_runs([missing], [], tmp_path, train_missing=False) == []


def test_shapes_sort_as_in_the_paper():
    assert sorted(["p=127", "p=79", "p=97"], key=reproduction.shape_order) == ["p=79", "p=97", "p=127"]
    parity = ["(n,k)=(50,4)", "(n,k)=(100,3)", "(n,k)=(400,2)"]
    assert sorted(parity, key=reproduction.shape_order) == ["(n,k)=(400,2)", "(n,k)=(100,3)", "(n,k)=(50,4)"]
    assert reproduction.shape_title("(n,k)=(100,3)") == "(n, k) = (100, 3)"
    assert reproduction.shape_title("p=97") == "p = 97"


def comparison():
    runs = [make_run("mod-add", "vanilla", seed=s, t95=t, sec_per_epoch=0.1) for s, t in enumerate((5000, 9000))]
    runs += [make_run("mod-add", "egd-svd", seed=s, t95=t, sec_per_epoch=0.2) for s, t in enumerate((110, 130))]
    runs += [make_run("mod-add", "colnorm", seed=0, t95=None, epochs=20)]
    runs += [make_run("mod-add", "egd-svd", seed=0, t95=100, p=127)]
    return tables.comparison_rows(runs)


def test_comparison_table_holds_both_medians_and_the_paper_beside_ours():
    by_shape = reproduction.rows_by_shape(comparison(), ["vanilla", "egd-svd", "colnorm"])
    assert list(by_shape) == ["p=97", "p=127"]
    assert [r["method"] for r in by_shape["p=97"]] == ["vanilla", "egd-svd", "colnorm"]
    t = reproduction.comparison_table(by_shape["p=97"], caption="Table 2, p = 97")
    assert list(t.header) == list(reproduction.COMPARISON_HEADER)
    van, egd, col = t.rows
    assert van[:6] == ["vanilla SGD", "5,392", "7,000", "7,000", "5,000–9,000", "2/2"]
    assert egd[1:6] == ["116", "120", "120", "110–130", "2/2"]
    assert egd[6] == "×1.03"
    assert egd[7] == "58× (46×)"                        # 7000 / 120, the paper's 5392 / 116
    assert egd[8] == "24.0 s (10.9 s)"                  # 0.2 s x 120 epochs; the paper's T4 seconds
    assert egd[9] == "29× (14×)"                        # 700 s / 24 s; the paper's 156.9 / 10.9
    assert col[2:6] == ["never", "never", "–", "0/1"] and col[6] == "one never (differs)"
    assert "<table" in t._repr_html_()


def test_differences_name_only_the_rows_outside_the_tolerance():
    rows = comparison()
    sentences = reproduction.differences(rows)
    # vanilla (x1.30) is inside; column norm never reached; EGD at p = 127 takes 100 epochs, the paper 62
    assert sentences == [
        "p = 97, column norm: ours never reaches 95% (median over 1 seed, failures = +inf; 0/1 reached), "
        "paper 328 epochs.",
        "p = 127, EGD (exact): ours 100 epochs (median over 1 seed, failures = +inf), paper 62: 1.61 times the "
        "paper's, outside ±30%."]


def test_switch_off_epoch():
    assert reproduction.switch_off_epoch(make_run("mod-add", "egd-svd", t95=40)) == 40
    assert reproduction.switch_off_epoch(make_run("mod-add", "vanilla", t95=40)) is None
    never = make_run("mod-add", "egd-svd", t95=None, epochs=30)
    assert reproduction.switch_off_epoch(never) is None


def test_plot_accuracy_train_dashed_test_solid_in_the_method_colour():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    run = make_run("mod-add", "egd-rsvd", rank=128, t95=40)
    reproduction.plot_accuracy(ax, run)
    train_line, test_line, dot = ax.lines
    colour = style.method_style("egd-rsvd128").color
    assert train_line.get_linestyle() == "--" and test_line.get_linestyle() == "-"
    assert matplotlib.colors.to_hex(test_line.get_color()) == colour.lower()
    assert test_line.get_label() == "EGD-RSVD r=128"
    assert dot.get_xdata()[0] == 40 and dot.get_marker() == reproduction.SWITCH_OFF_MARKER
    np.testing.assert_array_equal(test_line.get_xdata(), run.epochs)
    plt.close(fig)


@pytest.mark.parametrize("label", [None, "seed 3"])
def test_plot_accuracy_without_switch_off(label):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    reproduction.plot_accuracy(ax, make_run("mod-add", "vanilla", t95=40), label=label)
    assert len(ax.lines) == 2 and ax.lines[1].get_label() == (label or "vanilla SGD")
    plt.close(fig)
    assert dataclasses.is_dataclass(make_run().config)


def test_line_style_handles_explain_dashes_and_dots():
    handles, labels = reproduction.line_style_handles()
    assert [h.get_linestyle() for h in handles[:2]] == ["--", "-"] and handles[2].get_marker() == "o"
    assert labels[0].startswith("train") and labels[1].startswith("test") and "Algorithm 1" in labels[2]
    assert len(reproduction.line_style_handles(switch_off=False)[0]) == 2
