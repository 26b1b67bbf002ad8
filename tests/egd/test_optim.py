"""EGD wrapper, step-pre-hook attachment and in-place core (egd.optim), selection, weight decay."""
import copy
import warnings

import pytest
import torch
from torch import nn

import egd
from egd import defaults as D

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
F32_TOL = 1e-6   # float32 parameters after a few steps computed two equivalent ways


def mlp(seed=0, device="cpu"):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3, bias=False)).to(device)


def batch(seed=0, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(32, 12, generator=gen).to(device), torch.randint(0, 3, (32,), generator=gen).to(device)


def backward(model, seed=0):
    x, y = batch(seed, next(model.parameters()).device)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


@pytest.mark.parametrize("device", DEVICES)
def test_wrapped_sgd_step_equals_hand_computed_update(device):
    model, lr = mlp(device=device), 0.7
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=lr))
    before = [p.detach().clone() for p in model.parameters()]
    backward(model)
    grads = [p.grad.detach().clone() for p in model.parameters()]
    opt.step()
    for p, w, g in zip(model.parameters(), before, grads):
        update = egd.orthogonalize(g) if g.ndim >= 2 else g  # biases get plain gradients
        # SGD computes w + (-lr) * update in one fused op; the same arithmetic here is exact
        torch.testing.assert_close(p.detach(), w.add(update, alpha=-lr), atol=0, rtol=0)


def test_default_selection_is_ndim_at_least_two_and_explicit_selection():
    model = mlp()
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1))
    assert [p.shape for p in opt.egd_params] == [(16, 12), (3, 16)]
    only_hidden = egd.select_params(model, names=["0.weight"])
    assert len(only_hidden) == 1 and only_hidden[0] is model[0].weight
    by_module = egd.select_params(model, modules=[model[2]])
    assert len(by_module) == 1 and by_module[0] is model[2].weight
    by_type = egd.select_params(model, modules=[nn.Linear])
    assert [p.shape for p in by_type] == [(16, 12), (3, 16)]
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), only_hidden)
    backward(model)
    g2 = model[2].weight.grad.clone()
    opt.step()
    assert torch.equal(model[2].weight.grad, g2)  # unselected: untouched
    torch.testing.assert_close(torch.linalg.svdvals(model[0].weight.grad), torch.ones(12), atol=1e-5, rtol=0)


def test_selection_errors():
    model, other = mlp(), mlp(1)
    with pytest.raises(ValueError, match=r"^names pattern 'nope\*'"):
        egd.select_params(model, names=["nope*"])
    with pytest.raises(ValueError, match=r"^min_ndim "):
        egd.select_params(model, min_ndim=1)
    with pytest.raises(ValueError, match=r"^modules entry"):
        egd.select_params(model, modules=[nn.Conv2d])
    with pytest.raises(ValueError, match=r"^params\[0\] .* is not a parameter"):
        egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), [other[0].weight])
    with pytest.raises(ValueError, match=r"^params\[0\] must have ndim >= 2"):
        egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), [model[0].bias])
    with pytest.raises(TypeError, match=r"^optimizer must be"):
        egd.EGD(model)
    with pytest.raises(ValueError, match=r"^unknown EGD option"):
        egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), methd="svd")
    with pytest.raises(ValueError, match=r"^rank "):
        egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), method="rsvd")
    with pytest.raises(ValueError, match=r"^optimizer is already an EGD"):
        egd.EGD(egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1)))


def test_select_params_min_ndim_keeps_only_conv_kernels():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    net(torch.zeros(1, 3, 5, 5))
    assert [tuple(p.shape) for p in egd.select_params(net, min_ndim=3)] == [(4, 3, 3, 3)]
    assert [tuple(p.shape) for p in egd.select_params(net)] == [(4, 3, 3, 3), (2, 36)]


def test_conv_weights_are_reshaped_and_back():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    opt = egd.EGD(torch.optim.SGD(conv.parameters(), lr=0.1))
    conv(torch.randn(2, 3, 8, 8)).square().mean().backward()
    raw = conv.weight.grad.clone()
    opt.step()
    g = conv.weight.grad
    assert g.shape == (4, 3, 3, 3)
    torch.testing.assert_close(g, egd.orthogonalize(raw.reshape(4, 27)).reshape(4, 3, 3, 3), atol=0, rtol=0)
    torch.testing.assert_close(g.reshape(4, 27) @ g.reshape(4, 27).T, torch.eye(4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("inner", [torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop])
def test_adaptive_optimizers_run_and_learn(inner):
    model = mlp()
    opt = egd.EGD(inner(model.parameters(), lr=1e-2))
    losses = []
    for _ in range(20):
        opt.zero_grad()
        losses.append(float(backward(model).detach()))
        opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert losses[-1] < losses[0]
    assert len(opt.state) == 3  # inner state visible through the wrapper


def test_state_dict_round_trip_restores_inner_state():
    model = mlp()
    opt = egd.EGD(torch.optim.Adam(model.parameters(), lr=1e-2), method="gram")
    for s in range(3):
        opt.zero_grad()
        backward(model, s)
        opt.step()
    opt.switch_off_if(0.99)
    sd = copy.deepcopy(opt.state_dict())
    assert sd["egd"] == {"enabled": False}
    clone = copy.deepcopy(model)
    opt2 = egd.EGD(torch.optim.Adam(clone.parameters(), lr=1e-2), method="gram")
    opt2.load_state_dict(sd)
    assert opt2.enabled is False
    for a, b in zip(opt.state.values(), opt2.state.values()):
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)
    for m, o in ((model, opt), (clone, opt2)):
        o.zero_grad()
        backward(m, 9)
        o.step()
    for p, q in zip(model.parameters(), clone.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
    twin = copy.deepcopy({"model": model, "opt": opt})  # deepcopy/pickle keep the wrapper intact
    assert twin["opt"].optimizer.param_groups[0]["params"][0] is twin["model"][0].weight
    assert twin["opt"].egd_params[0] is twin["model"][0].weight and twin["opt"].enabled is False
    opt3 = egd.EGD(torch.optim.Adam(copy.deepcopy(model).parameters(), lr=1e-2))
    opt3.load_state_dict(opt.optimizer.state_dict())  # a plain inner state dict also loads
    assert opt3.enabled is True


def test_lr_scheduler_drives_the_wrapper():
    model = mlp()
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.8))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        for s in range(5):
            opt.zero_grad()
            backward(model, s)
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [0.8, 0.4, 0.4, 0.2, 0.2]
    assert opt.optimizer.param_groups[0]["lr"] == 0.2
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    plateau.step(1.0)
    plateau.step(2.0)  # no improvement: halve every group's lr, seen by the inner optimizer
    assert opt.optimizer.param_groups[0]["lr"] == 0.1
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=4)  # reads defaults["momentum"]
    assert one_cycle.optimizer is opt and opt.param_groups[0]["lr"] == pytest.approx(1.0 / 25)


def test_enabled_flag_and_algorithm_1_switch_off():
    model, plain = mlp(), mlp()
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.5), enabled=False)
    ref = torch.optim.SGD(plain.parameters(), lr=0.5)
    for m, o in ((model, opt), (plain, ref)):
        backward(m)
        o.step()
    for p, q in zip(model.parameters(), plain.parameters()):
        assert torch.equal(p, q)
    opt.enabled = True
    assert opt.switch_off_if(0.90) is True               # below threshold: keep transforming
    assert opt.switch_off_if(torch.tensor(0.95)) is True  # Algorithm 1: strictly exceeds
    assert opt.switch_off_if(0.96) is False
    assert opt.switch_off_if(0.10) is False               # one way: stays off
    opt.enabled = True
    assert opt.switch_off_if(0.5, threshold=0.4) is False
    with pytest.raises(ValueError, match=r"^threshold "):
        opt.switch_off_if(0.5, threshold=float("nan"))
    with pytest.raises(ValueError, match=r"^metric "):
        opt.switch_off_if(float("nan"))
    with pytest.raises(ValueError, match=r"^enabled "):
        egd.EGD(torch.optim.SGD(model.parameters(), lr=0.5), enabled=1)


def test_hook_and_apply_match_the_wrapper_with_every_option_threaded():
    opts = dict(method="rsvd", rank=5, n_iter=1, oversampling=2, rtol=1e-3, check_finite=False)
    models = [mlp(), mlp(), mlp()]
    wrapped = egd.EGD(torch.optim.SGD(models[0].parameters(), lr=0.3), generator=torch.Generator().manual_seed(4),
                      **opts)
    hooked_opt = torch.optim.SGD(models[1].parameters(), lr=0.3)
    hook = egd.attach(hooked_opt, generator=torch.Generator().manual_seed(4), **opts)
    assert hook.enabled
    manual_opt = torch.optim.SGD(models[2].parameters(), lr=0.3)
    manual_gen = torch.Generator().manual_seed(4)
    for s in range(3):
        for m in models:
            m.zero_grad()
            backward(m, s)
        wrapped.step()
        hooked_opt.step()
        egd.orthogonalize_grads_([p for p in models[2].parameters() if p.ndim >= 2], generator=manual_gen, **opts)
        manual_opt.step()
    for ps in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(ps[1], ps[0], atol=0, rtol=0)
        torch.testing.assert_close(ps[2], ps[0], atol=0, rtol=0)
    # rank 5 < 12 really went through: the hidden gradient has rank 5
    assert int(torch.linalg.matrix_rank(models[1][0].weight.grad)) == 5


@pytest.mark.parametrize("opts", [dict(rank=3), dict(spectral_cutoff=0.5), dict(method="svd", rank=3),
                                  dict(batch_rank=2)])
def test_truncation_options_are_threaded_through_every_entry_point(opts):
    models = [mlp(), mlp(), mlp()]
    wrapped = egd.EGD(torch.optim.SGD(models[0].parameters(), lr=0.3), **opts)
    hooked_opt = torch.optim.SGD(models[1].parameters(), lr=0.3)
    egd.attach(hooked_opt, **opts)
    manual_opt = torch.optim.SGD(models[2].parameters(), lr=0.3)
    for m in models:
        m.zero_grad()
        backward(m, 0)
    want = egd.orthogonalize(models[0][0].weight.grad.clone(), **opts)
    wrapped.step()
    hooked_opt.step()
    egd.orthogonalize_grads_([p for p in models[2].parameters() if p.ndim >= 2], **opts)
    manual_opt.step()
    torch.testing.assert_close(models[0][0].weight.grad, want)
    for ps in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(ps[1], ps[0], atol=0, rtol=0)
        torch.testing.assert_close(ps[2], ps[0], atol=0, rtol=0)
    kept = int(torch.linalg.matrix_rank(models[0][0].weight.grad))
    assert kept <= 3 if "rank" in opts else kept < min(models[0][0].weight.shape)


def test_hook_switch_off_and_remove():
    model, plain = mlp(), mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    hook = egd.attach(opt, egd.select_params(model, names=["0.weight"]), method="newton_schulz", ns_steps=30)
    backward(model)
    opt.step()
    torch.testing.assert_close(torch.linalg.svdvals(model[0].weight.grad), torch.ones(12), atol=1e-4, rtol=0)
    assert hook.switch_off_if(0.97) is False
    hook.remove()
    hook.remove()  # idempotent
    assert len(opt._optimizer_step_pre_hooks) == 0
    ref = torch.optim.SGD(plain.parameters(), lr=0.5)
    plain.load_state_dict(model.state_dict())
    for m, o in ((model, opt), (plain, ref)):
        o.zero_grad()
        backward(m, 1)
        o.step()
    for p, q in zip(model.parameters(), plain.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(TypeError):
        egd.attach(model)
    off = egd.attach(opt, enabled=False)  # attached but idle until switched on
    opt.zero_grad()
    backward(model, 2)
    g = model[0].weight.grad.clone()
    opt.step()
    assert torch.equal(model[0].weight.grad, g)
    off.remove()


def test_non_finite_gradient_raises_naming_the_parameter():
    model = mlp()
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1))
    backward(model)
    model[2].weight.grad[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^params\[1\]\.grad must be finite; got 1 NaN"):
        opt.step()
    with pytest.raises(ValueError, match=r"^params\[0\] must have ndim >= 2"):
        egd.orthogonalize_grads_([model[0].bias])
    with pytest.raises(ValueError, match=r"^give either options"):
        egd.orthogonalize_grads_([model[0].weight], options=egd.EGDOptions(), method="svd")


def test_params_without_grad_are_skipped_and_closure_is_evaluated_once():
    model = mlp()
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1))
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        return backward(model)

    loss = opt.step(closure)
    assert len(calls) == 1 and torch.isfinite(loss)
    opt.zero_grad()
    opt.step()  # no gradients at all: a no-op, no error
    assert model[0].weight.grad is None


def test_add_param_group_extends_the_default_selection():
    model, extra = mlp(), nn.Linear(4, 5)
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1))
    opt.add_param_group({"params": extra.parameters(), "lr": 0.01})
    ids = {id(p) for p in opt.egd_params}
    assert id(extra.weight) in ids and id(extra.bias) not in ids
    assert len(opt.param_groups) == 2 and opt.optimizer.param_groups[1]["lr"] == 0.01


def test_l2_in_the_loss_passes_through_the_transform_decoupled_does_not():
    wd, lr = 0.1, 0.5
    models = [mlp(), mlp()]
    # (a) paper: L2 in the loss -> W <- W - lr * orth(G + wd W)
    through = egd.EGD(torch.optim.SGD(models[0].parameters(), lr=lr), [models[0][0].weight])
    x, y = batch()
    loss = nn.functional.cross_entropy(models[0](x), y) + egd.l2_penalty([models[0][0].weight], wd)
    loss.backward()
    W0 = models[0][0].weight.detach().clone()
    G_total = models[0][0].weight.grad.clone()
    through.step()
    # (b) decay after the transform: SGD's own weight_decay -> W <- W - lr * (orth(G) + wd W)
    after = egd.EGD(torch.optim.SGD([models[1][0].weight], lr=lr, weight_decay=wd))
    backward(models[1])
    G = models[1][0].weight.grad.clone()
    after.step()
    torch.testing.assert_close(G_total, G + wd * W0, atol=F32_TOL, rtol=0)  # d/dW 0.5 wd ||W||^2 = wd W
    torch.testing.assert_close(models[0][0].weight.detach(), W0 - lr * egd.orthogonalize(G_total), atol=F32_TOL, rtol=0)
    torch.testing.assert_close(models[1][0].weight.detach(), W0 - lr * (egd.orthogonalize(G) + wd * W0),
                               atol=F32_TOL, rtol=0)
    assert float((models[0][0].weight - models[1][0].weight).detach().abs().max()) > 1e-3  # different algorithms
    with pytest.raises(ValueError, match=r"^wd "):
        egd.l2_penalty(models[0].parameters(), -1.0)


def test_grokfast_class_matches_functional_form_and_round_trips():
    model, ref = mlp(), mlp()
    filt = egd.GrokfastEMA(model.parameters(), alpha=0.9, lamb=1.0)
    ema = None
    for s in range(3):
        for m in (model, ref):
            m.zero_grad()
            backward(m, s)
        filt()
        grads = [p.grad for p in ref.parameters()]
        ema = egd.grokfast_ema_init(grads) if ema is None else ema
        egd.grokfast_ema_(grads, ema, alpha=0.9, lamb=1.0)
        for p, q in zip(model.parameters(), ref.parameters()):
            torch.testing.assert_close(p.grad, q.grad, atol=0, rtol=0)
    other = egd.GrokfastEMA(model.parameters())
    other.load_state_dict(filt.state_dict())
    assert other.alpha == 0.9 and all(torch.equal(a, b) for a, b in zip(other.ema, filt.ema))
    with pytest.raises(ValueError, match=r"^alpha "):
        egd.GrokfastEMA(model.parameters(), alpha=2.0)


def test_defaults_are_read_from_one_place():
    assert egd.EGDOptions().n_iter == D.DEFAULT_RSVD_N_ITER
    assert egd.orthogonalize.__kwdefaults__["ns_steps"] == D.DEFAULT_NS_STEPS
    assert egd.column_normalize.__kwdefaults__["floor"] == D.DEFAULT_COLUMN_NORM_FLOOR == 0.01
    assert (D.DEFAULT_GROKFAST_ALPHA, D.DEFAULT_GROKFAST_LAMB) == (0.98, 2.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_step_without_host_sync_on_cuda():
    model = mlp(device="cuda")
    opt = egd.EGD(torch.optim.SGD(model.parameters(), lr=0.1), method="newton_schulz", check_finite=False)
    backward(model)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
