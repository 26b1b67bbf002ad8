"""The plateau-laws chapter's tables and verdicts, on synthetic measurements."""

import math

import numpy as np

from egd.book import theories as bt
from egd.validation import theories as th


def _grid(method="vanilla", law_holds=True):
    """Parity grid measurements whose delay follows norm separation exactly (law_holds) or not."""
    g = th.GRID["parity"]
    out = []
    for i, lr in enumerate(g.lrs):
        for j, wd in enumerate(g.weight_decays):
            norm_mem, norm_grok = 10.0, 10.0 / (1.5 + 0.2 * j)
            x = 2 * math.log(norm_mem / norm_grok) / (lr * wd)
            delay_steps = 3.0 * x if law_holds else 1000.0 * (1 + (i + j) % 2)
            steps = 62
            t_mem = 10
            t_grok = t_mem + max(1, round(delay_steps / steps))
            out.append(th.RunMeasure(setting="parity", method=method, lr=lr, weight_decay=wd, seed=0, status="stopped",
                                     steps_per_epoch=steps, max_epochs=10**9, t_mem=t_mem, t_grok=t_grok,
                                     norm_mem=norm_mem, norm_grok=norm_grok, anisotropy=5.0 + i + j))
    return out


def test_a_law_that_holds_is_found_and_named():
    ms = _grid()
    rs = bt.reports(ms)
    ns = next(r for r in rs if r.law == "norm separation")
    assert ns.fit.fits and ns.oos.beats_null and abs(ns.fit.slope - 1) < 0.05
    (setting, method, sentence), = bt.verdicts(rs)
    assert sentence.startswith("norm separation fits") or sentence.startswith("both laws fit")
    assert bt.unfit_settings(rs) == []
    table = bt.fit_table(rs)
    assert len(table.rows) == 2 and table.rows[0][-1] == "✓"


def test_no_law_when_the_delay_ignores_both_predictors():
    rs = bt.reports(_grid(law_holds=False))
    assert bt.unfit_settings(rs) == [("parity", "vanilla")]
    assert bt.verdicts(rs)[0][2].startswith("neither law fits")


def test_grid_table_cells_and_outcomes():
    ms = _grid()
    ms[0] = th.RunMeasure(**{**ms[0].__dict__, "t_grok": None})
    ms[1] = th.RunMeasure(**{**ms[1].__dict__, "status": "diverged", "t_mem": None, "t_grok": None})
    table = bt.grid_table(ms, "parity", "vanilla")
    assert len(table.rows) == 4 and len(table.header) == 4
    assert table.rows[0][1] == "never grokked ×1" and table.rows[1][1] == "diverged ×1"
    assert "not run" in bt.grid_table(ms, "mod-add", "vanilla").rows[0][1]
    counts = bt.outcome_counts(ms)[("parity", "vanilla")]
    assert counts == {"never grokked": 1, "diverged": 1, "grokked": 10}


def test_contraction_table_and_checks_compare_egd_with_vanilla():
    vanilla = _grid()
    egd = [th.RunMeasure(**{**m.__dict__, "method": "egd-svd", "t_grok": m.t_mem + 2}) for m in vanilla]
    table = bt.contraction_table(vanilla + egd)
    assert [row[1] for row in table.rows] == ["vanilla SGD", "EGD (exact)"]
    rates = {row[1]: float(row[3]) for row in table.rows}
    assert rates["EGD (exact)"] > rates["vanilla SGD"] > 0
    last = bt.theory_checks(bt.reports(vanilla + egd), vanilla + egd)[-1]
    assert last.claim.startswith("EGD shrinks the norm faster") and last.claim.endswith("Parity(100, 3)")
    assert last.holds is True


def test_predictions_feed_the_figure():
    ms = _grid()
    rs = bt.reports(ms)
    d = bt.predictions(ms, rs, "parity", "norm separation")["vanilla"]
    assert d["x"].shape == d["delay"].shape == d["predicted"].shape == (12,)
    np.testing.assert_allclose(d["predicted"], d["delay"], rtol=0.1)


def test_one_learning_rate_is_tested_by_leaving_out_weight_decays():
    ms = [m for m in _grid() if m.lr == th.GRID["parity"].lrs[-1]]
    ns = next(r for r in bt.reports(ms) if r.law == "norm separation")
    assert ns.held_out == "weight decay" and ns.oos is not None and ns.status()[0] is True


def test_every_seed_diverged_and_empty_contraction_rows():
    ms = [th.RunMeasure(**{**m.__dict__, "status": "diverged", "t_mem": None, "t_grok": None, "norm_mem": None,
                           "norm_grok": None}) for m in _grid()]
    rs = bt.reports(ms)
    assert all(r.fit is None for r in rs)
    assert bt.contraction_table(ms).rows[0][2] == "0"
    assert bt.grid_table(ms, "parity", "vanilla").rows[0][1] == "diverged ×1"
    assert all(c.holds is None for c in bt.theory_checks(rs, ms))


def test_findings_without_runs_is_empty(tmp_path):
    assert bt.findings(tmp_path) == []


def test_mechanism_table_has_a_row_per_task():
    vanilla = _grid()
    egd = [th.RunMeasure(**{**m.__dict__, "method": "egd-svd", "t_grok": m.t_mem + 1}) for m in vanilla]
    table = bt.mechanism_table(vanilla + egd)
    assert [row[0] for row in table.rows] == ["a + b mod 97", "Parity(100, 3)"]
    assert table.rows[0][-1] == "no cell where both grokked"
    assert table.rows[1][1] == "12" and table.rows[1][-1] in ("both", "equalising the data directions")
