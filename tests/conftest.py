"""Suite-wide settings: the same examples and the same random draws on every run.

Hypothesis profiles (selected by ``HYPOTHESIS_PROFILE``, default ``ci``):

* ``ci`` -- derandomized: examples come from a fixed seed derived from each test, and
  the example database is off, so a run never depends on an earlier run's failures.
  ``make test`` and CI use it.
* ``explore`` -- random examples, more of them, for an opt-in hunt for new failures:
  ``HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest tests``. A failure it finds is
  added to its test as an explicit ``@example`` so that the ``ci`` profile keeps it.

Float results of torch's CPU kernels depend on the thread count, so the whole suite runs
with one torch thread (:data:`SUITE_THREADS`, set here once, never at a test module's
import). Every test also starts from seeded global generators (``random``,
``numpy.random``, ``torch``) and gets the thread count restored afterwards, so a test that
forgets a generator, or changes the thread count, cannot make another test's result vary.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

GLOBAL_SEED = 0
SUITE_THREADS = 1
HYPOTHESIS_PROFILES = ("ci", "explore")

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500, print_blob=True)

_profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if _profile not in HYPOTHESIS_PROFILES:
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE must be one of {HYPOTHESIS_PROFILES}, got {_profile!r}")
settings.load_profile(_profile)
torch.set_num_threads(SUITE_THREADS)


@pytest.fixture(autouse=True)
def _seeded_and_restored():
    random.seed(GLOBAL_SEED)
    np.random.seed(GLOBAL_SEED)
    torch.manual_seed(GLOBAL_SEED)
    yield
    if torch.get_num_threads() != SUITE_THREADS:
        torch.set_num_threads(SUITE_THREADS)
