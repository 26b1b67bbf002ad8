"""The two plateau laws: grid, per-run measurements, fits, out-of-sample errors, verdicts."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from egd.grokking.config import config_key, make_config
from egd.grokking.runner import train
from egd.validation import theories as th
from egd.validation.anisotropy import spectrum_split_ratio


def test_grid_has_the_issue_shape_and_distinct_runs():
    configs = th.theory_configs("full")
    assert len(configs) == 2 * 2 * 12 * 3
    assert len({config_key(c) for c in configs}) == len(configs)
    assert th.theory_configs("quick") == configs
    for g in th.GRID.values():
        assert len(g.weight_decays) >= 4 and math.log10(max(g.weight_decays) / min(g.weight_decays)) >= 1.5
        assert len(g.lrs) >= 3
    assert {(c.task, c.method) for c in configs} == {(t, m) for t in ("mod-add", "parity")
                                                     for m in th.THEORY_METHODS}


def test_grid_rejects_an_unknown_profile():
    with pytest.raises(ValueError, match="profile"):
        th.theory_configs("huge")


@given(st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_split_ratio_is_the_validation_chapters_statistic_on_modular_spectra(p, seed):
    s = np.sort(np.random.default_rng(seed).uniform(0.01, 1.0, size=(3, 2 * p + 3)), axis=-1)[:, ::-1]
    np.testing.assert_allclose(th.split_ratio(s, 2 * p - 1), spectrum_split_ratio(s, p))


def test_split_ratio_ignores_the_weight_decay_floor_and_checks_rank():
    data = np.array([4.0, 4.0, 1.0, 1.0])
    with_floor = np.concatenate([data, np.full(10, 1e-6)])
    assert th.split_ratio(with_floor, 4) == pytest.approx(16.0)
    for rank in (1, 15):
        with pytest.raises(ValueError, match="rank"):
            th.split_ratio(with_floor, rank)


def test_data_rank_per_family():
    assert th.data_rank(make_config("mod-add", "vanilla", p=97)) == 193
    assert th.data_rank(make_config("parity", "vanilla", n=100, k=3)) == 32
    assert th.data_rank(make_config("parity", "vanilla", n=400, k=2)) == 32


def test_fit_law_recovers_a_power_law_and_its_interval():
    rng = np.random.default_rng(0)
    x = np.geomspace(10, 1e4, 30)
    y = 3.0 * x ** 0.5 * np.exp(rng.normal(0, 0.05, x.size))
    fit = th.fit_law(x, y)
    assert fit.low < 0.5 < fit.high and fit.high - fit.low < 0.1
    assert fit.r2 > 0.98 and fit.n == 30
    assert not fit.fits  # R² is high but the interval excludes the predicted slope 1
    near = th.fit_law(x, x ** 1.05)
    assert near.high < 1.05 + 1e-6 and near.low > 1.0 and near.fits  # within the tolerance of 1
    exact = th.fit_law(x, 2.0 * x)
    assert exact.fits and exact.scale == pytest.approx(2.0)


def test_fit_law_needs_three_cells_when_given():
    x, y = [1.0, 1.1, 0.9], [10.0, 12.0, 9.0]
    assert th.fit_law(x, y) is not None
    assert th.fit_law(x, y, cells=[(0.1, 1e-3)] * 3) is None  # three seeds of one cell
    assert th.fit_law(x, y, cells=[(0.1, 1e-3), (0.2, 1e-3), (0.1, 1e-2)]) is not None


def test_fit_law_leaves_out_missing_points_and_needs_three():
    assert th.fit_law([1.0, 2.0, None, -1.0], [1.0, 2.0, 3.0, 4.0]) is None
    assert th.fit_law([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
    assert th.fit_law([1.0, 2.0, 4.0, None], [1.0, 2.0, 4.0, 5.0]).n == 3
    with pytest.raises(ValueError, match="confidence"):
        th.fit_law([1.0, 2.0, 4.0], [1.0, 2.0, 4.0], confidence=1.0)
    with pytest.raises(ValueError, match="same length"):
        th.fit_law([1.0, 2.0, 4.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        th.fit_law([1.0, 2.0, 4.0], [1.0, 2.0, 4.0], cells=[1, 2])


def test_out_of_sample_a_true_law_beats_the_null_and_a_flat_delay_does_not():
    x = np.tile(np.geomspace(10, 1e3, 4), 3)
    groups = np.repeat([0.1, 0.2, 0.4], 4)
    exact = th.out_of_sample(x, 5.0 * x, groups)
    assert exact.law == pytest.approx(0.0, abs=1e-12) and exact.null > 0.5 and exact.beats_null
    assert exact.n == 12
    flat = th.out_of_sample(x, np.full(x.size, 7.0), groups)
    assert flat.null == pytest.approx(0.0, abs=1e-12) and not flat.beats_null
    rng = np.random.default_rng(1)
    noise = th.out_of_sample(x, 100.0 * np.exp(rng.normal(0, 0.3, x.size)), groups)
    assert noise.law > noise.null  # x carries no information: the law's extra slope only adds error
    assert th.out_of_sample(x[:4], x[:4], groups[:4]) is None  # one group: nothing to hold out
    with pytest.raises(ValueError, match="same length"):
        th.out_of_sample(x, x[:3], groups)


def _measure(**kw):
    base = dict(setting="parity", method="vanilla", lr=0.05, weight_decay=0.01, seed=0, status="stopped",
                steps_per_epoch=10,
                max_epochs=100, t_mem=10, t_grok=60, norm_mem=10.0, norm_grok=5.0, anisotropy=4.0)
    base.update(kw)
    return th.RunMeasure(**base)


def test_contraction_speedup_is_one_for_pure_weight_decay():
    delay = 50 * 10
    m = _measure(norm_grok=10.0 * (1 - 0.05 * 0.01) ** delay)
    assert m.delay_steps == delay
    assert th.contraction_speedup(m) == pytest.approx(1.0, rel=1e-3)
    assert th.contraction_speedup(_measure(norm_grok=20.0)) < 0  # the norm grew
    assert th.contraction_speedup(_measure(t_grok=None)) is None
    assert th.contraction_speedup(_measure(weight_decay=0.0)) is None


def test_egd_mechanism_credits_the_contraction_then_the_data_directions():
    def egd(rate, t_grok, **kw):
        # a squared norm that shrank rate x faster than weight decay alone over the plateau
        steps = (t_grok - 10) * 10
        return _measure(method="egd-svd", t_grok=t_grok, norm_grok=10.0 * math.exp(-rate * 0.05 * 0.01 * steps), **kw)

    vanilla = [_measure(t_grok=t) for t in (410, 810, 1210)]  # median delay 800 epochs
    # 4x faster contraction and a 4x shorter plateau: the norm accounts for all of it
    m = th.egd_mechanism(vanilla, [egd(4.0, 210)])
    assert (m.cells, m.speedup, m.contraction) == (1, pytest.approx(4.0), pytest.approx(4.0, rel=1e-6))
    assert m.answer() == "the norm contraction" and m.unexplained == pytest.approx(1.0)
    # same contraction, 40x shorter plateau: both
    assert th.egd_mechanism(vanilla, [egd(4.0, 30)]).answer() == "both"
    # slower contraction than weight decay alone, 40x shorter: the data directions only
    slow = th.egd_mechanism(vanilla, [egd(0.1, 30)])
    assert slow.answer() == "equalising the data directions" and slow.unexplained == pytest.approx(40.0)
    assert th.egd_mechanism(vanilla, [egd(0.5, 410)]).answer() == "neither"
    # cells are matched: an EGD run in another cell gives no comparison
    assert th.egd_mechanism(vanilla, [egd(4.0, 30, lr=0.1)]) is None
    assert th.egd_mechanism(vanilla, [_measure(method="egd-svd", t_grok=None)]) is None


def test_law_inputs():
    x = th.law_inputs(_measure())
    assert x["norm separation"] == pytest.approx(2 * math.log(2) / (0.05 * 0.01))
    assert x["anisotropy"] == pytest.approx(4.0 / 0.05)
    grew = th.law_inputs(_measure(norm_grok=11.0, anisotropy=None))
    assert grew == {"norm separation": None, "anisotropy": None}
    assert _measure(t_grok=10).delay_steps == 10  # same epoch: one epoch's steps


def test_outcome():
    assert _measure().outcome == "grokked"
    assert _measure(status="diverged", t_mem=None, t_grok=None).outcome == "diverged"
    assert _measure(t_mem=None, t_grok=None).outcome == "never memorised"
    assert _measure(t_grok=None).outcome == "never grokked"
    assert _measure(norm_grok=12.0).outcome == "norm grew"


def test_measure_reads_the_run_history():
    config = make_config("parity", "vanilla", preset="smoke", seed=0, spectrum_every=1)
    run = train(config)
    m = th.measure(run)
    assert m.t_grok == run.epochs_to_threshold
    assert m.steps_per_epoch == run.summary["n_train"] // config.batch_size
    if m.t_mem is not None:
        assert run.train_acc[m.t_mem - 1] >= th.MEMORISED and (run.train_acc[:m.t_mem - 1] < th.MEMORISED).all()
        norm = math.hypot(run.history["hidden_norm"][m.t_mem - 1], run.history["output_norm"][m.t_mem - 1])
        assert m.norm_mem == pytest.approx(norm)
    assert m.anisotropy is None or math.isfinite(m.anisotropy)


def test_plateau_anisotropy_reads_the_plateau_only():
    rank = 4
    spectra = np.array([[9.0, 9.0, 1.0, 1.0], [4.0, 4.0, 1.0, 1.0], [16.0, 16.0, 1.0, 1.0], [25.0, 25.0, 1.0, 1.0]])
    epochs = np.array([0, 10, 20, 30])
    # plateau [10, 30): epochs 10 and 20 -> ratios 16 and 256, median 136; epoch 30 (at T_grok) left out
    assert th.plateau_anisotropy(spectra, epochs, 10, 30, 10, rank) == pytest.approx(136.0)
    assert th.plateau_anisotropy(spectra, epochs, 10, None, 10, rank) == pytest.approx(256.0)  # to the end
    # a plateau inside one recording interval: the spectrum nearest its middle, if within `every`
    assert th.plateau_anisotropy(spectra, epochs, 21, 23, 10, rank) == pytest.approx(256.0)
    assert th.plateau_anisotropy(spectra[:1], epochs[:1], 21, 23, 10, rank) is None  # only initialisation
    assert th.plateau_anisotropy(spectra[:0], epochs[:0], 1, 3, 10, rank) is None


def _fit(slope, r2, low=None, high=None):
    return th.LawFit(slope=slope, low=slope - 0.2 if low is None else low, high=slope + 0.2 if high is None else high,
                     intercept=0.0, r2=r2, n=10, scale=1.0)


def test_verdict_names_the_law_that_fits_and_predicts():
    good, bad = _fit(1.0, 0.95), _fit(0.1, 0.2)
    oos_good, oos_bad = th.OutOfSample(law=0.1, null=0.5, n=10), th.OutOfSample(law=0.6, null=0.5, n=10)
    one = th.verdict({"norm separation": good, "anisotropy": bad}, {"norm separation": oos_good, "anisotropy": oos_bad})
    assert one.startswith("norm separation fits")
    other = th.verdict({"norm separation": good, "anisotropy": good},
                       {"norm separation": oos_bad, "anisotropy": oos_good})
    assert other.startswith("anisotropy fits")
    better = th.OutOfSample(law=0.05, null=0.5, n=10)
    both = th.verdict({"norm separation": good, "anisotropy": good},
                      {"norm separation": oos_good, "anisotropy": better})
    assert both.startswith("both laws fit; anisotropy predicts")
    none = th.verdict({"norm separation": bad, "anisotropy": None}, {"norm separation": oos_bad, "anisotropy": None})
    assert none.startswith("neither law fits") and "too few runs" in none and "R² 0.20" in none
    assert th.neither_fits({"norm separation": bad, "anisotropy": None}, {})
    assert not th.neither_fits({"norm separation": good}, {"norm separation": oos_good})


def test_censored_test_counts_the_stuck_runs_a_law_expected_to_grok():
    fit = th.fit_law([1e2, 1e3, 1e4], [1e2, 1e3, 1e4])  # delay = x steps
    grokked = _measure(norm_mem=10.0, norm_grok=5.0)
    soon = _measure(t_grok=None, norm_grok=None, norm_mem=5.5)  # x small: expected within the budget
    never = _measure(t_grok=None, norm_grok=None, norm_mem=1e6, lr=1e-6)  # x huge: not expected
    below = _measure(t_grok=None, norm_grok=None, norm_mem=4.0)  # already below the generalising norm
    c = th.censored_test([grokked, soon, never, below], "norm separation", fit)
    assert (c.expected, c.n) == (2, 3) and not c.passes
    a = th.censored_test([grokked, soon, never], "anisotropy", fit)
    assert a.n == 2 and a.expected == 1 and a.passes  # kappa / lr = 80 steps for soon; 4e6 for never
    assert th.censored_test([grokked], "anisotropy", fit) is None
    assert th.censored_test([soon], "norm separation", None) is None
    with pytest.raises(ValueError, match="law"):
        th.censored_test([soon], "other", fit)
    verdict = th.verdict({"norm separation": _fit_ok()}, {"norm separation": th.OutOfSample(0.1, 0.5, 10)},
                         {"norm separation": c})
    assert verdict.startswith("neither") and "expected 2 of the 3 runs" in verdict
    # a failed censored test is a failure even with no out-of-sample test
    assert th.law_status("norm separation", {"norm separation": _fit_ok()}, {}, {"norm separation": c})[0] is False
    assert th.law_status("norm separation", {"norm separation": _fit_ok()}, {})[0] is None
    # huge predictors do not overflow
    huge = _measure(t_grok=None, norm_grok=None, anisotropy=1e300, lr=1e-300)
    steep = th.LawFit(slope=8.0, low=7.0, high=9.0, intercept=0.0, r2=0.9, n=10, scale=1.0)
    assert th.censored_test([grokked, huge], "anisotropy", steep).expected == 0


def test_norm_that_grew_in_most_runs_fails_norm_separation():
    ok, reason = th.law_status("norm separation", {"norm separation": _fit_ok()},
                               {"norm separation": th.OutOfSample(0.1, 0.5, 10)}, grew=(3, 3))
    assert ok is False and "grew" in reason
    assert th.law_status("norm separation", {"norm separation": _fit_ok()},
                         {"norm separation": th.OutOfSample(0.1, 0.5, 10)}, grew=(1, 3))[0] is True
    assert th.neither_fits({"norm separation": _fit_ok()}, {"norm separation": th.OutOfSample(0.1, 0.5, 10)},
                           grew=(3, 3))


def _fit_ok():
    return th.LawFit(slope=1.0, low=0.9, high=1.1, intercept=0.0, r2=0.95, n=10, scale=1.0)


def test_fit_rates_recovers_the_exponents():
    rng = np.random.default_rng(2)
    group = []
    for lr in (0.1, 0.2, 0.4):
        for wd in (1e-4, 1e-3, 1e-2):
            for seed in range(2):
                delay_epochs = 5.0 * lr ** -1.0 * wd ** -0.5 * math.exp(rng.normal(0, 0.02))
                group.append(_measure(lr=lr, weight_decay=wd, seed=seed, t_mem=1, steps_per_epoch=1,
                                      t_grok=1 + round(delay_epochs)))
    f = th.fit_rates(group)
    assert f.lr[1] < -1.0 < f.lr[2] and f.weight_decay[1] < -0.5 < f.weight_decay[2]
    assert f.r2 > 0.99 and f.n == 18
    assert th.fit_rates(group[:3]) is None
    assert th.fit_rates([m for m in group if m.lr == 0.1]) is None  # one learning rate: no exponent


def test_the_memorising_norm_is_the_peak_of_the_plateau():
    m = _measure(norm_mem=5.0, norm_peak=20.0, norm_grok=10.0)
    assert m.log_norm_ratio == pytest.approx(2 * math.log(2.0))  # peak over the norm at T_grok
    assert m.log_plateau_ratio == pytest.approx(2 * math.log(0.5))  # what the plateau did: the norm grew
    assert m.outcome == "grokked" and th.contraction_speedup(m) < 0
    assert _measure(norm_mem=5.0, norm_peak=None, norm_grok=10.0).outcome == "norm grew"


def test_measure_takes_the_peak_norm_between_the_two_times():
    config = make_config("parity", "vanilla", preset="smoke", seed=0, spectrum_every=1)
    run = train(config)
    m = th.measure(run)
    assert m.t_mem is not None  # the smoke run memorises; the peak is read over [T_mem, T_grok or the end]
    norm = np.hypot(run.history["hidden_norm"].astype(float), run.history["output_norm"].astype(float))
    assert m.norm_peak == pytest.approx(norm[m.t_mem - 1:m.t_grok].max())
    assert m.norm_peak >= m.norm_mem
