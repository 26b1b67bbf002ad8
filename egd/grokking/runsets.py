"""The runs behind the reproduction chapters, per profile, and run-or-load.

The chapters and ``egd-grok reproduce`` build their configs here, so a chapter finds the
committed result files by key (:func:`egd.grokking.config.config_key`) and trains only
what is missing. ``quick``: p = 97 and Parity(100, 3) with :data:`QUICK_SEEDS`; ``full``:
every p and (n, k) of Tables 2–4 with :data:`FULL_SEEDS`.

Where results live is always an argument: :func:`results_dir` resolves the default (the
``EGD_RESULTS_DIR`` environment variable, else ``results`` in the working directory), never
the package's own location, so an installed wheel works the same as a checkout.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import RunConfig, make_config
from .runner import train
from .store import RunResult, find_run

#: Environment variable that names the results folder; :func:`results_dir` reads it.
RESULTS_ENV = "EGD_RESULTS_DIR"
DEFAULT_RESULTS_DIR = Path("results")

QUICK_SEEDS = (0, 1, 2)
FULL_SEEDS = (0, 1, 2)
#: Parity runs are ~60x more steps per epoch than modular ones: in quick, one seed except
#: for the methods of the acceptance check (vanilla, exact EGD) and the cheap ones.
QUICK_PARITY_SEEDS = (0,)
PARITY_ALL_SEEDS_METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 30), ("colnorm", None))
#: Exact EGD and vanilla on parity have a two-way outcome (a run groks early or sits at
#: chance for hundreds of epochs), so three seeds cannot tell a typical run from a lucky
#: one: these two get ten seeds in both profiles.
PARITY_DISTRIBUTION_SEEDS = tuple(range(10))
PARITY_DISTRIBUTION_METHODS = (("vanilla", None), ("egd-svd", None))
PROFILES = ("quick", "full")

#: (method, rank) pairs of Tables 2–3 and of Table 4.
MODULAR_METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 128), ("egd-rsvd", 64), ("colnorm", None))
#: Columns of Tables 2–3 in the full profile only (the paper has no such column): Grokfast-EMA
#: with the package's defaults, alpha = 0.98 and lambda = 2 (:data:`egd.defaults.DEFAULT_GROKFAST_ALPHA`,
#: :data:`egd.defaults.DEFAULT_GROKFAST_LAMB`). The quick profile's set stays the committed one.
MODULAR_FULL_EXTRA_METHODS = (("grokfast", None),)
PARITY_METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 40), ("egd-rsvd", 30),
                  ("egd-rsvd", 20), ("egd-rsvd", 10), ("colnorm", None))
#: Extra parity runs with the weight decay added after the transform (see the chapter).
PARITY_DECOUPLED_METHODS = (("egd-svd", None),)
#: Gradient spectra (Figure 4): every epoch would bloat the files; the slow vanilla runs
#: are sampled more sparsely than the fast transformed ones.
SPECTRUM_EVERY = {"vanilla": 50}
SPECTRUM_EVERY_DEFAULT = 5
#: Patience after the threshold (epochs) for the reproduction runs.
PATIENCE = 50
#: Modular runs that never reach the threshold stop here (paper: 15,000).
MODULAR_MAX_EPOCHS = 15_000


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")


def modular_config(task: str, p: int, method: str, rank: int | None, seed: int, device: str = "cpu",
                   spectral_cutoff: float | None = None, weight_decay_mode: str = "loss") -> RunConfig:
    return make_config(task, method, p=p, rank=rank, seed=seed, device=device, patience=PATIENCE,
                       spectrum_every=SPECTRUM_EVERY.get(method, SPECTRUM_EVERY_DEFAULT),
                       spectral_cutoff=spectral_cutoff, weight_decay_mode=weight_decay_mode)


def parity_config(n: int, k: int, method: str, rank: int | None, seed: int, device: str = "cpu",
                  weight_decay_mode: str = "loss", spectral_cutoff: float | None = None) -> RunConfig:
    return make_config("parity", method, n=n, k=k, rank=rank, seed=seed, device=device, patience=PATIENCE,
                       spectrum_every=SPECTRUM_EVERY.get(method, SPECTRUM_EVERY_DEFAULT),
                       weight_decay_mode=weight_decay_mode, spectral_cutoff=spectral_cutoff)


def modular_configs(task: str, profile: str, device: str = "cpu") -> list[RunConfig]:
    """Tables 2 (``mod-add``) and 3 (``mod-mul``): p x method x seed; the full profile adds
    :data:`MODULAR_FULL_EXTRA_METHODS` after the paper's methods."""
    _check_profile(profile)
    ps = (97,) if profile == "quick" else (79, 97, 127)
    seeds = QUICK_SEEDS if profile == "quick" else FULL_SEEDS
    method_list = MODULAR_METHODS if profile == "quick" else MODULAR_METHODS + MODULAR_FULL_EXTRA_METHODS
    return [modular_config(task, p, m, r, s, device) for p in ps for m, r in method_list for s in seeds]


def parity_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """Table 4: (n, k) x method x seed."""
    _check_profile(profile)
    shapes = ((100, 3),) if profile == "quick" else ((400, 2), (100, 3), (50, 4))

    def seeds(method: str, rank: int | None) -> tuple[int, ...]:
        if (method, rank) in PARITY_DISTRIBUTION_METHODS:
            return PARITY_DISTRIBUTION_SEEDS
        if profile == "full" or (method, rank) in PARITY_ALL_SEEDS_METHODS:
            return FULL_SEEDS if profile == "full" else QUICK_SEEDS
        return QUICK_PARITY_SEEDS

    paper = [parity_config(n, k, m, r, s, device)
             for n, k in shapes for m, r in PARITY_METHODS for s in seeds(m, r)]
    decoupled = [parity_config(n, k, m, r, s, device, "decoupled")
                 for n, k in shapes for m, r in PARITY_DECOUPLED_METHODS
                 for s in (FULL_SEEDS if profile == "full" else QUICK_SEEDS)]
    return paper + decoupled


#: The paper's single Table-4 runs, redone with the authors' random draws: their script's
#: init seed and data seed, and its unrounded learning rates (the paper rounds them).
AUTHORS_INIT_SEED = 42
AUTHORS_DATA_SEED = 0
AUTHORS_PARITY_LR = {(100, 3): 0.0416239, (50, 4): 0.0230841}
AUTHORS_PARITY_METHODS = (("vanilla", None), ("egd-svd", None))


def parity_authors_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """Table 4's runs on the authors' draws (``random_streams="numpy"``), one per method."""
    _check_profile(profile)
    shapes = ((100, 3),) if profile == "quick" else ((400, 2), (100, 3), (50, 4))
    configs = []
    for n, k in shapes:
        lr = {"lr": AUTHORS_PARITY_LR[(n, k)]} if (n, k) in AUTHORS_PARITY_LR else {}
        for m, r in AUTHORS_PARITY_METHODS:
            configs.append(make_config("parity", m, n=n, k=k, rank=r, seed=AUTHORS_INIT_SEED, device=device,
                                       data_seed=AUTHORS_DATA_SEED, random_streams="numpy", patience=PATIENCE,
                                       spectrum_every=SPECTRUM_EVERY.get(m, SPECTRUM_EVERY_DEFAULT), **lr))
    return configs


#: Appendix D, chapter "Other models and optimizers": the runs live in this subfolder.
OTHER_MODELS_SUBDIR = "10_other_models"
#: Table 7: the transformer on x * y mod 97 with Adam; (method, rank) pairs.
TRANSFORMER_METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 36), ("grokfast", None))
#: Epochs (of 9 steps) trained after the threshold, to show whether the accuracy holds.
TRANSFORMER_PATIENCE = 50
#: The baseline gets the full 100,000 steps; a method run that has not reached 95% after
#: 20,007 steps (about 20x the paper's numbers) is stopped there and counts as never reaching
#: it (the shared CPUs' time budget).
TRANSFORMER_METHOD_MAX_EPOCHS = 2_223
#: Table 6 on scikit-learn's digits: (method, rank) pairs, both weight decays of the public runs.
DIGITS_METHODS = (("vanilla", None), ("egd-svd", None), ("egd-rsvd", 16), ("egd-rsvd", 8), ("egd-rsvd", 4),
                  ("grokfast", None))
DIGITS_WEIGHT_DECAYS = (0.01, 2.0)
#: Epochs (of 5 steps) trained after the threshold.
DIGITS_PATIENCE = 100
#: At AdamW's default weight decay 0.01 the x8 initial weights shrink slowly and a run crawls
#: (exact EGD: 41% test accuracy after 5,500 steps); these runs stop after 20,000 steps
#: (4,000 epochs, the shared CPUs' time budget) and one that has not reached 85% by then
#: counts as never reaching it. At 2.0 every run gets the preset's 100,000 steps.
DIGITS_EPOCH_BUDGET = {0.01: 4_000}
OTHER_MODELS_SEEDS = (0, 1, 2)


def transformer_config(method: str, rank: int | None, seed: int, device: str = "cpu") -> RunConfig:
    """Table 7's run: Adam without weight decay for the baseline, Adam's own 5e-3 with a method."""
    from .registry import TRANSFORMER_METHOD_WEIGHT_DECAY

    if method == "vanilla":
        extra = dict(weight_decay=0.0)
    else:
        extra = dict(weight_decay=TRANSFORMER_METHOD_WEIGHT_DECAY, max_epochs=TRANSFORMER_METHOD_MAX_EPOCHS)
    return make_config("mod-mul", method, preset="transformer", p=97, rank=rank, seed=seed, device=device,
                       patience=TRANSFORMER_PATIENCE, **extra)


def digits_config(method: str, rank: int | None, seed: int, weight_decay: float, device: str = "cpu") -> RunConfig:
    """Table 6's setting on scikit-learn's digits with AdamW's ``weight_decay``."""
    budget = {"max_epochs": DIGITS_EPOCH_BUDGET[weight_decay]} if weight_decay in DIGITS_EPOCH_BUDGET else {}
    return make_config("digits", method, rank=rank, seed=seed, device=device, weight_decay=weight_decay,
                       patience=DIGITS_PATIENCE, **budget)


def transformer_configs(profile: str = "quick", device: str = "cpu") -> list[RunConfig]:
    """Table 7: method x seed (the same runs in both profiles)."""
    _check_profile(profile)
    return [transformer_config(m, r, s, device) for m, r in TRANSFORMER_METHODS for s in OTHER_MODELS_SEEDS]


def digits_configs(profile: str = "quick", device: str = "cpu") -> list[RunConfig]:
    """Table 6 on digits: weight decay x method x seed (the same runs in both profiles)."""
    _check_profile(profile)
    return [digits_config(m, r, s, wd, device) for wd in DIGITS_WEIGHT_DECAYS for m, r in DIGITS_METHODS
            for s in OTHER_MODELS_SEEDS]


#: The GPU comparison of the modular chapter: Table 2's p = 97 runs of these methods,
#: trained on a CUDA device and committed under ``results/gpu/`` (``bash
#: benchmarks/gpu_session.sh`` on a GPU machine); the chapter labels them by device name.
#: Vanilla last: its ~5,000-epoch runs are the long ones, so a session cut short still
#: leaves the transformed methods finished.
GPU_COMPARISON_METHODS = (("egd-svd", None), ("egd-rsvd", 128), ("colnorm", None), ("vanilla", None))
GPU_SUBDIR = "gpu"


def gpu_comparison_configs(device: str = "cuda") -> list[RunConfig]:
    """Modular addition at p = 97, :data:`GPU_COMPARISON_METHODS` x :data:`QUICK_SEEDS`, on ``device``.

    ``device`` must be a CUDA device: the point of these runs is the GPU's wall time.
    Building the configs needs no GPU (the chapter looks their files up on any machine).
    """
    if not str(device).startswith("cuda"):
        raise ValueError(f"device must be a CUDA device ('cuda' or 'cuda:N') for the GPU comparison, got {device!r}")
    return [modular_config("mod-add", 97, m, r, s, device) for m, r in GPU_COMPARISON_METHODS for s in QUICK_SEEDS]


#: The modular chapter's training curves (Figure 1): one run per method of Tables 2–3 at
#: p = 97, seed 0, continued :data:`CONVERGENCE_PATIENCE` epochs past the threshold, so the
#: curves show what the test accuracy does once Algorithm 1 has switched the transform off
#: (the table runs stop :data:`PATIENCE` epochs after it). 1,000 epochs is more than 8x exact
#: EGD's time to grok at p = 97, a decade past the switch-off on the chapter's log axis, and
#: long enough for plain SGD steps to carry the test accuracy from 95% to about 99% after a
#: switch-off (every transformed method ends at 99.2% to 99.9%); a relapse after the switch-off
#: would show. Vanilla SGD climbs more slowly: 98.2% (a + b) and 98.5% (a x b) at the end, still
#: rising. Cost: ~11,000 epochs per task at 0.1 to 0.8 s each on one shared CPU thread.
CONVERGENCE_P = 97
CONVERGENCE_SEED = 0
CONVERGENCE_PATIENCE = 1000


def convergence_configs(task: str, device: str = "cpu") -> list[RunConfig]:
    """One run per method of :data:`MODULAR_METHODS` (``task`` at :data:`CONVERGENCE_P`, seed
    :data:`CONVERGENCE_SEED`), trained :data:`CONVERGENCE_PATIENCE` epochs past the threshold."""
    return [make_config(task, m, p=CONVERGENCE_P, rank=r, seed=CONVERGENCE_SEED, device=device,
                        patience=CONVERGENCE_PATIENCE, spectrum_every=SPECTRUM_EVERY.get(m, SPECTRUM_EVERY_DEFAULT))
            for m, r in MODULAR_METHODS]


#: The fixes for exact EGD's stall on parity (chapter "When EGD stalls"): (method, rank,
#: spectral cutoff, weight-decay mode), compared with vanilla and exact EGD on the same ten
#: seeds. ``egd-svd-top`` keeps the top ``the batch size`` = 32 directions, at most the
#: mini-batch's data gradient rank; the two cutoffs sit at the two ends of the gap between
#: the data's singular values and the weight-decay floor measured in the committed spectra;
#: ``egd-svd-batch`` truncates to the batch size only where the layer has no more inputs than
#: hidden units (``batch_rank`` of :func:`egd.orthogonalize`), the rule the three parity
#: shapes suggested.
STALL_FIXES = (("egd-svd-top", 32, None, "loss"), ("egd-svd-cut", None, 1e-2, "loss"),
               ("egd-svd-cut", None, 1e-3, "loss"), ("egd-svd", None, None, "decoupled"),
               ("egd-svd-batch", None, None, "loss"))
STALL_BASELINES = (("vanilla", None, None, "loss"), ("egd-svd", None, None, "loss"))
STALL_SEEDS = tuple(range(10))
#: The same fixes on modular arithmetic, p = 97 (width 512, batch 512: ``rank`` = the batch
#: size cuts nothing there), beside exact EGD and vanilla SGD (both the modular chapter's runs),
#: :data:`QUICK_SEEDS`: (method, rank, spectral cutoff, weight-decay mode).
STALL_MODULAR = (("egd-svd", None, None, "loss"), ("egd-svd-top", 512, None, "loss"),
                 ("egd-svd-cut", None, 1e-2, "loss"), ("egd-svd-cut", None, 1e-3, "loss"),
                 ("egd-svd-batch", None, None, "loss"), ("egd-svd", None, None, "decoupled"),
                 ("vanilla", None, None, "loss"))
STALL_MODULAR_TASKS = ("mod-add", "mod-mul")


def stall_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """Parity (100, 3): the baselines and :data:`STALL_FIXES` x :data:`STALL_SEEDS` (both profiles)."""
    _check_profile(profile)
    return [parity_config(100, 3, m, r, s, device, mode, cut)
            for m, r, cut, mode in STALL_BASELINES + STALL_FIXES for s in STALL_SEEDS]


#: The batch-size truncation on the paper's other two parity settings (their hidden layers have
#: 50 directions, 18 more than a batch fills), then exact EGD, the two cutoffs, the
#: batch-rank rule, decoupled weight decay and vanilla SGD (Table 4's runs) beside it,
#: :data:`STALL_SEEDS`: (method, rank, spectral cutoff, weight-decay mode).
STALL_OTHER_SHAPES = ((400, 2), (50, 4))
STALL_SHAPE_METHODS = (("egd-svd-top", 32, None, "loss"), ("egd-svd", None, None, "loss"),
                       ("egd-svd-cut", None, 1e-2, "loss"), ("egd-svd-cut", None, 1e-3, "loss"),
                       ("egd-svd-batch", None, None, "loss"), ("egd-svd", None, None, "decoupled"),
                       ("vanilla", None, None, "loss"))


def stall_shapes_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """:data:`STALL_SHAPE_METHODS` on :data:`STALL_OTHER_SHAPES` x :data:`STALL_SEEDS` (both profiles),
    the truncation first, then shape by shape."""
    _check_profile(profile)
    first, *rest = STALL_SHAPE_METHODS
    order = [(shape, first) for shape in STALL_OTHER_SHAPES] + [(shape, m) for shape in STALL_OTHER_SHAPES
                                                                for m in rest]
    return [parity_config(n, k, m, r, s, device, mode, cut)
            for (n, k), (m, r, cut, mode) in order for s in STALL_SEEDS]


def stall_modular_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """p = 97, :data:`STALL_MODULAR_TASKS` x :data:`STALL_MODULAR` x :data:`QUICK_SEEDS` (both profiles)."""
    _check_profile(profile)
    return [modular_config(t, 97, m, r, s, device, cut, mode)
            for t in STALL_MODULAR_TASKS for m, r, cut, mode in STALL_MODULAR for s in QUICK_SEEDS]


#: Named sets of runs for ``egd-grok reproduce``: name -> (configs(profile, device), subfolder
#: of the results folder the book reads them from). The builder may also be a string
#: ``"module:function"`` for a set defined in a package above the harness (imported only when
#: the set is built, so the harness never imports it): the validation chapter's level 3 is one.
#: ``egd-grok reproduce all`` trains every set here except those in :data:`NOT_IN_ALL`, so a
#: set joins the one-command reproduction by being registered.
RUN_SETS = {
    "modular": (lambda profile, device: modular_configs("mod-add", profile, device)
                + modular_configs("mod-mul", profile, device), ""),
    "modular-convergence": (lambda profile, device: convergence_configs("mod-add", device)
                            + convergence_configs("mod-mul", device), ""),
    "parity": (parity_configs, ""),
    "parity-authors": (parity_authors_configs, ""),
    "stall": (stall_configs, ""),
    "stall-modular": (stall_modular_configs, ""),
    "stall-shapes": (stall_shapes_configs, ""),
    "gpu-comparison": (lambda profile, device: gpu_comparison_configs(device), GPU_SUBDIR),
    "anisotropy": ("egd.validation.anisotropy:anisotropy_configs", "08_anisotropy"),
    "theories": ("egd.validation.theories:theory_configs", "12_theories"),
    "transformer": (transformer_configs, OTHER_MODELS_SUBDIR),
    "digits": (digits_configs, OTHER_MODELS_SUBDIR),
}

#: Registered sets that ``reproduce all`` leaves out, with the reason it prints.
NOT_IN_ALL = {
    "gpu-comparison": "needs a CUDA device (bash benchmarks/gpu_session.sh on a GPU machine)",
}
#: The name of every registered set at once for ``egd-grok reproduce``.
ALL = "all"
#: The name of every set of ``all`` but Appendix D's (:data:`NOT_IN_MAIN_TEXT`): the paper's main
#: text (Tables 2-4, Figures 1-3, the runs on the authors' draws) and the chapters that test it.
MAIN_TEXT = "main-text"
#: Sets of ``all`` that ``main-text`` leaves out, with the reason it prints.
NOT_IN_MAIN_TEXT = {
    "transformer": "Appendix D (Table 7); its Adam baseline takes hours per seed on one CPU core "
                   "(the paper: 55,780 steps to 95%)",
    "digits": "Appendix D (Table 6)",
}


def results_dir(path: str | os.PathLike | None = None) -> Path:
    """The results folder: ``path`` when given, else ``$EGD_RESULTS_DIR``, else ``./results``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS_DIR)


def run_set(name: str, profile: str = "quick", device: str = "cpu") -> tuple[list[RunConfig], str]:
    """The configs of the named set (:data:`RUN_SETS`) and its subfolder of the results folder."""
    if name not in RUN_SETS:
        raise ValueError(f"run set must be one of {sorted(RUN_SETS)}, got {name!r}")
    _check_profile(profile)
    build, subdir = RUN_SETS[name]
    if isinstance(build, str):
        module, _, function = build.partition(":")
        build = getattr(importlib.import_module(module), function)
    return build(profile, device), subdir


def all_run_sets() -> list[str]:
    """The sets ``egd-grok reproduce all`` trains: every registered one except :data:`NOT_IN_ALL`,
    in registration order."""
    return group_run_sets(ALL)


def group_left_out(group: str) -> dict[str, str]:
    """``{set: why}`` for the registered sets that the group ``group`` (:data:`ALL` or
    :data:`MAIN_TEXT`) leaves out."""
    if group == ALL:
        return dict(NOT_IN_ALL)
    if group == MAIN_TEXT:
        return {**NOT_IN_ALL, **{n: why for n, why in NOT_IN_MAIN_TEXT.items() if n in RUN_SETS}}
    raise ValueError(f"group must be one of {[ALL, MAIN_TEXT]}, got {group!r}")


def group_run_sets(group: str) -> list[str]:
    """The sets ``egd-grok reproduce <group>`` trains, in registration order: every registered
    one except :func:`group_left_out`."""
    left_out = group_left_out(group)
    return [name for name in RUN_SETS if name not in left_out]


def load_finished(configs: list[RunConfig], results_dir: str | os.PathLike) -> list[RunResult]:
    """The finished runs among ``configs``, found by key in ``results_dir``; nothing is trained."""
    found = (find_run(c, results_dir) for c in configs)
    return [r for r in found if r is not None]


def run_or_load(configs: list[RunConfig], results_dir: str | os.PathLike,
                progress: bool = False) -> list[RunResult]:
    """The finished run of every config: loaded from ``results_dir`` or trained there.

    What the chapters call: with the committed results in ``results_dir`` nothing is
    trained. A run missing from it is trained and saved there (:func:`egd.grokking.train`).

    Args:
        configs: the runs, e.g. a chapter's run set.
        results_dir: the results folder.
        progress: show a progress bar while training.

    Returns:
        One :class:`egd.grokking.RunResult` per config, in order.

    Raises:
        ValueError, RuntimeError: as :func:`egd.grokking.train`.

    Examples:
        >>> import tempfile
        >>> from egd.grokking import make_config
        >>> from egd.grokking.runsets import run_or_load
        >>> configs = [make_config("parity", m, preset="smoke", max_epochs=2) for m in ("vanilla", "egd-svd")]
        >>> with tempfile.TemporaryDirectory() as results:
        ...     runs = run_or_load(configs, results)
        >>> [r.config.method for r in runs]
        ['vanilla', 'egd-svd']
    """
    return [train(c, out_dir=results_dir, progress=progress) for c in configs]


# --- the measured cost of a profile ---------------------------------------------------------


def recorded_seconds(runs: list[RunResult]) -> float:
    """Training seconds the finished ``runs`` recorded, each batch of the batched engine counted once.

    A run's seconds are its history's last ``seconds`` entry (training and evaluation, summed over
    resumptions). Runs trained together by the batched engine share every epoch's time, so each
    records the batch's clock: the runs of one batch (same ``env["batch_runs"]`` and the same first
    entry of ``seconds``, which only that batch's first epoch produces) count once, with the longest
    of them. The sum is the time of training the runs one task after the other on the machine and
    under the load they saw (a sweep on several workers takes less wall time).
    """
    total, batches = 0.0, {}
    for run in runs:
        seconds = np.asarray(run.history["seconds"], dtype=float)
        if not len(seconds):
            continue
        size = int(run.env.get("batch_runs", 1) or 1)
        if size > 1:
            key = (size, float(seconds[0]))
            batches[key] = max(batches.get(key, 0.0), float(seconds[-1]))
        else:
            total += float(seconds[-1])
    return total + sum(batches.values())


@dataclass(frozen=True)
class SetCost:
    """One run set's cost in a profile: runs it has, runs finished in the results folder, their seconds."""

    name: str
    runs: int
    finished: int
    seconds: float
    #: The devices the finished runs trained on, as ``"cpu (AMD EPYC)"`` or ``"cuda (NVIDIA H200)"``, sorted.
    devices: tuple[str, ...] = ()

    @property
    def missing(self) -> int:
        return self.runs - self.finished


def _device_label(env: dict) -> str:
    kind = str(env.get("device") or "unknown").split(":")[0]
    return f"{kind} ({env['device_name']})" if env.get("device_name") else kind


def profile_wall_time(profile: str = "full", folder: str | os.PathLike | None = None,
                      names: list[str] | None = None, device: str = "cpu") -> list[SetCost]:
    """The recorded training time of ``profile`` per run set (:func:`recorded_seconds`), and how many
    of its runs are missing from the results ``folder`` (default :func:`results_dir`; each set is read
    from its subfolder). ``names``: the sets, by default those of ``egd-grok reproduce all``. Trains
    nothing."""
    base = results_dir(folder)
    costs = []
    for name in names if names is not None else all_run_sets():
        configs, subdir = run_set(name, profile, device)
        finished = load_finished(configs, base / subdir)
        devices = tuple(sorted({_device_label(r.env) for r in finished}))
        costs.append(SetCost(name, len(configs), len(finished), recorded_seconds(finished), devices))
    return costs
