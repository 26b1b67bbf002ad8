"""The book's named definitions of "the plateau": each chapter uses one of these, by name.

The paper speaks of a plateau and of a time to grok; the book measures four things, and
never calls two of them by the same name:

* **escape time** ``k*`` (toy model, theory): the first step at which the exact large-n
  test error leaves 1, :data:`ESCAPE_LEVEL_THEORY` (the paper's Corollary 1 and Theorem 2);
  :func:`toymodel.plateau_length`.
* **escape time, measured** (toy model, finite samples and the toy-distribution MLP): the
  first step at which the measured test error is below :data:`ESCAPE_LEVEL_MEASURED`
  (0.99: a finite test sample never reads exactly 1, so the exact level 1 would fire on
  sampling noise); :data:`toymodel.experiments.PLATEAU_THRESHOLD`.
* **time to grok** ``T95`` (real tasks): the first epoch with test accuracy at or above
  :data:`GROK_ACCURACY` (the paper's Tables 2–4, and Algorithm 1's switch-off).
* **memorisation time** ``T_mem`` (real tasks): the first epoch with train accuracy at or
  above :data:`MEMORISED_ACCURACY`; the **plateau span** is ``T95 - T_mem``.
"""

from __future__ import annotations

from egd import defaults
from toymodel.experiments import PLATEAU_THRESHOLD

__all__ = ["ESCAPE_LEVEL_THEORY", "ESCAPE_LEVEL_MEASURED", "GROK_ACCURACY", "MEMORISED_ACCURACY", "DEFINITIONS"]

ESCAPE_LEVEL_THEORY = 1.0
ESCAPE_LEVEL_MEASURED = PLATEAU_THRESHOLD
GROK_ACCURACY = defaults.DEFAULT_SWITCH_OFF_THRESHOLD
MEMORISED_ACCURACY = 0.99

#: name -> one-line definition, for the glossary the chapters link to.
DEFINITIONS: dict[str, str] = {
    "escape time": f"first step with exact test error below {ESCAPE_LEVEL_THEORY:g} (toy model, theory)",
    "measured escape time": f"first step with measured test error below {ESCAPE_LEVEL_MEASURED:g} "
                            "(toy model, finite samples)",
    "time to grok (T95)": f"first epoch with test accuracy >= {GROK_ACCURACY:.0%} (real tasks)",
    "memorisation time (T_mem)": f"first epoch with train accuracy >= {MEMORISED_ACCURACY:.0%} (real tasks)",
    "plateau span": "T95 - T_mem (real tasks)",
}
