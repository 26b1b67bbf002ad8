"""Training engine: determinism, kill-and-resume, the step's math, switch-off, patience."""

import copy
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from egd import orthogonalize
from egd.grokking import registry as methods
from egd.grokking.config import make_config
from egd.grokking.engine import build_model, evaluate, fit
from egd.grokking.runner import result_from_state, train
from egd.grokking.store import checkpoint_path, load_run

# float32 parameters after one step: the engine sums the batch in shuffled order, so its
# gradient differs from the reference in the last bits, and gram's float32 path amplifies that
# by up to eps32 * cond(G)^2 (a few 1e-6 here, well below what a wrong step would give)
STEP_ATOL = 1e-5
# one thread: the CPU is shared, and oversubscribed OpenMP threads only slow tiny problems down
METRIC_KEYS = ("train_correct", "test_correct", "train_loss", "test_loss", "hidden_norm", "output_norm",
               "transform_active")


def tiny(method="egd-svd", **overrides):
    """Mod(23, +): 264 training pairs, 4 steps of 64 per epoch, width 64."""
    values = dict(p=23, max_epochs=12, patience=None)
    values.update(overrides)
    if methods.METHODS[method].needs_rank and "rank" not in values:
        values["rank"] = 8
    if methods.METHODS[method].needs_cutoff and "spectral_cutoff" not in values:
        values["spectral_cutoff"] = 0.05
    return make_config("mod-add", method, preset="smoke", **values)


def assert_same_metrics(a, b):
    for key in METRIC_KEYS:
        np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)


def test_same_seed_gives_identical_metric_history():
    a, b = train(tiny(spectrum_every=3)), train(tiny(spectrum_every=3))
    assert_same_metrics(a, b)
    np.testing.assert_array_equal(a.spectra, b.spectra)
    c = train(tiny(seed=1))
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


def test_resume_from_any_checkpoint_reproduces_the_uninterrupted_run():
    config = tiny("grokfast")  # grokfast: the EMA buffers are engine state too
    full = train(config)
    snaps = []
    data = config.build_task().build("cpu")
    fit(build_model(config, data), data, config, checkpoint=snaps.append, checkpoint_every=5)
    assert [s["state"]["epoch"] for s in snaps] == [5, 10]
    # "kill" after epoch 7: the newest checkpoint is epoch 5; a fresh model resumes from it
    state = fit(build_model(config, data), data, config, state=copy.deepcopy(snaps[0]))
    assert_same_metrics(result_from_state(config, data, state), full)


def test_interrupted_train_leaves_checkpoint_and_resumes(tmp_path):
    config = tiny("egd-rsvd")  # rsvd: the random sketches come from the checkpointed generator
    reference = train(config)
    partial = train(config, out_dir=tmp_path, stop_after=5, checkpoint_every=2)
    assert partial.summary["epochs_run"] == 5
    assert checkpoint_path(config, tmp_path).exists()
    assert not list(tmp_path.glob("*.json"))  # no result file for an unfinished run
    resumed = train(config, out_dir=tmp_path, checkpoint_every=2)
    assert_same_metrics(resumed, reference)
    assert not checkpoint_path(config, tmp_path).exists()
    assert load_run(next(tmp_path.glob("*.json"))).summary == resumed.summary


def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path):
    config = tiny("vanilla", max_epochs=80)
    reference = train(config)
    cmd = [sys.executable, "-m", "egd.grokking.cli", "train", "--task", "mod-add", "--method", "vanilla", "--p", "23",
           "--preset", "smoke", "--max-epochs", "80", "--patience", "-1", "--device", "cpu",
           "--out", str(tmp_path), "--checkpoint-every", "3", "--no-progress", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = checkpoint_path(config, tmp_path)
    deadline = time.time() + 60
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_early = not list(tmp_path.glob("*.json"))
    resumed = train(config, out_dir=tmp_path)
    assert_same_metrics(resumed, reference)
    assert killed_early, "the run finished before it could be killed; enlarge max_epochs"


@pytest.mark.parametrize("mode", ["loss", "decoupled"])
def test_one_step_is_sgd_on_the_orthogonalized_gradient(mode):
    # batch = all 12 training pairs of Mod(5, +): one full-batch step per epoch
    config = make_config("mod-add", "egd-gram", preset="smoke", p=5, batch_size=12, width=8,
                         weight_decay=0.1, lr=0.3, max_epochs=1, patience=None, weight_decay_mode=mode)
    data = config.build_task().build("cpu")
    model = build_model(config, data)
    manual = copy.deepcopy(model)
    fit(model, data, config)
    W1, b1, W2 = manual.hidden.weight, manual.hidden.bias, manual.output.weight
    data_loss = F.cross_entropy(manual(data.x_train), data.y_train)
    l2 = 0.05 * (W1.square().sum() + W2.square().sum())
    if mode == "loss":  # the paper's main results: wd * W1 passes through the transform
        g1, gb, g2 = torch.autograd.grad(data_loss + l2, (W1, b1, W2))
        step1 = orthogonalize(g1, method="gram")
    else:  # decay added after the transform
        g1, gb, g2 = torch.autograd.grad(data_loss, (W1, b1, W2))
        step1 = orthogonalize(g1, method="gram") + 0.1 * W1.detach()
        g2 = g2 + 0.1 * W2.detach()
    with torch.no_grad():
        expected = (W1 - 0.3 * step1, b1 - 0.3 * gb, W2 - 0.3 * g2)
    for got, want in zip((model.hidden.weight, model.hidden.bias, model.output.weight), expected):
        torch.testing.assert_close(got, want, atol=STEP_ATOL, rtol=0)


def test_switch_off_after_threshold_and_patience_stop():
    parity = dict(preset="smoke", n=10, k=2, threshold=0.9, patience=3, max_epochs=40)
    result = train(make_config("parity", "egd-svd", **parity))
    reached = result.epochs_to_threshold
    assert reached is not None
    active = result.history["transform_active"]
    assert active[:reached].all() and not active[reached:].any()
    assert result.summary["epochs_run"] == reached + 3 and result.summary["status"] == "stopped"
    kept = train(make_config("parity", "egd-svd", switch_off=False, **parity))
    assert kept.history["transform_active"].all()


def test_vanilla_never_marks_a_transform_active():
    result = train(tiny("vanilla"))
    assert not result.history["transform_active"].any()
    assert result.summary["status"] == "max_epochs"


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_every_method_trains_and_fits_the_training_set(method):
    result = train(tiny(method, max_epochs=8, spectrum_every=3))
    assert np.isfinite(result.history["train_loss"]).all()
    assert result.train_acc[-1] > result.train_acc[0]
    assert result.spectra.shape == (3, 46) and (np.diff(result.spectra, axis=1) <= 0).all()
    np.testing.assert_array_equal(result.spectra_epochs, [0, 3, 6])


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_parity_losses_train(loss):
    config = make_config("parity", "egd-svd", preset="smoke", n=8, k=2, loss=loss, max_epochs=15)
    result = train(config)
    assert result.summary["n_train"] == 256 and result.summary["n_test"] == 512
    assert result.train_acc[-1] > 0.6


def test_evaluate_sums_match_a_direct_computation():
    config = tiny()
    data = config.build_task().build("cpu")
    model = build_model(config, data)
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test])
    got = evaluate(model, x, y, "cross_entropy", data.n_train)
    with torch.no_grad():
        out = model(x)
    ce = F.cross_entropy(out, y, reduction="none")
    hit = (out.argmax(1) == y).float()
    n = data.n_train
    want = torch.stack([ce[:n].sum(), hit[:n].sum(), ce[n:].sum(), hit[n:].sum()])
    torch.testing.assert_close(got, want)


def test_reuse_returns_the_stored_run_without_training(tmp_path):
    first = train(tiny(max_epochs=3), out_dir=tmp_path)
    path = next(tmp_path.glob("*.json"))
    record = json.loads(path.read_text())
    record["summary"]["marker"] = 1  # only a loaded run carries this
    path.write_text(json.dumps(record))
    again = train(tiny(max_epochs=3), out_dir=tmp_path)
    assert again.summary.get("marker") == 1 and again.summary["epochs_run"] == first.summary["epochs_run"]


def test_bad_checkpoint_every_is_rejected():
    with pytest.raises(ValueError, match="checkpoint_every must be an integer >= 1, got 0"):
        train(tiny(), checkpoint_every=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_matches_cpu_accuracy_roughly():
    cpu = train(tiny(max_epochs=10))
    gpu = train(tiny(max_epochs=10, device="cuda"))
    assert abs(cpu.train_acc[-1] - gpu.train_acc[-1]) < 0.1
    assert gpu.env["device"].startswith("cuda")
