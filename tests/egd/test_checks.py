import math

import pytest

from egd._checks import check_bool, check_choice, check_int, check_real


@pytest.mark.parametrize("value", [0, -1, 1.0, True, None, "3"])
def test_check_int_names_the_parameter_and_the_range(value):
    with pytest.raises(ValueError, match=r"^rank must be an integer >= 1, got "):
        check_int("rank", value, minimum=1)


def test_check_int_accepts_and_bounds():
    assert check_int("n", 5, minimum=1, maximum=5) == 5
    with pytest.raises(ValueError, match=r"<= 5"):
        check_int("n", 6, maximum=5)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 0.0, -1e-3, True, "1"])
def test_check_real_rejects_non_finite_and_out_of_range(value):
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got "):
        check_real("lr", value, low=0.0, low_open=True)


def test_check_real_half_open_interval():
    assert check_real("alpha", 0.0, low=0.0, high=1.0, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"^alpha must be a finite number >= 0 and < 1"):
        check_real("alpha", 1.0, low=0.0, high=1.0, high_open=True)


def test_check_bool_and_choice():
    assert check_bool("switch_off", True) is True
    with pytest.raises(ValueError, match=r"^switch_off must be a bool"):
        check_bool("switch_off", 1)
    assert check_choice("mode", "loss", ("loss", "decoupled")) == "loss"
    with pytest.raises(ValueError, match=r"^mode must be one of \('loss', 'decoupled'\), got 'l2'"):
        check_choice("mode", "l2", ("loss", "decoupled"))
