"""toymodel — part of egd-grokking."""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("egd-grokking")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

# analytic theory: sympy derivations in .symbolic, numerics below
from . import (
    experiments,
    symbolic,
)
from .error import test_error, test_error_curve
from .iterates import mean_trajectory
from .plateau import plateau_length, plateau_ratio
from .same_distribution import (
    A3Moments,
    equi_matrix_power,
    equi_plateau_bounds,
    equi_plateau_length,
    equi_test_error_curve,
    equi_trajectory,
    has_plateau,
    moments,
)

# finite-sample simulation: exact samplers, finite-n optimisers, experiments
from .sampling import sample_equi, sample_shift_test, sample_train
from .simulate import misclassification_rate, sufficient_statistics, train_trajectory
from .train_moments import truncated_moments

# the L2 term (chapter "When exact EGD stalls")
from .weight_decay import l2_plateau_length, l2_trajectory

__all__ = [
    "__version__",
    "symbolic", "truncated_moments", "mean_trajectory", "test_error", "test_error_curve",
    "plateau_length", "plateau_ratio", "A3Moments", "moments", "equi_matrix_power", "equi_trajectory",
    "equi_test_error_curve", "equi_plateau_length", "equi_plateau_bounds", "has_plateau",
    "sample_train", "sample_shift_test", "sample_equi", "sufficient_statistics", "train_trajectory",
    "misclassification_rate", "experiments", "l2_trajectory", "l2_plateau_length",
]
