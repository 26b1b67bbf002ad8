import pytest
import torch

import egd
from egd.book import usage


@pytest.fixture(scope="module")
def task():
    return usage.hidden_signal_task(n_train=256, n_val=128, inputs=6, signal=2, classes=3, seed=3)


def test_hidden_signal_task_shapes_scales_and_seed(task):
    assert task.x_train.shape == (256, 6) and task.x_val.shape == (128, 6) and task.inputs == 6
    assert task.y_train.dtype == torch.int64 and set(task.y_train.tolist()) <= {0, 1, 2}
    signal_std = task.x_train[:, :2].std(dim=0)
    noise_std = task.x_train[:, 2:].std(dim=0)
    assert (signal_std < 0.1).all() and (noise_std > 0.8).all()
    again = usage.hidden_signal_task(n_train=256, n_val=128, inputs=6, signal=2, classes=3, seed=3)
    assert torch.equal(again.x_train, task.x_train) and torch.equal(again.y_val, task.y_val)
    for bad in ({"signal": 9}, {"classes": 1}, {"signal_scale": 0.0}, {"n_train": 0}):
        with pytest.raises(ValueError):
            usage.hidden_signal_task(**bad)


def test_student_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = usage.student(5, 3, width=8, seed=1), usage.student(5, 3, width=8, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert usage.max_parameter_difference([a, b]) == 0.0
    assert usage.max_parameter_difference([a, usage.student(5, 3, width=8, seed=2)]) > 0
    assert [p.shape for p in egd.select_params(a)] == [(8, 5), (8, 8), (3, 8)]
    with pytest.raises(ValueError, match="width"):
        usage.student(5, 3, width=0)
    with pytest.raises(ValueError, match="two models"):
        usage.max_parameter_difference([a])


def test_train_records_curves_and_is_deterministic(task):
    def run():
        model = usage.student(task.inputs, task.classes, width=16)
        return usage.train(model, torch.optim.SGD(model.parameters(), lr=0.1), task, steps=30, batch_size=16,
                           eval_every=10), model

    (c1, m1), (c2, m2) = run(), run()
    assert c1.steps == [10, 20, 30] and len(c1.val_acc) == len(c1.train_loss) == len(c1.weight_norm) == 3
    assert c1.val_acc == c2.val_acc and usage.max_parameter_difference([m1, m2]) == 0.0
    assert c1.final_acc == c1.val_acc[-1] and c1.switched_off_at is None
    assert 0 <= min(c1.val_acc) and max(c1.val_acc) <= 1


def test_train_l2_matches_l2_in_the_loss_and_shrinks_weights(task):
    m_plain, m_l2 = (usage.student(task.inputs, task.classes, width=16) for _ in range(2))
    usage.train(m_plain, torch.optim.SGD(m_plain.parameters(), lr=0.1), task, steps=20, batch_size=16, eval_every=20)
    usage.train(m_l2, torch.optim.SGD(m_l2.parameters(), lr=0.1), task, steps=20, batch_size=16, eval_every=20,
                l2=0.5)
    assert usage.weight_norm(m_l2) < usage.weight_norm(m_plain)


def test_switch_off_turns_the_transform_off_for_good(task):
    model = usage.student(task.inputs, task.classes, width=16)
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.05))
    curve = usage.train(model, opt, task, steps=40, batch_size=16, eval_every=10, switch_off_at=0.0)
    assert curve.switched_off_at == 10 and opt.enabled is False
    never = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.05))
    assert usage.train(model, never, task, steps=20, batch_size=16, eval_every=10,
                       switch_off_at=1.0).switched_off_at is None
    assert never.enabled
    with pytest.raises(ValueError, match="egd.EGD"):
        usage.train(model, torch.optim.SGD(model.parameters(), lr=0.1), task, steps=10, switch_off_at=0.5)


def test_first_step_at():
    curve = usage.Curve(steps=[10, 20, 30], val_acc=[0.2, 0.6, 0.9])
    assert usage.first_step_at(curve, 0.5) == 20 and usage.first_step_at(curve, 0.95) is None


def test_wrapper_hook_and_functional_form_take_the_same_step(task):
    models = [usage.student(task.inputs, task.classes, width=16) for _ in range(3)]
    x, y = task.x_train[:32], task.y_train[:32]
    wrapped = egd.EGD(torch.optim.SGD(models[0].parameters(), lr=0.1))
    hooked = torch.optim.SGD(models[1].parameters(), lr=0.1)
    egd.attach(hooked)
    plain = torch.optim.SGD(models[2].parameters(), lr=0.1)
    for model, opt in zip(models, (wrapped, hooked, plain)):
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if opt is plain:
            egd.orthogonalize_grads_(egd.select_params(model))
        opt.step()
    assert usage.max_parameter_difference(models) < 1e-6
    assert usage.max_parameter_difference([models[0], usage.student(task.inputs, task.classes, width=16)]) > 1e-3


def test_step_cost(task):
    c = usage.step_cost(lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
                        lambda m: egd.EGD(torch.optim.SGD(m.parameters(), lr=0.1)), task, width=16,
                        batch_size=32, repeats=5, warmup=1)
    assert c.plain_ms > 0 and c.egd_ms > 0 and c.repeats == 5 and c.batch_size == 32
    assert c.threads == torch.get_num_threads() and c.ratio == c.egd_ms / c.plain_ms
    assert c.plain_min_ms <= c.plain_ms and c.egd_min_ms <= c.egd_ms and c.min_ratio == c.egd_min_ms / c.plain_min_ms
    with pytest.raises(ValueError, match="repeats"):
        usage.step_cost(torch.optim.SGD, torch.optim.SGD, task, repeats=0)
