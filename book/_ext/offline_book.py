"""Sphinx extension: keep the built book free of scripts from other hosts.

Jupyter Book 1 always loads ``sphinx_thebe`` (live code through Binder). This book does not
use it (``launch_buttons.thebe`` is off), yet sphinx-thebe still writes an inline script
naming ``https://unpkg.com/thebe@.../index.js`` into every page, and under Sphinx 7 it
writes it twice, so every page also throws "Identifier 'THEBE_JS_URL' has already been
declared" in the browser console. Jupyter Book 1 offers no switch to drop a default
extension, so this extension unhooks sphinx-thebe's two page-level handlers (the script
tags and the per-page Binder configuration); its directive and CSS stay registered, so a
``thebe-button`` in a chapter would still build, it just would not launch anything.

MathJax itself is bundled by ``sphinx-mathjax-offline`` (see ``_config.yml``).
"""

from __future__ import annotations

THEBE_HANDLERS = {"init_thebe_core", "update_thebe_context"}


def _unhook_thebe(app) -> None:
    for event in ("env-before-read-docs", "doctree-resolved"):
        for listener in list(app.events.listeners.get(event, [])):
            handler = listener.handler
            if getattr(handler, "__module__", "") == "sphinx_thebe" and handler.__name__ in THEBE_HANDLERS:
                app.disconnect(listener.id)


def setup(app):
    # sphinx_thebe is set up before local extensions; make sure of it either way
    app.setup_extension("sphinx_thebe")
    _unhook_thebe(app)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
