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
# what the built book is made from: newer than the build means the build is stale
BOOK_SOURCES = ("book/_config.yml", "book/_toc.yml", "book/*.md", "book/*.bib", "book/_ext/*.py", "notebooks/*.md")


def book_required() -> bool:
    return os.environ.get(REQUIRE_BOOK_ENV, "").lower() in ("1", "true", "yes")


def book_unavailable() -> str | None:
    """Why the built book cannot be checked, or None."""
    if not (HTML / "index.html").is_file():
        return f"book not built ({HTML.relative_to(REPO)}/index.html missing): run `make book` first"
    built = max(path.stat().st_mtime for path in HTML.rglob("*.html"))
    sources = [path for pattern in BOOK_SOURCES for path in REPO.glob(pattern) if path.is_file()]
    newer = sorted((path for path in sources if path.stat().st_mtime > built), key=lambda p: -p.stat().st_mtime)
    if newer:
        return f"built book is older than {newer[0].relative_to(REPO)}: run `make book` to rebuild it"
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
