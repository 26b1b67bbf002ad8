"""Bad inputs across the CLI, the ``egd`` API and ``toymodel``: a clear error before any work, or a documented result.

Every CLI case must exit with status 2 and a one-line message that names the parameter,
with nothing written to the output folder (no run was started). Every API case must
raise ``ValueError`` whose message names the parameter. The few inputs whose answer is a
documented value (NaN for a diverged weight, NaN outside an asymptotic regime, inf past
``max_steps``) are checked for that value, and for the absence of warnings.
"""

from __future__ import annotations

import math
import os
import time
import warnings

import numpy as np
import pytest
import torch

import egd
import toymodel
from egd.grokking import cli
from egd.grokking.config import make_config

# ----------------------------------------------------------------------------- the CLI

SMOKE = ["--preset", "smoke", "--no-progress", "--device", "cpu"]
ADD = ["train", "--task", "mod-add", "--p", "23"] + SMOKE
PAR = ["train", "--task", "parity", "--n", "8", "--k", "2"] + SMOKE
SWEEP = ["sweep", "--task", "mod-add", "--methods", "vanilla"] + SMOKE


def _parity(n, k):
    return ["train", "--task", "parity", "--n", str(n), "--k", str(k)] + SMOKE


def _train(base, method, *extra):
    return base + ["--method", method, *extra]


#: (argv, text the error must contain); ``{out}`` is the test's output folder, ``{file}`` a
#: plain file inside the test's folder. The parameter's name is part of every expected text.
CLI_CASES = [
    # modulus, shape options and where they apply
    (_train(["train", "--task", "mod-add"] + SMOKE, "vanilla", "--p", "1"), "p must be an integer >= 2, got 1"),
    (_train(["train", "--task", "mod-add"] + SMOKE, "vanilla", "--p", "0"), "p must be an integer >= 2, got 0"),
    (_train(["train", "--task", "mod-add"] + SMOKE, "vanilla", "--p", "-5"), "p must be an integer >= 2, got -5"),
    (_train(["train", "--task", "mod-mul"] + SMOKE, "vanilla", "--p", "12"), "p must be prime"),
    (_train(["train", "--task", "mod-add"] + SMOKE, "vanilla", "--p", "70000"), "p must be at most 65535"),
    (_train(["train", "--task", "mod-add"] + SMOKE, "vanilla", "--p", "abc"), "argument --p: invalid int value"),
    (_train(PAR, "vanilla", "--p", "23"), "p applies only to the modular tasks"),
    (_train(ADD, "vanilla", "--n", "10"), "n applies only to the parity task"),
    (_train(ADD, "vanilla", "--k", "2"), "k applies only to the parity task"),
    (_train(_parity(3, 5), "vanilla"), "k must be an integer in [1, n=3]"),
    (_train(_parity(0, 1), "vanilla"), "n must be an integer >= 1"),
    (_train(_parity(8, 0), "vanilla"), "k must be an integer in [1, n=8]"),
    # rank
    (_train(ADD, "egd-rsvd", "--rank", "0"), "rank must be an integer >= 1, got 0"),
    (_train(ADD, "egd-rsvd", "--rank", "-3"), "rank must be an integer >= 1, got -3"),
    (_train(ADD, "egd-rsvd"), "rank is required"),
    (_train(ADD, "vanilla", "--rank", "4"), "rank applies only to ['egd-rsvd', 'egd-svd-top']"),
    (_train(ADD, "egd-svd", "--rank", "4"), "rank applies only to ['egd-rsvd', 'egd-svd-top']"),
    (_train(ADD, "colnorm", "--rank", "4"), "rank applies only to ['egd-rsvd', 'egd-svd-top']"),
    (_train(ADD, "egd-newton-schulz", "--rank", "4"), "rank applies only to ['egd-rsvd', 'egd-svd-top']"),
    # numbers of the optimisation
    (_train(ADD, "vanilla", "--lr", "-0.1"), "lr must be a finite number > 0, got -0.1"),
    (_train(ADD, "vanilla", "--lr", "0"), "lr must be a finite number > 0, got 0.0"),
    (_train(ADD, "vanilla", "--lr", "inf"), "lr must be a finite number > 0, got inf"),
    (_train(ADD, "vanilla", "--lr", "nan"), "lr must be a finite number > 0, got nan"),
    (_train(ADD, "vanilla", "--lr", "fast"), "argument --lr: invalid float value"),
    (_train(ADD, "vanilla", "--weight-decay", "-1"), "weight_decay must be a finite number >= 0"),
    (_train(ADD, "vanilla", "--weight-decay", "inf"), "weight_decay must be a finite number >= 0, got inf"),
    (_train(ADD, "vanilla", "--weight-decay", "nan"), "weight_decay must be a finite number >= 0, got nan"),
    (_train(ADD, "vanilla", "--threshold", "1.5"), "threshold must be a finite number > 0 and <= 1"),
    (_train(ADD, "vanilla", "--threshold", "0"), "threshold must be a finite number > 0 and <= 1"),
    (_train(ADD, "vanilla", "--threshold", "nan"), "threshold must be a finite number > 0 and <= 1"),
    (_train(ADD, "vanilla", "--width", "0"), "width must be an integer >= 1, got 0"),
    (_train(ADD, "vanilla", "--batch-size", "0"), "batch_size must be an integer >= 1, got 0"),
    (_train(ADD, "vanilla", "--batch-size", "100000"), "batch_size must be <= the number of training examples"),
    (_train(ADD, "vanilla", "--max-epochs", "0"), "max_epochs must be an integer >= 1, got 0"),
    (_train(ADD, "vanilla", "--max-epochs", "-1"), "max_epochs must be an integer >= 1, got -1"),
    (_train(ADD, "vanilla", "--spectrum-every", "-1"), "spectrum_every must be an integer >= 0, got -1"),
    (_train(ADD, "vanilla", "--patience", "-2"), "patience must be an integer >= 0, or -1"),
    # seeds
    (_train(ADD, "vanilla", "--seed", "-1"), "seed must be an integer >= 0 and <= 4294967295, got -1"),
    (_train(ADD, "vanilla", "--seed", str(2**32)), "seed must be an integer >= 0 and <= 4294967295"),
    (_train(ADD, "vanilla", "--data-seed", "-1"), "data_seed must be an integer >= 0"),
    (_train(ADD, "vanilla", "--data-seed", str(2**40)), "data_seed must be an integer >= 0"),
    # data options and their task family
    (_train(ADD, "vanilla", "--train-fraction", "1.2"), "train_fraction must be a finite number > 0 and < 1"),
    (_train(ADD, "vanilla", "--train-fraction", "0"), "train_fraction must be a finite number > 0 and < 1"),
    (_train(ADD, "vanilla", "--train-fraction", "1.0"), "train_fraction must be a finite number > 0 and < 1"),
    (_train(ADD, "vanilla", "--train-fraction", "nan"), "train_fraction must be a finite number > 0 and < 1"),
    (_train(ADD, "vanilla", "--train-fraction", "0.0001"), "train_fraction=0.0001 leaves an empty train or test set"),
    (_train(PAR, "vanilla", "--train-fraction", "0.5"), "train_fraction applies only to modular tasks"),
    (_train(ADD, "vanilla", "--n-train", "100"), "n_train applies only to parity and image tasks"),
    (_train(ADD, "vanilla", "--n-test", "100"), "n_test applies only to parity and image tasks"),
    (_train(PAR, "vanilla", "--n-train", "0"), "n_train must be an integer >= 1"),
    (_train(PAR, "vanilla", "--n-test", "-1"), "n_test must be an integer >= 1"),
    (_train(PAR, "vanilla", "--n-test", str(2**33)), "n_test must be an integer >= 1 and <= 4294967295"),
    (_train(ADD, "vanilla", "--second-operand-scale", "0"), "second_operand_scale must be a finite number > 0"),
    (_train(ADD, "vanilla", "--second-operand-scale", "inf"), "second_operand_scale must be a finite number > 0"),
    (_train(PAR, "vanilla", "--second-operand-scale", "0.5"), "second_operand_scale applies only to modular tasks"),
    (_train(ADD, "vanilla", "--random-streams", "numpy"), "random_streams='numpy' applies only to parity"),
    (_train(PAR, "vanilla", "--random-streams", "bogus"), "stream must be one of"),
    # losses and modes
    (_train(PAR, "vanilla", "--loss", "cross_entropy"), "loss for task 'parity' must be one of"),
    (_train(ADD, "vanilla", "--loss", "squared"), "loss for task 'mod-add' must be one of"),
    (_train(ADD, "vanilla", "--loss", "bogus"), "loss must be one of"),
    (_train(ADD, "vanilla", "--weight-decay-mode", "adamw"), "weight_decay_mode must be one of"),
    # method-specific settings, and where they apply
    (_train(ADD, "grokfast", "--grokfast-alpha", "1.0"), "grokfast_alpha must be a finite number >= 0 and < 1"),
    (_train(ADD, "grokfast", "--grokfast-alpha", "-0.1"), "grokfast_alpha must be a finite number >= 0 and < 1"),
    (_train(ADD, "grokfast", "--grokfast-lamb", "-1"), "grokfast_lamb must be a finite number >= 0"),
    (_train(ADD, "grokfast", "--grokfast-lamb", "inf"), "grokfast_lamb must be a finite number >= 0, got inf"),
    (_train(ADD, "vanilla", "--grokfast-alpha", "0.9"), "grokfast_alpha applies only to method 'grokfast'"),
    (_train(ADD, "egd-svd", "--grokfast-lamb", "3"), "grokfast_lamb applies only to method 'grokfast'"),
    (_train(ADD, "colnorm", "--colnorm-floor", "0"), "colnorm_floor must be a finite number > 0"),
    (_train(ADD, "colnorm", "--colnorm-floor", "-1"), "colnorm_floor must be a finite number > 0"),
    (_train(ADD, "vanilla", "--colnorm-floor", "0.5"), "colnorm_floor applies only to method 'colnorm'"),
    # threads, checkpoints, device, output folder
    (_train(ADD, "vanilla", "--threads", "0"), "threads must be an integer >= 1, got 0"),
    (_train(ADD, "vanilla", "--threads", "-1"), "threads must be an integer >= 1, got -1"),
    (_train(ADD, "vanilla", "--checkpoint-every", "0"), "checkpoint_every must be an integer >= 1, got 0"),
    (_train(ADD, "vanilla", "--checkpoint-seconds", "0"), "checkpoint_seconds must be a finite number > 0"),
    (_train(ADD, "vanilla", "--checkpoint-seconds", "-5"), "checkpoint_seconds must be a finite number > 0"),
    (_train(ADD, "vanilla", "--checkpoint-seconds", "nan"), "checkpoint_seconds must be a finite number > 0"),
    (_train(ADD, "vanilla", "--device", "tpu"), "device must be"),
    (_train(ADD, "vanilla", "--device", "bogus:x"), "device must be"),
    (_train(ADD, "vanilla", "--device", "meta"), "device must be a CPU or CUDA device"),
    (_train(ADD, "vanilla", "--out", "{file}"), "out must be a folder"),
    (_train(ADD, "vanilla", "--out", "{file}/sub"), "out must be a folder"),
    (["train", "--task", "mod-div", "--method", "vanilla"], "argument --task: invalid choice"),
    (["train", "--task", "mod-add", "--method", "adam"], "argument --method: invalid choice"),
    # sweep
    (SWEEP + ["--jobs", "0"], "jobs must be an integer >= 1"),
    (SWEEP + ["--seeds", "0", "-1"], "seed must be an integer >= 0"),
    (["sweep", "--task", "mod-add", "--methods", "vanilla", "colnorm", "--rank", "4"] + SMOKE,
     "rank applies only to ['egd-rsvd', 'egd-svd-top']"),
    (["sweep", "--task", "parity", "--methods", "vanilla", "--p", "23"] + SMOKE, "p applies only to the modular tasks"),
    (SWEEP + ["--n", "8"], "n applies only to the parity task"),
    (SWEEP + ["--threads", "0"], "threads must be an integer >= 1"),
    (SWEEP + ["--max-epochs", "0"], "max_epochs must be"),
    (SWEEP + ["--lr", "inf"], "lr must be a finite number"),
    (SWEEP + ["--out", "{file}"], "out must be a folder"),
    (["sweep", "--task", "mod-add", "parity", "--methods", "vanilla", "--p", "1"] + SMOKE, "p must be an integer >= 2"),
    # the sweep's Dask options
    (SWEEP + ["--jobs", "-1"], "jobs must be an integer >= 1, got -1"),
    (SWEEP + ["--jobs", "1.5"], "argument --jobs: invalid int value"),
    (SWEEP + ["--batch-runs", "0"], "batch_runs must be an integer >= 1, got 0"),
    (SWEEP + ["--batch-runs", "-2"], "batch_runs must be an integer >= 1, got -2"),
    (SWEEP + ["--batch-runs", "x"], "argument --batch-runs: invalid int value"),
    (SWEEP + ["--batch", "2"], "ambiguous option: --batch could match"),
    (SWEEP + ["--scheduler", ""], "scheduler must be a Dask scheduler address"),
    (SWEEP + ["--scheduler", "tcp://a b:8786"], "scheduler must be a Dask scheduler address"),
    (SWEEP + ["--scheduler", "tcp://127.0.0.1:9", "--jobs", "2"], "jobs sets the size of the embedded cluster"),
    (SWEEP + ["--batch-runs", "2", "--threads", "0"], "threads must be an integer >= 1"),
    # bench
    (["bench", "--epochs", "0"], "epochs must be an integer >= 1, got 0"),
    (["bench", "--repeats", "0"], "repeats must be an integer >= 1, got 0"),
    (["bench", "--epochs", "-2"], "epochs must be an integer >= 1, got -2"),
    (["bench", "--threads", "0"], "threads must be an integer >= 1, got 0"),
    (["bench", "--p", "1"], "p must be an integer >= 2, got 1"),
    (["bench", "--task", "mod-mul", "--p", "12"], "p must be prime"),
    (["bench", "--out", "{out}"], "out must be a file path, got the folder"),
    (["bench", "--out", "{file}/timings.json"], "out must be a folder"),
    (["bench", "--device", "tpu"], "device must be"),
    # reproduce
    (["reproduce", "modular", "--threads", "0", "--out", "{out}"], "threads must be an integer >= 1, got 0"),
    (["reproduce", "modular", "--checkpoint-every", "0", "--out", "{out}"], "checkpoint_every must be an integer"),
    (["reproduce", "modular", "--checkpoint-seconds", "0", "--out", "{out}"], "checkpoint_seconds must be"),
    (["reproduce", "modular", "--out", "{file}", "--device", "cpu"], "out must be a folder"),
    (["reproduce", "modular", "--jobs", "0", "--out", "{out}"], "jobs must be an integer >= 1, got 0"),
    (["reproduce", "modular", "--batch-runs", "0", "--out", "{out}"], "batch_runs must be an integer >= 1, got 0"),
    (["reproduce", "modular", "--scheduler", "tcp://127.0.0.1:9", "--jobs", "1", "--out", "{out}"],
     "jobs sets the size of the embedded cluster"),
    (["reproduce", "modular", "--scheduler", " ", "--out", "{out}"], "scheduler must be a Dask scheduler address"),
    (["reproduce", "nothing"], "argument runs: invalid choice"),
    # report
    (["report", "--results", "{out}/missing"], "results must be a folder of run files"),
    (["report", "--results", "{file}"], "results must be a folder of run files"),
]

if not torch.cuda.is_available():
    CLI_CASES += [
        (_train(ADD, "vanilla", "--device", "cuda"), "device 'cuda' asks for CUDA, but this torch"),
        (_train(ADD, "vanilla", "--device", "cuda:3"), "device 'cuda:3' asks for CUDA"),
        (["sweep", "--task", "mod-add", "--methods", "vanilla", "--device", "cuda", "--preset", "smoke"],
         "device 'cuda' asks for CUDA"),
        (["bench", "--device", "cuda"], "device 'cuda' asks for CUDA"),
        (["reproduce", "gpu-comparison", "--device", "cuda", "--out", "{out}"], "device 'cuda' asks for CUDA"),
    ]


def _ids(cases):
    return [f"{i:03d}-" + "-".join(a.lstrip("-") for a in argv[:1] + argv[-2:]) for i, (argv, _) in enumerate(cases)]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=_ids(CLI_CASES))
def test_cli_refuses_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    out.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    argv = [a.format(out=out, file=blocker) for a in argv]
    if "--out" not in argv and argv[0] in ("train", "sweep"):
        argv += ["--out", str(out)]
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err.strip().splitlines()[-1], err  # one line says why
    assert not list(out.iterdir()), "something was trained or written"
    assert time.perf_counter() - t0 < 30  # refused up front, not after training


# ----------------------------------------------------------------------------- the egd API

G = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
NAN_G = G.clone()
NAN_G[0, 0] = float("nan")


def _grokfast(**kw):
    grads, ema = [G.clone()], [G.clone()]
    args = dict(alpha=0.98, lamb=2.0)
    args.update(kw)
    return egd.grokfast_ema_(grads, ema, **args)


def _model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


EGD_CASES = [
    (lambda: egd.orthogonalize(G, method="bogus"), "method must be one of"),
    (lambda: egd.orthogonalize(G, method="rsvd"), "rank must be an int >= 1 for method='rsvd', got None"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=0), "rank must be an int >= 1"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=2.5), "rank must be an int >= 1"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=True), "rank must be an int >= 1"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", rank=2), "rank is not available with method='newton_schulz'"),
    (lambda: egd.orthogonalize(G, method="svd", rank=0), "rank must be None or an int >= 1, got 0"),
    (lambda: egd.orthogonalize(G, spectral_cutoff=1.0), "spectral_cutoff must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, spectral_cutoff=float("nan")), "spectral_cutoff must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", spectral_cutoff=0.1),
     "spectral_cutoff is not available with method='newton_schulz'"),
    (lambda: egd.orthogonalize(G, batch_rank=0), "batch_rank must be None or an int >= 1"),
    (lambda: egd.EGD(torch.optim.SGD([torch.nn.Parameter(G)], lr=0.1), batch_rank=-2),
     "batch_rank must be None or an int >= 1"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=2, n_iter=-1), "n_iter must be an int >= 0"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=2, n_iter=1.5), "n_iter must be an int >= 0"),
    (lambda: egd.orthogonalize(G, method="rsvd", rank=2, oversampling=-1), "oversampling must be an int >= 0"),
    (lambda: egd.orthogonalize(G, rtol=1.0), "rtol must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, rtol=-0.1), "rtol must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, rtol=float("nan")), "rtol must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, rtol="small"), "rtol must be None or a float in [0, 1)"),
    (lambda: egd.orthogonalize(G, method="gram", rtol=0.0), "rtol must be >= 1e-06"),
    (lambda: egd.orthogonalize(G, method="gram", rtol=1e-9), "rtol must be >= 1e-06"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", ns_steps=0), "ns_steps must be an int >= 1"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", ns_steps=2.5), "ns_steps must be an int >= 1"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", ns_coefficients=(1.0, 2.0)), "ns_coefficients"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", ns_coefficients=[]), "ns_coefficients"),
    (lambda: egd.orthogonalize(G, method="newton_schulz", ns_coefficients=(1.5, float("nan"), 0.0)),
     "ns_coefficients"),
    (lambda: egd.orthogonalize(NAN_G), "G must be finite; got 1 NaN and 0 inf"),
    (lambda: egd.orthogonalize(G.masked_fill(G > 1, float("inf"))), "G must be finite"),
    (lambda: egd.orthogonalize(torch.ones(3, 3, dtype=torch.int64)), "G must have a real floating dtype"),
    (lambda: egd.orthogonalize(torch.ones(5)), "G must have shape (..., m, n) with ndim >= 2"),
    (lambda: egd.column_normalize(G, floor=0.0), "floor must be a finite float > 0"),
    (lambda: egd.column_normalize(G, floor=-1.0), "floor must be a finite float > 0"),
    (lambda: egd.column_normalize(G, floor=float("inf")), "floor must be a finite float > 0"),
    (lambda: egd.column_normalize(G, dim=2), "dim must be one of the last two dimensions"),
    (lambda: _grokfast(alpha=1.5), "alpha must be a float in [0, 1]"),
    (lambda: _grokfast(alpha=-0.1), "alpha must be a float in [0, 1]"),
    (lambda: _grokfast(lamb=-1.0), "lamb must be a finite float >= 0"),
    (lambda: _grokfast(lamb=float("inf")), "lamb must be a finite float >= 0"),
    (lambda: egd.grokfast_ema_([G], [torch.zeros(2, 2)]), "ema[0] must have shape (6, 4)"),
    (lambda: egd.grokfast_ema_([G, G], [G]), "ema must hold one tensor per gradient"),
    (lambda: egd.EGD(torch.optim.SGD(_model().parameters(), lr=0.1), method="bogus"), "method must be one of"),
    (lambda: egd.EGD(torch.optim.SGD(_model().parameters(), lr=0.1), rtol=2.0), "rtol must be None or a float"),
    (lambda: egd.EGD(torch.optim.SGD(_model().parameters(), lr=0.1), method="gram", rtol=0.0), "rtol must be >="),
    (lambda: egd.EGD(torch.optim.SGD(_model().parameters(), lr=0.1), check_finite="yes"), "check_finite must be"),
    (lambda: egd.EGD(torch.optim.SGD(_model().parameters(), lr=0.1), wobble=1), "unknown EGD option"),
    (lambda: egd.l2_penalty([G], -1.0), "wd must be a finite float >= 0"),
    (lambda: egd.l2_penalty([G], float("nan")), "wd must be a finite float >= 0"),
    (lambda: egd.l2_penalty([], 0.1), "params must hold at least one tensor"),
    (lambda: egd.select_params(_model(), names=["nope.weight"]), "names pattern 'nope.weight' matches no parameter"),
    (lambda: egd.select_params(_model(), min_ndim=1), "min_ndim must be an int >= 2"),
    # the harness's Python API (configs and the runner)
    (lambda: make_config("mod-add", "vanilla", n=10), "n and k apply only to the parity task"),
    (lambda: make_config("parity", "vanilla", p=23), "p applies only to the modular tasks"),
    (lambda: make_config("mod-add", "vanilla", threads=0), "threads must be an integer >= 1, got 0"),
    (lambda: make_config("mod-add", "vanilla", threads=2.0), "threads must be an integer >= 1, got 2.0"),
    (lambda: make_config("mod-add", "vanilla", device="tpu"), "device must be"),
    (lambda: make_config("mod-add", "vanilla", grokfast_alpha=0.5), "grokfast_alpha applies only to method"),
    (lambda: make_config("parity", "vanilla", train_fraction=0.3), "train_fraction applies only to modular"),
    (lambda: make_config("mod-add", "vanilla", n_train=10), "n_train applies only to parity"),
]


@pytest.mark.parametrize("call, message", EGD_CASES, ids=[f"egd-{i:02d}" for i in range(len(EGD_CASES))])
def test_egd_api_names_the_parameter(call, message):
    with pytest.raises(ValueError) as exc:
        call()
    assert message in str(exc.value)


def test_train_refuses_a_thread_count_other_than_the_configs(tmp_path):
    from egd.grokking.runner import train

    config = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=2)
    torch.set_num_threads(2)  # conftest restores 1 afterwards
    with pytest.raises(ValueError, match=r"threads: the config says 1 but torch computes with 2 threads.*"
                                         r"torch.set_num_threads\(1\).*threads=torch.get_num_threads\(\)"):
        train(config, out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_train_checks_the_output_folder_before_training(tmp_path):
    from egd.grokking.runner import train

    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = make_config("mod-add", "vanilla", preset="smoke", p=23, max_epochs=2)
    for bad in (blocker, blocker / "below"):
        with pytest.raises(ValueError, match="out_dir must be a folder"):
            train(config, out_dir=bad)
    for name, value in (("checkpoint_every", 0), ("checkpoint_seconds", 0.0), ("stop_after", 0)):
        with pytest.raises(ValueError, match=f"{name} must be"):
            train(config, **{name: value})


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_cli_refuses_a_read_only_output_folder(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main(_train(ADD, "vanilla", "--out", str(out)))
        assert exc.value.code == 2 and "out must be a writable folder" in capsys.readouterr().err
    finally:
        out.chmod(0o700)


# ----------------------------------------------------------------------------- toymodel

OK = dict(eta=0.1, s=1.0, theta=0.5, u=[0.0, 3.0])
X_TRAIN, Y_TRAIN = toymodel.sample_train(500, eps=0.01, s=1.0, seed=0)
X_NAN = X_TRAIN.copy()
X_NAN[3, 1] = np.nan


def _plateau(eps=0.01, **kw):
    return toymodel.plateau_length(eps, **{**OK, **kw})


def _traj(X=X_TRAIN, y=Y_TRAIN, **kw):
    args = dict(u=(0.0, 3.0), eta=0.1, steps=10)
    args.update(kw)
    return toymodel.train_trajectory(X, y, **args)


TOY_CASES = [
    (lambda: _plateau(0.0), "eps must be > 0"),
    (lambda: _plateau(-1e-3), "eps must be > 0"),
    (lambda: _plateau(np.nan), "eps must be finite"),
    (lambda: _plateau(np.inf), "eps must be finite"),
    (lambda: _plateau("small"), "eps must be a finite number or array"),
    (lambda: _plateau(eta=0.0), "eta must be > 0"),
    (lambda: _plateau(eta=-0.1), "eta must be > 0"),
    (lambda: _plateau(eta=np.nan), "eta must be finite"),
    (lambda: _plateau(eta=True), "eta must be a finite number or array"),
    (lambda: _plateau(s=-1.0), "s must be >= 0"),
    (lambda: _plateau(theta=0.0), "theta must lie in (0, pi/2)"),
    (lambda: _plateau(theta=np.pi / 2), "theta must lie in (0, pi/2)"),
    (lambda: _plateau(theta=2.0), "theta must lie in (0, pi/2)"),
    (lambda: _plateau(u=[0.0, 1.0, 2.0]), "u must have shape (..., 2)"),
    (lambda: _plateau(u=[np.nan, 1.0]), "u must be finite"),
    (lambda: _plateau(method="adam"), "method must be one of"),
    (lambda: _plateau(convention="double"), "convention must be one of"),
    (lambda: _plateau(regime="huge"), "regime must be one of"),
    (lambda: _plateau(tau_formula="mine"), "tau_formula must be one of"),
    (lambda: _plateau(formula="eq7"), "formula must be one of"),
    (lambda: _plateau(max_steps=-1), "max_steps must be a non-negative integer"),
    (lambda: _plateau(max_steps=1.5), "max_steps must be a non-negative integer"),
    (lambda: _plateau(max_steps=True), "max_steps must be a non-negative integer"),
    (lambda: _plateau(eta=0.9), "eta must be < 0.79"),  # 1 eta m2 >= 2 at s = 1
    (lambda: _plateau(eta=0.5, convention="full"), "eta must be < 0.39"),
    (lambda: _plateau(eta=2.5, method="paper_egd"), "eta must be < 2 here (1 eta < 2"),
    (lambda: _plateau(eta=1.5, method="paper_egd", convention="full"), "eta must be < 1 here"),
    (lambda: _plateau(eps=300.0), "eta must be < 0.00666667 here (1 eta eps < 2"),
    (lambda: _plateau(1e-300, method="egd"), "eps=1e-300 is too small for the exact EGD iteration"),
    (lambda: _plateau(1e-8, method="egd"), "eps=1e-08 is too small for the exact EGD iteration"),
    (lambda: _plateau(1e-3, eta=1e-9, method="egd"), "eta=1e-09 is too small for the exact EGD iteration"),
    (lambda: _plateau(1e-3, eta=1e-9), "eta=1e-09 is too small for regime='exact'"),
    (lambda: _plateau(1e-3, method="egd", regime="small_init"), "regime 'small_init' (Corollary 1 B)"),
    (lambda: toymodel.plateau_ratio(s=1.0, theta=0.5, u=[0, 3], formula="mine"), "tau_formula must be one of"),
    (lambda: toymodel.mean_trajectory(-1, eps=0.01, eta=0.1, s=1.0, u=[0, 3]), "k must be a non-negative integer"),
    (lambda: toymodel.mean_trajectory(1.5, eps=0.01, eta=0.1, s=1.0, u=[0, 3]), "k must be a non-negative integer"),
    (lambda: toymodel.mean_trajectory(np.nan, eps=0.01, eta=0.1, s=1.0, u=[0, 3]), "k must be finite"),
    (lambda: toymodel.mean_trajectory(3, eps=0.01, eta=0.1, s=1.0, u=[0, 3], method="sgd"), "method must be one of"),
    (lambda: toymodel.test_error([1.0], eps=0.01, theta=0.5), "w must have shape (..., 2)"),
    (lambda: toymodel.test_error([1.0, 0.0], eps=0.0, theta=0.5), "eps must be > 0"),
    (lambda: toymodel.test_error([1.0, 0.0], eps=0.01, theta=0.0), "theta must lie in (0, pi]"),
    (lambda: toymodel.test_error([1.0, 0.0], eps=0.01, theta=4.0), "theta must lie in (0, pi]"),
    (lambda: toymodel.test_error([1.0, 0.0], eps=0.01, theta=0.5, formula="x"), "formula must be one of"),
    (lambda: toymodel.test_error_curve(3, eps=0.01, eta=0.1, s=1.0, theta=1.7, u=[0, 3]), "theta must lie in"),
    (lambda: toymodel.moments(0.0, 0.5), "eps must be > 0"),
    (lambda: toymodel.moments(0.01, 0.0), "theta must lie in (0, pi]"),
    (lambda: toymodel.moments(0.01, 0.5, formula="guess"), "formula must be one of"),
    (lambda: toymodel.moments(1e-300, 0.5), "eps must be larger: at eps=1e-300"),
    (lambda: toymodel.moments(0.01, np.pi, formula="paper_integrals"), "theta must lie in (0, pi) for formula"),
    (lambda: toymodel.equi_trajectory(1, eps=0.01, eta=1e3, theta=0.5, u=[0, 1]), "eta must be <"),
    (lambda: toymodel.equi_matrix_power(-2, eps=0.01, eta=0.1, theta=0.5), "k must be a non-negative integer"),
    (lambda: toymodel.equi_plateau_length(0.01, eta=0.1, theta=0.5, u=[0, 3], regime="other"), "regime must be"),
    (lambda: toymodel.equi_plateau_length(1e-15, eta=0.1, theta=np.pi / 4, u=[0, 3]),
     "eps=1e-15 (with eta=0.1) is too small for regime='exact'"),
    (lambda: toymodel.equi_plateau_bounds(0.01, eta=0.1, theta=0.5, u=[0, 3], c_hat=0.5), "c_hat must be >= 1"),
    (lambda: toymodel.has_plateau(0.01, theta=0.5, u=[0, 1, 2]), "u must have shape (..., 2)"),
    (lambda: toymodel.truncated_moments(-1.0), "s must be >= 0"),
    (lambda: toymodel.sample_train(0, eps=0.01, s=1.0), "n must be an integer >= 1, got 0"),
    (lambda: toymodel.sample_train(-5, eps=0.01, s=1.0), "n must be an integer >= 1, got -5"),
    (lambda: toymodel.sample_train(2.5, eps=0.01, s=1.0), "n must be an integer >= 1, got 2.5"),
    (lambda: toymodel.sample_train(10, eps=0.0, s=1.0), "eps must be a finite number > 0"),
    (lambda: toymodel.sample_train(10, eps="x", s=1.0), "eps must be a finite number > 0, got 'x'"),
    (lambda: toymodel.sample_train(10, eps=0.01, s=-1.0), "s must be a finite number >= 0"),
    (lambda: toymodel.sample_train(10, eps=0.01, s=None), "s must be a finite number >= 0, got None"),
    (lambda: toymodel.sample_train(10, eps=0.01, s=1.0, seed="x"), "seed must be an int, None or a numpy Generator"),
    (lambda: toymodel.sample_shift_test(10, eps=0.01, theta=0.0), "theta must lie in (0, pi/2)"),
    (lambda: toymodel.sample_shift_test(10, eps=0.01, theta=2.0), "theta must lie in (0, pi/2)"),
    (lambda: toymodel.sample_equi(10, eps=0.01, theta=3.5), "theta must lie in (0, pi]"),
    (lambda: toymodel.sample_equi(10, eps=0.01, theta="wide"), "theta must be a number, got 'wide'"),
    (lambda: _traj(X=X_TRAIN[:, :1]), "X must have shape (n, 2)"),
    (lambda: _traj(X=X_NAN), "X must be finite"),
    (lambda: _traj(X=np.full_like(X_TRAIN, 1e200)), "X is too large: X^T X / n overflows"),
    (lambda: _traj(X="data"), "X must be a numeric array"),
    (lambda: _traj(y=Y_TRAIN * 2), "y must hold labels -1 or +1"),
    (lambda: _traj(y=Y_TRAIN[:-1]), "y must have shape (500,)"),
    (lambda: _traj(y=np.where(Y_TRAIN > 0, np.nan, -1.0)), "y must hold labels -1 or +1"),
    (lambda: _traj(u=(np.nan, 3.0)), "u must be a finite vector of shape (2,)"),
    (lambda: _traj(u=(1.0, 2.0, 3.0)), "u must be a finite vector of shape (2,)"),
    (lambda: _traj(eta=0.0), "eta must be a finite number > 0"),
    (lambda: _traj(eta=np.inf), "eta must be a finite number > 0"),
    (lambda: _traj(eta="fast"), "eta must be a finite number > 0, got 'fast'"),
    (lambda: _traj(eta=100.0), "eta must be < 0.745639, the stability limit of method='gd'"),
    (lambda: _traj(eta=100.0, steps=400), "eta must be < 0.745639"),  # the example that gave W[-1] = [nan nan]
    (lambda: _traj(eta=1.0, convention="full"), "eta must be < 0.372819"),
    (lambda: _traj(eta=2.0, method="paper_egd"), "eta must be < 2, the stability limit of method='paper_egd'"),
    (lambda: _traj(eta=100.0, batch_size=10, seed=0), "eta must be < 0.745639"),
    (lambda: _traj(steps=-1), "steps must be an integer >= 0"),
    (lambda: _traj(steps=2.5), "steps must be an integer >= 0"),
    (lambda: _traj(method="adam"), "method must be one of"),
    (lambda: _traj(convention="double"), "convention must be one of"),
    (lambda: _traj(batch_size=0), "batch_size must be an integer >= 1"),
    (lambda: _traj(batch_size=501), "batch_size must be <= n = 500"),
    (lambda: _traj(batch_size=1, method="paper_egd"), "batch_size must be >= 2 for method='paper_egd'"),
    (lambda: toymodel.misclassification_rate(np.zeros((3, 3)), X_TRAIN, Y_TRAIN), "W must have shape (K, 2)"),
    (lambda: toymodel.misclassification_rate(np.zeros((3, 2)), X_NAN, Y_TRAIN), "X must be finite"),
]


@pytest.mark.parametrize("call, message", TOY_CASES, ids=[f"toy-{i:02d}" for i in range(len(TOY_CASES))])
def test_toymodel_names_the_parameter(call, message):
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as exc:
        call()
    assert message in str(exc.value)
    assert time.perf_counter() - t0 < 20  # refused without minutes of work


#: Inputs with a documented value instead of an error: (call, check of the result).
DOCUMENTED = [
    # a diverged weight is not a classifier: error NaN, never 0
    (lambda: toymodel.misclassification_rate([[np.nan, np.nan], [1.0, 0.0]], X_TRAIN, Y_TRAIN),
     lambda r: np.isnan(r[0]) and 0 <= r[1] <= 1),
    (lambda: toymodel.misclassification_rate([[np.inf, 1.0]], X_TRAIN, Y_TRAIN), lambda r: np.isnan(r[0])),
    (lambda: toymodel.misclassification_rate([[0.0, 0.0]], X_TRAIN, Y_TRAIN), lambda r: r[0] == 1.0),
    # asymptotic regimes outside their domain: NaN, no warning, never -inf
    (lambda: _plateau(0.01, u=[0.0, 0.0], regime="large_init"), lambda r: np.isnan(r)),
    (lambda: _plateau(0.01, u=[0.0, 0.1], regime="large_init"), lambda r: np.isnan(r)),  # tau < 1
    (lambda: _plateau(0.01, u=[0.0, 0.0], regime="small_init"), lambda r: np.isnan(r)),
    (lambda: _plateau(0.01, u=[0.0, 0.0], method="egd", regime="large_init"), lambda r: np.isfinite(r)),
    # a tiny eps is a long plateau, not a divergence: GD's exact search answers at once
    (lambda: _plateau(1e-300), lambda r: r == np.inf),
    (lambda: _plateau(1e-300, method="paper_egd"), lambda r: np.isfinite(r)),
    (lambda: _plateau(1e-300, regime="large_init"), lambda r: 1e300 < r < np.inf),
    (lambda: _plateau(1e-7), lambda r: r == np.inf),  # beyond max_steps = 1e8
    (lambda: _plateau(1e-300, method="egd", max_steps=1000), lambda r: r == np.inf),
    (lambda: toymodel.mean_trajectory(10**12, eps=1e-13, eta=0.1, s=1.0, u=[0, 3])[1],
     lambda r: abs(r - 3 * math.exp(-0.01)) < 1e-9),
]


@pytest.mark.parametrize("call, check", DOCUMENTED, ids=[f"doc-{i:02d}" for i in range(len(DOCUMENTED))])
def test_documented_results_without_warnings(call, check):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = call()
    assert check(np.asarray(result)), result
    assert time.perf_counter() - t0 < 20


def test_the_suite_is_large_enough():
    assert len(CLI_CASES) + len(EGD_CASES) + len(TOY_CASES) + len(DOCUMENTED) >= 150
