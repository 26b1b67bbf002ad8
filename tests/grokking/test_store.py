"""Result files: round trip, keys, atomic writes, loaders; the committed results load."""

import json
from pathlib import Path

import numpy as np
import pytest

from egd.grokking.config import config_key, make_config, run_name
from egd.grokking.runner import train
from egd.grokking.store import HISTORY_DTYPES, RunResult, find_run, load_run, load_runs, save_run

REPO = Path(__file__).resolve().parents[2]


def tiny(**overrides):
    values = dict(p=23, max_epochs=4, patience=None, spectrum_every=2)
    values.update(overrides)
    return make_config("mod-add", "egd-svd", preset="smoke", **values)


def test_round_trip_preserves_everything(tmp_path):
    result = train(tiny())
    path = save_run(result, tmp_path)
    loaded = load_run(path)
    assert loaded.config == result.config and loaded.summary == result.summary and loaded.env == result.env
    for key in HISTORY_DTYPES:
        np.testing.assert_array_equal(loaded.history[key], result.history[key])
        assert loaded.history[key].dtype == np.dtype(HISTORY_DTYPES[key])
    np.testing.assert_array_equal(loaded.spectra, result.spectra)
    np.testing.assert_array_equal(loaded.spectra_epochs, [0, 2])
    np.testing.assert_allclose(loaded.test_acc, loaded.history["test_correct"] / loaded.summary["n_test"])


def test_files_are_named_by_config_and_no_temporaries_remain(tmp_path):
    result = train(tiny(), out_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{result.name}.json", f"{result.name}.npz"]
    assert result.name.startswith("mod-add-p23-egd-svd-s0-") and result.name.endswith(config_key(result.config))
    record = json.loads((tmp_path / names[0]).read_text())
    assert record["key"] == config_key(result.config)
    assert {"torch", "device", "device_name", "git_commit", "git_dirty"} <= set(record["env"])


def test_config_key_identifies_the_numbers():
    base = tiny()
    assert config_key(base) == config_key(tiny())
    assert config_key(base) != config_key(tiny(seed=1))
    assert config_key(base) != config_key(tiny(lr=0.5))
    assert run_name(make_config("mod-add", "egd-rsvd", rank=16)).startswith("mod-add-p97-egd-rsvd16-s0-")
    assert run_name(make_config("parity", "vanilla")).startswith("parity-n100k3-vanilla-s0-")


def test_find_and_filter_runs(tmp_path):
    a = train(tiny(), out_dir=tmp_path)
    train(tiny(seed=1), out_dir=tmp_path)
    assert find_run(a.config, tmp_path).summary == a.summary
    assert find_run(tiny(seed=5), tmp_path) is None
    assert [r.config.seed for r in load_runs(tmp_path)] == [0, 1]
    assert [r.config.seed for r in load_runs(tmp_path, seed=1)] == [1]
    assert load_runs(tmp_path, method="vanilla") == []


def test_runresult_threshold_properties():
    result = train(tiny(threshold=0.01, max_epochs=3))
    assert isinstance(result, RunResult)
    assert result.epochs_to_threshold == result.summary["epochs_to_threshold"]
    assert result.epochs.tolist() == [1, 2, 3]


@pytest.mark.skipif(not (REPO / "results").is_dir(), reason="no committed results")
def test_committed_results_load_and_match_their_keys():
    for path in sorted((REPO / "results").glob("*.json")):
        run = load_run(path)
        assert path.stem == run.name, path.name
        assert len(run.history["test_correct"]) == run.summary["epochs_run"]


def test_threshold_rows_aggregate_seeds_and_attach_paper_numbers(tmp_path):
    from egd.grokking.tables import markdown_table, row, threshold_rows

    runs = [train(make_config("parity", "egd-svd", preset="smoke", n=10, k=2, threshold=0.9, max_epochs=12,
                              seed=s)) for s in (0, 1, 2)]
    runs.append(train(tiny(max_epochs=2)))  # never reaches 95%
    rows = threshold_rows(runs)
    assert len(rows) == 2
    r = row(rows, "egd-svd", shape="(n,k)=(10,2)")
    epochs = sorted(x.epochs_to_threshold for x in runs[:3])
    assert (r["seeds"], r["reached"], r["min"], r["median"], r["max"]) == (3, 3, epochs[0], epochs[1], epochs[2])
    assert r["paper"] is None  # the paper has no (10, 2)
    table = markdown_table(rows)
    assert "| mod-add | p=23 | egd-svd | – | never | 0/1 |" in table
    with pytest.raises(ValueError, match="expected one row"):
        row(rows, "vanilla")


def test_paper_numbers_lookup():
    from egd.grokking.paper_numbers import paper_epochs, paper_has_entry

    assert paper_epochs("mod-add", "egd-svd", p=97) == 116
    assert paper_epochs("mod-mul", "colnorm", p=127) == 142
    assert paper_epochs("parity", "egd-rsvd40", n=50, k=4) is None
    assert paper_has_entry("parity", "egd-rsvd40", n=50, k=4) and not paper_has_entry("mod-add", "egd-svd", p=23)
    with pytest.raises(ValueError, match="task must be one of"):
        paper_epochs("mnist", "egd-svd")


def test_condition_number_and_effective_rank_laws():
    from egd.grokking.tables import condition_numbers, effective_rank

    spectra = np.array([[4.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(condition_numbers(spectra), [4.0, 1.0])  # the zero is ignored
    np.testing.assert_allclose(effective_rank(spectra), [49 / 21, 4.0])
    # scale invariance
    np.testing.assert_allclose(condition_numbers(3 * spectra), condition_numbers(spectra))


def test_censored_median_counts_failures_as_infinite():
    import pytest

    from egd.grokking.tables import censored_median
    assert censored_median([100, 200, None]) == 200.0       # the failure is the largest value
    assert censored_median([100, None, None]) is None       # median is a failure
    assert censored_median([100, 300, None, None]) is None  # (300 + inf) / 2
    assert censored_median([50, 100, 300, None]) == 200.0
    with pytest.raises(ValueError, match="epochs"):
        censored_median([])
