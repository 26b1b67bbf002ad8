"""The suite itself cannot fail by chance: derandomized property tests, seeded generators."""

import os
import random

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st


def test_ci_profile_is_derandomized():
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        return  # an explicit exploration run: nothing to assert about the CI profile
    assert settings.default.derandomize is True
    assert settings.default.database is None
    assert settings.get_profile("ci").derandomize is True


_drawn: list[list[int]] = []


@settings(max_examples=10)
@given(st.integers(0, 10**9))
def _draw(x):
    _drawn[-1].append(x)


def test_ci_profile_draws_the_same_examples_every_time():
    if not settings.default.derandomize:
        return
    for _ in range(2):
        _drawn.append([])
        _draw()
    assert _drawn[0] == _drawn[1]


def test_global_generators_start_seeded():
    # the autouse fixture of conftest seeds all three before every test
    a = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    assert a == (random.random(), np.random.random(), torch.rand(1).item())
