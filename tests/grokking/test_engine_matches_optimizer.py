"""The engine's step is the public optimizer's step: they can never drift apart.

One :meth:`Trainer.train_step` on a batch must equal one step of
``egd.EGD(torch.optim.SGD(...))`` (transform on the hidden weight only) on the same model
and batch, with the paper's weight decay as ``egd.l2_penalty`` in the loss, or as the
inner SGD's ``weight_decay`` on the decayed weights in the decoupled mode.
"""

import copy

import pytest
import torch

import egd
from egd.grokking.config import make_config
from egd.grokking.engine import Trainer, build_model, per_example_loss

STEP_ATOL = 1e-12  # float64: both paths do the same arithmetic up to summation order


def setup(method, mode):
    config = make_config("mod-add", method, preset="smoke", p=23, weight_decay=3e-2, weight_decay_mode=mode,
                         seed=3)
    data = config.build_task().build("cpu")
    model = build_model(config, data).double()
    return config, data, model


def reference_step(model, data, config, idx):
    """The same step written with the public library only."""
    decayed = model.decayed_parameters()
    if config.weight_decay_mode == "loss":
        inner = torch.optim.SGD(model.parameters(), lr=config.lr)
    else:
        ids = {id(p) for p in decayed}
        inner = torch.optim.SGD([{"params": decayed, "weight_decay": config.weight_decay},
                                 {"params": [p for p in model.parameters() if id(p) not in ids]}], lr=config.lr)
    opt = egd.EGD(inner, egd.select_params(model, names=["hidden.weight"])) if config.method == "egd-svd" else inner
    loss = per_example_loss(model(data.x_train[idx]), data.y_train[idx], config.loss).mean()
    if config.weight_decay_mode == "loss":
        loss = loss + egd.l2_penalty(decayed, config.weight_decay)
    opt.zero_grad()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("mode", ["loss", "decoupled"])
@pytest.mark.parametrize("method", ["egd-svd", "vanilla"])
def test_one_engine_step_equals_one_optimizer_step(method, mode):
    config, data, model = setup(method, mode)
    twin = copy.deepcopy(model)
    idx = torch.arange(config.batch_size)
    Trainer(model, data, config).train_step(idx)
    reference_step(twin, data, config, idx)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=STEP_ATOL, rtol=0), name
    # and the step did something: EGD moved W1 by lr * U V^T, whose norm is lr * sqrt(rank)
    start = build_model(config, data).double()
    moved = (model.hidden.weight - start.hidden.weight).norm().item()
    assert moved > 1e-3


def test_engine_rejects_a_model_without_the_interface():
    config, data, _ = setup("vanilla", "loss")
    with pytest.raises(TypeError, match="TrainableModel"):
        Trainer(torch.nn.Linear(3, 2), data, config)
