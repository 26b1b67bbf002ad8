"""Tables and verdicts as the book shows them: real HTML tables, ✓ / ✗ marks computed from numbers.

A chapter states a claim, the paper's number and ours, and a verdict computed by a package
function; :class:`Check` holds one such row and :func:`checks_table` shows a list of them.
:class:`Table` renders as an HTML table in the built book (and as a Markdown table
elsewhere), so no table ever reaches a reader as raw pipe text. Math inside cells is
written ``\\(...\\)``; the table carries the ``mathjax_process`` class because the book's
pages are marked ``mathjax_ignore`` outside MyST's own math (MyST-Parser's MathJax
setting), so MathJax typesets only what is marked for it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Table", "Link", "Check", "checks_table", "mark", "fmt_epochs", "fmt_number", "HOLDS", "FAILS",
           "UNDECIDED"]

HOLDS, FAILS, UNDECIDED = "✓", "✗", "–"


def mark(holds: bool | None) -> str:
    """``✓`` for True, ``✗`` for False, ``–`` for None (not decidable from the data at hand)."""
    if holds is None:
        return UNDECIDED
    return HOLDS if bool(holds) else FAILS


def fmt_number(value: float | int | None, digits: int = 3) -> str:
    """A number for a table cell: ``–`` for None/NaN, integers with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDECIDED
    if isinstance(value, float) and math.isinf(value):
        return "never" if value > 0 else "−∞"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def fmt_epochs(value: float | int | None) -> str:
    """Epochs to a threshold: ``never`` for None or +inf (a run that did not get there)."""
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return "never"
    if abs(value) >= 1000 and not float(value).is_integer():  # a median between two runs: no 1.25e+03
        return f"{value:,.0f}"
    return fmt_number(value)


@dataclass(frozen=True)
class Link:
    """A table cell that links to another page of the book: ``text`` shown, ``href`` relative to
    the page that shows the table (e.g. ``"notebooks/05_modular_arithmetic.html"``)."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text


def _html_cell(cell) -> str:
    if isinstance(cell, (list, tuple)):
        return ", ".join(map(_html_cell, cell))
    if isinstance(cell, Link):
        return f'<a class="reference internal" href="{html.escape(cell.href)}">{html.escape(cell.text)}</a>'
    return html.escape(str(cell))


def _markdown_cell(cell) -> str:
    if isinstance(cell, (list, tuple)):
        return ", ".join(map(_markdown_cell, cell))
    if isinstance(cell, Link):
        return f"[{cell.text}]({cell.href})"
    return str(cell).replace("|", "\\|")


@dataclass(frozen=True)
class Table:
    """A table for the book: ``header`` (column names) and ``rows`` of cell strings.

    ``align``: one of ``"l"``, ``"r"``, ``"c"`` per column (default: left for the first,
    right for the others). ``caption``: shown above the table. A cell is a string, a
    :class:`Link` to another page, or a list of links.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    align: str | None = None

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"rows[{i}] has {len(row)} cells, the header {len(self.header)}")
        if self.align is not None and (len(self.align) != len(self.header) or set(self.align) - set("lrc")):
            raise ValueError(f"align must hold one of l, r, c per column, got {self.align!r}")

    def _aligns(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)

    def _repr_html_(self) -> str:
        css = {"l": "left", "r": "right", "c": "center"}
        aligns = self._aligns()
        head = "".join(f'<th style="text-align:{css[a]}">{html.escape(str(h))}</th>'
                       for h, a in zip(self.header, aligns))
        body = "".join("<tr>" + "".join(f'<td style="text-align:{css[a]}">{_html_cell(c)}</td>'
                                        for c, a in zip(row, aligns)) + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="table egd-table mathjax_process">{caption}<thead><tr>{head}</tr></thead>'
                f'<tbody>{body}</tbody></table>')

    def _repr_markdown_(self) -> str:
        marks = {"l": ":--", "r": "--:", "c": ":-:"}
        lines = [f"**{self.caption}**", ""] if self.caption else []
        lines.append("| " + " | ".join(map(str, self.header)) + " |")
        lines.append("|" + "|".join(marks[a] for a in self._aligns()) + "|")
        lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._repr_markdown_()


@dataclass(frozen=True)
class Check:
    """One claim with its verdict: what is claimed, the paper's number, ours, and whether it holds."""

    claim: str
    holds: bool | None
    paper: str = UNDECIDED
    ours: str = UNDECIDED


def checks_table(checks: Sequence[Check], *, caption: str = "",
                 header: tuple[str, str] = ("paper", "ours")) -> Table:
    """A ✓ / ✗ table of ``checks``: verdict, claim, the paper's number, ours.

    ``header``: the names of the last two columns (e.g. ``("prediction", "measured")`` where
    the number to meet is a model's prediction rather than the paper's).
    """
    if len(header) != 2:
        raise ValueError(f"header must name the two number columns, got {header!r}")
    return Table(["", "claim", *header], [[mark(c.holds), c.claim, c.paper, c.ours] for c in checks],
                 caption=caption, align="cllr")
