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
    authors = make_config("parity", "vanilla", random_streams="numpy")
    assert labels.variant_key(authors) == "vanilla numpy-streams"


def test_method_labels_read_as_words():
    assert labels.method_label("egd-rsvd128") == "EGD-RSVD r=128"
    assert labels.method_label("egd-svd") == "EGD (exact)"
    assert labels.method_label("egd-svd decoupled-wd") == "EGD (exact), decoupled-wd"
    assert labels.method_label("vanilla") == "vanilla SGD"
    with pytest.raises(ValueError, match="method key"):
        labels.method_label("adam")
    with pytest.raises(ValueError, match="method key"):
        labels.method_label("egd-svd128")  # exact EGD takes no rank


def test_file_names_use_the_method_key():
    from egd.grokking.config import run_name

    config = make_config("mod-add", "egd-rsvd", rank=64, seed=2)
    assert f"-{labels.method_key(config)}-s2-" in run_name(config)
