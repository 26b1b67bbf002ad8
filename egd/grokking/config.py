"""One training run, fully described: :class:`RunConfig` (validated) and its key.

Every field that changes the numbers is in the config, so a run is identified by
:func:`config_key` (a hash of the canonical JSON of the config) and a finished run is
found again by its key instead of being retrained. Fields that do not apply to the
task (``p`` for parity, ``n``/``k`` for modular arithmetic, ``rank`` for methods without
one) are normalised to ``None`` so equal runs get equal keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch

from egd import defaults
from egd._checks import check_bool, check_choice, check_int, check_real

from . import registry as methods
from . import tasks
from .environment import device_name, resolve_device  # noqa: F401  (re-exported: their old home)

DEFAULT_PATIENCE = 50  # epochs trained after the threshold is first reached
DEFAULT_CHECKPOINT_EVERY = 200  # epochs between checkpoints
KEY_LENGTH = 12  # hex digits of the config hash used in file names
WEIGHT_DECAY_MODES = ("loss", "decoupled")
#: Fields added after results were committed: hashed into the key only when they differ
#: from these values, so the keys of earlier runs stay valid.
LATE_FIELD_DEFAULTS = {"weight_decay_mode": "loss",
                       "second_operand_scale": tasks.DEFAULT_SECOND_OPERAND_SCALE,
                       "random_streams": "torch",
                       "model": "mlp", "optimizer": "sgd", "betas": (0.9, 0.999), "warmup_steps": 0,
                       "init_scale": 1.0, "train_metrics": "full"}
#: Adam's and AdamW's default ``betas`` (torch's); used only with an adaptive optimizer.
DEFAULT_BETAS = (0.9, 0.999)
#: How the history's train loss and accuracy are measured after an epoch: ``full`` (the
#: whole training set, evaluated) or ``batches`` (the epoch's mini-batches before their steps,
#: as the public transformer script logs them; saves an evaluation of the training set).
TRAIN_METRICS = ("full", "batches")


@dataclass(frozen=True)
class RunConfig:
    """All settings of one run. Build with :func:`make_config` to get the paper's preset.

    ``threshold``: validation (= test) accuracy at which the method switches off
    (Algorithm 1) and which defines "epochs to threshold". ``patience``: epochs trained
    after the threshold is first reached before stopping (``None``: run to
    ``max_epochs``). ``spectrum_every``: record the singular values of the hidden
    layer's (untransformed) gradient at the first step of every ``spectrum_every``-th
    epoch (0: never). ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... (resolved,
    never ``"auto"``). ``random_streams``: ``"torch"`` (ours) or, for parity only,
    ``"numpy"``: data, secret bits and initial weights drawn as in the authors' published
    script (numpy ``RandomState(data_seed)`` and ``RandomState(seed)``), to compare with
    the paper's single runs; the shuffles stay ours.

    Appendix D's settings add: ``model`` (``"mlp"``, the paper's 2-layer MLP;
    ``"mlp3"``, Omnigrok's 3-layer MLP for the image tasks; ``"transformer"``, the
    decoder-only transformer for the modular tasks), ``optimizer`` (``"sgd"``: the plain
    step; ``"adam"`` / ``"adamw"``: torch's, on the transformed gradients), ``betas``
    (Adam's; only with an adaptive optimizer), ``warmup_steps`` (the learning rate grows
    linearly from 0 over that many steps, as torch's ``LambdaLR(min(step / W, 1))``) and
    ``init_scale`` (every initial parameter multiplied by it; ``mlp3`` only) and
    ``train_metrics`` (:data:`TRAIN_METRICS`). With an
    adaptive optimizer, ``weight_decay_mode="decoupled"`` is the optimizer's own
    ``weight_decay`` on the model's decayed parameters: Adam adds ``wd * W`` to the
    (transformed) gradient inside its step, AdamW shrinks the weights directly.
    """

    task: str
    method: str
    seed: int = 0
    p: int | None = 97
    n: int | None = None
    k: int | None = None
    rank: int | None = None
    data_seed: int = tasks.DEFAULT_DATA_SEED
    train_fraction: float | None = tasks.DEFAULT_TRAIN_FRACTION
    n_train: int | None = None
    n_test: int | None = None
    width: int = 512
    lr: float = 0.7
    batch_size: int = 512
    weight_decay: float = 1e-4
    loss: str = "cross_entropy"
    max_epochs: int = 15_000
    threshold: float = defaults.DEFAULT_SWITCH_OFF_THRESHOLD
    switch_off: bool = True
    patience: int | None = DEFAULT_PATIENCE
    grokfast_alpha: float = defaults.DEFAULT_GROKFAST_ALPHA
    grokfast_lamb: float = defaults.DEFAULT_GROKFAST_LAMB
    colnorm_floor: float = defaults.DEFAULT_COLUMN_NORM_FLOOR
    spectrum_every: int = 0
    device: str = "cpu"
    weight_decay_mode: str = "loss"
    second_operand_scale: float = tasks.DEFAULT_SECOND_OPERAND_SCALE
    random_streams: str = "torch"
    model: str = "mlp"
    optimizer: str = "sgd"
    betas: tuple[float, float] = DEFAULT_BETAS
    warmup_steps: int = 0
    init_scale: float = 1.0
    train_metrics: str = "full"

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # read back from JSON
            object.__setattr__(self, "betas", tuple(self.betas))
        _validate(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def build_task(self):
        """The data module of this run (not yet materialised)."""
        family, op = methods.TASKS[self.task]
        if family == "image":
            from .mnist import ImageClassification

            return ImageClassification(self.task, self.n_train, self.n_test)
        if family == "modular":
            if self.random_streams != "torch":
                raise ValueError(f"random_streams={self.random_streams!r} applies only to parity (the authors' "
                                 f"parity script); must be 'torch' for task {self.task!r}")
            return tasks.ModularArithmetic(self.p, op, self.train_fraction, self.data_seed,
                                           self.second_operand_scale)
        if self.second_operand_scale != tasks.DEFAULT_SECOND_OPERAND_SCALE:
            raise ValueError(f"second_operand_scale applies only to modular tasks (must be "
                             f"{tasks.DEFAULT_SECOND_OPERAND_SCALE} for {self.task!r}), "
                             f"got {self.second_operand_scale!r}")
        return tasks.SparseParity(self.n, self.k, self.n_train, self.n_test, self.data_seed, self.random_streams)


#: Seeds feed both torch and numpy (``RandomState`` takes 32-bit seeds).
MAX_SEED = 2**32 - 1


def _validate(c: RunConfig) -> None:
    check_choice("task", c.task, sorted(methods.TASKS))
    method = methods.get_method(c.method)
    check_int("seed", c.seed, minimum=0, maximum=MAX_SEED)
    check_int("data_seed", c.data_seed, minimum=0, maximum=MAX_SEED)
    # Building the data module validates p / op / n / k / fractions with clear messages.
    c.build_task()
    if method.needs_rank:
        if c.rank is None:
            raise ValueError(f"rank is required for method {c.method!r} (an integer >= 1), got None")
        check_int("rank", c.rank, minimum=1)
    elif c.rank is not None:
        raise ValueError(f"rank applies only to {[m for m in methods.METHODS if methods.METHODS[m].needs_rank]}, "
                         f"got rank={c.rank!r} with method {c.method!r}")
    check_int("width", c.width, minimum=1)
    check_int("batch_size", c.batch_size, minimum=1)
    check_int("max_epochs", c.max_epochs, minimum=1)
    check_int("spectrum_every", c.spectrum_every, minimum=0)
    if c.patience is not None:
        check_int("patience", c.patience, minimum=0)
    check_real("lr", c.lr, low=0.0, low_open=True)
    check_real("weight_decay", c.weight_decay, low=0.0)
    check_real("threshold", c.threshold, low=0.0, high=1.0, low_open=True)
    check_bool("switch_off", c.switch_off)
    check_choice("weight_decay_mode", c.weight_decay_mode, WEIGHT_DECAY_MODES)
    check_choice("loss", c.loss, methods.LOSSES)
    family = methods.TASKS[c.task][0]
    if c.loss not in methods.FAMILY_LOSSES[family]:
        raise ValueError(f"loss for task {c.task!r} must be one of {methods.FAMILY_LOSSES[family]}, got {c.loss!r}")
    _validate_model_and_optimizer(c, family)
    check_real("grokfast_alpha", c.grokfast_alpha, low=0.0, high=1.0, high_open=True)
    check_real("grokfast_lamb", c.grokfast_lamb, low=0.0)
    check_real("colnorm_floor", c.colnorm_floor, low=0.0, low_open=True)
    n_train = c.build_task().n_train if family != "modular" else int(c.train_fraction * c.p**2)
    if c.batch_size > n_train:
        raise ValueError(f"batch_size must be <= the number of training examples ({n_train}), got {c.batch_size}")
    if c.device == "auto":
        raise ValueError("device must be resolved before building a RunConfig (use resolve_device('auto'))")
    torch.device(c.device)  # raises on malformed device strings


def _validate_model_and_optimizer(c: RunConfig, family: str) -> None:
    """Appendix D's fields: the model fits the task, Adam's options only with Adam."""
    check_choice("model", c.model, sorted(methods.MODELS))
    if family not in methods.MODELS[c.model]:
        fits = sorted(t for t, (f, _) in methods.TASKS.items() if f in methods.MODELS[c.model])
        raise ValueError(f"model {c.model!r} takes the tasks {fits}, got task {c.task!r}")
    if c.model == "transformer" and c.second_operand_scale != tasks.DEFAULT_SECOND_OPERAND_SCALE:
        raise ValueError(f"the transformer reads tokens: second_operand_scale must be "
                         f"{tasks.DEFAULT_SECOND_OPERAND_SCALE}, got {c.second_operand_scale!r}")
    check_choice("optimizer", c.optimizer, methods.OPTIMIZERS)
    if not (isinstance(c.betas, tuple) and len(c.betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {c.betas!r}")
    for i, beta in enumerate(c.betas):
        check_real(f"betas[{i}]", beta, low=0.0, high=1.0, high_open=True)
    check_int("warmup_steps", c.warmup_steps, minimum=0)
    check_real("init_scale", c.init_scale, low=0.0, low_open=True)
    check_choice("train_metrics", c.train_metrics, TRAIN_METRICS)
    if c.optimizer == "sgd":
        for name in ("betas", "warmup_steps"):
            if getattr(c, name) != LATE_FIELD_DEFAULTS[name]:
                raise ValueError(f"{name} applies only to the adaptive optimizers {methods.OPTIMIZERS[1:]}; "
                                 f"with optimizer 'sgd' it must be {LATE_FIELD_DEFAULTS[name]!r}, "
                                 f"got {getattr(c, name)!r}")
    if c.init_scale != 1.0 and c.model != "mlp3":
        raise ValueError(f"init_scale applies only to model 'mlp3' (Omnigrok's x8); must be 1.0 for model "
                         f"{c.model!r}, got {c.init_scale!r}")


def make_config(
    task: str,
    method: str,
    *,
    preset: str = "paper",
    p: int | None = None,
    n: int | None = None,
    k: int | None = None,
    device: str = "cpu",
    **overrides,
) -> RunConfig:
    """A :class:`RunConfig` with the preset's hyper-parameters, then ``overrides``.

    Defaults: ``p = 97`` for modular tasks, ``(n, k) = (100, 3)`` for parity; the image
    tasks train on the first ``n_train`` images and test on ``n_test`` (``None``: all the
    others).
    """
    if task not in methods.TASKS:
        raise ValueError(f"task must be one of {sorted(methods.TASKS)}, got {task!r}")
    family = methods.TASKS[task][0]
    if family == "modular":
        p = 97 if p is None else p
        n = k = None
        shape = dict(p=p, n=None, k=None, n_train=None, n_test=None)
    elif family == "image":
        p = n = k = None
        shape = dict(p=None, n=None, k=None, train_fraction=None, n_test=None)
    else:
        n = 100 if n is None else n
        k = 3 if k is None else k
        shape = dict(p=None, n=n, k=k, train_fraction=None,
                     n_train=tasks.DEFAULT_PARITY_TRAIN, n_test=tasks.DEFAULT_PARITY_TEST)
    values = {**shape, **methods.preset_values(preset, task, n=n, k=k), **overrides}
    return RunConfig(task=task, method=method, device=resolve_device(device), **values)


def config_key(config: RunConfig) -> str:
    """Hex digest identifying the run's numbers (device *type* included, index not)."""
    fields = config.to_dict()
    fields["device"] = torch.device(config.device).type
    for name, default in LATE_FIELD_DEFAULTS.items():
        if fields[name] == default:
            del fields[name]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode()).hexdigest()[:KEY_LENGTH]


def run_name(config: RunConfig) -> str:
    """Readable, unique file stem: ``mod-add-p97-egd-svd-s0-<key>``.

    A non-default ``second_operand_scale`` ``c`` adds ``-b<c>`` after the shape
    (``mod-add-p31-b0.1-vanilla-s0-<key>``); default runs keep their names. The image
    tasks' shape is their training-set size; a model other than the paper's MLP and, with an
    adaptive optimizer, a nonzero weight decay are named too
    (``mod-mul-p97-transformer-wd0.005-egd-svd-s0-<key>``, ``digits-n1000-mlp3-wd2-vanilla-s0-<key>``).
    """
    if config.p is not None:
        shape = f"p{config.p}"
    elif config.n is not None:
        shape = f"n{config.n}k{config.k}"
    else:
        shape = f"n{config.n_train}"
    if config.model != LATE_FIELD_DEFAULTS["model"]:
        shape += f"-{config.model}"
    if config.weight_decay != 0 and config.optimizer != LATE_FIELD_DEFAULTS["optimizer"]:
        shape += f"-wd{config.weight_decay:g}"
    if config.second_operand_scale != tasks.DEFAULT_SECOND_OPERAND_SCALE:
        shape += f"-b{config.second_operand_scale:.4g}"
    if config.random_streams != "torch":
        shape += f"-{config.random_streams}"
    method = config.method + (f"{config.rank}" if config.rank is not None else "")  # = labels.method_key
    return f"{config.task}-{shape}-{method}-s{config.seed}-{config_key(config)}"
