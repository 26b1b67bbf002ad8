r"""Training engine: SGD (or Adam) on the transformed gradient, with Algorithm 1's switch-off.

One step on a mini-batch ``B`` (Section 4, main-results convention):

.. math::
    L(W) = \frac1{|B|}\sum_{i\in B} \ell(f(x_i), y_i)
           + \tfrac{wd}{2}\,(\|W_1\|_F^2 + \|W_2\|_F^2), \qquad
    W \leftarrow W - lr\,T(\nabla_W L)

where ``T`` is the method's transform (:mod:`egd.grokking.registry`) for the model's
``transformed_parameters()`` and the identity for every other parameter (Grokfast filters
all of them). With ``weight_decay_mode="loss"`` (the paper's) the L2 term is part of the
loss, so ``wd * W`` passes through ``T``; its gradient is added analytically (identical to
differentiating it). With ``"decoupled"`` it is added after ``T``, as torch's
``SGD(weight_decay=wd)`` does. Once the test (= validation) accuracy after an epoch reaches
``threshold``, ``T`` is switched off for the rest of the run (Algorithm 1).

With ``config.optimizer`` ``"adam"`` or ``"adamw"`` (Appendix D) the last line becomes a
step of ``torch.optim.Adam`` / ``AdamW`` on ``T(grad L)``: the transform acts on the gradient
*before* Adam's moments, exactly as ``egd.EGD(torch.optim.Adam(...))`` does. ``"decoupled"``
weight decay is then the optimizer's own ``weight_decay`` on the decayed parameters (Adam: added
to the transformed gradient inside the step; AdamW: the weights shrink by ``lr * wd``), and
``warmup_steps`` ramps the learning rate linearly from 0 (:func:`build_optimizer`).

Epoch = a fresh permutation of the training set, ``floor(N / batch)`` steps (the last
partial batch is dropped, as in the authors' code), then one evaluation of the whole train
and test sets (of the test set only with ``train_metrics="batches"``: the train numbers are
then the epoch's mini-batches before their steps). Metrics stay on the device; the host
reads them once per epoch.

The pieces, by name: :func:`transform_gradients` (the method's ``T``),
:meth:`Trainer.train_step`, :meth:`Trainer.train_epoch`, :meth:`Trainer.evaluate`,
:func:`record_epoch` (history), :func:`update_status` (divergence, switch-off, stop rules),
:meth:`Trainer.snapshot` / :meth:`Trainer.restore` (checkpoints), and :meth:`Trainer.run`,
the loop that calls them. :func:`record_epoch` and :func:`update_status` are pure functions
of a :class:`TrainState`, so a batched engine can reuse them run by run.

Interrupts: while :meth:`Trainer.run` runs in the main thread, Ctrl-C (SIGINT) is taken at
the end of the current epoch: the state is then consistent, a checkpoint is written, and
:class:`Interrupted` (a ``KeyboardInterrupt``) is raised. A second Ctrl-C stops at once,
without a new checkpoint. Checkpoints are written every ``checkpoint_every`` epochs and
every ``checkpoint_seconds`` of training, so a kill loses at most about that much work.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from egd._checks import check_int, check_real
from egd.transforms import column_normalize, grokfast_ema_, grokfast_ema_init, orthogonalize

from . import registry
from .config import DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_SECONDS, RunConfig
from .models import TwoLayerMLP
from .omnigrok import ThreeLayerMLP
from .store import History
from .tasks import TaskData

#: Rows per evaluation chunk: keeps the (rows, width) hidden activations cache-sized.
EVAL_CHUNK = 2048
#: Version of :meth:`Trainer.snapshot`'s layout; a checkpoint of another version is not resumed.
CHECKPOINT_FORMAT = 2

Status = Literal["running", "stopped", "max_epochs", "diverged"]


@runtime_checkable
class TrainableModel(Protocol):
    """What the engine needs from a model, besides being an ``nn.Module``.

    ``transformed_parameters()``: the weights whose gradients the method transforms (the
    paper's main results: the hidden layer's weight only). ``decayed_parameters()``: the
    weights in the L2 term ``0.5 wd sum ||W||^2`` (no biases). ``hidden_weight()`` and
    ``output_weight()``: the two weights whose Frobenius norms the history records
    (``hidden_norm``, ``output_norm``), named explicitly rather than guessed from order.
    """

    def __call__(self, x: Tensor) -> Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def transformed_parameters(self) -> list[nn.Parameter]: ...

    def decayed_parameters(self) -> list[nn.Parameter]: ...

    def hidden_weight(self) -> nn.Parameter: ...

    def output_weight(self) -> nn.Parameter: ...


@dataclass
class TrainState:
    """Everything about a run's progress that is not a tensor of the model or optimizer.

    ``epoch``: epochs done. ``transform_active``: Algorithm 1's switch (False once the
    threshold is reached, when ``switch_off``). ``reached``: first epoch (1-based) with
    test accuracy >= threshold, or None. ``elapsed``: training + evaluation seconds.
    ``status``: ``running``, then ``stopped`` (patience after the threshold ran out),
    ``max_epochs`` or ``diverged``. ``spectra``: singular values of the first transformed
    weight's (untransformed) gradient at the first step of the epochs in
    ``spectra_epochs``. ``grokfast_ema``: the Grokfast filter's running averages.
    ``steps``: optimizer steps taken (the learning-rate warm-up reads it).
    """

    epoch: int = 0
    transform_active: bool = True
    reached: int | None = None
    elapsed: float = 0.0
    status: Status = "running"
    history: History = field(default_factory=History)
    spectra: list[Tensor] = field(default_factory=list)
    spectra_epochs: list[int] = field(default_factory=list)
    grokfast_ema: list[Tensor] | None = None
    steps: int = 0

    def to_plain(self) -> dict:
        """Plain types and CPU tensors only: loadable with ``torch.load(weights_only=True)``."""
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        plain["history"] = self.history.to_lists()
        plain["spectra"] = [s.detach().cpu().clone() for s in self.spectra]
        plain["spectra_epochs"] = list(self.spectra_epochs)
        plain["grokfast_ema"] = (None if self.grokfast_ema is None
                                 else [h.detach().cpu().clone() for h in self.grokfast_ema])
        return plain

    @classmethod
    def from_plain(cls, plain: dict, device: torch.device | str = "cpu") -> TrainState:
        values = dict(plain)
        values["history"] = History.from_lists(plain["history"])
        ema = plain["grokfast_ema"]
        values["grokfast_ema"] = None if ema is None else [h.to(device) for h in ema]
        values["spectra"] = list(plain["spectra"])
        return cls(**values)


@dataclass(frozen=True)
class EpochMetrics:
    """One evaluation of the whole train and test sets (sums over examples)."""

    train_loss_sum: float
    train_correct: int
    test_loss_sum: float
    test_correct: int
    hidden_norm: float
    output_norm: float


class Diverged(ArithmeticError):
    """A step produced non-finite numbers (the linear algebra of a transform gave up)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Trainer.run`, taken at an epoch boundary.

    ``epoch``: epochs done; ``checkpointed``: whether a checkpoint of that epoch was written;
    ``where``: the checkpoint's path when the caller knows it (set by the runner);
    ``finished``: the interrupt came in the run's last epoch, after which its result was saved.
    """

    def __init__(self, epoch: int, checkpointed: bool, where: str | None = None, finished: bool = False) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.epoch, self.checkpointed, self.where, self.finished = epoch, checkpointed, where, finished


class _DeferredInterrupt:
    """Within ``with``: the first SIGINT only sets :attr:`requested`; a second one raises at once.

    Installed only in the main thread and only over Python's default handler (anything else,
    e.g. a handler the caller installed, is left alone and sees its signals as before).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ----------------------------------------------------------------------------- model, loss


def build_model(config: RunConfig, data: TaskData) -> nn.Module:
    """The model of ``config`` (the paper's MLP unless ``config.model`` says otherwise),
    initialised from ``config.seed`` on the CPU.

    With ``config.random_streams == "numpy"`` the weights are the authors' script's draws:
    ``RandomState(seed).randn`` for ``W1`` as ``(in, width)``, then ``b1``, then ``W2``, each
    times the paper's standard deviation (same distribution as ours, other numbers).
    """
    gen = torch.Generator().manual_seed(config.seed)
    if config.model == "transformer":
        from .transformer import DecoderTransformer

        return DecoderTransformer(config.p, config.width, generator=gen)
    if config.model == "mlp3":
        return ThreeLayerMLP(data.in_features, config.width, data.out_features, init_scale=config.init_scale,
                             generator=gen)
    bias_std = 0.0 if data.kind == "multiclass" else (2.0 / data.in_features) ** 0.5
    model = TwoLayerMLP(data.in_features, config.width, data.out_features,
                        hidden_bias_std=bias_std, generator=gen)
    if config.random_streams == "numpy":
        rs = np.random.RandomState(config.seed)
        d, h, o = data.in_features, config.width, data.out_features
        w1 = rs.randn(d, h) * (2.0 / d) ** 0.5
        b1 = rs.randn(h) * bias_std
        w2 = rs.randn(h, o) * (2.0 / h) ** 0.5
        with torch.no_grad():
            model.hidden.weight.copy_(torch.from_numpy(w1.T))
            model.hidden.bias.copy_(torch.from_numpy(b1))
            model.output.weight.copy_(torch.from_numpy(w2.T))
    return model


def per_example_loss(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """``(N,)`` losses: cross-entropy or ``mse`` (mean over the ``C`` outputs of ``(f - onehot(y))^2``,
    so the batch mean is torch's ``MSELoss()``) on ``(N, C)`` outputs, or squared / hinge on ``(N,)``."""
    if loss == "cross_entropy":
        return F.cross_entropy(out, y, reduction="none")
    if loss == "mse":
        return (out - F.one_hot(y, out.shape[-1]).to(out.dtype)).square().mean(-1)
    if loss == "squared":
        return (out - y).square()
    return torch.relu(1.0 - y * out)


def correct(out: Tensor, y: Tensor) -> Tensor:
    """``(N,)`` bool: argmax hits the class, or ``y f(x) > 0`` for ``±1`` labels."""
    return out.argmax(-1) == y if out.ndim == 2 else y * out > 0


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, loss: str, n_first: int) -> Tensor:
    """``[loss sum, correct count]`` of rows ``[:n_first]`` and of ``[n_first:]``, shape (4,).

    One chunked pass over the concatenated sets; stays on the device (no host sync).
    """
    losses, hits = [], []
    for start in range(0, x.shape[0], EVAL_CHUNK):
        out = model(x[start:start + EVAL_CHUNK])
        yc = y[start:start + EVAL_CHUNK]
        losses.append(per_example_loss(out, yc, loss))
        hits.append(correct(out, yc))
    losses = torch.cat(losses)
    hits = torch.cat(hits).to(losses.dtype)
    return torch.stack([losses[:n_first].sum(), hits[:n_first].sum(),
                        losses[n_first:].sum(), hits[n_first:].sum()])


# ----------------------------------------------------------------------------- the transform


def batch_rank(method: registry.Method, config: RunConfig) -> int | None:
    """The ``batch_rank=`` of the method's :func:`egd.orthogonalize` call: the batch size
    for ``egd-svd-batch``, else ``None``."""
    return config.batch_size if method.batch_rank else None


def transform_gradients(grads: list[Tensor], transformed: list[int], method: registry.Method,
                        config: RunConfig, state: TrainState, generator: torch.Generator) -> None:
    """The method's ``T``, in place on the list ``grads`` (entries replaced).

    ``transformed``: indices into ``grads`` of the transformed weights. EGD variants call
    :func:`egd.orthogonalize` (finiteness is checked once per epoch on the loss instead of
    per step; a linear-algebra failure on non-finite input raises :class:`Diverged`).
    """
    if method.transform == "orthogonalize":
        for i in transformed:
            try:
                grads[i] = orthogonalize(grads[i], method=method.orthogonalize_method, rank=config.rank,
                                         spectral_cutoff=config.spectral_cutoff, batch_rank=batch_rank(method, config),
                                         generator=generator, check_finite=False)
            except (torch.linalg.LinAlgError, RuntimeError) as exc:
                if torch.isfinite(grads[i]).all():
                    raise
                raise Diverged(f"non-finite gradient of parameter {i}") from exc
    elif method.transform == "column_normalize":
        for i in transformed:
            grads[i] = column_normalize(grads[i], floor=config.colnorm_floor)
    elif method.transform == "grokfast_ema":
        if state.grokfast_ema is None:
            state.grokfast_ema = grokfast_ema_init(grads)
        grokfast_ema_(grads, state.grokfast_ema, alpha=config.grokfast_alpha, lamb=config.grokfast_lamb)


# ----------------------------------------------------------------------------- adaptive optimizers


def build_optimizer(config: RunConfig, params: list[nn.Parameter],
                    decayed: list[int]) -> torch.optim.Optimizer | None:
    """``torch.optim.Adam`` / ``AdamW`` for ``config.optimizer``; ``None`` for the plain SGD step.

    Two parameter groups: the decayed parameters (indices ``decayed`` into ``params``) carry
    the optimizer's own ``weight_decay`` when ``config.weight_decay_mode == "decoupled"``
    (0 otherwise: the L2 term is then in the loss); the others none.
    """
    if config.optimizer == "sgd":
        return None
    wd = config.weight_decay if config.weight_decay_mode == "decoupled" else 0.0
    ids = set(decayed)
    groups = [{"params": [params[i] for i in decayed], "weight_decay": wd},
              {"params": [p for i, p in enumerate(params) if i not in ids], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[config.optimizer]
    return kind(groups, lr=config.lr, betas=config.betas)


def warmup_lr(config: RunConfig, step: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based): ``lr * min(step / warmup_steps, 1)``.

    The public transformer runs' ``LambdaLR(lambda u: 1 if u > 10 else u / 10)``: step 0 has
    learning rate 0 (Adam's moments still see its gradient).
    """
    if config.warmup_steps == 0:
        return config.lr
    return config.lr * min(step / config.warmup_steps, 1.0)


# ----------------------------------------------------------------------------- bookkeeping


def record_epoch(state: TrainState, metrics: EpochMetrics, *, n_train: int, n_test: int, transformed: bool) -> None:
    """Append one epoch's row to ``state.history`` and advance ``state.epoch``."""
    state.history.append(
        train_correct=metrics.train_correct, test_correct=metrics.test_correct,
        train_loss=metrics.train_loss_sum / n_train, test_loss=metrics.test_loss_sum / n_test,
        hidden_norm=metrics.hidden_norm, output_norm=metrics.output_norm,
        seconds=state.elapsed, transform_active=transformed)
    state.epoch += 1


def update_status(state: TrainState, config: RunConfig, metrics: EpochMetrics, *, n_test: int) -> None:
    """After an epoch: divergence, first threshold hit, Algorithm 1's switch-off, stop rules.

    * ``diverged``: the train loss is not finite;
    * threshold: the first epoch with test accuracy >= ``config.threshold`` sets
      ``reached`` and, with ``config.switch_off``, turns the transform off for good;
    * ``stopped``: ``config.patience`` epochs after ``reached``;
    * ``max_epochs``: ``config.max_epochs`` done without another stop.
    """
    if not math.isfinite(metrics.train_loss_sum):
        state.status = "diverged"
        return
    if state.reached is None and metrics.test_correct / n_test >= config.threshold:
        state.reached = state.epoch
        if config.switch_off:
            state.transform_active = False
    if state.reached is not None and config.patience is not None and state.epoch >= state.reached + config.patience:
        state.status = "stopped"
    elif state.epoch >= config.max_epochs:
        state.status = "max_epochs"


# ----------------------------------------------------------------------------- the trainer


class Trainer:
    """The live objects of one run (model, data, generator, state) and its named steps.

    ``snapshot``: a dict from :meth:`snapshot` to resume from (the model's weights and the
    generator's state are loaded from it).
    """

    def __init__(self, model: nn.Module, data: TaskData, config: RunConfig, *, snapshot: dict | None = None) -> None:
        if not isinstance(model, TrainableModel):
            raise TypeError(f"model must provide {sorted(n for n in TrainableModel.__dict__ if not n.startswith('_'))} "
                            f"(egd.grokking.engine.TrainableModel); got {type(model).__name__}")
        self.model, self.data, self.config = model, data, config
        self.method = registry.get_method(config.method)
        self.device = torch.device(config.device)
        self.params = list(model.parameters())
        index = {id(p): i for i, p in enumerate(self.params)}
        self.transformed = [index[id(p)] for p in model.transformed_parameters()]
        self.decayed = [index[id(p)] for p in model.decayed_parameters()]
        self.optimizer = build_optimizer(config, self.params, self.decayed)
        self.batch_metrics: Tensor | None = None
        self.generator = torch.Generator(device=self.device)
        self.interrupt_requested = False
        if config.train_metrics == "full":  # "batches": the train numbers come from the epoch's steps
            self.x_all = torch.cat([data.x_train, data.x_test])
            self.y_all = torch.cat([data.y_train, data.y_test])
        if snapshot is None:
            self.generator.manual_seed(config.seed)
            self.state = TrainState()
        else:
            self.restore(snapshot)

    # -- one step, one epoch, one evaluation

    def train_step(self, idx: Tensor, *, record_spectrum: bool = False) -> None:
        """One step on the mini-batch ``idx`` (indices into the training set): plain SGD, or
        the adaptive optimizer's step on the transformed gradients."""
        config, state, params = self.config, self.state, self.params
        out = self.model(self.data.x_train[idx])
        losses = per_example_loss(out, self.data.y_train[idx], config.loss)
        if self.batch_metrics is not None:
            with torch.no_grad():
                self.batch_metrics += torch.stack([losses.sum(), correct(out, self.data.y_train[idx]).sum()])
        loss = losses.mean()
        grads = list(torch.autograd.grad(loss, params))
        wd = config.weight_decay
        with torch.no_grad():
            if wd and config.weight_decay_mode == "loss":
                for i in self.decayed:
                    grads[i] = grads[i].add(params[i], alpha=wd)
            if record_spectrum:
                g = grads[self.transformed[0]].float()
                if not bool(torch.isfinite(g).all()):
                    raise Diverged("non-finite gradient of the hidden layer")
                state.spectra.append(torch.linalg.svdvals(g))
                state.spectra_epochs.append(state.epoch)
            if state.transform_active and self.method.transform != "none":
                transform_gradients(grads, self.transformed, self.method, config, state, self.generator)
            if self.optimizer is not None:
                self.adaptive_step(grads)
            else:
                if wd and config.weight_decay_mode == "decoupled":
                    for i in self.decayed:
                        grads[i] = grads[i].add(params[i], alpha=wd)
                torch._foreach_add_(params, grads, alpha=-config.lr)
        state.steps += 1

    def adaptive_step(self, grads: list[Tensor]) -> None:
        """Adam / AdamW on the (transformed) ``grads``; its own weight decay, if any, comes after ``T``."""
        for p, g in zip(self.params, grads):
            p.grad = g
        lr = warmup_lr(self.config, self.state.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        for p in self.params:
            p.grad = None

    def train_epoch(self) -> None:
        """A fresh permutation, then ``floor(n_train / batch)`` steps."""
        config, n_train = self.config, self.data.n_train
        batch = config.batch_size
        if config.train_metrics == "batches":
            self.batch_metrics = torch.zeros(2, device=self.device)
        spectrum = config.spectrum_every > 0 and self.state.epoch % config.spectrum_every == 0
        perm = torch.randperm(n_train, generator=self.generator, device=self.device)
        for step in range(n_train // batch):
            self.train_step(perm[step * batch:(step + 1) * batch], record_spectrum=spectrum and step == 0)

    def evaluate(self) -> EpochMetrics:
        """Loss and correct counts on both sets and the two recorded norms: one host sync.

        With ``config.train_metrics == "batches"`` only the test set is evaluated; the train
        numbers are those of the epoch's mini-batches before their steps (as the public
        transformer script logs them), scaled to counts and sums over ``n_train`` examples.
        """
        if self.batch_metrics is not None:
            test = evaluate(self.model, self.data.x_test, self.data.y_test, self.config.loss, 0)
            seen = (self.data.n_train // self.config.batch_size) * self.config.batch_size
            metrics = torch.cat([self.batch_metrics * (self.data.n_train / seen), test[2:]])
        else:
            metrics = evaluate(self.model, self.x_all, self.y_all, self.config.loss, self.data.n_train)
        with torch.no_grad():
            norms = torch.stack([torch.linalg.vector_norm(self.model.hidden_weight()),
                                 torch.linalg.vector_norm(self.model.output_weight())])
        tr_loss, tr_hit, te_loss, te_hit, h_norm, o_norm = torch.cat([metrics, norms]).tolist()
        return EpochMetrics(tr_loss, int(round(tr_hit)), te_loss, int(round(te_hit)), h_norm, o_norm)

    def transform_on(self) -> bool:
        return self.state.transform_active and self.method.transform != "none"

    # -- checkpoints

    def snapshot(self) -> dict:
        """A self-contained CPU copy of the run's progress (plain types and tensors)."""
        snap = {"format": CHECKPOINT_FORMAT,
                "state": self.state.to_plain(),
                "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
                "generator": self.generator.get_state()}
        if self.optimizer is not None:
            snap["optimizer"] = _to_cpu(self.optimizer.state_dict())
        return snap

    def restore(self, snapshot: dict) -> None:
        if snapshot.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"snapshot has format {snapshot.get('format')!r}, this engine reads {CHECKPOINT_FORMAT}")
        self.model.load_state_dict(snapshot["model"])
        self.generator.set_state(snapshot["generator"])
        self.state = TrainState.from_plain(snapshot["state"], self.device)
        if self.optimizer is not None:
            if "optimizer" not in snapshot:
                raise ValueError(f"snapshot has no optimizer state; optimizer {self.config.optimizer!r} needs it")
            self.optimizer.load_state_dict(snapshot["optimizer"])

    # -- the loop

    def run(self, *, checkpoint: Callable[[dict], None] | None = None,
            checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
            checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS,
            progress: bool = False, stop_after: int | None = None) -> TrainState:
        """Train until a stop rule fires (or ``stop_after`` epochs in this call).

        ``checkpoint(snapshot)`` is called, while running, every ``checkpoint_every`` epochs
        and after the first epoch that ends ``checkpoint_seconds`` (wall clock) or more after
        the previous checkpoint (``None``: by epochs only). Ctrl-C: see the module docstring;
        when it arrives in the epoch that finishes the run, the run returns normally and
        :attr:`interrupt_requested` is set, so the caller can save the result first.
        """
        check_int("checkpoint_every", checkpoint_every, minimum=1)
        if checkpoint_seconds is not None:
            check_real("checkpoint_seconds", checkpoint_seconds, low=0.0, low_open=True)
        if stop_after is not None:
            check_int("stop_after", stop_after, minimum=1)
        config, state, data = self.config, self.state, self.data
        self.interrupt_requested = False
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=config.max_epochs, initial=state.epoch, desc=f"{config.task} {config.method}",
                       unit="ep", dynamic_ncols=True)
        done_here = 0
        last_checkpoint = time.monotonic()
        try:
            with _DeferredInterrupt() as interrupt:
                while state.status == "running" and state.epoch < config.max_epochs:
                    metrics = self.run_epoch()
                    if bar is not None:
                        bar.update(1)
                        if state.epoch % 10 == 1 or state.status != "running":
                            bar.set_postfix_str(f"train {metrics.train_correct / data.n_train:.3f} "
                                                f"test {metrics.test_correct / data.n_test:.3f}", refresh=False)
                    done_here += 1
                    running = state.status == "running"
                    now = time.monotonic()
                    due = state.epoch % checkpoint_every == 0 or (
                        checkpoint_seconds is not None and now - last_checkpoint >= checkpoint_seconds)
                    if checkpoint is not None and running and (due or interrupt.requested):
                        checkpoint(self.snapshot())
                        last_checkpoint = now
                    if interrupt.requested:
                        if running:
                            raise Interrupted(state.epoch, checkpoint is not None)
                        self.interrupt_requested = True
                    if stop_after is not None and done_here >= stop_after:
                        break
        finally:
            if bar is not None:
                bar.close()
        if state.status == "running" and state.epoch >= config.max_epochs:
            state.status = "max_epochs"
        return state

    def run_epoch(self) -> EpochMetrics:
        """One epoch with its evaluation, history row and status update (divergence, stop rules)."""
        config, state, data = self.config, self.state, self.data
        transformed = self.transform_on()
        t0 = time.perf_counter()
        try:
            self.train_epoch()
        except Diverged:
            state.status = "diverged"
        metrics = self.evaluate()
        state.elapsed += time.perf_counter() - t0
        record_epoch(state, metrics, n_train=data.n_train, n_test=data.n_test, transformed=transformed)
        if state.status == "running":
            update_status(state, config, metrics, n_test=data.n_test)
        return metrics


def _to_cpu(value):
    """A copy of a nested optimizer state with every tensor on the CPU."""
    if isinstance(value, Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def fit(model: nn.Module, data: TaskData, config: RunConfig, *, state: dict | None = None,
        checkpoint: Callable[[dict], None] | None = None, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, progress: bool = False,
        stop_after: int | None = None) -> dict:
    """Train ``model`` on ``data`` as ``config`` says; return the final snapshot.

    ``model`` must satisfy :class:`TrainableModel` and live on ``config.device`` with
    ``data``. ``state``: a snapshot (:meth:`Trainer.snapshot`) to resume from.
    ``checkpoint(snapshot)`` is called every ``checkpoint_every`` epochs and every
    ``checkpoint_seconds`` (:meth:`Trainer.run`). ``stop_after``:
    return after this many epochs *in this call* (kill-and-resume tests, benchmarks).
    """
    trainer = Trainer(model, data, config, snapshot=state)
    trainer.run(checkpoint=checkpoint, checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                progress=progress, stop_after=stop_after)
    return trainer.snapshot()
