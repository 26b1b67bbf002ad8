r"""The batched engine: R runs of one shape trained at once, as one model with batched tensors.

A parity step (batch 32, width 100) costs a few hundred microseconds of Python and kernel
dispatch and almost no arithmetic, so one run at a time leaves the device idle. Here the
paper's MLP of R runs is held as stacked parameters ``W1: (R, width, in)``,
``b1: (R, width)``, ``W2: (R, out, width)`` and every step is one batched computation:

.. math::
    H_r = \mathrm{relu}(X_r W_{1,r}^\top + b_{1,r}), \qquad f_r = H_r W_{2,r}^\top
    \qquad (r = 1, \dots, R)

with ``torch.bmm`` / ``baddbmm`` (or a batched gather for one-hot inputs), and the
gradients of the two layers written out by hand (:func:`loss_gradient` and the chain rule
through the ReLU). Why not ``torch.func`` (``stack_module_state`` + ``functional_call``
+ ``vmap(grad(...))``): measured at R = 10 on a parity step (1 torch thread, CPU time),
vmap took 4.5x the time of the hand-written batched step (per run only 1.5x faster than one
run at a time, against 7x), and autograd on the batched ``bmm`` graph 1.8x; the model's one-hot gather
(:class:`egd.grokking.models.OneHotLinear`) also has no vmap rule. A two-layer MLP has two
short, exact gradient formulas, and the equivalence test (float64, batched against one at
a time, within 1e-9) pins them to autograd.

What stays per run: the seed and its generator (each run draws its own shuffles and RSVD
sketches from its own ``torch.Generator``, in the same order as the single-run engine, so
float64 histories agree to rounding), the method and its transform, the learning rate,
weight decay (and its mode), the data (seed, operation, anisotropy knob; shared when
equal), the threshold and switch-off, patience, ``max_epochs``, spectra, and the
:class:`~egd.grokking.engine.TrainState` with its history. The per-run bookkeeping is the
single-run engine's own: :func:`~egd.grokking.engine.record_epoch` and
:func:`~egd.grokking.engine.update_status`; the initial weights come from
:func:`~egd.grokking.engine.build_model`, so seed for seed the initialisations are the
single-run engine's; losses and hits are :func:`~egd.grokking.engine.per_example_loss` and
:func:`~egd.grokking.engine.correct`. A run that finishes drops out of the batch (the
stacked tensors are compacted) and its result can be written at once (:func:`train_batch`).

Exact EGD on the batch is one call of :func:`egd.orthogonalize` on ``(R', width, in)``
(the runs of the batch that use that backend and have not switched off). RSVD draws from
each run's own generator, so it is called run by run; Grokfast keeps each run's averages in
its state. Checkpoints are the single-run engine's snapshots, one per run, so a run
interrupted in a batch resumes in either engine.

Runs share a batch when :func:`batch_signature` agrees: task family, input and output
sizes, train and test sizes, width, batch size, loss, device and torch thread count (a
process computes with one count, and a CPU run's count is part of its key).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from egd.transforms import column_normalize, grokfast_ema_, grokfast_ema_init, orthogonalize

from . import registry
from .config import DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_SECONDS, RunConfig
from .engine import (
    CHECKPOINT_FORMAT,
    EVAL_CHUNK,
    EpochMetrics,
    Interrupted,
    TrainState,
    _DeferredInterrupt,
    batch_rank,
    build_model,
    correct,
    per_example_loss,
    record_epoch,
    update_status,
)
from .tasks import TaskData

__all__ = ["batch_signature", "group_configs", "loss_gradient", "BatchedTrainer", "train_batch", "ENGINE_NAME"]

#: ``env["engine"]`` of results written by this engine (results of the single-run engine
#: carry no ``engine`` entry).
ENGINE_NAME = "batched"
#: The gradient through a ReLU from its output: ``grad`` where ``out > 0``, else 0 (what autograd
#: applies for ``torch.relu``).
_relu_backward = torch.ops.aten.threshold_backward
#: Floats per evaluation chunk over all runs of the batch (the single-run engine's
#: ``EVAL_CHUNK`` rows times a width of 512), so the hidden activations stay cache-sized.
EVAL_ELEMENTS = EVAL_CHUNK * 512


# ----------------------------------------------------------------------------- grouping


#: What the batched engine implements: the paper's two-layer MLP on the modular and parity
#: tasks under plain SGD. A run with any other of these late fields (Appendix D's models,
#: Adam/AdamW, warm-up, Omnigrok's init scale, mini-batch train metrics) trains alone, in
#: the single-run engine.
BATCHED_FAMILIES = ("modular", "parity")
BATCHED_FIELDS = {"model": "mlp", "optimizer": "sgd", "warmup_steps": 0, "init_scale": 1.0, "train_metrics": "full"}


def batchable(config: RunConfig) -> bool:
    """Whether the batched engine can train ``config`` (:data:`BATCHED_FAMILIES`, :data:`BATCHED_FIELDS`)."""
    return (registry.TASKS[config.task][0] in BATCHED_FAMILIES
            and all(getattr(config, name) == value for name, value in BATCHED_FIELDS.items()))


def batch_signature(config: RunConfig) -> tuple:
    """What runs of one batch must share: everything that fixes a tensor's shape, the loss,
    the device and the torch thread count (task family, input/output sizes, train/test
    sizes, width, batch, loss, device, ``config.threads``)."""
    family = registry.TASKS[config.task][0]
    if family == "modular":
        shape = (2 * config.p, config.p, int(config.train_fraction * config.p**2), config.p**2)
    else:
        shape = (config.n, 1, config.n_train, config.n_train + config.n_test)
    return (family, *shape, config.width, config.batch_size, config.loss, str(torch.device(config.device)),
            config.threads)


def group_configs(configs: Sequence[RunConfig], max_runs: int) -> list[list[RunConfig]]:
    """``configs`` split into batches of at most ``max_runs`` runs with equal :func:`batch_signature`.

    Order is kept within a batch, and batches come in the order of their first run.
    """
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ValueError(f"max_runs must be an integer >= 1, got {max_runs!r}")
    from .config import config_key

    groups: dict[tuple, list[RunConfig]] = {}
    for config in configs:  # a run the batched engine cannot train is a batch of its own
        signature = batch_signature(config) if batchable(config) else ("single", config_key(config))
        groups.setdefault(signature, []).append(config)
    return [runs[i:i + max_runs] for runs in groups.values() for i in range(0, len(runs), max_runs)]


# ----------------------------------------------------------------------------- the loss's gradient


def loss_gradient(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """``d per_example_loss(out, y) / d out``, elementwise (same shape as ``out``).

    cross-entropy: ``softmax(out) - onehot(y)``; squared ``(f - y)^2``: ``2 (f - y)``;
    hinge ``max(0, 1 - y f)``: ``-y`` where ``1 - y f > 0``, else 0 (the subgradient
    autograd takes at the kink).
    """
    if loss == "cross_entropy":
        grad = torch.softmax(out, dim=-1)
        return grad.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(grad[..., :1], -1.0))
    if loss == "squared":
        return (out - y).mul_(2.0)
    if loss == "hinge":
        return torch.where(y * out < 1.0, -y, torch.zeros_like(out))
    raise ValueError(f"loss must be one of {registry.LOSSES}, got {loss!r}")


# ----------------------------------------------------------------------------- data


def _cast(data: TaskData, dtype: torch.dtype | None) -> TaskData:
    """Floating tensors of ``data`` in ``dtype`` (index inputs and class labels unchanged)."""
    if dtype is None:
        return data

    def cast(t: Tensor) -> Tensor:
        return t.to(dtype) if t.is_floating_point() else t

    return TaskData(cast(data.x_train), cast(data.y_train), cast(data.x_test), cast(data.y_test),
                    data.in_features, data.out_features, data.kind)


def _dense(x: Tensor, in_features: int, dtype: torch.dtype) -> Tensor:
    """One-hot index rows ``(N, j)`` as the 0/1 matrix ``(N, in_features)``; dense input unchanged."""
    if x.is_floating_point():
        return x
    out = torch.zeros(x.shape[0], in_features, dtype=dtype, device=x.device)
    return out.scatter_(1, x, 1.0)


@dataclass
class _Data:
    """The batch's data: shared by every run (``shared``) or one slice per run (leading ``R``).

    ``x_train``/``x_all``: ``(N, ·)`` when shared, else ``(R, N, ·)``; ``·`` is ``in``
    for dense input or ``j`` one-hot indices (``index``). ``x_all``/``y_all``: train rows,
    then test rows (one evaluation pass).
    """

    x_train: Tensor
    y_train: Tensor
    x_all: Tensor
    y_all: Tensor
    shared: bool
    index: bool
    n_train: int
    n_test: int
    in_features: int

    def select(self, keep: Tensor) -> None:
        if not self.shared:
            self.x_train, self.y_train = self.x_train[keep], self.y_train[keep]
            self.x_all, self.y_all = self.x_all[keep], self.y_all[keep]


def _stack_data(datas: list[TaskData], same: bool) -> _Data:
    first = datas[0]
    if same:
        x_tr, y_tr = first.x_train, first.y_train
        x_all, y_all = torch.cat([first.x_train, first.x_test]), torch.cat([first.y_train, first.y_test])
        index = not x_tr.is_floating_point()
    else:
        index = all(not d.x_train.is_floating_point() for d in datas)
        dtype = next((d.x_train.dtype for d in datas if d.x_train.is_floating_point()), torch.float32)
        if index:
            xs_tr, xs_te = [d.x_train for d in datas], [d.x_test for d in datas]
        else:
            xs_tr = [_dense(d.x_train, d.in_features, dtype) for d in datas]
            xs_te = [_dense(d.x_test, d.in_features, dtype) for d in datas]
        x_tr, y_tr = torch.stack(xs_tr), torch.stack([d.y_train for d in datas])
        x_all = torch.cat([x_tr, torch.stack(xs_te)], dim=1)
        y_all = torch.cat([y_tr, torch.stack([d.y_test for d in datas])], dim=1)
    return _Data(x_tr, y_tr, x_all, y_all, same, index, first.n_train, first.n_test, first.in_features)


# ----------------------------------------------------------------------------- the trainer


class BatchedTrainer:
    """The live tensors of R runs of one :func:`batch_signature` and their named steps.

    ``snapshots``: one entry per run, ``None`` (start from ``config.seed``) or a
    :meth:`egd.grokking.engine.Trainer.snapshot`-format dict to resume from (runs may be
    at different epochs). ``dtype``: the parameters' and dense data's dtype (default: the
    models' float32; the equivalence test uses float64).

    ``self.states[i]`` is run ``i``'s :class:`TrainState` throughout (finished runs
    included); ``self.alive`` lists the runs still in the stacked tensors, in their order.
    """

    def __init__(self, configs: Sequence[RunConfig], *, snapshots: Sequence[dict | None] | None = None,
                 dtype: torch.dtype | None = None) -> None:
        configs = list(configs)
        if not configs:
            raise ValueError("configs must hold at least one run, got none")
        single = [c for c in configs if not batchable(c)]
        if single:
            raise ValueError(f"the batched engine trains the two-layer MLP of the modular and parity tasks under "
                             f"SGD only ({BATCHED_FIELDS}); train {single[0].task}/{single[0].model}/"
                             f"{single[0].optimizer} with the single-run engine (egd.grokking.runner.train)")
        signatures = {batch_signature(c) for c in configs}
        if len(signatures) != 1:
            raise ValueError(f"configs must share one batch_signature (task family, sizes, width, batch, loss, "
                             f"device, threads) to train as one batch; got {len(signatures)}: {sorted(signatures)}")
        snapshots = list(snapshots) if snapshots is not None else [None] * len(configs)
        if len(snapshots) != len(configs):
            raise ValueError(f"snapshots must hold one entry per config ({len(configs)}), got {len(snapshots)}")
        self.configs = configs
        self.methods = [registry.get_method(c.method) for c in configs]
        self.device = torch.device(configs[0].device)
        self.loss = configs[0].loss
        self.batch = configs[0].batch_size
        tasks = [c.build_task() for c in configs]
        built: dict = {}
        for task in tasks:  # equal data modules are built once and shared
            if task not in built:
                built[task] = _cast(task.build(self.device), dtype)
        self.task_data = [built[t] for t in tasks]
        models = [build_model(c, d) for c, d in zip(configs, self.task_data)]
        self.generators = [torch.Generator(device=self.device) for _ in configs]
        self.states: list[TrainState] = []
        for config, model, gen, snap in zip(configs, models, self.generators, snapshots):
            if snap is None:
                gen.manual_seed(config.seed)
                self.states.append(TrainState())
            else:
                if snap.get("format") != CHECKPOINT_FORMAT:
                    raise ValueError(f"snapshot has format {snap.get('format')!r}, this engine reads "
                                     f"{CHECKPOINT_FORMAT}")
                model.load_state_dict(snap["model"])
                gen.set_state(snap["generator"])
                self.states.append(TrainState.from_plain(snap["state"], self.device))
        if dtype is not None:
            models = [m.to(dtype) for m in models]
        models = [m.to(self.device) for m in models]
        self.data = _stack_data(self.task_data, same=len(built) == 1)
        with torch.no_grad():
            self._set_hidden_weight(torch.stack([m.hidden_weight().detach() for m in models]))
            self.b1 = torch.stack([m.hidden.bias.detach() for m in models]).contiguous()
            self.W2 = torch.stack([m.output_weight().detach() for m in models]).contiguous()
        self.alive = list(range(len(configs)))
        self.final: dict[int, dict] = {}
        self.interrupt_requested = False
        self._per_run_tensors()

    def _set_hidden_weight(self, W1: Tensor) -> None:
        """``self.W1``: ``(R, width, in)``. For one-hot inputs its storage is ``(R, in, width)``
        (``self.W1`` is the transposed view): the forward pass gathers rows of it and the
        backward pass adds into rows of the gradient, with no transposing copy per step."""
        if self.data.index:
            self._W1t = W1.mT.contiguous()
            self.W1 = self._W1t.mT
        else:
            self._W1t = None
            self.W1 = W1.contiguous()

    # -- per-run hyper-parameters as tensors over the alive runs

    def _per_run_tensors(self) -> None:
        dtype, dev = self.W1.dtype, self.device
        cfgs = [self.configs[i] for i in self.alive]

        def column(values) -> Tensor:
            return torch.tensor(values, dtype=dtype, device=dev).view(-1, 1, 1)

        self.neg_lr = column([-c.lr for c in cfgs])
        self.neg_lr_rows = self.neg_lr.view(-1, 1)
        self.wd_loss = column([c.weight_decay if c.weight_decay_mode == "loss" else 0.0 for c in cfgs])
        self.wd_decoupled = column([c.weight_decay if c.weight_decay_mode == "decoupled" else 0.0 for c in cfgs])
        self.any_wd_loss = bool((self.wd_loss != 0).any())
        self.any_wd_decoupled = bool((self.wd_decoupled != 0).any())
        R, d = len(self.alive), self.data.in_features
        self.offsets = (torch.arange(R, device=dev) * d).view(R, 1, 1)
        self.rows = torch.arange(R, device=dev).view(R, 1)
        self.frozen: Tensor | None = None  # runs that diverged mid-epoch: no more updates this epoch
        self._groups: list | None = None

    def _compact(self) -> None:
        """Drop the finished runs from the stacked tensors."""
        keep_pos = [pos for pos, i in enumerate(self.alive) if self.states[i].status == "running"]
        if len(keep_pos) == len(self.alive):
            return
        keep = torch.tensor(keep_pos, dtype=torch.long, device=self.device)
        self._set_hidden_weight(self.W1.index_select(0, keep))
        self.b1, self.W2 = self.b1.index_select(0, keep), self.W2.index_select(0, keep)
        self.data.select(keep)
        self.alive = [self.alive[pos] for pos in keep_pos]
        self._per_run_tensors()

    # -- the transforms of one step

    def _plan(self) -> list[tuple[str, object, list[int]]]:
        """Groups of alive positions sharing one transform call: ``(kind, option, positions)``
        (kept until a run switches off, diverges or leaves)."""
        if self._groups is not None:
            return self._groups
        groups: dict[tuple, list[int]] = {}
        for pos, i in enumerate(self.alive):
            method, config, state = self.methods[i], self.configs[i], self.states[i]
            if not state.transform_active or method.transform == "none" or state.status != "running":
                continue
            if method.transform == "orthogonalize":
                key = (("rsvd", pos) if method.orthogonalize_method == "rsvd"
                       else ("orth", (method.orthogonalize_method, config.rank, config.spectral_cutoff,
                                      batch_rank(method, config))))
            elif method.transform == "column_normalize":
                key = ("colnorm", config.colnorm_floor)
            else:
                key = ("grokfast", pos)
            groups.setdefault(key, []).append(pos)
        self._groups = [(kind, option, positions) for (kind, option), positions in groups.items()]
        return self._groups

    def _orthogonalize_group(self, G: Tensor, positions: list[int], option: tuple) -> None:
        method, rank, cutoff, batch = option  # runs share a call when all four agree
        sel = self._index(positions)
        sub = G if sel is None else G.index_select(0, sel)
        try:
            out = orthogonalize(sub, method=method, rank=rank, spectral_cutoff=cutoff, batch_rank=batch,
                                check_finite=False)
        except (torch.linalg.LinAlgError, RuntimeError):
            out = sub.clone()
            for k, pos in enumerate(positions):  # find the run(s) whose gradient broke the linear algebra
                try:
                    out[k] = orthogonalize(sub[k], method=method, rank=rank, spectral_cutoff=cutoff,
                                           batch_rank=batch, check_finite=False)
                except (torch.linalg.LinAlgError, RuntimeError):
                    if torch.isfinite(sub[k]).all():
                        raise
                    self._diverge(pos)
        if sel is None:
            G.copy_(out)
        else:
            G.index_copy_(0, sel, out)

    def _index(self, positions: list[int]) -> Tensor | None:
        if positions == list(range(len(self.alive))):
            return None
        return torch.tensor(positions, dtype=torch.long, device=self.device)

    def _diverge(self, pos: int) -> None:
        """A run's linear algebra failed on non-finite numbers: stop it for the rest of the epoch."""
        self.states[self.alive[pos]].status = "diverged"
        if self.frozen is None:
            self.frozen = torch.zeros(len(self.alive), dtype=torch.bool, device=self.device)
        self.frozen[pos] = True
        self._groups = None

    def _transform(self, G1: Tensor, gb1: Tensor, gW2: Tensor) -> None:
        """Each run's method ``T`` on its gradients, in place (the switched-off runs untouched)."""
        for kind, option, positions in self._plan():
            if kind == "orth":
                self._orthogonalize_group(G1, positions, option)
            elif kind == "colnorm":
                sel = self._index(positions)
                if sel is None:
                    G1.copy_(column_normalize(G1, floor=option))
                else:
                    G1.index_copy_(0, sel, column_normalize(G1.index_select(0, sel), floor=option))
            elif kind == "rsvd":
                pos = positions[0]
                i = self.alive[pos]
                try:
                    G1[pos] = orthogonalize(G1[pos], method="rsvd", rank=self.configs[i].rank,
                                            generator=self.generators[i], check_finite=False)
                except (torch.linalg.LinAlgError, RuntimeError):
                    if torch.isfinite(G1[pos]).all():
                        raise
                    self._diverge(pos)
            else:  # grokfast: the run's own averages, on views of its rows
                pos = positions[0]
                i = self.alive[pos]
                state, config = self.states[i], self.configs[i]
                grads = [G1[pos], gb1[pos], gW2[pos]]
                if state.grokfast_ema is None:
                    state.grokfast_ema = [h.contiguous() for h in grokfast_ema_init(grads)]
                grokfast_ema_(grads, state.grokfast_ema, alpha=config.grokfast_alpha, lamb=config.grokfast_lamb)

    # -- one step, one epoch, one evaluation

    def _hidden(self, x: Tensor) -> Tensor:
        """Pre-activations ``(R, B, width)`` of the mini-batch inputs ``x``: ``(R, B, in)`` or indices ``(R, B, j)``."""
        if not self.data.index:
            return torch.baddbmm(self.b1.unsqueeze(1), x, self.W1.mT)
        R, B, j = x.shape
        W1t = self._W1t.view(-1, self._W1t.shape[2])  # (R * in, width): rows to gather
        # the sum of each row's j gathered rows in one pass (the same sums, in the same order,
        # as gathering them one by one and adding: measured 1.6x faster)
        pre = F.embedding_bag((x + self.offsets).view(R * B, j), W1t, mode="sum")
        return pre.view(R, B, -1).add_(self.b1.unsqueeze(1))

    def train_step(self, idx: Tensor, *, spectrum: Sequence[bool] = ()) -> None:
        """One SGD step of every alive run, run ``r`` on its mini-batch ``idx[r]`` (indices into
        its training set). ``spectrum[r]``: record run ``r``'s gradient spectrum first."""
        data, R = self.data, len(self.alive)
        if data.shared:
            flat_idx = idx.reshape(-1)
            x = data.x_train.index_select(0, flat_idx).view(*idx.shape, -1)
            y = data.y_train.index_select(0, flat_idx).view(idx.shape)
        else:
            x, y = data.x_train[self.rows, idx], data.y_train[self.rows, idx]
        act = self._hidden(x).relu_()
        out = torch.bmm(act, self.W2.mT)  # (R, B, out)
        if out.shape[-1] == 1:  # scalar output: labels as (R, B, 1), elementwise losses
            y = y.unsqueeze(-1)
        g_out = loss_gradient(out, y, self.loss).div_(self.batch)  # d mean-loss / d out
        gW2 = torch.bmm(g_out.mT, act)
        g_pre = _relu_backward(torch.bmm(g_out, self.W2), act, 0)
        gb1 = g_pre.sum(1)
        if data.index:
            B, j = x.shape[1], x.shape[2]
            flat = (x + self.offsets).reshape(R * B, j)
            g_flat = g_pre.reshape(R * B, -1)
            gW1t = torch.zeros(R * data.in_features, g_flat.shape[1], dtype=g_flat.dtype, device=self.device)
            for col in range(j):
                gW1t.index_add_(0, flat[:, col], g_flat)
            G1 = gW1t.view(R, data.in_features, -1).mT  # (R, width, in), laid out like self.W1
        else:
            G1 = torch.bmm(g_pre.mT, x)
        if self.any_wd_loss:
            G1.addcmul_(self.W1, self.wd_loss)
            gW2.addcmul_(self.W2, self.wd_loss)
        for pos, wanted in enumerate(spectrum):
            if wanted:
                state = self.states[self.alive[pos]]
                state.spectra.append(torch.linalg.svdvals(G1[pos].float()))
                state.spectra_epochs.append(state.epoch)
        self._transform(G1, gb1, gW2)
        if self.any_wd_decoupled:
            G1.addcmul_(self.W1, self.wd_decoupled)
            gW2.addcmul_(self.W2, self.wd_decoupled)
        if self.frozen is not None:
            for g in (G1, gb1, gW2):
                g.masked_fill_(self.frozen.view(-1, *([1] * (g.ndim - 1))), 0.0)
        self.W1.addcmul_(G1, self.neg_lr)
        self.b1.addcmul_(gb1, self.neg_lr_rows)
        self.W2.addcmul_(gW2, self.neg_lr)

    def train_epoch(self) -> None:
        """A fresh permutation per run (from its own generator), then ``floor(n_train / batch)`` steps."""
        n_train, batch = self.data.n_train, self.batch
        spectrum = []
        for i in self.alive:
            every = self.configs[i].spectrum_every
            spectrum.append(every > 0 and self.states[i].epoch % every == 0)
        perms = torch.stack([torch.randperm(n_train, generator=self.generators[i], device=self.device)
                             for i in self.alive])
        for step in range(n_train // batch):
            self.train_step(perms[:, step * batch:(step + 1) * batch], spectrum=spectrum if step == 0 else ())

    @torch.no_grad()
    def evaluate(self) -> list[EpochMetrics]:
        """Loss and correct counts on both sets and the two norms of every alive run: one host sync."""
        data, R = self.data, len(self.alive)
        n_all = data.n_train + data.n_test
        losses = torch.empty(R, n_all, dtype=self.W1.dtype, device=self.device)
        hits = torch.empty(R, n_all, dtype=self.W1.dtype, device=self.device)
        rows = max(1, EVAL_ELEMENTS // (R * self.W1.shape[1]))
        for start in range(0, n_all, rows):
            stop = min(start + rows, n_all)
            if data.shared and not data.index and self.W2.shape[1] == 1:
                # one GEMM for every run, (R * width, in) x (in, rows), laid out (R, width, rows)
                # so that the output layer is a batched (1, width) x (width, rows) product
                xc = data.x_all[start:stop]
                act = torch.addmm(self.b1.reshape(-1, 1), self.W1.reshape(-1, xc.shape[1]), xc.mT)
                act = act.relu_().view(R, -1, stop - start)
                out = torch.bmm(self.W2, act).squeeze(1)
            else:
                xc = data.x_all[start:stop].expand(R, -1, -1) if data.shared else data.x_all[:, start:stop]
                out = torch.bmm(self._hidden(xc).relu_(), self.W2.mT)
                if out.shape[-1] == 1:
                    out = out.squeeze(-1)
            yc = data.y_all[start:stop].expand(R, -1) if data.shared else data.y_all[:, start:stop]
            flat_out = out.reshape(R * (stop - start), *out.shape[2:])
            flat_y = yc.reshape(-1)
            losses[:, start:stop] = per_example_loss(flat_out, flat_y, self.loss).view(R, -1)
            hits[:, start:stop] = correct(flat_out, flat_y).view(R, -1)
        n = data.n_train
        norms = torch.stack([torch.linalg.vector_norm(self.W1, dim=(1, 2)),
                             torch.linalg.vector_norm(self.W2, dim=(1, 2))], dim=1)
        table = torch.cat([losses[:, :n].sum(1, keepdim=True), hits[:, :n].sum(1, keepdim=True),
                           losses[:, n:].sum(1, keepdim=True), hits[:, n:].sum(1, keepdim=True), norms], dim=1)
        return [EpochMetrics(tr_loss, int(round(tr_hit)), te_loss, int(round(te_hit)), h_norm, o_norm)
                for tr_loss, tr_hit, te_loss, te_hit, h_norm, o_norm in table.tolist()]

    # -- checkpoints

    def snapshot(self, i: int) -> dict:
        """Run ``i``'s progress in the single-run engine's snapshot format (its final one once finished)."""
        if i in self.final:
            return self.final[i]
        pos = self.alive.index(i)
        model = {"hidden.weight": self.W1[pos], "hidden.bias": self.b1[pos], "output.weight": self.W2[pos]}
        return {"format": CHECKPOINT_FORMAT,
                "state": self.states[i].to_plain(),
                "model": {k: v.detach().cpu().contiguous().clone() for k, v in model.items()},
                "generator": self.generators[i].get_state()}

    # -- the loop

    def run(self, *, on_finish: Callable[[int, TrainState], None] | None = None,
            checkpoint: Callable[[int, dict], None] | None = None,
            checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, checkpoint_seconds: float | None = None,
            progress: bool = False, stop_after: int | None = None) -> list[TrainState]:
        """Train every run until its own stop rule fires (or ``stop_after`` epochs in this call).

        ``on_finish(i, state)`` is called as soon as run ``i`` finishes; ``checkpoint(i,
        snapshot)`` every ``checkpoint_every`` epochs of run ``i`` while it runs, and for
        every running run once ``checkpoint_seconds`` of training passed since the last
        time-based save (None: by epochs only). Ctrl-C is taken at the end of the epoch: every
        running run is checkpointed, then :class:`~egd.grokking.engine.Interrupted` is raised;
        when that epoch finished every run, the run returns and sets
        :attr:`interrupt_requested`, so the caller can save the results first.
        """
        for i in list(self.alive):  # resumed at or past its last epoch
            state = self.states[i]
            if state.status == "running" and state.epoch >= self.configs[i].max_epochs:
                state.status = "max_epochs"
        self._finish(on_finish)
        bar = None
        if progress and self.alive:
            from tqdm.auto import tqdm
            left = max(self.configs[i].max_epochs - self.states[i].epoch for i in self.alive)
            bar = tqdm(total=left, desc=f"{self.configs[0].task} batch of {len(self.configs)}", unit="ep",
                       dynamic_ncols=True)
        self.interrupt_requested = False
        try:
            with _DeferredInterrupt() as interrupt:
                self._loop(interrupt, on_finish, checkpoint, checkpoint_every, checkpoint_seconds, bar, stop_after)
        finally:
            if bar is not None:
                bar.close()
        return self.states

    def _loop(self, interrupt, on_finish, checkpoint, checkpoint_every, checkpoint_seconds, bar, stop_after) -> None:
        """The epochs of :meth:`run`; Ctrl-C (``interrupt.requested``) is taken at the end of an epoch."""
        done_here = 0
        last_save = time.monotonic()
        while self.alive:
            transformed = [self.states[i].transform_active and self.methods[i].transform != "none"
                           for i in self.alive]
            t0 = time.perf_counter()
            self.train_epoch()
            metrics = self.evaluate()
            seconds = time.perf_counter() - t0
            for pos, i in enumerate(self.alive):
                state = self.states[i]
                state.elapsed += seconds
                record_epoch(state, metrics[pos], n_train=self.data.n_train, n_test=self.data.n_test,
                             transformed=transformed[pos])
                if state.status == "running":
                    update_status(state, self.configs[i], metrics[pos], n_test=self.data.n_test)
                if checkpoint is not None and state.status == "running" and state.epoch % checkpoint_every == 0:
                    checkpoint(i, self.snapshot(i))
            if (checkpoint is not None and checkpoint_seconds is not None
                    and time.monotonic() - last_save >= checkpoint_seconds):
                for i in self.alive:
                    if self.states[i].status == "running":
                        checkpoint(i, self.snapshot(i))
                last_save = time.monotonic()
            self.frozen, self._groups = None, None
            self._finish(on_finish)
            done_here += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{len(self.alive)} running", refresh=False)
            if interrupt.requested:  # Ctrl-C: every running run saved, then stop
                if not self.alive:  # the epoch finished every run: their results come first
                    self.interrupt_requested = True
                    break
                if checkpoint is not None:
                    for i in self.alive:
                        checkpoint(i, self.snapshot(i))
                raise Interrupted(max(self.states[i].epoch for i in self.alive), checkpoint is not None)
            if stop_after is not None and done_here >= stop_after:
                break

    def _finish(self, on_finish: Callable[[int, TrainState], None] | None) -> None:
        done = [i for i in self.alive if self.states[i].status != "running"]
        for i in done:
            self.final[i] = self.snapshot(i)
        self._compact()
        if on_finish is not None:
            for i in done:
                on_finish(i, self.states[i])


# ----------------------------------------------------------------------------- with the results store


def train_batch(configs: Sequence[RunConfig], *, out_dir=None, resume: bool = True, reuse: bool = True,
                checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, progress: bool = False,
                stop_after: int | None = None, dtype: torch.dtype | None = None) -> list:
    """:func:`egd.grokking.runner.train` for a batch: the :class:`~egd.grokking.store.RunResult` of
    every config, in order, trained together by :class:`BatchedTrainer`.

    With ``out_dir``: finished runs are loaded, not retrained (``reuse``); an interrupted
    run resumes from its checkpoint (``resume``; the single-run engine's files, so either
    engine can resume the other's runs); each run writes its standard result files as soon
    as it finishes, with ``env["engine"] = "batched"`` and ``env["batch_runs"]`` (the runs
    trained together). Checkpoints every ``checkpoint_every`` epochs and every
    ``checkpoint_seconds`` of training. ``stop_after``: interrupt after that many epochs,
    leaving a checkpoint of every unfinished run.

    As :func:`~egd.grokking.runner.train`, before any training: ``out_dir`` must be a
    writable folder, the device must exist, and for CPU runs ``torch.get_num_threads()``
    must equal ``config.threads`` (``ValueError`` otherwise); a damaged result or
    checkpoint under a run's name is moved aside with a warning naming it.
    """
    from egd._checks import check_int, check_real

    from .config import config_key
    from .environment import require_device, require_threads
    from .files import check_output_dir
    from .runner import _usable_checkpoint, result_from_state
    from .store import checkpoint_path, find_run, save_checkpoint, save_run, warn_other_engine

    configs = list(configs)
    check_int("checkpoint_every", checkpoint_every, minimum=1)
    if checkpoint_seconds is not None:
        check_real("checkpoint_seconds", checkpoint_seconds, low=0.0, low_open=True)
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs must be distinct runs; the same config appears more than once")
    results: list = [None] * len(configs)
    if out_dir is not None and reuse:
        results = [find_run(c, out_dir) for c in configs]
        for found in results:
            if found is not None:
                warn_other_engine(found, ENGINE_NAME)
    todo = [k for k, r in enumerate(results) if r is None]
    if not todo:
        return results
    batch = [configs[k] for k in todo]
    if out_dir is not None:
        check_output_dir(out_dir, name="out_dir")
    for device in sorted({c.device for c in batch}):
        require_device(device)
    for config in batch:
        require_threads(config)
    snapshots: list[dict | None] = [None] * len(batch)
    if out_dir is not None and resume:
        for n, config in enumerate(batch):
            ckpt = checkpoint_path(config, out_dir)
            if ckpt.exists():  # one of another key, or damaged: moved aside, the run starts afresh
                snapshots[n] = _usable_checkpoint(config, ckpt, config.build_task().build(config.device))
    trainer = BatchedTrainer(batch, snapshots=snapshots, dtype=dtype)

    def result(n: int, state: TrainState):
        res = result_from_state(batch[n], trainer.task_data[n], state)
        res.env.update(engine=ENGINE_NAME, batch_runs=len(batch))
        return res

    def save(n: int, snap: dict) -> None:
        snap["key"] = config_key(batch[n])
        save_checkpoint(snap, checkpoint_path(batch[n], out_dir))

    def finished(n: int, state: TrainState) -> None:
        res = result(n, state)
        results[todo[n]] = res
        if out_dir is not None:
            save_run(res, out_dir)
            checkpoint_path(batch[n], out_dir).unlink(missing_ok=True)

    trainer.run(on_finish=finished, checkpoint=save if out_dir is not None else None,
                checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds, progress=progress,
                stop_after=stop_after)  # Ctrl-C: Interrupted, with a checkpoint of every running run
    for n in list(trainer.alive):  # interrupted on purpose: keep checkpoints, no result files
        results[todo[n]] = result(n, trainer.states[n])
        if out_dir is not None:
            save(n, trainer.snapshot(n))
    if trainer.interrupt_requested:  # Ctrl-C in the batch's last epoch: the results are saved, now stop
        raise Interrupted(max(s.epoch for s in trainer.states), False, None, finished=out_dir is not None)
    return results

