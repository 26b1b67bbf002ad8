"""The engine with Adam / AdamW (Appendix D): one step equals the public library's, the transform
acts before Adam's moments, weight decay per mode, the learning-rate warm-up, and resume."""

import copy
import io

import numpy as np
import pytest
import torch

import egd
from egd.grokking.config import make_config
from egd.grokking.engine import (
    Trainer,
    TrainState,
    build_model,
    build_optimizer,
    per_example_loss,
    transform_gradients,
    warmup_lr,
)
from egd.grokking.registry import get_method
from egd.grokking.runner import result_from_state, train
from egd.grokking.store import checkpoint_path, load_checkpoint

STEP_ATOL = 1e-12  # float64: both paths do the same arithmetic up to summation order
HAND_ATOL = 1e-9  # see the hand-computed test: Adam amplifies roundoff zeros by 1/eps
METRIC_KEYS = ("train_correct", "test_correct", "train_loss", "test_loss", "hidden_norm", "output_norm")


def transformer_setup(method, mode="decoupled", optimizer="adam", **overrides):
    values = dict(p=11, width=16, batch_size=32, weight_decay=3e-2, weight_decay_mode=mode, optimizer=optimizer,
                  seed=3, warmup_steps=0, max_epochs=4, patience=None)
    values.update(overrides)
    config = make_config("mod-mul", method, preset="transformer", **values)
    data = config.build_task().build("cpu")
    return config, data, build_model(config, data).double()


def reference_step(model, data, config, idx):
    """The same step with the public library: egd.EGD around torch's Adam / AdamW."""
    decayed = model.decayed_parameters()
    ids = {id(p) for p in decayed}
    wd = config.weight_decay if config.weight_decay_mode == "decoupled" else 0.0
    groups = [{"params": decayed, "weight_decay": wd},
              {"params": [p for p in model.parameters() if id(p) not in ids], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    inner = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[config.optimizer](
        groups, lr=config.lr, betas=config.betas)
    opt = egd.EGD(inner, model.transformed_parameters()) if config.method == "egd-svd" else inner
    loss = per_example_loss(model(data.x_train[idx]), data.y_train[idx], config.loss).mean()
    if config.weight_decay_mode == "loss":
        loss = loss + egd.l2_penalty(decayed, config.weight_decay)
    opt.zero_grad()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
@pytest.mark.parametrize("mode", ["loss", "decoupled"])
@pytest.mark.parametrize("method", ["egd-svd", "vanilla"])
def test_one_engine_step_equals_one_egd_adam_step(method, mode, optimizer):
    config, data, model = transformer_setup(method, mode, optimizer)
    twin = copy.deepcopy(model)
    idx = torch.arange(config.batch_size)
    Trainer(model, data, config).train_step(idx)
    reference_step(twin, data, config, idx)
    start = build_model(config, data).double()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=STEP_ATOL, rtol=0), name
    moved = max((a - c).abs().max().item() for a, c in zip(model.parameters(), start.parameters()))
    assert moved > 0.5 * config.lr  # Adam's first step moves each weight by about lr


def test_mnist_mlp_step_equals_one_egd_adamw_step():
    config = make_config("digits", "egd-svd", preset="smoke", seed=2)
    data = config.build_task().build("cpu")
    model = build_model(config, data).double()
    data = type(data)(data.x_train.double(), data.y_train, data.x_test.double(), data.y_test,
                      data.in_features, data.out_features, data.kind)
    twin = copy.deepcopy(model)
    idx = torch.arange(config.batch_size)
    Trainer(model, data, config).train_step(idx)
    reference_step(twin, data, config, idx)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=STEP_ATOL, rtol=0), name


class Linear2(torch.nn.Module):
    """One 3x2 weight, ``f(x) = W x``: small enough to compute a step by hand."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 0.0], [0.0, 1.0]], dtype=torch.float64))

    def forward(self, x):
        return x @ self.weight.T

    def transformed_parameters(self):
        return [self.weight]

    def decayed_parameters(self):
        return [self.weight]

    def hidden_weight(self):
        return self.weight

    def output_weight(self):
        return self.weight


def engine_adam_step(model, grad, method):
    """The engine's named pieces of a step on a given gradient: the method's transform, then Adam."""
    config = make_config("mod-mul", method, preset="transformer", p=5, weight_decay=0.0, warmup_steps=0,
                         batch_size=1)
    trainer = Trainer.__new__(Trainer)
    trainer.config, trainer.params, trainer.state = config, [model.weight], TrainState()
    trainer.optimizer = build_optimizer(config, trainer.params, [0])
    grads = [grad.clone()]
    if method != "vanilla":
        transform_gradients(grads, [0], get_method(method), config, trainer.state, torch.Generator())
    trainer.adaptive_step(grads)


def test_the_transform_acts_before_adams_moments_hand_computed():
    """One Adam step from zero moments on a 3x2 weight, computed by hand.

    The loss ``sum(G * W)`` has gradient ``G = [[2, 1], [1, 2], [0, 0]]``. Its top 2x2 block is
    symmetric positive definite (eigenvalues 3 and 1), so ``G = U S V^T`` with ``U = [V; 0]``
    and the polar factor is ``U V^T = [[1, 0], [0, 1], [0, 0]]``. Adam's first step is
    ``-lr * m_hat / (sqrt(v_hat) + eps) = -lr * g / (|g| + eps)``: with the transform first,
    ``g = U V^T`` and the off-diagonal weights do not move; on the raw gradient they move by
    ``-lr * 1 / (1 + eps)``, like the diagonal ones.
    """
    G = torch.tensor([[2.0, 1.0], [1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    uvt = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(egd.orthogonalize(G, method="svd"), uvt, atol=1e-12)
    lr, eps = 1e-3, 1e-8
    expected_transformed = -lr * uvt / (uvt.abs() + eps)
    expected_plain = -lr * G / (G.abs() + eps)
    assert (expected_transformed - expected_plain).abs().max() > 0.9 * lr

    def step(use_engine, method):
        model = Linear2()
        w0 = model.weight.detach().clone()
        if use_engine:
            engine_adam_step(model, G, method)
        else:
            inner = torch.optim.Adam([model.weight], lr=lr, betas=(0.9, 0.98), eps=eps)
            opt = egd.EGD(inner, method="svd") if method != "vanilla" else inner
            (G * model.weight).sum().backward()
            opt.step()
        return (model.weight - w0).detach()

    # a zero entry of U V^T comes out of the SVD as a roundoff of ~1e-16, which Adam's
    # g / (|g| + eps) turns into lr * 1e-16 / eps ~ 1e-11: far below the lr-sized difference
    for use_engine in (True, False):
        assert torch.allclose(step(use_engine, "egd-svd"), expected_transformed, atol=HAND_ATOL, rtol=0)
        assert torch.allclose(step(use_engine, "vanilla"), expected_plain, atol=HAND_ATOL, rtol=0)


def test_weight_decay_acts_after_the_transform_adam_vs_adamw():
    """Adam's own weight decay is added to the transformed gradient (so it reaches the moments);
    AdamW's shrinks the weights: the two first steps differ in a way one can write down."""
    config, data, model = transformer_setup("egd-svd", "decoupled", "adam", weight_decay=0.5)
    config_w, _, model_w = transformer_setup("egd-svd", "decoupled", "adamw", weight_decay=0.5)
    assert torch.equal(model.hidden_weight(), model_w.hidden_weight())
    w0 = model.hidden_weight().detach().clone()
    idx = torch.arange(config.batch_size)
    Trainer(model, data, config).train_step(idx)
    Trainer(model_w, data, config_w).train_step(idx)
    adamw_step = model_w.hidden_weight() - w0
    # AdamW's first step: -lr * sign-like(g~) - lr * wd * W, and |sign-like| <= 1
    assert ((adamw_step + config.lr * 0.5 * w0).abs() <= config.lr * (1 + 1e-6)).all()
    assert not torch.allclose(model.hidden_weight(), model_w.hidden_weight())


def test_warmup_is_torchs_lambdalr():
    config = make_config("mod-mul", "vanilla", preset="transformer")
    assert config.warmup_steps == 10
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda u: 1 if u > 10 else u / 10)
    for step in range(14):
        assert warmup_lr(config, step) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-15)
        opt.step()
        sched.step()
    assert warmup_lr(make_config("mod-mul", "vanilla", preset="transformer", warmup_steps=0), 0) == config.lr


def small_transformer(method="egd-svd", **overrides):
    values = dict(p=11, width=16, batch_size=16, weight_decay=5e-3, seed=1, max_epochs=6, patience=None)
    values.update(overrides)
    return make_config("mod-mul", method, preset="transformer", **values)


@pytest.mark.parametrize("method", ["egd-svd", "grokfast"])
def test_resume_restores_adams_state(method, tmp_path):
    config = small_transformer(method)
    reference = train(config)
    partial = train(config, out_dir=tmp_path, stop_after=3, checkpoint_every=2)
    assert partial.summary["epochs_run"] == 3
    snap = load_checkpoint(checkpoint_path(config, tmp_path))  # weights_only=True reads it
    assert {"state", "param_groups"} <= set(snap["optimizer"]) and snap["state"]["steps"] > 0
    resumed = train(config, out_dir=tmp_path, checkpoint_every=2)
    for key in METRIC_KEYS:
        np.testing.assert_array_equal(resumed.history[key], reference.history[key], err_msg=key)


def test_snapshot_is_plain_for_weights_only_load():
    config = small_transformer("vanilla", max_epochs=1)
    data = config.build_task().build("cpu")
    trainer = Trainer(build_model(config, data), data, config)
    trainer.run()
    buf = io.BytesIO()
    torch.save(trainer.snapshot(), buf)
    buf.seek(0)
    snap = torch.load(buf, weights_only=True)
    fresh = Trainer(build_model(config, data), data, config, snapshot=snap)
    assert fresh.state.steps == trainer.state.steps == 1 * (data.n_train // config.batch_size)
    missing = dict(snap)
    del missing["optimizer"]
    with pytest.raises(ValueError, match="optimizer state"):
        Trainer(build_model(config, data), data, config, snapshot=missing)


def test_batch_train_metrics_match_the_batches():
    config = small_transformer("vanilla", max_epochs=1)
    assert config.train_metrics == "batches"
    data = config.build_task().build("cpu")
    model = build_model(config, data)
    twin = copy.deepcopy(model)
    trainer = Trainer(model, data, config)
    gen = torch.Generator().manual_seed(config.seed)
    perm = torch.randperm(data.n_train, generator=gen)
    trainer.train_epoch()
    metrics = trainer.evaluate()
    # the first batch's hits are counted before its step: recompute them on the untouched twin
    first = perm[:config.batch_size]
    hits_first = (twin(data.x_train[first]).argmax(-1) == data.y_train[first]).sum().item()
    assert 0 <= metrics.train_correct <= data.n_train and hits_first <= config.batch_size
    result = result_from_state(config, data, trainer.state)
    assert result.summary["steps_per_epoch"] == data.n_train // config.batch_size
