"""The built book, read in headless Chromium with no network (see ``chromium_check``).

Which pages: every page the table of contents lists (``book/_toc.yml``: the root and each
``file``), plus Sphinx's ``genindex.html``, ``search.html`` and ``py-modindex.html`` (the module index
of the API reference) when the build has them: every page links to the index, and the search
box leads to the search page (its results are filled in by script, so an error there shows in
the console). ``index.html`` is only Jupyter Book's
redirect to the root page, checked here for where it points. A test also makes sure no other
HTML page was built that this list would miss.

Each page test reports *every* problem of its page, and each page is its own test, so one
run lists all failures of all pages. It also writes ``book/_build/screenshots/<page>.png``
(1280 px wide, the whole page) to flip through. Run after ``make book``::

    .venv/bin/python -m pytest tests/book -q

Skipped when the book is not built and when Chromium is missing (``conftest.py``).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.book import chromium_check
from tests.book.conftest import toc_docnames

OPTIONAL_PAGES = ("genindex.html", "search.html", "py-modindex.html")


PAGES = [f"{name}.html" for name in toc_docnames()] + list(OPTIONAL_PAGES)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_offline(page, built_book, chromium, screenshots):
    path = built_book / page
    if not path.is_file():
        if page in OPTIONAL_PAGES:
            pytest.skip(f"{page} is not part of this build")
        pytest.fail(f"{page} is in the toc but was not built")
    shot = screenshots / Path(page).with_suffix(".png")
    report = chromium.check_page(path.as_uri(), screenshot=shot)
    problems = report.problems()
    assert not problems, f"{page}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)
    # the check saw the page: math typeset where Sphinx marked some, a picture of it
    assert report.rendered_math >= report.math_elements
    assert report.requests and all(chromium_check.is_local(url) for url in report.requests)
    assert png_size(shot)[0] == chromium_check.PAGE_WIDTH


def test_every_built_page_is_checked(built_book):
    built = sorted(path.relative_to(built_book).as_posix() for path in built_book.rglob("*.html")
                   if not any(part.startswith("_") for part in path.relative_to(built_book).parts))
    unchecked = [page for page in built if page not in PAGES and page != "index.html"]
    assert not unchecked, f"built pages that the browser check does not open: {unchecked}"


def test_index_redirects_to_the_root_page(built_book):
    target = re.search(r'http-equiv="Refresh"\s+content="0;\s*url=([^"]+)"', (built_book / "index.html").read_text())
    assert target, "index.html is no longer a redirect: add it to the checked pages"
    assert target.group(1) == PAGES[0]


def test_no_built_file_references_another_host(built_book):
    found = chromium_check.static_external_references(built_book)
    assert not found, "scripts, style sheets or fonts from another host:\n  " + "\n  ".join(found)


def test_math_renderer_is_bundled(built_book):
    """Every page with math loads MathJax from the build itself."""
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file(), \
        "MathJax is not bundled into the build (is sphinx-mathjax-offline among the extensions?)"
    with_math = [page for page in PAGES if (built_book / page).is_file()
                 and 'class="math' in (built_book / page).read_text()]
    assert with_math, "no page with math: nothing to check"
    for page in with_math:
        depth = "../" * page.count("/")
        assert re.search(rf'<script[^>]+src="{re.escape(depth)}_static/mathjax/tex-chtml\.js(?:\?[^"]*)?"',
                         (built_book / page).read_text()), f"{page} does not load the bundled MathJax"
