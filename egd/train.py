r"""Training engine: plain SGD on the hidden-layer-transformed gradient (Algorithm 1).

One step on a mini-batch ``B`` (Section 4, main-results convention):

.. math::
    L(W) = \frac1{|B|}\sum_{i\in B} \ell(f(x_i), y_i)
           + \tfrac{wd}{2}\,(\|W_1\|_F^2 + \|W_2\|_F^2), \qquad
    W \leftarrow W - lr\,T(\nabla_W L)

where ``T`` is the method's transform (:mod:`egd.methods`) for the hidden layer's weight
(``model.transformed_parameters()``) and the identity for every other parameter
(Grokfast filters all of them). The L2 term is part of the loss, so ``wd * W1`` passes
through ``T``; its gradient is added analytically (identical to differentiating it).
Once the test (= validation) accuracy after an epoch reaches ``threshold``, ``T`` is
switched off for the rest of the run (Algorithm 1).

Epoch = a fresh permutation of the training set, ``floor(N / batch)`` steps (the last
partial batch is dropped, as in the authors' code), then one evaluation of the whole
train and test sets. Metrics stay on the device; the host reads them once per epoch.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from . import methods
from .config import DEFAULT_CHECKPOINT_EVERY, RunConfig, config_key, device_name
from .models import TwoLayerMLP
from .results import (HISTORY_DTYPES, RunResult, checkpoint_path, find_run, load_checkpoint,
                      save_checkpoint, save_run)
from .tasks import TaskData
from .transforms import column_normalize, grokfast_ema_, grokfast_ema_init, orthogonalize

#: Rows per evaluation chunk: keeps the (rows, width) hidden activations cache-sized.
EVAL_CHUNK = 2048


def build_model(config: RunConfig, data: TaskData) -> TwoLayerMLP:
    """The paper's MLP for ``config``, initialised from ``config.seed`` on the CPU.

    With ``config.random_streams == "numpy"`` the weights are the authors' script's draws:
    ``RandomState(seed).randn`` for ``W1`` as ``(in, width)``, then ``b1``, then ``W2``, each
    times the paper's standard deviation (same distribution as ours, other numbers).
    """
    gen = torch.Generator().manual_seed(config.seed)
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


def per_example_loss(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """``(N,)`` losses: cross-entropy on ``(N, C)`` logits, or squared / hinge on ``(N,)``."""
    if loss == "cross_entropy":
        return F.cross_entropy(out, y, reduction="none")
    if loss == "squared":
        return (out - y).square()
    return torch.relu(1.0 - y * out)


def correct(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(N,)`` bool: argmax hits the class, or ``y f(x) > 0`` for ``±1`` labels."""
    return out.argmax(-1) == y if out.ndim == 2 else y * out > 0


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, n_first: int) -> torch.Tensor:
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


def environment(device: str) -> dict:
    """What produced the numbers: torch, device name, threads, git commit."""
    dev = torch.device(device)
    name = device_name(dev)
    package_dir = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=package_dir).stdout.strip() or None
        # a commit alone does not pin the code when tracked files were edited after it
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                                    capture_output=True, text=True, timeout=5, cwd=package_dir).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"torch": torch.__version__, "device": str(dev), "device_name": name,
            "threads": torch.get_num_threads(), "python": platform.python_version(), "git_commit": commit,
            "git_dirty": dirty if commit else None}


def summarize(config: RunConfig, history: dict[str, np.ndarray], data: TaskData, status: str) -> dict:
    """Epochs and seconds to ``threshold`` test accuracy (first epoch with acc >= it)."""
    test_acc = np.asarray(history["test_correct"], dtype=np.float64) / data.n_test
    hit = np.flatnonzero(test_acc >= config.threshold)
    reached = int(hit[0]) + 1 if hit.size else None
    return {
        "status": status,
        "epochs_run": int(len(test_acc)),
        "epochs_to_threshold": reached,
        "seconds_to_threshold": float(history["seconds"][reached - 1]) if reached else None,
        "final_train_acc": float(history["train_correct"][-1]) / data.n_train if len(test_acc) else None,
        "final_test_acc": float(test_acc[-1]) if len(test_acc) else None,
        "max_test_acc": float(test_acc.max()) if len(test_acc) else None,
        "n_train": data.n_train,
        "n_test": data.n_test,
    }


def _transform_step(grads: list, config: RunConfig, method: methods.Method, targets: list[int],
                    state: dict, generator: torch.Generator) -> None:
    """Apply the method's transform to ``grads`` in place (list entries replaced)."""
    if method.transform == "orthogonalize":
        for i in targets:
            grads[i] = orthogonalize(grads[i], method=method.orthogonalize_method, rank=config.rank,
                                     generator=generator, check_finite=False)
    elif method.transform == "column_normalize":
        for i in targets:
            grads[i] = column_normalize(grads[i], floor=config.colnorm_floor)
    elif method.transform == "grokfast_ema":
        if state.get("ema") is None:
            state["ema"] = grokfast_ema_init(grads)
        grokfast_ema_(grads, state["ema"], alpha=config.grokfast_alpha, lamb=config.grokfast_lamb)


def fit(
    model: torch.nn.Module,
    data: TaskData,
    config: RunConfig,
    *,
    state: dict | None = None,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    progress: bool = False,
    stop_after: int | None = None,
) -> dict:
    """Train ``model`` on ``data`` as ``config`` says; return the final engine state.

    ``model`` must provide ``transformed_parameters()`` and ``decayed_parameters()`` (see
    :mod:`egd.models`) and live on ``config.device`` with ``data``. ``state``: a state from
    a checkpoint to resume from (its model weights are loaded into ``model``).
    ``checkpoint(state)`` is called every ``checkpoint_every`` epochs. ``stop_after``:
    return after this many epochs *in this call* (for tests of kill-and-resume).

    State keys: ``epoch`` (epochs done), ``model``, ``generator``, ``ema``, ``active``,
    ``reached`` (first epoch at threshold or None), ``elapsed`` (seconds), ``status``,
    ``history`` (lists per :data:`egd.results.HISTORY_DTYPES` column), ``spectra`` and
    ``spectra_epochs``.
    """
    method = methods.get_method(config.method)
    device = torch.device(config.device)
    params = list(model.parameters())
    ids = {id(p): i for i, p in enumerate(params)}
    targets = [ids[id(p)] for p in model.transformed_parameters()]
    decayed = [ids[id(p)] for p in model.decayed_parameters()]
    hidden = params[targets[0]]
    generator = torch.Generator(device=device)
    if state is None:
        generator.manual_seed(config.seed)
        state = {"epoch": 0, "ema": None, "active": True, "reached": None, "elapsed": 0.0,
                 "status": "running", "history": {k: [] for k in HISTORY_DTYPES},
                 "spectra": [], "spectra_epochs": []}
    else:
        model.load_state_dict(state["model"])
        generator.set_state(state["generator"])
        if state["ema"] is not None:
            state["ema"] = [h.to(device) for h in state["ema"]]
    history = state["history"]
    x_all = torch.cat([data.x_train, data.x_test])
    y_all = torch.cat([data.y_train, data.y_test])
    n_train, batch = data.n_train, config.batch_size
    n_steps = n_train // batch
    lr, wd = config.lr, config.weight_decay
    decay_in_loss = config.weight_decay_mode == "loss"
    done_here = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.max_epochs, initial=state["epoch"], desc=f"{config.task} {config.method}",
                   unit="ep", dynamic_ncols=True)
    try:
        while state["epoch"] < config.max_epochs and state["status"] == "running":
            epoch = state["epoch"]
            t0 = time.perf_counter()
            record_spectrum = config.spectrum_every > 0 and epoch % config.spectrum_every == 0
            perm = torch.randperm(n_train, generator=generator, device=device)
            for step in range(n_steps):
                idx = perm[step * batch:(step + 1) * batch]
                out = model(data.x_train[idx])
                loss = per_example_loss(out, data.y_train[idx], config.loss).mean()
                grads = list(torch.autograd.grad(loss, params))
                with torch.no_grad():
                    if wd and decay_in_loss:
                        for i in decayed:
                            grads[i] = grads[i].add(params[i], alpha=wd)
                    if record_spectrum and step == 0:
                        state["spectra"].append(torch.linalg.svdvals(grads[targets[0]].float()))
                        state["spectra_epochs"].append(epoch)
                    if state["active"] and method.transform != "none":
                        _transform_step(grads, config, method, targets, state, generator)
                    if wd and not decay_in_loss:
                        for i in decayed:
                            grads[i] = grads[i].add(params[i], alpha=wd)
                    torch._foreach_add_(params, grads, alpha=-lr)
            metrics = evaluate(model, x_all, y_all, config.loss, n_train)
            with torch.no_grad():
                norms = torch.stack([torch.linalg.vector_norm(hidden),
                                     torch.linalg.vector_norm(params[decayed[-1]])])
            tr_loss, tr_hit, te_loss, te_hit, h_norm, o_norm = torch.cat([metrics, norms]).tolist()  # one sync
            state["elapsed"] += time.perf_counter() - t0
            history["train_correct"].append(int(round(tr_hit)))
            history["test_correct"].append(int(round(te_hit)))
            history["train_loss"].append(tr_loss / n_train)
            history["test_loss"].append(te_loss / data.n_test)
            history["hidden_norm"].append(h_norm)
            history["output_norm"].append(o_norm)
            history["seconds"].append(state["elapsed"])
            history["transform_active"].append(state["active"] and method.transform != "none")
            state["epoch"] = epoch + 1
            test_acc = te_hit / data.n_test
            if not np.isfinite(tr_loss):
                state["status"] = "diverged"
            if state["reached"] is None and test_acc >= config.threshold:
                state["reached"] = epoch + 1
                if config.switch_off:
                    state["active"] = False
            if (state["reached"] is not None and config.patience is not None
                    and state["epoch"] >= state["reached"] + config.patience):
                state["status"] = "stopped"
            if bar is not None:
                bar.update(1)
                if epoch % 10 == 0 or state["status"] != "running":
                    bar.set_postfix_str(f"train {tr_hit / n_train:.3f} test {test_acc:.3f}", refresh=False)
            done_here += 1
            if checkpoint is not None and state["epoch"] % checkpoint_every == 0 and state["status"] == "running":
                checkpoint(_snapshot(state, model, generator))
            if stop_after is not None and done_here >= stop_after:
                break
    finally:
        if bar is not None:
            bar.close()
    if state["status"] == "running" and state["epoch"] >= config.max_epochs:
        state["status"] = "max_epochs"
    return _snapshot(state, model, generator)


def _snapshot(state: dict, model: torch.nn.Module, generator: torch.Generator) -> dict:
    """A self-contained, CPU-side copy of the engine state (checkpointable)."""
    snap = dict(state)
    snap["model"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    snap["generator"] = generator.get_state()
    snap["ema"] = None if state["ema"] is None else [h.detach().cpu().clone() for h in state["ema"]]
    snap["history"] = {k: list(v) for k, v in state["history"].items()}
    snap["spectra"] = [s.detach().cpu() for s in state["spectra"]]
    snap["spectra_epochs"] = list(state["spectra_epochs"])
    return snap


def result_from_state(config: RunConfig, data: TaskData, state: dict) -> RunResult:
    history = {k: np.asarray(v, dtype=HISTORY_DTYPES[k]) for k, v in state["history"].items()}
    width = min(config.width, data.in_features)
    spectra = (torch.stack(state["spectra"]).numpy() if state["spectra"]
               else np.zeros((0, width), dtype=np.float32))
    status = state["status"]
    return RunResult(config, history, spectra, np.asarray(state["spectra_epochs"], dtype=np.int32),
                     summarize(config, history, data, status), environment(config.device))


def train(
    config: RunConfig,
    *,
    out_dir: str | os.PathLike | None = None,
    resume: bool = True,
    reuse: bool = True,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    progress: bool = False,
    stop_after: int | None = None,
) -> RunResult:
    """Build the task and model of ``config``, train, and save the result in ``out_dir``.

    With ``out_dir``: a finished run with the same key is loaded instead of retrained
    (``reuse``); an unfinished one resumes from its checkpoint (``resume``), losing at most
    ``checkpoint_every`` epochs. ``stop_after`` (tests): interrupt after that many epochs,
    leaving a checkpoint and no result file; the returned result is the partial run.
    """
    if out_dir is not None and reuse:
        done = find_run(config, out_dir)
        if done is not None:
            return done
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an integer >= 1, got {checkpoint_every!r}")
    data = config.build_task().build(config.device)
    model = build_model(config, data).to(config.device)
    state, ckpt, save = None, None, None
    if out_dir is not None:
        ckpt = checkpoint_path(config, out_dir)
        if resume and ckpt.exists():
            state = load_checkpoint(ckpt)
            if state.get("key") != config_key(config):
                state = None

        def save(snap: dict) -> None:
            snap["key"] = config_key(config)
            save_checkpoint(snap, ckpt)

    state = fit(model, data, config, state=state, checkpoint=save, checkpoint_every=checkpoint_every,
                progress=progress, stop_after=stop_after)
    result = result_from_state(config, data, state)
    if out_dir is not None:
        if state["status"] == "running":  # interrupted on purpose: keep a checkpoint, no result
            save(state)
        else:
            save_run(result, out_dir)
            if ckpt.exists():
                ckpt.unlink()
    return result
