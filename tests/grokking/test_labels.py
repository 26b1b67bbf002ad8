import pytest

from egd.grokking import labels
from egd.grokking.config import make_config


def test_method_and_variant_keys():
    rsvd = make_config("mod-add", "egd-rsvd", rank=128)
    assert labels.method_key(rsvd) == "egd-rsvd128" == labels.variant_key(rsvd)
    dec = make_config("parity", "egd-svd", weight_decay_mode="decoupled")
    assert labels.variant_key(dec) == "egd-svd decoupled-wd"
    knob = make_config("mod-add", "vanilla", second_operand_scale=0.5)
    assert labels.variant_key(knob) == "vanilla b=0.5"
    top = make_config("parity", "egd-svd-top", rank=32)
    assert labels.variant_key(top) == "egd-svd-top32"
    cut = make_config("parity", "egd-svd-cut", spectral_cutoff=1e-2)
    assert labels.variant_key(cut) == "egd-svd-cut0.01"
    authors = make_config("parity", "vanilla", random_streams="numpy")
    assert labels.variant_key(authors) == "vanilla numpy-streams"


def test_method_labels_read_as_words():
    assert labels.method_label("egd-rsvd128") == "EGD-RSVD r=128"
    assert labels.method_label("egd-svd") == "EGD (exact)"
    assert labels.method_label("egd-svd decoupled-wd") == "EGD (exact), decoupled-wd"
    assert labels.method_label("vanilla") == "vanilla SGD"
    assert labels.method_label("egd-svd-top32") == "EGD (truncated) r=32"
    assert labels.method_label("egd-svd-cut0.001") == "EGD (cutoff) c=0.001"
    with pytest.raises(ValueError, match="method key"):
        labels.method_label("adam")
    with pytest.raises(ValueError, match="method key"):
        labels.method_label("egd-svd128")  # exact EGD takes no rank


def test_file_names_use_the_method_key():
    from egd.grokking.config import run_name

    config = make_config("mod-add", "egd-rsvd", rank=64, seed=2)
    assert f"-{labels.method_key(config)}-s2-" in run_name(config)
    cut = make_config("parity", "egd-svd-cut", spectral_cutoff=1e-3, seed=1)
    assert f"-{labels.method_key(cut)}-s1-" in run_name(cut)


def test_truncation_options_are_checked_and_leave_earlier_keys_alone():
    from egd.grokking.config import config_key

    with pytest.raises(ValueError, match="rank is required"):
        make_config("parity", "egd-svd-top")
    with pytest.raises(ValueError, match="spectral_cutoff is required"):
        make_config("parity", "egd-svd-cut")
    with pytest.raises(ValueError, match="spectral_cutoff"):
        make_config("parity", "egd-svd-cut", spectral_cutoff=1.5)
    with pytest.raises(ValueError, match="spectral_cutoff applies only to"):
        make_config("parity", "egd-svd", spectral_cutoff=0.1)
    # a committed run's key (results/parity-n100k3-egd-svd-s0-1202e5eabf2c.json) is unchanged
    committed = make_config("parity", "egd-svd", seed=0, patience=50, spectrum_every=5)
    assert config_key(committed) == "1202e5eabf2c"
