"""The browser check catches what it is for: tiny pages made here, one fault each.

These need Chromium (skipped with the install hint without it; failing under ``CI=true``)
but not the built book, so they run in ``make test``; the one that strips the renderer from
a *built* chapter needs ``make book`` first. The MathJax they load is the copy that
sphinx-mathjax-offline (the ``book`` extra) ships, the one the book bundles.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.book import chromium_check
from tests.book.chromium_check import pipe_table_lines_in, raw_math_in, static_external_references

MATHJAX_CONFIG = ('<script>window.MathJax = {"options": {"processHtmlClass": '
                  '"tex2jax_process|mathjax_process|math|output_area"}}</script>')
MATHJAX_SCRIPT = '<script defer="defer" src="mathjax/tex-chtml.js"></script>'
MATH_BODY = """
<p>Inline <span class="math notranslate nohighlight">\\(G = U S V^\\top\\)</span> and a display:</p>
<div class="math notranslate nohighlight">\\[\\widetilde G = (G G^\\top)^{-1/2} G = U V^\\top\\]</div>
"""


@pytest.fixture(scope="module")
def mathjax_dir() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("sphinx-mathjax-offline is not installed (the `book` extra; `make test` installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    assert (path / "tex-chtml.js").is_file(), f"no tex-chtml.js in {path}"
    return path


def write_page(folder: Path, body: str, head: str = "", mathjax: Path | None = None, name: str = "page.html") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if mathjax is not None and not (folder / "mathjax").exists():
        (folder / "mathjax").symlink_to(mathjax, target_is_directory=True)
    page = folder / name
    page.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>t</title>{head}</head>"
                    f"<body>{body}</body></html>\n")
    return page.as_uri()


def test_typeset_math_passes(tmp_path, chromium, mathjax_dir):
    report = chromium.check_page(write_page(tmp_path, MATH_BODY, MATHJAX_CONFIG + MATHJAX_SCRIPT, mathjax_dir))
    assert report.problems() == []
    assert report.math_elements == 2 and report.rendered_math == 2
    assert all(url.startswith("file:") for url in report.requests)
    assert any(url.endswith("/mathjax/tex-chtml.js") for url in report.requests)


def test_page_without_its_renderer_is_reported(tmp_path, chromium, mathjax_dir):
    report = chromium.check_page(write_page(tmp_path, MATH_BODY, MATHJAX_CONFIG, mathjax_dir))
    problems = "\n".join(report.problems())
    assert report.untypeset_math and report.rendered_math == 0
    assert "2 of 2 math elements not typeset" in problems
    assert "raw math in visible text: '[\\\\(]" in problems
    assert "raw math in visible text: '[\\\\[]" in problems


def test_renderer_that_does_not_load_is_reported(tmp_path, chromium, mathjax_dir):
    head = MATHJAX_CONFIG + MATHJAX_SCRIPT.replace("tex-chtml.js", "tex-chtml-renamed.js")
    report = chromium.check_page(write_page(tmp_path, MATH_BODY, head, mathjax_dir))
    problems = "\n".join(report.problems())
    assert "math elements not typeset" in problems
    assert "ERR_FILE_NOT_FOUND" in problems and "tex-chtml-renamed.js" in problems


def test_math_the_renderer_rejects_is_reported(tmp_path, chromium, mathjax_dir):
    body = ('<p><span class="math notranslate nohighlight">\\(x^\\)</span> and '
            '<span class="math notranslate nohighlight">\\(\\undefinedmacro x\\)</span></p>')
    report = chromium.check_page(write_page(tmp_path, body, MATHJAX_CONFIG + MATHJAX_SCRIPT, mathjax_dir))
    assert report.math_errors == ["TeX error: Missing superscript or subscript argument",
                                  "undefined macro \\undefinedmacro"]
    assert sum("MathJax could not typeset" in problem for problem in report.problems()) == 2


def test_built_chapter_without_its_renderer_is_reported(tmp_path, built_book, chromium):
    """A real chapter, once as built and once with its MathJax script tag taken out."""
    chapters = sorted(built_book.glob("notebooks/*.html"))
    chapter = next((path for path in chapters if 'class="math' in path.read_text()), None)
    assert chapter is not None, "no built chapter has math"
    for shared in ("_static", "_images"):  # same relative paths as in the build
        if (built_book / shared).exists():
            (tmp_path / shared).symlink_to(built_book / shared, target_is_directory=True)
    (tmp_path / "notebooks").mkdir()
    html = chapter.read_text()
    stripped, removed = re.subn(r'<script[^>]*src="[^"]*_static/mathjax/[^"]*"[^>]*></script>', "", html)
    assert removed == 1, "the chapter does not load the bundled MathJax exactly once"
    (tmp_path / "notebooks" / "as_built.html").write_text(html)
    (tmp_path / "notebooks" / "no_mathjax.html").write_text(stripped)

    as_built = chromium.check_page((tmp_path / "notebooks" / "as_built.html").as_uri())
    assert as_built.math_elements > 0 and not as_built.untypeset_math and not as_built.raw_math, as_built.problems()

    without = chromium.check_page((tmp_path / "notebooks" / "no_mathjax.html").as_uri())
    assert len(without.untypeset_math) == without.math_elements == as_built.math_elements
    assert without.raw_math, "raw TeX of the untypeset chapter not seen in its visible text"
    assert any("math elements not typeset" in problem for problem in without.problems())


def test_pipe_table_left_as_text_is_reported(tmp_path, chromium):
    body = """
    <p>| method | epochs |<br>|---|---:|<br>| egd | 116 |</p>
    <p>| task | shape | |—|—:| | mod-add | p=97 |</p>
    <table><thead><tr><th>method</th><th>epochs</th></tr></thead><tbody><tr><td>egd</td><td>116</td></tr></tbody></table>
    """
    report = chromium.check_page(write_page(tmp_path, body))
    assert report.pipe_table_lines == ["|---|---:|", "| task | shape | |—|—:| | mod-add | p=97 |"]
    assert sum("pipe table" in problem for problem in report.problems()) == 2


def test_printed_output_wider_than_its_box_is_reported(tmp_path, chromium):
    long = "a verdict sentence that runs on " * 12
    box = ('<div class="cell_output docutils container" style="width: 600px">'
           '<div class="output stream highlight-myst-ansi notranslate"><div class="highlight">'
           '<pre style="overflow: auto">{}</pre></div></div></div>')
    report = chromium.check_page(write_page(tmp_path, box.format("short line\n" + long)))
    assert report.wide_outputs == [long[:120]]
    assert sum("scrolls sideways" in problem for problem in report.problems()) == 1
    # the book's style sheet wraps such output instead
    css = (Path(__file__).resolve().parents[2] / "book" / "_static" / "egd-output.css").read_text()
    wrapped = chromium.check_page(write_page(tmp_path / "wrapped", box.format(long), head=f"<style>{css}</style>"))
    assert wrapped.wide_outputs == []


def test_other_hosts_are_reported(tmp_path, chromium):
    (tmp_path / "style.css").write_text(
        '@font-face { font-family: Remote; src: url("https://fonts.example.org/remote.woff2"); }\n'
        "p.local { background: url(local.svg); }\n")
    (tmp_path / "local.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    head = ('<link rel="stylesheet" href="style.css">'
            '<script src="https://cdn.example.org/lib.js"></script>')
    body = ('<p class="local">Read <a href="https://example.org/paper">the paper</a>.</p>'
            '<img src="https://img.example.org/figure.png" alt="remote figure">')
    report = chromium.check_page(write_page(tmp_path, body, head))
    assert report.external_refs == ["https://cdn.example.org/lib.js", "https://fonts.example.org/remote.woff2",
                                     "https://img.example.org/figure.png"]
    assert "https://cdn.example.org/lib.js" in report.external_requests
    assert "https://img.example.org/figure.png" in report.external_requests
    assert not any("example.org/paper" in problem for problem in report.problems())
    assert any(problem.startswith("request to another host: https://cdn.example.org/lib.js")
               for problem in report.problems())


def test_broken_image_and_console_errors_are_reported(tmp_path, chromium):
    body = ('<img src="missing.png" alt="gone">'
            '<script>console.error("drawing failed"); undefinedFunction();</script>')
    problems = "\n".join(chromium.check_page(write_page(tmp_path, body)).problems())
    assert "image not loaded: " in problems and "missing.png" in problems
    assert "console.error: drawing failed" in problems
    assert "uncaught exception: ReferenceError: undefinedFunction is not defined" in problems


def test_code_may_show_tex_but_outputs_may_not(tmp_path, chromium):
    body = r"""
    <p>Write <code class="docutils literal">$$x$$</code> or <code>\(x\)</code> in MyST.</p>
    <div class="highlight-latex"><div class="highlight"><pre>\begin{align} a &amp;= b \end{align}</pre></div></div>
    <div class="cell"><div class="cell_input"><div class="highlight"><pre>label = r"$\varepsilon$"  # \(x\)</pre></div></div>
      <div class="cell_output"><div class="output stream highlight-myst-ansi"><div class="highlight">
        <pre>plateau at $\varepsilon = 0.01$: 370 epochs</pre></div></div></div></div>
    """
    report = chromium.check_page(write_page(tmp_path, body))
    assert report.raw_math == ["[$...$ around TeX] plateau at $\\varepsilon = 0.01$: 370 epochs"]


def test_page_that_does_not_exist_is_reported(tmp_path, chromium):
    report = chromium.check_page((tmp_path / "nowhere.html").as_uri())
    assert report.load_failures and "ERR_FILE_NOT_FOUND" in report.load_failures[0]


def test_static_scan_finds_assets_from_other_hosts(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "page.html").write_text(
        '<link rel="stylesheet" href="https://cdn.example.org/theme.css">'
        '<link rel="preconnect" href="https://fonts.gstatic.com">'
        '<link rel="canonical" href="https://example.org/book/page.html">'
        '<script src="_static/local.js"></script><script src="//cdn.example.org/proto.js"></script>'
        '<script>const URL_ = "https://unpkg.com/thebe@0.8.2/lib/index.js";</script>'
        '<a href="https://example.org/paper.pdf">paper</a> <img src="https://img.example.org/f.png">')
    (tmp_path / "_static" / "theme.css").write_text(
        '@import "https://fonts.googleapis.com/css2?family=Lato";\n'
        '@font-face { src: url(https://fonts.example.org/a.woff2) format("woff2"), url(local.woff2); }\n')
    (tmp_path / "_static" / "app.js").write_text(
        'const docs = "https://example.org/docs"; load("https://cdn.jsdelivr.net/npm/lib@1");\n'
        'const font = "https://example.org/x.woff";\n')
    found = static_external_references(tmp_path)
    assert found == sorted([
        "_static/app.js: https://cdn.jsdelivr.net/npm/lib@1",
        "_static/app.js: https://example.org/x.woff",
        "_static/theme.css: https://fonts.example.org/a.woff2",
        "_static/theme.css: https://fonts.googleapis.com/css2?family=Lato",
        "page.html: //cdn.example.org/proto.js",
        "page.html: https://cdn.example.org/theme.css",
        "page.html: https://fonts.gstatic.com",
        "page.html: https://img.example.org/f.png",
        "page.html: https://unpkg.com/thebe@0.8.2/lib/index.js",
    ])


def test_static_allow_list_covers_only_vendored_mathjax(tmp_path):
    url = "https://cdn.jsdelivr.net/npm/wicked-good-xpath@1.3.0/dist/wgxpath.install.js"
    for folder in ("_static/mathjax", "_static/other"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.js").write_text(f'e.WGXpath="{url}";')
    assert static_external_references(tmp_path) == [f"_static/other/x.js: {url}"]


@pytest.mark.parametrize("text, found", [
    ("typeset: G = USV⊤ and ε", []),
    (r"raw \(G = USV^\top\) here", [r"[\(] raw \(G = USV^\top\) here"]),
    (r"\[ x \]", [r"[\[] \[ x \]"]),
    ("$$x$$", ["[$$] $$x$$"]),
    (r"\begin{align} x \end{align}", [r"[\begin{] \begin{align} x \end{align}"]),
    (r"the step $UV^\top$ is", [r"[$...$ around TeX] the step $UV^\top$ is"]),
    ("costs $5 and $10", []),
])
def test_raw_math_patterns(text, found):
    assert raw_math_in(text) == found


@pytest.mark.parametrize("line, is_table", [
    ("|---|---|", True), ("| --- | :---: |", True), ("|—|—:|", True), ("| a |---", True),
    ("| a | b |", False), ("range 3–5 | next", False), ("x — y", False),
])
def test_pipe_table_pattern(line, is_table):
    assert bool(pipe_table_lines_in(line)) is is_table


def test_missing_chromium_skips_with_the_hint_but_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert chromium_check.find_chromium() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=re.escape("apt-get install -y chromium")):
        chromium_check.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        chromium_check.require_chromium()
    with pytest.raises(FileNotFoundError, match=re.escape("apt-get install -y chromium")):
        chromium_check.Chromium(None)
