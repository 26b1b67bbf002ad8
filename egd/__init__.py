"""egd — part of egd-grokking."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("egd-grokking")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from . import defaults
from .grokfast import GrokfastEMA
from .optim import EGD, EGDHook, EGDOptions, attach, orthogonalize_grads_
from .params import as_matrix, select_params
from .transforms import column_normalize, grokfast_ema_, grokfast_ema_init, orthogonalize
from .weight_decay import l2_penalty
from .config import RunConfig, make_config
from .models import TwoLayerMLP
from .results import RunResult, find_run, load_run, load_runs
from .tasks import ModularArithmetic, SparseParity
from .train import fit, train

__all__ = ["__version__", "defaults", "orthogonalize", "column_normalize", "grokfast_ema_", "grokfast_ema_init",
           "EGD", "EGDHook", "EGDOptions", "attach", "orthogonalize_grads_", "select_params", "as_matrix",
           "GrokfastEMA", "l2_penalty",
           "RunConfig", "make_config", "TwoLayerMLP", "RunResult", "find_run", "load_run", "load_runs",
           "ModularArithmetic", "SparseParity", "fit", "train"]
