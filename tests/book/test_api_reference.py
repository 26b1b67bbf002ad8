"""The book's API reference (book/api/) covers the public API, from docstrings that say enough.

* every name of ``toymodel.__all__`` and ``egd.__all__``, and the harness's entry points, has a
  docstring with an example, and an entry in the reference pages;
* the CLI page is generated from ``egd.grokking.cli.build_parser`` (book/_ext/cli_reference.py),
  not typed: every option of every sub-command is in what the directive renders;
* the chapters' links into the reference name entries that exist, and the backlinks
  (book/_ext/api_backlinks.py) are computed from them.

The examples themselves run in tests/test_doctests.py; the book build (``-n -W``) fails on a
reference target that does not resolve and, through api_backlinks, on a public name without an
entry. When the book has been built, the built reference pages are checked too.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
API = BOOK / "api"
HTML = BOOK / "_build" / "html"

sys.path.insert(0, str(BOOK / "_ext"))
import api_backlinks  # noqa: E402
import cli_reference  # noqa: E402

#: The harness's public entry points documented next to the library.
HARNESS_ENTRY_POINTS = ("egd.grokking.RunConfig", "egd.grokking.make_config", "egd.grokking.train",
                        "egd.grokking.RunResult", "egd.grokking.load_run", "egd.grokking.runsets.run_or_load",
                        "egd.grokking.cli.build_parser")
#: Public names that raise nothing of their own (a record type, a copy of its input).
RAISE_NOTHING = {"toymodel.A3Moments", "egd.grokfast_ema_init", "egd.grokking.RunResult",
                 "egd.grokking.cli.build_parser"}

_DIRECTIVE = re.compile(r"^\.\. auto(?:function|class|module|data|method|attribute)::\s*(\S+)", re.M)
_MEMBERS = re.compile(r"^\.\. automodule::\s*(\S+)\n((?:[ \t]+:.*\n?(?:[ \t]{6,}.*\n?)*)*)", re.M)


def resolve(name: str):
    module_name, _, attr = name.rpartition(".")
    try:
        return importlib.import_module(name)
    except ImportError:
        return getattr(importlib.import_module(module_name), attr)


def reference_entries() -> set[str]:
    """Full names with an entry in book/api/*.md: autodoc directives and explicit :members: lists."""
    entries: set[str] = set()
    for page in sorted(API.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        entries.update(_DIRECTIVE.findall(text))
        for module, options in _MEMBERS.findall(text):
            match = re.search(r":members:\s*((?:[^\n]*\n?)(?:[ \t]{6,}[^\n]*\n?)*)", options)
            if match and match.group(1).strip():
                entries.update(f"{module}.{m.strip()}" for m in match.group(1).split(",") if m.strip())
            elif match:  # bare :members: documents the module's __all__
                entries.update(f"{module}.{m}" for m in getattr(importlib.import_module(module), "__all__", []))
    return entries


PUBLIC = api_backlinks.public_names()
DOCUMENTED = [*PUBLIC, *HARNESS_ENTRY_POINTS]


def test_public_names_are_listed():
    assert "toymodel.plateau_length" in PUBLIC and "egd.orthogonalize" in PUBLIC
    assert not any(name.endswith("__version__") for name in PUBLIC)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_public_name_has_a_docstring_with_an_example(name):
    doc = inspect.getdoc(resolve(name)) or ""
    assert len(doc.split()) >= 5, f"{name} has no docstring worth the name"
    assert ">>>" in doc, f"{name}: the docstring has no example (a doctest '>>>')"


@pytest.mark.parametrize("name", [n for n in DOCUMENTED if not inspect.ismodule(resolve(n))])
def test_public_callable_says_what_it_raises(name):
    if name in RAISE_NOTHING:
        pytest.skip(f"{name} raises nothing of its own")
    doc = inspect.getdoc(resolve(name))
    assert re.search(r"^\s*Raises\s*(:|\n-+)", doc, re.M), f"{name}: no Raises section"


def test_every_public_name_has_a_reference_entry():
    entries = reference_entries()
    missing = [name for name in DOCUMENTED if name not in entries]
    assert not missing, f"no entry in book/api/*.md for {missing}"
    assert api_backlinks.missing_public_names(entries) == []


def test_missing_public_names_reports_a_missing_entry():
    entries = reference_entries() - {"egd.l2_penalty"}
    assert api_backlinks.missing_public_names(entries) == ["egd.l2_penalty"]


def test_the_reference_is_in_the_toc():
    toc = (BOOK / "_toc.yml").read_text()
    assert "caption: API reference" in toc
    for page in sorted(API.glob("*.md")):
        assert f"file: api/{page.stem}\n" in toc, f"{page.name} is not in the table of contents"


def test_cli_page_is_generated_from_the_parser():
    text = (API / "cli.md").read_text()
    assert ".. cli-reference:: egd.grokking.cli:build_parser" in text
    assert not re.search(r"--[a-z]", text), "the CLI page types an option by hand; let the directive render it"


def _all_option_strings(parser: argparse.ArgumentParser) -> set[str]:
    options = set()
    for action in parser._actions:
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options.update(_all_option_strings(sub))
    return options - {"-h", "--help"}


def test_cli_rendering_holds_every_option_and_subcommand():
    from egd.grokking.cli import build_parser

    parser = build_parser()
    rst = "\n".join(cli_reference.parser_rst(parser))
    for option in _all_option_strings(parser):
        assert f"``{option}" in rst, f"{option} is missing from the CLI page"
    for name in ("train", "sweep", "report", "reproduce", "bench"):
        assert f"\negd-grok {name}\n" in rst
    # defaults come from the parser: a zero default is shown, not dropped
    assert "``0``" in rst


def test_cli_rendering_of_a_toy_parser():
    parser = argparse.ArgumentParser(prog="tool", description="Does *things*.")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run it")
    run.add_argument("--n", type=int, default=3, help="how many (`n`)")
    run.add_argument("--mode", choices=("a", "b"), required=True)
    lines = cli_reference.parser_rst(parser)
    text = "\n".join(lines)
    assert "Does \\*things\\*." in text
    assert "tool run\n--------" in text and "Run it." in text
    assert "``--n``" in text and "``3``" in text and "how many (\\`n\\`)" in text
    assert "``(required)``" in text and "a, b" in text
    assert all(line == line.rstrip() for line in lines)
    with pytest.raises(ValueError):
        cli_reference.load_parser("egd.grokking.cli")


def test_chapters_link_the_reference_entries_they_use():
    uses = api_backlinks.chapter_uses(BOOK)
    expected = {
        "egd.orthogonalize": "notebooks/01_egd_in_one_page",
        "toymodel.test_error_curve": "notebooks/02_toy_model",
        "toymodel.plateau_length": "notebooks/04_theory_meets_simulation",
        "egd.grokking.runsets.run_or_load": "notebooks/05_modular_arithmetic",
        "egd.EGD": "notebooks/09_use_egd",
    }
    for target, chapter in expected.items():
        assert chapter in uses.get(target, []), f"{chapter} does not link {target}"
    entries = reference_entries()
    documented_members = {"egd.defaults." + n for n in dir(importlib.import_module("egd.defaults")) if n.isupper()}
    unknown = [t for t in uses if t not in entries and t not in documented_members]
    assert not unknown, f"chapters link targets without a reference entry: {unknown}"
    assert not any(doc.startswith("api/") for docs in uses.values() for doc in docs)


def test_role_targets_and_backlink_lines():
    assert api_backlinks.role_target("~toymodel.plateau_length") == "toymodel.plateau_length"
    assert api_backlinks.role_target("egd.attach(opt) <egd.attach>") == "egd.attach"
    assert api_backlinks.role_target("egd.orthogonalize()") == "egd.orthogonalize"
    lines = api_backlinks.backlink_lines(["notebooks/02_toy_model", "notebooks/04_theory_meets_simulation"])
    assert lines[1] == "*Used in:* :doc:`/notebooks/02_toy_model`, :doc:`/notebooks/04_theory_meets_simulation`"
    assert api_backlinks.backlink_lines([]) == []


def _built(page: str) -> Path:
    path = HTML / page
    if not path.is_file():
        pytest.skip(f"the book is not built ({path.relative_to(REPO)} missing): run `make book`")
    return path


def test_built_reference_links_back_to_the_chapters():
    html = _built("api/toymodel.html").read_text(encoding="utf-8")
    entry = html[html.index('id="toymodel.plateau_length"'):]
    entry = entry[:entry.index('id="toymodel.plateau_ratio"')]  # up to the next entry
    assert "Used in:" in entry and "04_theory_meets_simulation.html" in entry


def test_built_chapter_links_into_the_reference():
    html = _built("notebooks/04_theory_meets_simulation.html").read_text(encoding="utf-8")
    assert "../api/toymodel.html#toymodel.plateau_length" in html


def test_built_cli_page_lists_the_subcommands():
    html = _built("api/cli.html").read_text(encoding="utf-8")
    for name in ("train", "sweep", "report", "reproduce", "bench"):
        assert f"egd-grok {name}" in html
    assert "--checkpoint-every" in html
