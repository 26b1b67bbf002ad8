"""Execute every book chapter in the quick profile.

The notebooks run through jupyter-cache into the *book's* cache
(``book/_build/.jupyter_cache``), with the same MyST reader the book uses, so a later
``make book`` finds every notebook already executed (cache hit) and CI executes each
notebook once. A notebook whose code is unchanged since its last successful run is a
cache hit here too, unless the package code it imports changed since
(``tools/notebook_cache.py`` drops those entries first); delete ``book/_build``
(``make clean``) to force re-execution of everything.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
NOTEBOOKS = REPO / "notebooks"
CACHE_PATH = BOOK / "_build" / ".jupyter_cache"
MYST_READER = {"name": "myst_nb_md", "type": "plugin"}
NOTEBOOK_TIMEOUT_S = 1800
#: Pages of the book outside ``notebooks/`` that are executed notebooks too (their tables are computed).
BOOK_PAGES = ("intro", "status")


@pytest.fixture(scope="session")
def fresh_cache():
    """Drop cached executions made with other package code, once per session."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_cache", REPO / "tools" / "notebook_cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.invalidate_stale(CACHE_PATH)
    return CACHE_PATH


def toc_notebooks() -> list[str]:
    """Names (without suffix) of the chapters under ``notebooks/`` listed in ``_toc.yml``."""
    toc = (BOOK / "_toc.yml").read_text()
    return re.findall(r"file:\s*notebooks/([\w\-]+)", toc)


def test_every_notebook_is_in_the_book():
    on_disk = sorted(path.stem for path in NOTEBOOKS.glob("*.md"))
    assert on_disk, "no notebooks found"
    assert sorted(toc_notebooks()) == on_disk


def test_notebooks_are_text_notebooks_with_one_title():
    for path in [*NOTEBOOKS.glob("*.md"), *(BOOK / f"{page}.md" for page in BOOK_PAGES)]:
        text = path.read_text()
        assert text.startswith("---\njupytext:"), f"{path.name}: missing jupytext header"
        assert "kernelspec:" in text.split("---")[1], f"{path.name}: missing kernelspec"
        titles = re.findall(r"^# ", text, flags=re.MULTILINE)
        in_code = re.findall(r"```\{code-cell\}.*?```", text, flags=re.DOTALL)
        titles_in_code = sum(len(re.findall(r"^# ", block, flags=re.MULTILINE)) for block in in_code)
        assert len(titles) - titles_in_code == 1, f"{path.name}: needs exactly one H1 title"


def test_executed_pages_are_in_the_book():
    toc = (BOOK / "_toc.yml").read_text()
    for page in BOOK_PAGES:
        assert re.search(rf"(root|file):\s*{page}\s*$", toc, flags=re.MULTILINE), f"{page} is not in _toc.yml"


def page_path(name: str) -> Path:
    """The source the book reads for a chapter (through the symlink book/notebooks -> ../notebooks)
    or for one of :data:`BOOK_PAGES`."""
    return BOOK / f"{name}.md" if name in BOOK_PAGES else BOOK / "notebooks" / f"{name}.md"


@pytest.mark.slow
@pytest.mark.parametrize("name", [*toc_notebooks(), *BOOK_PAGES])
def test_notebook_executes_in_quick_profile(name, monkeypatch, fresh_cache):
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    monkeypatch.setenv("EGD_PROFILE", "quick")
    cache = get_cache(str(CACHE_PATH))
    uri = str(page_path(name).absolute())
    cache.add_nb_to_project(uri, read_data=MYST_READER)
    executor = load_executor("local-serial", cache=cache)
    result = executor.run_and_cache(filter_uris=[uri], timeout=NOTEBOOK_TIMEOUT_S)
    if result.excepted or result.errored:
        record = cache.get_project_record(uri)
        pytest.fail(f"notebook {name} failed:\n{record.traceback}", pytrace=False)
    assert cache.get_cached_project_nb(uri) is not None, f"{name} did not reach the cache"
    assert os.environ["EGD_PROFILE"] == "quick"
