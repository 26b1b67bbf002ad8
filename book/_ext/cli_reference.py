"""Sphinx extension: the ``cli-reference`` directive renders an ``argparse`` parser.

``.. cli-reference:: egd.grokking.cli:build_parser`` imports the module, calls the function
and writes the command's usage, then one section per sub-command with its usage and a table of
its arguments (flags, default, choices, help). The page is generated from the parser each time
the book is built, so it cannot drift from the code. :func:`parser_rst` (the reStructuredText
the directive parses) is a plain function, tested in ``tests/book/test_api_reference.py``.
"""

from __future__ import annotations

import argparse
import importlib
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

USAGE_WIDTH = 72
_RST_SPECIAL = re.compile(r"([\\*`|_\[\]<>])")


def _escape(text: str) -> str:
    return _RST_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


def load_parser(spec: str) -> argparse.ArgumentParser:
    """``"package.module:function"`` -> the parser that function returns."""
    module_name, _, func_name = spec.partition(":")
    if not func_name:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module_name), func_name)()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            out += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return out


def _argument_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str, str, str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        flags = ", ".join(action.option_strings) or action.dest
        if action.nargs in ("+", "*"):
            flags += " ..."
        default = action.default
        hidden = default is None or default is False or default == argparse.SUPPRESS or action.required
        shown_default = "" if hidden else repr(default)
        if action.required and action.option_strings:
            shown_default = "(required)"
        choices = ", ".join(str(c) for c in action.choices) if action.choices else ""
        rows.append((flags, shown_default, choices, action.help or ""))
    return rows


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :class: cli-arguments", "",
             "   * - argument", "     - default", "     - choices", "     - help"]
    for flags, default, choices, help_text in rows:
        lines += [f"   * - {_literal(flags)}", f"     - {_literal(default)}", f"     - {_escape(choices)}",
                  f"     - {_escape(help_text)}"]
    lines = [line.rstrip() for line in lines]
    return lines + [""]


def _usage(parser: argparse.ArgumentParser) -> list[str]:
    # a fixed width, so that the page does not depend on the terminal that built it
    usage = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    usage.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    usage = usage.format_help().strip()
    usage = usage[len("usage: "):] if usage.startswith("usage: ") else usage
    return [".. code-block:: text", ""] + ["   " + line for line in usage.splitlines()] + [""]


def parser_rst(parser: argparse.ArgumentParser) -> list[str]:
    """The reStructuredText lines of ``parser``: usage, description, one section per sub-command."""
    lines = _usage(parser)
    if parser.description:
        lines += [_escape(parser.description), ""]
    rows = _argument_rows(parser)
    if rows:
        lines += _table(rows)
    for name, help_text, sub in _subcommands(parser):
        title = f"{parser.prog} {name}"
        lines += [title, "-" * len(title), ""]
        if help_text:
            lines += [_escape(help_text[:1].upper() + help_text[1:]) + ".", ""]
        lines += _usage(sub)
        sub_rows = _argument_rows(sub)
        if sub_rows:
            lines += _table(sub_rows)
    return lines


class CliReference(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        lines = parser_rst(load_parser(self.arguments[0]))
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"<cli-reference {self.arguments[0]}>"), node)
        return node.children


def setup(app):
    app.add_directive("cli-reference", CliReference)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
