"""Level 1 of the validation: the toy's linear model, numpy iteration vs the torch stack.

``toymodel.simulate.train_trajectory`` (numpy, sufficient statistics) and
``egd.validation.toy_torch.train_linear_toy`` (autograd + torch.optim.SGD + egd.EGD) are independent
codes for the same recursion; in float64 their trajectories must agree to 1e-6 relative.
"""

import numpy as np
import pytest

from egd.validation.toy_torch import TOY_CONVENTIONS, TOY_METHODS, train_linear_toy
from toymodel.sampling import sample_train
from toymodel.simulate import train_trajectory

AGREEMENT_RTOL = 1e-6
STEPS = 400


@pytest.fixture(scope="module")
def train_set():
    return sample_train(2_000, eps=0.01, s=1.0, seed=7)


@pytest.mark.parametrize("convention", TOY_CONVENTIONS)
@pytest.mark.parametrize("method", TOY_METHODS)
def test_torch_trajectory_matches_numpy(train_set, method, convention):
    X, y = train_set
    kwargs = dict(u=(0.0, 3.0), eta=0.1, steps=STEPS, method=method, convention=convention)
    reference = train_trajectory(X, y, **kwargs)
    torch_path = train_linear_toy(X, y, **kwargs)
    assert torch_path.shape == reference.shape == (STEPS + 1, 2)
    scale = np.linalg.norm(reference, axis=1)
    relative = np.linalg.norm(torch_path - reference, axis=1) / scale
    assert relative.max() <= AGREEMENT_RTOL, f"max relative deviation {relative.max():.2e}"
    # the comparison is not vacuous: the weights actually moved
    assert np.linalg.norm(reference[-1] - reference[0]) > 0.1


def test_conventions_differ_for_gd(train_set):
    X, y = train_set
    half = train_linear_toy(X, y, u=(0.0, 3.0), eta=0.1, steps=50, convention="half")
    full = train_linear_toy(X, y, u=(0.0, 3.0), eta=0.1, steps=50, convention="full")
    assert np.abs(half[-1] - full[-1]).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs, name",
    [({"method": "adam"}, "method"), ({"convention": "double"}, "convention"),
     ({"eta": -0.1}, "eta"), ({"steps": -1}, "steps"), ({"u": (0.0,)}, "u")],
)
def test_bad_input_names_the_parameter(train_set, kwargs, name):
    X, y = train_set
    args = dict(u=(0.0, 3.0), eta=0.1, steps=5) | kwargs
    with pytest.raises(ValueError, match=name):
        train_linear_toy(X, y, **args)
