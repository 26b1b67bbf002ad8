"""egd.grokking — the harness that trains the paper's tasks with EGD and its baselines.

* :mod:`~egd.grokking.registry` — tasks, methods and presets the engine and CLI dispatch on;
* :mod:`~egd.grokking.config` — :class:`RunConfig` (validated) and its key;
* :mod:`~egd.grokking.tasks`, :mod:`~egd.grokking.models` — data modules and the paper's MLP;
* :mod:`~egd.grokking.transformer`, :mod:`~egd.grokking.omnigrok`, :mod:`~egd.grokking.mnist` —
  Appendix D's decoder-only transformer, Omnigrok's MLP, and MNIST (local IDX files) or
  scikit-learn's digits;
* :mod:`~egd.grokking.engine` — the training loop in named steps over a typed state;
* :mod:`~egd.grokking.runner` — :func:`train`: one run with reuse, resume and saving;
* :mod:`~egd.grokking.batched` — :func:`train_batch`: R runs of one shape as one batched model;
* :mod:`~egd.grokking.sweep` — sweeps as Dask tasks (local cluster or ``--scheduler``);
* :mod:`~egd.grokking.store` — result files (JSON + NPZ) and checkpoints;
* :mod:`~egd.grokking.runsets` — the runs behind each book chapter, per profile;
* :mod:`~egd.grokking.tables`, :mod:`~egd.grokking.paper_numbers` — aggregation over seeds,
  next to the paper's numbers;
* :mod:`~egd.grokking.cli` — the ``egd-grok`` command.

It builds on the library (:mod:`egd`) and never the reverse.
"""

from .batched import train_batch
from .config import RunConfig, make_config
from .engine import TrainableModel, Trainer, TrainState, fit
from .models import TwoLayerMLP
from .runner import train
from .store import RunResult, find_run, load_run, load_runs
from .tasks import ModularArithmetic, SparseParity

__all__ = ["RunConfig", "make_config", "Trainer", "TrainableModel", "TrainState", "fit", "TwoLayerMLP", "train",
           "train_batch", "RunResult", "find_run", "load_run", "load_runs", "ModularArithmetic", "SparseParity"]
