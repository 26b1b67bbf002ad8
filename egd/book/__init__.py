"""egd.book — what the book's chapters call: settings, one style, verdict tables, analyses.

The chapters (``notebooks/*.md``) hold prose, calls and plots; every number they state is
computed here, where it is tested. This package sits on top of everything else
(:mod:`egd`, :mod:`egd.grokking`, :mod:`egd.validation`, :mod:`egd.bench`,
:mod:`toymodel`) and nothing imports it.
"""
