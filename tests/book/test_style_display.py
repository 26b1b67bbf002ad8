import math

import pytest

from egd.book import display, style
from egd.grokking import registry


def test_every_registered_method_has_one_style():
    for name, method in registry.METHODS.items():
        key = name + ("128" if method.needs_rank else "") + ("0.01" if method.needs_cutoff else "")
        s = style.method_style(key)
        assert s.color.startswith("#") and s.linestyle == "-"
    assert style.method_style("egd-svd-cut0.01").color != style.method_style("egd-svd-cut0.001").color
    assert style.method_style("egd-svd-top32").color != style.method_style("egd-rsvd32").color
    assert style.method_style("egd-svd decoupled-wd").color == style.method_style("egd-svd").color
    assert style.method_style("egd-svd decoupled-wd").linestyle == "--"
    with pytest.raises(ValueError):
        style.method_style("adam-wrong")


def test_fonts_are_readable_at_the_rendered_size():
    assert style.rendered_points(style.SMALL_FONT_PT) >= 8
    assert style.rendered_points(style.BASE_FONT_PT) >= style.rendered_points(style.SMALL_FONT_PT)


def test_figure_wraps_panels_onto_rows_at_full_width():
    import matplotlib

    matplotlib.use("Agg")
    fig, axes = style.figure(3)
    assert len(axes) == 3
    w, h = fig.get_size_inches()
    assert w == style.TEXT_WIDTH_IN and math.isclose(h, 2 * style.PANEL_HEIGHT_IN)
    with pytest.raises(ValueError, match="panels"):
        style.figure(0)


def test_table_renders_html_and_markdown_and_checks_row_lengths():
    t = display.Table(["a", "b"], [["x<y", "1"]], caption="T")
    assert "<table" in t._repr_html_() and "x&lt;y" in t._repr_html_()
    assert "mathjax_process" in t._repr_html_()  # the book's pages are mathjax_ignore outside marked math
    assert t._repr_markdown_().splitlines()[-1] == "| x<y | 1 |"
    with pytest.raises(ValueError, match="rows"):
        display.Table(["a"], [["1", "2"]])


def test_table_cells_may_link_to_other_pages():
    one = display.Link("Parity & more", "notebooks/06_sparse_parity.html#a")
    t = display.Table(["a", "b"], [[one, [one, display.Link("Toy", "notebooks/02_toy_model.html")]]])
    html = t._repr_html_()
    assert '<a class="reference internal" href="notebooks/06_sparse_parity.html#a">Parity &amp; more</a>' in html
    assert html.count("<a ") == 3
    assert t._repr_markdown_().splitlines()[-1] == ("| [Parity & more](notebooks/06_sparse_parity.html#a) | "
                                                     "[Parity & more](notebooks/06_sparse_parity.html#a), "
                                                     "[Toy](notebooks/02_toy_model.html) |")


def test_checks_table_marks():
    t = display.checks_table([display.Check("c1", True), display.Check("c2", False), display.Check("c3", None)])
    assert [r[0] for r in t.rows] == ["✓", "✗", "–"]
    assert display.fmt_epochs(None) == "never" == display.fmt_epochs(math.inf)
    # medians of an even number of runs: whole epochs above 1,000, never scientific notation
    assert (display.fmt_epochs(1253.5), display.fmt_epochs(58.5), display.fmt_epochs(2393)) == ("1,254", "58.5",
                                                                                                "2,393")
    assert display.fmt_number(1234.0) == "1,234" and display.fmt_number(float("nan")) == "–"
