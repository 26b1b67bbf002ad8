"""One training run, fully described: :class:`RunConfig` (validated) and its key.

Every field that changes the numbers is in the config, so a run is identified by
:func:`config_key` (a hash of the canonical JSON of the config) and a finished run is
found again by its key instead of being retrained. Fields that do not apply to the
task (``p`` for parity, ``n``/``k`` for modular arithmetic, ``rank`` for methods without
one) must be ``None`` (:func:`make_config` sets them so), and method-specific settings
(``grokfast_*``, ``colnorm_floor``) keep their defaults for the other methods: a setting
that cannot change the numbers is refused rather than hashed into a second key for the
same run.

``threads``: float results of torch's CPU kernels depend on the thread count, so a CPU
run records the number of threads it computes with and runs at 1 and 2 threads never
share a key or a file (committed runs were made at 1 thread, the default, which is not
hashed). On a CUDA device the GPU computes the numbers: ``threads`` is ``None`` there.
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
#: Seconds of training between checkpoints (besides every ``DEFAULT_CHECKPOINT_EVERY``
#: epochs): a kill loses at most about this much work.
DEFAULT_CHECKPOINT_SECONDS = 60.0
#: torch threads of a CPU run unless the config says otherwise (every committed run).
DEFAULT_THREADS = 1
KEY_LENGTH = 12  # hex digits of the config hash used in file names
WEIGHT_DECAY_MODES = ("loss", "decoupled")
#: Fields added after results were committed: hashed into the key only when they differ
#: from these values, so the keys of earlier runs stay valid.
LATE_FIELD_DEFAULTS = {"weight_decay_mode": "loss",
                       "second_operand_scale": tasks.DEFAULT_SECOND_OPERAND_SCALE,
                       "random_streams": "torch",
                       "threads": DEFAULT_THREADS,
                       "spectral_cutoff": None,
                       "model": "mlp", "optimizer": "sgd", "betas": (0.9, 0.999), "warmup_steps": 0,
                       "init_scale": 1.0, "train_metrics": "full"}
#: Adam's and AdamW's default ``betas`` (torch's); used only with an adaptive optimizer.
DEFAULT_BETAS = (0.9, 0.999)
#: How the history's train loss and accuracy are measured after an epoch: ``full`` (the
#: whole training set, evaluated) or ``batches`` (the epoch's mini-batches before their steps,
#: as the public transformer script logs them; saves an evaluation of the training set).
TRAIN_METRICS = ("full", "batches")
#: Largest number of train or test examples: the history stores correct-prediction counts
#: as ``uint32`` (:data:`egd.grokking.store.HISTORY_DTYPES`).
MAX_EXAMPLES = 2**32 - 1
#: Fields that only one method reads, with their defaults; other methods must keep these.
METHOD_FIELDS = {"grokfast_alpha": ("grokfast", defaults.DEFAULT_GROKFAST_ALPHA),
                 "grokfast_lamb": ("grokfast", defaults.DEFAULT_GROKFAST_LAMB),
                 "colnorm_floor": ("colnorm", defaults.DEFAULT_COLUMN_NORM_FLOOR)}
#: Where a task family's preset sets its own value of a :data:`METHOD_FIELDS` field, that value is
#: the default the other methods keep: Omnigrok's image setting carries the public MNIST script's
#: Grokfast ``alpha`` and ``lamb`` in every run's config (and key), whichever the method.
FAMILY_METHOD_DEFAULTS = {"image": {name: methods.OMNIGROK[name] for name in ("grokfast_alpha", "grokfast_lamb")}}
#: The shape fields each task family reads: a field no family of the task reads must be
#: ``None`` (``n_train`` / ``n_test`` are read by parity and by the image tasks of Appendix D).
FAMILY_FIELDS = {"modular": ("p", "train_fraction"), "parity": ("n", "k", "n_train", "n_test"),
                 "image": ("n_train", "n_test")}


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
    the paper's single runs; the shuffles stay ours. ``threads``: torch's CPU thread
    count the run computes with (:func:`egd.grokking.train` checks it); set to
    ``None`` on CUDA, and ``None`` on the CPU means the default, 1.

    Appendix D's settings add: ``model`` (``"mlp"``, the paper's 2-layer MLP;
    ``"mlp3"``, Omnigrok's 3-layer MLP for the image tasks; ``"transformer"``, the
    decoder-only transformer for the modular tasks), ``optimizer`` (``"sgd"``: the plain
    step; ``"adam"`` / ``"adamw"``: torch's, on the transformed gradients), ``betas``
    (Adam's; only with an adaptive optimizer), ``warmup_steps`` (the learning rate grows
    linearly from 0 over that many steps, as torch's ``LambdaLR(min(step / W, 1))``) and
    ``init_scale`` (every initial parameter multiplied by it; ``mlp3`` only) and
    ``train_metrics`` (:data:`TRAIN_METRICS`). With an adaptive optimizer,
    ``weight_decay_mode="decoupled"`` is the optimizer's own ``weight_decay`` on the
    model's decayed parameters: Adam adds ``wd * W`` to the
    (transformed) gradient inside its step, AdamW shrinks the weights directly.

    The defaults of the transform options come from :mod:`egd.defaults`
    (``threshold`` is :data:`egd.defaults.DEFAULT_SWITCH_OFF_THRESHOLD`).

    Raises:
        ValueError: any field out of its range, naming it: an unknown ``task`` or ``method``,
            ``rank`` missing for an rsvd method (or given to another), a seed outside
            ``[0, 2**32 - 1]``, ``lr <= 0``, ``threshold`` outside ``(0, 1]``, a loss that
            does not fit the task, ``batch_size`` above the number of training examples,
            ``device="auto"`` (resolve it first) or a malformed device.

    Examples:
        >>> from egd.grokking import RunConfig
        >>> RunConfig(task="mod-add", method="egd-rsvd", rank=64).rank
        64
        >>> RunConfig(task="mod-add", method="egd-rsvd")
        Traceback (most recent call last):
        ...
        ValueError: rank is required for method 'egd-rsvd' (an integer >= 1), got None
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
    threads: int | None = DEFAULT_THREADS
    spectral_cutoff: float | None = None
    model: str = "mlp"
    optimizer: str = "sgd"
    betas: tuple[float, float] = DEFAULT_BETAS
    warmup_steps: int = 0
    init_scale: float = 1.0
    train_metrics: str = "full"

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # read back from JSON
            object.__setattr__(self, "betas", tuple(self.betas))
        if isinstance(self.device, str) and self.device.startswith("cuda"):
            object.__setattr__(self, "threads", None)  # the GPU computes the numbers
        elif self.threads is None:  # e.g. a CUDA config moved to the CPU with dataclasses.replace
            object.__setattr__(self, "threads", DEFAULT_THREADS)
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
    family = methods.TASKS[c.task][0]
    for name in dict.fromkeys(n for names in FAMILY_FIELDS.values() for n in names):
        if name not in FAMILY_FIELDS[family] and getattr(c, name) is not None:
            readers = " and ".join(f for f, names in FAMILY_FIELDS.items() if name in names)
            raise ValueError(f"{name} applies only to {readers} tasks; it must be None for task {c.task!r}, "
                             f"got {name}={getattr(c, name)!r}")
    for name, (owner, default) in METHOD_FIELDS.items():
        default = FAMILY_METHOD_DEFAULTS.get(family, {}).get(name, default)
        if c.method != owner and getattr(c, name) != default:
            raise ValueError(f"{name} applies only to method {owner!r}; it must keep its default {default!r} "
                             f"for method {c.method!r}, got {getattr(c, name)!r}")
    if family == "modular":
        check_int("p", c.p, minimum=2)
        if c.p**2 > MAX_EXAMPLES:
            raise ValueError(f"p must be at most {int(MAX_EXAMPLES**0.5)} (p**2 examples are counted in 32 bits), "
                             f"got {c.p}")
        check_real("train_fraction", c.train_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    else:
        for name in ("n_train", "n_test"):
            if family == "image" and name == "n_test" and c.n_test is None:
                continue  # the image tasks' None: every test image
            check_int(name, getattr(c, name), minimum=1, maximum=MAX_EXAMPLES)
    # Building the data module validates p / op / n / k / fractions with clear messages.
    c.build_task()
    if method.needs_rank:
        if c.rank is None:
            raise ValueError(f"rank is required for method {c.method!r} (an integer >= 1), got None")
        check_int("rank", c.rank, minimum=1)
    elif c.rank is not None:
        raise ValueError(f"rank applies only to {[m for m in methods.METHODS if methods.METHODS[m].needs_rank]}, "
                         f"got rank={c.rank!r} with method {c.method!r}")
    if method.needs_cutoff:
        if c.spectral_cutoff is None:
            raise ValueError(f"spectral_cutoff is required for method {c.method!r} (a float in (0, 1)), got None")
        check_real("spectral_cutoff", c.spectral_cutoff, low=0.0, high=1.0, low_open=True, high_open=True)
    elif c.spectral_cutoff is not None:
        cut = [m for m in methods.METHODS if methods.METHODS[m].needs_cutoff]
        raise ValueError(f"spectral_cutoff applies only to {cut}, got spectral_cutoff={c.spectral_cutoff!r} "
                         f"with method {c.method!r}")
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
    if not isinstance(c.device, str):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0', got {c.device!r}")
    try:
        dev = torch.device(c.device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {c.device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {c.device!r}")
    if dev.type == "cpu":
        check_int("threads", c.threads, minimum=1)


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
    others). ``p`` with parity or an image task, or ``n`` / ``k`` with a modular or an
    image task, is an error (it would change nothing).

    Args:
        task: ``"mod-add"``, ``"mod-mul"``, ``"parity"``, or Appendix D's image tasks
            ``"digits"`` and ``"mnist"``.
        method: a method of the registry (``"vanilla"``, ``"egd-svd"``, ``"egd-rsvd"`` with
            ``rank=...``, ``"colnorm"``, ``"grokfast"``, ...; see ``egd-grok train --help``).
        preset: ``"paper"`` (the paper's hyper-parameters for the task and shape) or
            ``"smoke"`` (tiny, seconds on a CPU, for tests).
        p: modulus of the modular tasks; ``None``: the paper's modulus (ignored for parity).
        n, k: parity's number of bits and of secret bits; ``None``: the paper's main
            ``(n, k)`` (ignored for modular tasks).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"`` (resolved here).
        **overrides: any other :class:`RunConfig` field.

    Returns:
        The validated :class:`RunConfig`.

    Raises:
        ValueError: an unknown task, method or preset, ``p`` with parity or an image task,
            ``n`` / ``k`` with a modular or an image task, or a field :class:`RunConfig` rejects.

    Examples:
        >>> from egd.grokking import make_config
        >>> c = make_config("mod-add", "vanilla")
        >>> c.p, c.width, c.lr
        (97, 512, 0.7)
        >>> c = make_config("parity", "egd-svd", preset="smoke", seed=3)
        >>> c.n, c.k, c.seed
        (100, 3, 3)
    """
    if task not in methods.TASKS:
        raise ValueError(f"task must be one of {sorted(methods.TASKS)}, got {task!r}")
    family = methods.TASKS[task][0]
    if family != "parity" and (n is not None or k is not None):
        raise ValueError(f"n and k apply only to the parity task, got n={n!r}, k={k!r} for task {task!r}")
    if family != "modular" and p is not None:
        raise ValueError(f"p applies only to the modular tasks, got p={p!r} for task {task!r}")
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
    if fields.get("threads", DEFAULT_THREADS) is None:  # CUDA: the thread count changes no number
        del fields["threads"]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode()).hexdigest()[:KEY_LENGTH]


def run_name(config: RunConfig) -> str:
    """Readable, unique file stem: ``mod-add-p97-egd-svd-s0-<key>``.

    A non-default ``second_operand_scale`` ``c`` adds ``-b<c>`` after the shape
    (``mod-add-p31-b0.1-vanilla-s0-<key>``), and a CPU thread count other than 1 adds
    ``-t<threads>`` (``mod-add-p97-t2-egd-svd-s0-<key>``); default runs keep their names. The image
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
    if config.threads not in (DEFAULT_THREADS, None):
        shape += f"-t{config.threads}"
    method = config.method + (f"{config.rank}" if config.rank is not None else "")  # = labels.method_key
    if config.spectral_cutoff is not None:
        method += f"{config.spectral_cutoff:g}"
    return f"{config.task}-{shape}-{method}-s{config.seed}-{config_key(config)}"
