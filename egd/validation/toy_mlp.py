r"""A 2-layer ReLU network on the toy distribution: does the 1/eps plateau law survive?

Second level of the project's validation. The data are the toy model's (Section 3): train
``x ~ N(0, diag(1, eps))`` given ``|x1| >= s``, labels ``y = sign(x1)``, test set from the
distribution-shift case ``(x^T v) x1 <= 0`` (:mod:`toymodel.sampling`). The model is

    f(x) = a^T relu(W x + b),     W: (h, 2),  b: (h,),  a: (h,),

trained full batch on ``0.5 mean (f(x) - y)^2 + 0.5 wd (||W||^2 + ||a||^2)``.

Initialisation at the toy's ``w(0) = (0, zeta)``: units come in mirrored pairs
``(w_j, a_j)`` and ``(-w_j, -a_j)`` with ``w_j = c_j (delta_j, zeta)``, ``a_j = 1/(h/2 c_j)``,
``c_j ~ U[0.5, 1.5]`` and small ``delta_j``; since ``relu(z) - relu(-z) = z`` the network
starts *exactly* as the linear classifier ``x -> zeta x2`` (plus the small ``delta``), whose
shifted test error is 1 — the toy's large-initialisation plateau. After that the network
is free to be nonlinear.

Methods (only the hidden weight ``W`` is transformed, as in the paper's main results):
``"gd"`` plain; ``"egd-svd"`` ``W.grad -> U V^T`` (exact); ``"egd-rsvd"`` randomized SVD of
rank ``rsvd_rank`` (default 1: only the top singular direction of the ``(h, 2)`` gradient is
updated, the paper's warning that directions past the rank get no update at all).

Plateau measure: ``plateau`` is the first recorded step with shifted test error below
``ToyMLPConfig.plateau_level``; the default is the toy chapters' *measured escape time*
(error below :data:`toymodel.experiments.PLATEAU_THRESHOLD`, 0.99), recorded every step.
The *half-error time* (level :data:`HALF_ERROR_LEVEL`) is the second measure the book uses
here: the network leaves error 1 long before most of the shifted test set is right.

Many models (every ``eps`` x ``seed``) train at once as one batch: ``egd.orthogonalize``
works on ``(B, h, 2)`` stacks, so one loop serves the whole sweep. :data:`PROFILES` holds
the book's two sweeps per profile (:class:`ToyMLPSweep`).

A sweep's runs can be saved and found again by its settings (:func:`sweep_key`,
:func:`run_or_load`): one ``.npz`` per sweep kind and method under a results folder (the
book's committed ones in :data:`TOY_MLP_SUBDIR`), written atomically, with the seconds the
training took.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from egd.grokking.files import atomic_write_bytes
from egd.transforms import orthogonalize

__all__ = ["TOY_MLP_METHODS", "ESCAPE_LEVEL", "HALF_ERROR_LEVEL", "ToyMLPConfig", "ToyMLPSweep", "FULL_ESCAPE_EPS",
           "PROFILES", "train_toy_mlp", "plateau_steps", "TOY_MLP_SUBDIR", "sweep_key", "sweep_path", "save_sweep_run",
           "load_sweep_run", "find_sweep", "run_or_load"]

TOY_MLP_METHODS = ("gd", "egd-svd", "egd-rsvd")
#: The measured escape time's level (the toy chapters' ``toymodel.experiments.PLATEAU_THRESHOLD``,
#: repeated here so that importing this module does not import ``toymodel``; a test pins the two).
ESCAPE_LEVEL = 0.99
#: The half-error time's level: half of the shifted test set classified correctly.
HALF_ERROR_LEVEL = 0.5


@dataclasses.dataclass(frozen=True)
class ToyMLPConfig:
    """Hyper-parameters of the toy-MLP experiment (defaults: the book's setting)."""

    width: int = 32
    n_train: int = 1000
    n_test: int = 4000
    s: float = 0.0  # margin of the train distribution; see the chapter for s = 1
    theta: float = math.pi / 4
    zeta: float = 3.0
    x1_init_scale: float = 0.01
    eta: float = 0.1
    wd: float = 0.0
    max_steps: int = 6000
    eval_every: int = 1
    plateau_level: float = ESCAPE_LEVEL
    rsvd_rank: int = 1
    stop_early: bool = True  # stop once every network is below plateau_level


    def __post_init__(self) -> None:
        for name in ("width", "n_train", "n_test", "max_steps", "eval_every", "rsvd_rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.width % 2:
            raise ValueError(f"width must be even (units come in mirrored pairs), got {self.width}")
        if not (0 < self.theta < math.pi / 2):
            raise ValueError(f"theta must lie in (0, pi/2), got {self.theta!r}")
        if self.s < 0:
            raise ValueError(f"s must be >= 0, got {self.s!r}")
        if not (self.eta > 0 and math.isfinite(self.eta)):
            raise ValueError(f"eta must be a finite number > 0, got {self.eta!r}")
        if self.wd < 0:
            raise ValueError(f"wd must be >= 0, got {self.wd!r}")
        if not (0 < self.plateau_level <= 1):
            raise ValueError(f"plateau_level must lie in (0, 1], got {self.plateau_level!r}")
        if self.zeta <= 0:
            raise ValueError(f"zeta must be > 0, got {self.zeta!r}")
        if not isinstance(self.stop_early, bool):
            raise ValueError(f"stop_early must be a bool, got {self.stop_early!r}")


@dataclasses.dataclass(frozen=True)
class ToyMLPSweep:
    """One level-2 sweep: a network per ``eps`` x ``seed``, for each of ``methods``, with ``config``."""

    eps: tuple[float, ...]
    seeds: tuple[int, ...]
    config: ToyMLPConfig
    methods: tuple[str, ...] = TOY_MLP_METHODS

    def __post_init__(self) -> None:
        if not self.eps or any(not (math.isfinite(e) and e > 0) for e in self.eps):
            raise ValueError(f"eps must be a non-empty tuple of finite numbers > 0, got {self.eps!r}")
        if not self.seeds:
            raise ValueError("seeds must be non-empty")
        if not self.methods or set(self.methods) - set(TOY_MLP_METHODS):
            raise ValueError(f"methods must be a non-empty tuple of {TOY_MLP_METHODS}, got {self.methods!r}")

    def run(self) -> dict[str, dict]:
        """``{method: train_toy_mlp(...)}`` for every method of the sweep."""
        return {m: train_toy_mlp(self.eps, self.seeds, method=m, config=self.config) for m in self.methods}


#: The book's level-2 sweeps. ``"escape"``: the measured escape time against eps (recorded
#: every step, stops once every network has escaped). ``"curves"``: whole test-error curves
#: at one eps, never stopped early, for the half-error time and the figure.
#: quick: five eps down to 1e-3, five seeds (curves: three); full: six eps over two decades
#: (1e-3 to 1e-1, evenly spaced in log eps), ten seeds, and a longer curves sweep. The full escape
#: sweep is the one the book shows in both profiles once its runs are committed
#: (:data:`TOY_MLP_SUBDIR`). Its 60 networks train as one batch at ~0.18 CPU seconds a step on the
#: 2-core machine (~2 s a step of wall time while it was shared), until the slowest has escaped
#: (GD: 248 steps). Seven eps down to 1e-4 would cost more than the time the committed sweep had:
#: a probe of GD at 1e-4 with ten seeds needed 1,920 steps, EGD 176 (~7 CPU minutes for the
#: three methods, ~1-2 h of wall time on the shared machine). GD's escape times there spread from
#: 17 to 1,920 steps (median 574; at 1e-3: 175 to 248), so that grid's slope would be far less certain.
#: The full escape sweep's eps, 10^(-3 + 2i/5) for i = 0..5, written out to the last bit: a sweep's
#: key hashes its floats, and np.logspace's last bit differs between numpy releases (2.4.6 gives
#: 0.00630957344480193 for the third), which would hide the committed sweep from a fresh install.
FULL_ESCAPE_EPS = (0.001, 0.0025118864315095794, 0.006309573444801929, 0.01584893192461114, 0.039810717055349734,
                   0.1)

PROFILES: dict[str, dict[str, ToyMLPSweep]] = {
    "quick": {
        "escape": ToyMLPSweep(eps=(1e-1, 3e-2, 1e-2, 3e-3, 1e-3), seeds=(0, 1, 2, 3, 4),
                              config=ToyMLPConfig(max_steps=6000)),
        "curves": ToyMLPSweep(eps=(1e-2,), seeds=(0, 1, 2),
                              config=ToyMLPConfig(max_steps=6000, eval_every=10, plateau_level=HALF_ERROR_LEVEL,
                                                  stop_early=False)),
    },
    "full": {
        "escape": ToyMLPSweep(eps=FULL_ESCAPE_EPS, seeds=tuple(range(10)),
                              config=ToyMLPConfig(max_steps=200_000)),
        "curves": ToyMLPSweep(eps=(1e-2,), seeds=tuple(range(10)),
                              config=ToyMLPConfig(max_steps=50_000, eval_every=10, plateau_level=HALF_ERROR_LEVEL,
                                                  stop_early=False)),
    },
}


def _stack_data(eps_values: Sequence[float], seeds: Sequence[int], config: ToyMLPConfig):
    # sampling is numpy-only; imported here so that egd's import does not pull toymodel in
    from toymodel.sampling import sample_shift_test, sample_train

    train, test = [], []
    for eps in eps_values:
        for seed in seeds:
            train.append(sample_train(config.n_train, eps=eps, s=config.s, seed=seed))
            test.append(sample_shift_test(config.n_test, eps=eps, theta=config.theta, seed=10_000 + seed))
    as_tensor = lambda parts, i: torch.as_tensor(np.stack([p[i] for p in parts]), dtype=torch.float64)
    return as_tensor(train, 0), as_tensor(train, 1), as_tensor(test, 0), as_tensor(test, 1)


def _init_params(batch: int, seeds: Sequence[int], config: ToyMLPConfig):
    half = config.width // 2
    W, a = [], []
    for index in range(batch):
        g = torch.Generator().manual_seed(int(seeds[index % len(seeds)]))
        c = torch.rand(half, generator=g, dtype=torch.float64) + 0.5
        delta = config.x1_init_scale * torch.randn(half, generator=g, dtype=torch.float64)
        w = torch.stack([delta, torch.full((half,), config.zeta, dtype=torch.float64)], -1) * c[:, None]
        W.append(torch.cat([w, -w]))
        a_half = 1.0 / (half * c)
        a.append(torch.cat([a_half, -a_half]))
    W = torch.stack(W).requires_grad_(True)
    a = torch.stack(a).requires_grad_(True)
    b = torch.zeros(batch, config.width, dtype=torch.float64, requires_grad=True)
    return W, b, a


def _forward(X, W, b, a):
    hidden = torch.relu(X @ W.transpose(1, 2) + b[:, None, :])  # (B, n, h)
    return (hidden * a[:, None, :]).sum(-1)  # (B, n)


def train_toy_mlp(
    eps_values: Sequence[float],
    seeds: Sequence[int],
    *,
    method: str,
    config: ToyMLPConfig = ToyMLPConfig(),
) -> dict:
    """Train one network per ``(eps, seed)`` and record the shifted test error.

    Returns a dict with ``eps`` (B,), ``seed`` (B,), ``step`` (T,) and ``test_error`` (B, T)
    sampled every ``config.eval_every`` steps, ``plateau`` (B,) = first recorded step
    with test error below ``config.plateau_level`` (NaN if never, i.e. censored at
    ``max_steps``), and ``max_steps``. With ``config.stop_early`` training stops once every
    network has crossed.
    """
    if method not in TOY_MLP_METHODS:
        raise ValueError(f"method must be one of {TOY_MLP_METHODS}, got {method!r}")
    eps_values = [float(e) for e in eps_values]
    if not eps_values or any(not (e > 0) for e in eps_values):
        raise ValueError(f"eps_values must be a non-empty list of numbers > 0, got {eps_values!r}")
    if not seeds:
        raise ValueError("seeds must be non-empty")
    X, y, X_test, y_test = _stack_data(eps_values, seeds, config)
    W, b, a = _init_params(X.shape[0], seeds, config)
    generator = torch.Generator().manual_seed(0)
    errors, steps = [], []
    crossed = torch.zeros(X.shape[0], dtype=torch.bool)
    for step in range(config.max_steps + 1):
        if step % config.eval_every == 0:
            with torch.no_grad():
                error = ((_forward(X_test, W, b, a) * y_test) <= 0).double().mean(-1)
            errors.append(error)
            steps.append(step)
            crossed |= error < config.plateau_level
            if (config.stop_early and bool(crossed.all())) or step == config.max_steps:
                break
        residual = _forward(X, W, b, a) - y
        loss = 0.5 * (residual**2).mean(-1).sum() + 0.5 * config.wd * ((W**2).sum() + (a**2).sum())
        grad_W, grad_b, grad_a = torch.autograd.grad(loss, (W, b, a))
        if method == "egd-svd":
            grad_W = orthogonalize(grad_W, method="svd")
        elif method == "egd-rsvd":
            grad_W = orthogonalize(grad_W, method="rsvd", rank=config.rsvd_rank, generator=generator)
        with torch.no_grad():
            W -= config.eta * grad_W
            b -= config.eta * grad_b
            a -= config.eta * grad_a
    test_error = torch.stack(errors, 1).numpy()
    step_axis = np.asarray(steps)
    return {
        "method": method,
        "eps": np.repeat(eps_values, len(seeds)),
        "seed": np.tile(np.asarray(seeds), len(eps_values)),
        "step": step_axis,
        "test_error": test_error,
        "plateau": plateau_steps(test_error, step_axis, level=config.plateau_level),
        "max_steps": config.max_steps,
    }


def plateau_steps(test_error: np.ndarray, step: np.ndarray, *, level: float) -> np.ndarray:
    """First ``step`` at which each row of ``test_error`` (B, T) drops below ``level``; NaN if never."""
    below = np.asarray(test_error) < level
    first = np.argmax(below, axis=-1)
    return np.where(below.any(-1), np.asarray(step)[first], np.nan)


# --- saved sweeps --------------------------------------------------------------------------

#: The book's committed level-2 sweeps live in this subfolder of the results folder.
TOY_MLP_SUBDIR = "08_toy_mlp"
#: Arrays of a run dict (:func:`train_toy_mlp`) as saved; ``method`` and ``max_steps`` go with them.
_RUN_ARRAYS = ("eps", "seed", "step", "test_error", "plateau")


def sweep_key(sweep: ToyMLPSweep, method: str) -> str:
    """12 hex digits that name the settings of one method's runs of ``sweep`` (eps, seeds, config)."""
    if method not in sweep.methods:
        raise ValueError(f"method must be one of the sweep's {sweep.methods}, got {method!r}")
    settings = {"eps": [float(e) for e in sweep.eps], "seeds": [int(s) for s in sweep.seeds], "method": method,
                "config": dataclasses.asdict(sweep.config)}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def sweep_path(sweep: ToyMLPSweep, method: str, results_dir: str | os.PathLike, *, kind: str) -> Path:
    """Where one method's runs of ``sweep`` are saved: ``<results_dir>/<kind>-<method>-<key>.npz``."""
    return Path(results_dir) / f"{kind}-{method}-{sweep_key(sweep, method)}.npz"


def save_sweep_run(run: dict, path: str | os.PathLike, *, seconds: float | None = None) -> Path:
    """Write ``run`` (:func:`train_toy_mlp`'s dict) and the training ``seconds`` to ``path`` atomically."""
    buffer = io.BytesIO()
    arrays = {name: np.asarray(run[name]) for name in _RUN_ARRAYS}
    np.savez_compressed(buffer, **arrays, method=np.asarray(run["method"]), max_steps=np.asarray(run["max_steps"]),
                        seconds=np.asarray(np.nan if seconds is None else seconds, dtype=float))
    return atomic_write_bytes(path, buffer.getvalue())


def load_sweep_run(path: str | os.PathLike) -> dict:
    """A run dict saved by :func:`save_sweep_run`, with its ``seconds`` (NaN if not recorded)."""
    with np.load(path, allow_pickle=False) as data:
        run = {name: data[name] for name in _RUN_ARRAYS}
        run.update(method=str(data["method"]), max_steps=int(data["max_steps"]), seconds=float(data["seconds"]))
    return run


def find_sweep(sweep: ToyMLPSweep, results_dir: str | os.PathLike, *, kind: str) -> dict[str, dict] | None:
    """``{method: run}`` of ``sweep`` loaded from ``results_dir`` when every method's file is there, else None."""
    paths = {m: sweep_path(sweep, m, results_dir, kind=kind) for m in sweep.methods}
    if not all(p.exists() for p in paths.values()):
        return None
    return {m: load_sweep_run(p) for m, p in paths.items()}


def run_or_load(sweep: ToyMLPSweep, results_dir: str | os.PathLike, *, kind: str,
                echo=None) -> dict[str, dict]:
    """``{method: run}`` of ``sweep``: each method loaded from ``results_dir`` or trained and saved there
    (one file per method, so an interrupted sweep keeps the methods it finished)."""
    runs = {}
    for method in sweep.methods:
        path = sweep_path(sweep, method, results_dir, kind=kind)
        if path.exists():
            runs[method] = load_sweep_run(path)
            continue
        start = time.perf_counter()
        run = train_toy_mlp(sweep.eps, sweep.seeds, method=method, config=sweep.config)
        seconds = time.perf_counter() - start
        save_sweep_run(run, path, seconds=seconds)
        runs[method] = {**run, "seconds": seconds}
        if echo is not None:
            echo(f"{kind} {method}: {len(run['plateau'])} networks, {run['step'][-1]} steps, {seconds:.0f} s -> {path}")
    return runs
