"""The chapters' execution cache notices changes to the package code they import."""

import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebook_cache", REPO / "tools" / "notebook_cache.py")
notebook_cache = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_cache)


def test_imported_packages():
    assert notebook_cache.imported_packages("import toymodel\nx = 1") == {"toymodel"}
    assert notebook_cache.imported_packages("from egd.grokking import tables") == {"egd"}
    assert notebook_cache.imported_packages("from egd.validation.toy_mlp import f") == {"egd", "toymodel"}
    # egd.book imports toymodel (the toy chapters' analyses): a toymodel edit must reach those chapters too
    assert notebook_cache.imported_packages("from egd.book import toy_simulation as sim") == {"egd", "toymodel"}
    assert notebook_cache.imported_packages("from egd import book") == {"egd", "toymodel"}
    assert notebook_cache.imported_packages("print('import egd')") == set()


def test_a_package_edit_drops_the_cached_execution_of_the_chapters_that_import_it(tmp_path):
    from jupyter_cache import get_cache

    root = tmp_path / "repo"
    (root / "egd").mkdir(parents=True)
    (root / "toymodel").mkdir()
    (root / "egd" / "core.py").write_text("X = 1\n")
    (root / "toymodel" / "core.py").write_text("Y = 1\n")
    chapters = root / "notebooks"
    chapters.mkdir()
    (chapters / "a.md").write_text("```{code-cell}\nimport egd\n```\n")
    (chapters / "b.md").write_text("```{code-cell}\nimport toymodel\n```\n")
    book = tmp_path / "book"  # what the cache knows the chapters by (an executed copy here)
    book.mkdir()
    cache_dir = tmp_path / "cache"
    cache = get_cache(str(cache_dir))

    def cache_both():
        for name in ("a", "b"):  # a cached execution of each chapter, as the book's cache holds
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {name}", execution_count=1)])
            nbformat.write(nb, book / f"{name}.md")
            cache.cache_notebook_file(book / f"{name}.md", check_validity=False, overwrite=True)
            cache.add_nb_to_project(str(book / f"{name}.md"))

    cache_both()
    kwargs = dict(notebooks=chapters, book_notebooks=book, root=root)
    assert notebook_cache.invalidate_stale(cache_dir, **kwargs) == ["a", "b"]  # no stamps yet
    cache_both()
    assert notebook_cache.invalidate_stale(cache_dir, **kwargs) == []  # nothing changed since
    (root / "egd" / "core.py").write_text("X = 2\n")  # an edit to egd only
    assert notebook_cache.invalidate_stale(cache_dir, **kwargs) == ["a"]
    assert cache.get_cached_project_nb(str(book / "a.md")) is None
    assert cache.get_cached_project_nb(str(book / "b.md")) is not None


def test_a_fresh_cache_is_stamped_so_what_is_executed_into_it_next_stays_cached(tmp_path):
    from jupyter_cache import get_cache

    root = tmp_path / "repo"
    (root / "egd").mkdir(parents=True)
    (root / "egd" / "core.py").write_text("X = 1\n")
    chapters = root / "notebooks"
    chapters.mkdir()
    (chapters / "a.md").write_text("```{code-cell}\nimport egd\n```\n")
    book = tmp_path / "book"
    book.mkdir()
    cache_dir = tmp_path / "cache"  # does not exist yet: a fresh clone before its first make test
    kwargs = dict(notebooks=chapters, book_notebooks=book, root=root, pages=())
    assert notebook_cache.invalidate_stale(cache_dir, **kwargs) == []
    cache = get_cache(str(cache_dir))  # the chapter is executed into the cache (make test) ...
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# a", execution_count=1)]),
                   book / "a.md")
    cache.cache_notebook_file(book / "a.md", check_validity=False, overwrite=True)
    cache.add_nb_to_project(str(book / "a.md"))
    assert notebook_cache.invalidate_stale(cache_dir, **kwargs) == []  # ... and make book finds it current
    assert cache.get_cached_project_nb(str(book / "a.md")) is not None


def test_a_changed_result_file_drops_the_cached_execution_of_the_pages_that_summarise_results(tmp_path):
    from jupyter_cache import get_cache

    root = tmp_path / "repo"
    (root / "egd").mkdir(parents=True)
    (root / "egd" / "core.py").write_text("X = 1\n")
    (root / "notebooks").mkdir()
    results = root / "results"
    results.mkdir()
    (results / "run.json").write_text('{"epochs_to_threshold": 100}')
    page = root / "book" / "intro.md"
    page.parent.mkdir()
    cache = get_cache(str(tmp_path / "cache"))

    def cache_page():
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import egd", execution_count=1)]),
                       page)
        cache.cache_notebook_file(page, check_validity=False, overwrite=True)
        cache.add_nb_to_project(str(page))

    kwargs = dict(notebooks=root / "notebooks", book_notebooks=root / "notebooks", root=root, pages=(page,),
                  results=results)
    cache_page()
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == ["intro"]  # no stamps yet
    cache_page()
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == []
    (results / "run.json").write_text('{"epochs_to_threshold": 4000}')  # a result changes
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == ["intro"]
    assert cache.get_cached_project_nb(str(page)) is None
    cache_page()
    (results / "new.json").write_text("{}")  # a result is added
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == ["intro"]


def test_a_changed_result_or_benchmark_drops_the_chapters_that_read_committed_files_only(tmp_path):
    from jupyter_cache import get_cache

    root = tmp_path / "repo"
    (root / "egd").mkdir(parents=True)
    (root / "egd" / "core.py").write_text("X = 1\n")
    chapters = root / "notebooks"
    chapters.mkdir()
    (chapters / "reads.md").write_text("```{code-cell}\nfrom egd.book import settings\n"
                                       "runs = settings.results_dir()\n```\n")
    (chapters / "plain.md").write_text("```{code-cell}\nimport egd\n```\n")
    results, benchmarks = root / "results", root / "benchmarks"
    results.mkdir()
    benchmarks.mkdir()
    (results / "run.json").write_text('{"epochs_to_threshold": 100}')
    book = tmp_path / "book"
    book.mkdir()
    cache = get_cache(str(tmp_path / "cache"))

    def cache_both():
        for name in ("reads", "plain"):
            nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {name}", execution_count=1)]),
                           book / f"{name}.md")
            cache.cache_notebook_file(book / f"{name}.md", check_validity=False, overwrite=True)
            cache.add_nb_to_project(str(book / f"{name}.md"))

    kwargs = dict(notebooks=chapters, book_notebooks=book, root=root, pages=(), results=results,
                  benchmarks=benchmarks)
    cache_both()
    assert sorted(notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs)) == ["plain", "reads"]  # no stamps
    cache_both()
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == []
    (results / "new.json").write_text("{}")  # a result lands
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == ["reads"]
    assert cache.get_cached_project_nb(str(book / "plain.md")) is not None
    cache_both()
    (benchmarks / "bench.json").write_text("{}")  # a benchmark record lands
    assert notebook_cache.invalidate_stale(tmp_path / "cache", **kwargs) == ["reads"]
    assert notebook_cache.reads_committed_files("x = settings.benchmarks_dir() / 'a.json'")
    assert not notebook_cache.reads_committed_files("# the results_dir setting, not called")


def test_a_chapter_that_imports_a_module_reading_results_reads_them(tmp_path):
    book = tmp_path / "egd" / "book"
    book.mkdir(parents=True)
    (book / "settings.py").write_text("def results_dir():\n    return 'results'\n")
    (book / "toy_simulation.py").write_text("from . import settings\nR = settings.results_dir()\n")
    (book / "findings.py").write_text("def f():\n    from . import (style,\n        toy_simulation as sim)\n")
    (book / "style.py").write_text("COLOR = 'k'  # the toy_simulation chapter's colours\n")
    modules = notebook_cache.reading_modules(tmp_path)
    # settings only defines the helper; findings reads through toy_simulation; a mention is no import
    assert modules == {"toy_simulation", "findings"}
    reads = lambda text: notebook_cache.reads_committed_files(text, modules)
    assert reads("from egd.book import toy_simulation as sim")
    assert reads("from egd.book import (display,\n    findings)")
    assert reads("import egd.book.style, egd.book.toy_simulation")
    assert reads("from egd.book.findings import f")
    assert not reads("from egd.book import display as show, style\n# toy_simulation, findings: not imported")
    chapter = ("# A chapter\n\nText naming toy_simulation.\n\n```{code-cell} ipython3\n:tags: [hide-input]\n\n"
               "%matplotlib inline\nfrom egd.book import style\n```\n\n```{code-cell} ipython3\n---\ntags: [x]\n---\n"
               "from egd.book import findings\n```\n")
    assert notebook_cache.imported_book_modules(notebook_cache.code_of(chapter)) == {"style", "findings"}
    assert reads(chapter) and not reads(chapter.replace("import findings", "import style"))
    # the real chapter on the toy model's simulations reads its committed runs through that module
    real = notebook_cache.reading_modules()
    assert "toy_simulation" in real and "settings" not in real
    assert notebook_cache.reads_committed_files((REPO / "notebooks" / "04_theory_meets_simulation.md").read_text(),
                                                real)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_files_git_ignores_under_results_do_not_change_the_digest(tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    results = tmp_path / "results"
    results.mkdir()
    (results / ".gitignore").write_text("*.ckpt.pt\n.*.lock\n*.log\n")
    (results / "run.json").write_text("{}")
    before = notebook_cache.folder_digest(results)
    (results / "run-s1.ckpt.pt").write_bytes(b"\0" * 10)  # training writes a checkpoint, a lock, a log
    (results / ".run-s1.lock").write_text("")
    (results / "sweep.log").write_text("epoch 10")
    assert notebook_cache.folder_digest(results) == before
    (results / "run-s1.json").write_text("{}")  # a result lands (not committed yet): it counts
    assert notebook_cache.folder_digest(results) != before
    assert notebook_cache.shown_files(tmp_path / "missing") == []
