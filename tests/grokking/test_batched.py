"""The batched engine computes what the single-run engine computes, run by run.

In float64 (where rounding cannot hide a wrong formula) R runs trained as one batch and the
same runs trained one at a time give the same metric histories within
:data:`HISTORY_TOLERANCE`, for every kind of transform, with per-run hyper-parameters, data,
switch-off, stop rules and drop-out. Results land in the standard files, record the engine,
and resume from the single-run engine's checkpoints (and the other way round).
"""

import numpy as np
import pytest
import torch

from egd.grokking import tables
from egd.grokking.batched import (
    BatchedTrainer,
    _cast,
    batch_signature,
    batchable,
    group_configs,
    loss_gradient,
    train_batch,
)
from egd.grokking.config import make_config
from egd.grokking.engine import Trainer, build_model, per_example_loss
from egd.grokking.runner import train
from egd.grokking.store import checkpoint_path, load_runs

#: Largest difference (absolute, or relative for huge values) between the float64 histories of the
#: two engines over 5 epochs.
HISTORY_TOLERANCE = 1e-9
EPOCHS = 5
MODULAR = dict(p=23)
PARITY = dict(n=10, k=2)
COLUMNS = ("train_correct", "test_correct", "train_loss", "test_loss", "hidden_norm", "output_norm",
           "transform_active")


def one_at_a_time(config, dtype=torch.float64):
    data = _cast(config.build_task().build(config.device), dtype)
    trainer = Trainer(build_model(config, data).to(dtype), data, config)
    trainer.run()
    return trainer.state


def assert_same_runs(configs, dtype=torch.float64):
    batched = BatchedTrainer(configs, dtype=dtype)
    batched.run()
    for config, got in zip(configs, batched.states):
        want = one_at_a_time(config, dtype)
        assert (got.status, got.reached, got.epoch) == (want.status, want.reached, want.epoch), config.method
        for name in COLUMNS:
            a = np.asarray(getattr(want.history, name), dtype=np.float64)
            b = np.asarray(getattr(got.history, name), dtype=np.float64)
            np.testing.assert_allclose(b, a, rtol=HISTORY_TOLERANCE, atol=HISTORY_TOLERANCE,
                                       err_msg=f"{config.method} {name}")
        assert got.spectra_epochs == want.spectra_epochs
        for s, t in zip(got.spectra, want.spectra):
            torch.testing.assert_close(s, t)
    return batched


@pytest.mark.parametrize("method, rank", [("vanilla", None), ("egd-svd", None), ("egd-rsvd", 4), ("colnorm", None)])
def test_four_seeds_in_one_batch_match_one_at_a_time(method, rank):
    configs = [make_config("mod-add", method, preset="smoke", rank=rank, seed=s, max_epochs=EPOCHS, spectrum_every=2,
                           **MODULAR) for s in range(4)]
    assert_same_runs(configs)


def test_runs_differing_in_method_hyperparameters_and_stop_rules_match():
    """Dense inputs (parity); each run its own transform, lr, weight decay and mode, threshold,
    patience and max_epochs, so runs switch off, stop and leave the batch at different epochs."""
    base = dict(preset="smoke", **PARITY)
    configs = [
        make_config("parity", "vanilla", seed=0, max_epochs=EPOCHS, **base),
        make_config("parity", "egd-svd", seed=1, max_epochs=4, lr=0.3, threshold=0.05, patience=1, **base),
        make_config("parity", "egd-rsvd", rank=3, seed=2, max_epochs=EPOCHS, weight_decay_mode="decoupled", **base),
        make_config("parity", "colnorm", seed=3, max_epochs=3, weight_decay=0.0, **base),
        make_config("parity", "grokfast", seed=4, max_epochs=EPOCHS, threshold=0.3, patience=None, **base),
    ]
    batched = assert_same_runs(configs)
    statuses = {c.method: s.status for c, s in zip(configs, batched.states)}
    assert statuses["egd-svd"] == "stopped" and statuses["colnorm"] == "max_epochs"
    assert not batched.states[1].transform_active  # switched off at the threshold


def test_truncated_exact_egd_matches_and_groups_by_rank_and_cutoff():
    """egd-svd-top and egd-svd-cut beside exact EGD: three transform calls per step, one per
    (method, rank, cutoff), each run getting its own truncation."""
    base = dict(preset="smoke", max_epochs=EPOCHS, spectrum_every=2, **PARITY)
    configs = [make_config("parity", "egd-svd", seed=0, **base),
               make_config("parity", "egd-svd-top", rank=3, seed=1, **base),
               make_config("parity", "egd-svd-top", rank=3, seed=2, **base),
               make_config("parity", "egd-svd-cut", spectral_cutoff=0.05, seed=3, **base)]
    batched = BatchedTrainer(configs, dtype=torch.float64)
    assert len(batched._plan()) == 3
    assert_same_runs(configs)


def test_batch_rank_method_matches_and_truncates_like_the_batch_size():
    """egd-svd-batch beside egd-svd-top at rank = the batch size: the same transform on the
    parity hidden layer (no more inputs than hidden units here), one call each."""
    base = dict(preset="smoke", max_epochs=EPOCHS, spectrum_every=2, batch_size=4, **PARITY)
    batch = make_config("parity", "egd-svd-batch", seed=1, **base)
    top = make_config("parity", "egd-svd-top", rank=4, seed=1, **base)
    exact = make_config("parity", "egd-svd", seed=1, **base)
    assert batch.batch_size < batch.n <= batch.width  # the rule truncates: 4 of 10 directions
    runs = assert_same_runs([batch, top, exact])
    a, b, c = (np.asarray(s.history.hidden_norm) for s in runs.states)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_runs_with_their_own_data_match():
    """The anisotropy knob and the data seed differ: each run trains on its own data."""
    configs = [make_config("mod-add", "egd-svd", preset="smoke", seed=0, max_epochs=3, **MODULAR),
               make_config("mod-add", "egd-svd", preset="smoke", seed=1, max_epochs=3, second_operand_scale=0.5,
                           **MODULAR),
               make_config("mod-add", "vanilla", preset="smoke", seed=2, max_epochs=3, data_seed=3, **MODULAR)]
    assert_same_runs(configs)


@pytest.mark.parametrize("linalg_raises", [False, True], ids=["nan-propagates", "linalg-raises"])
def test_a_run_that_diverges_stops_alone(monkeypatch, linalg_raises):
    if linalg_raises:  # a backend that refuses non-finite input mid-epoch (the engines' Diverged path)
        from egd import transforms

        def strict(G, **kwargs):
            if not torch.isfinite(G).all():
                raise torch.linalg.LinAlgError("non-finite input")
            return transforms.orthogonalize(G, **kwargs)

        monkeypatch.setattr("egd.grokking.engine.orthogonalize", strict)
        monkeypatch.setattr("egd.grokking.batched.orthogonalize", strict)
    configs = [make_config("mod-add", m, preset="smoke", seed=s, max_epochs=4, lr=lr, **MODULAR)
               for m, s, lr in (("egd-svd", 0, 0.7), ("vanilla", 1, 1e30), ("egd-svd", 2, 1e30), ("vanilla", 3, 0.7))]
    batched = assert_same_runs(configs)
    assert [s.status for s in batched.states] == ["max_epochs", "diverged", "diverged", "max_epochs"]


@pytest.mark.parametrize("loss, shape", [("cross_entropy", (6, 5)), ("squared", (7,)), ("hinge", (7,))])
def test_loss_gradient_is_the_derivative_of_the_engines_loss(loss, shape):
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    if loss == "cross_entropy":
        y = torch.randint(0, shape[1], shape[:1], generator=gen)
    else:
        y = torch.randint(0, 2, shape, generator=gen).to(torch.float64).mul(2).sub(1)
        with torch.no_grad():
            out[0] = 1.5 * y[0]  # hinge: one example past the margin (zero gradient)
    (auto,) = torch.autograd.grad(per_example_loss(out, y, loss).sum(), out)
    torch.testing.assert_close(loss_gradient(out.detach(), y, loss), auto)


def test_batches_group_runs_of_one_shape_only():
    mod = [make_config("mod-add", "vanilla", preset="smoke", seed=s, **MODULAR) for s in range(3)]
    par = [make_config("parity", "vanilla", preset="smoke", seed=s, **PARITY) for s in range(2)]
    wider = make_config("mod-add", "vanilla", preset="smoke", width=32, **MODULAR)
    groups = group_configs([mod[0], par[0], mod[1], wider, mod[2], par[1]], 2)
    assert groups == [[mod[0], mod[1]], [mod[2]], [par[0], par[1]], [wider]]
    assert batch_signature(mod[0]) == batch_signature(make_config("mod-mul", "egd-svd", preset="smoke", lr=0.1,
                                                                  **MODULAR))
    with pytest.raises(ValueError, match="batch_signature"):
        BatchedTrainer([mod[0], par[0]])
    with pytest.raises(ValueError, match="max_runs must be an integer >= 1"):
        group_configs(mod, 0)


def test_models_and_optimizers_the_batched_engine_lacks_train_alone():
    mod = [make_config("mod-add", "vanilla", preset="smoke", seed=s, **MODULAR) for s in range(2)]
    digits = [make_config("digits", "egd-svd", seed=s) for s in range(2)]
    adam = [make_config("mod-mul", "vanilla", preset="transformer", p=97, seed=s) for s in range(2)]
    assert batchable(mod[0]) and not any(batchable(c) for c in digits + adam)
    groups = group_configs([mod[0], digits[0], adam[0], mod[1], digits[1], adam[1]], 10)
    assert groups == [[mod[0], mod[1]], [digits[0]], [adam[0]], [digits[1]], [adam[1]]]
    with pytest.raises(ValueError, match="single-run engine"):
        BatchedTrainer(digits)


def test_results_are_the_standard_files_and_record_the_engine(tmp_path):
    configs = [make_config("mod-add", m, preset="smoke", seed=s, max_epochs=3, rank=r, **MODULAR)
               for m, r in (("vanilla", None), ("egd-rsvd", 4)) for s in (0, 1)]
    results = train_batch(configs, out_dir=tmp_path)
    loaded = {r.name: r for r in load_runs(tmp_path)}
    assert sorted(loaded) == sorted(r.name for r in results)
    assert len(loaded) == 4 and not list(tmp_path.glob("*.ckpt.pt"))
    for r in results:
        assert loaded[r.name].env["engine"] == "batched" and loaded[r.name].env["batch_runs"] == 4
        assert loaded[r.name].summary["epochs_run"] == 3
    assert len(tables.report_rows(list(loaded.values()))) == 2  # the report reads them like any other runs
    again = train_batch(configs, out_dir=tmp_path)  # finished runs are reused, not retrained
    assert [r.history["seconds"].tolist() for r in again] == [loaded[r.name].history["seconds"].tolist()
                                                             for r in results]


def test_a_batch_resumes_from_its_checkpoints_as_if_never_stopped(tmp_path):
    configs = [make_config("mod-add", m, preset="smoke", seed=s, max_epochs=e, rank=r, **MODULAR)
               for m, r, s, e in (("vanilla", None, 0, 6), ("egd-rsvd", 4, 1, 5), ("egd-svd", None, 2, 6))]
    whole = train_batch(configs)
    partial = train_batch(configs, out_dir=tmp_path, stop_after=3, checkpoint_every=2)
    assert all(len(r.history["test_correct"]) == 3 for r in partial)
    assert all(checkpoint_path(c, tmp_path).exists() for c in configs) and not list(tmp_path.glob("*.json"))
    resumed = train_batch(configs, out_dir=tmp_path)
    for a, b in zip(whole, resumed):
        for name in COLUMNS:
            np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)


def test_either_engine_resumes_the_others_checkpoint(tmp_path):
    config = make_config("mod-add", "egd-rsvd", rank=4, preset="smoke", seed=3, max_epochs=6, **MODULAR)
    train_batch([config], out_dir=tmp_path / "a", stop_after=3)
    from_batch = train(config, out_dir=tmp_path / "a")  # the single-run engine finishes a batch's run
    train(config, out_dir=tmp_path / "b", stop_after=3)
    (from_single,) = train_batch([config], out_dir=tmp_path / "b")  # and the other way round
    straight = train(config)
    for run in (from_batch, from_single):
        assert run.summary["epochs_run"] == 6
        np.testing.assert_array_equal(run.history["train_correct"][:3], straight.history["train_correct"][:3])
        np.testing.assert_allclose(run.history["train_loss"], straight.history["train_loss"], rtol=1e-4)
