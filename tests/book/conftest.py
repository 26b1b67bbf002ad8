"""Fixtures of the browser check: the built book and one headless Chromium for the session.

Skips (one line each) rather than failures, so that ``make test`` passes on a machine that
has neither built the book nor installed Chromium:

* the book is not built (or is older than its sources) -> skip, *unless* ``EGD_REQUIRE_BOOK=1``
  (CI's step after ``make book``), where it fails;
* Chromium is missing -> skip with the command that installs it, *unless* ``CI=true``,
  where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.book import chromium_check

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"
REQUIRE_BOOK_ENV = "EGD_REQUIRE_BOOK"


def toc_docnames() -> list[str]:
    """The toc's root and every ``file`` entry (``intro``, ``notebooks/01_...``), in toc order."""
    import yaml

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for key, value in node.items():
                if key != "root":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return [str(Path(name).with_suffix("")) for name in names]


def book_required() -> bool:
    return os.environ.get(REQUIRE_BOOK_ENV, "").lower() in ("1", "true", "yes")


def book_unavailable() -> str | None:
    """Why the built book cannot be checked, or None.

    Stale means a page's source is newer than its HTML, which is how Sphinx itself decides
    what to rebuild: after ``make book`` no page is stale. (Configuration files are not
    compared: Sphinx rebuilds on a changed *value*, not on a touched file.)
    """
    if not (HTML / "index.html").is_file():
        return f"book not built ({HTML.relative_to(REPO)}/index.html missing): run `make book` first"
    for name in toc_docnames():
        sources = [path for path in (BOOK / f"{name}.md", BOOK / f"{name}.ipynb") if path.is_file()]
        page = HTML / f"{name}.html"
        if sources and page.is_file() and sources[0].stat().st_mtime > page.stat().st_mtime:
            return f"built book is older than {sources[0].resolve().relative_to(REPO)}: run `make book` to rebuild it"
    return None


@pytest.fixture(scope="session")
def built_book() -> Path:
    reason = book_unavailable()
    if reason and not (book_required() and (HTML / "index.html").is_file()):
        if book_required():
            pytest.fail(f"{reason} ({REQUIRE_BOOK_ENV}=1)")
        pytest.skip(reason)
    return HTML


@pytest.fixture(scope="session")
def chromium():
    with chromium_check.Chromium(chromium_check.require_chromium()) as browser:
        yield browser


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``book/_build/screenshots``, emptied of the last run's pictures."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.rglob("*.png"):
        old.unlink()
    return SCREENSHOTS
