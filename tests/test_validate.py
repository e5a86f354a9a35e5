"""helpers._validate: every check returns a plain value or raises with one message style."""

import numpy as np
import pytest

from helpers import _validate as v


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_int_accepts_integers_and_returns_int(value):
    out = v.positive_int(value, "epochs")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, "3", None])
def test_positive_int_refuses_with_the_name_and_value(value):
    with pytest.raises(ValueError, match=rf"epochs must be a positive integer\. Received: epochs={value!r}"):
        v.positive_int(value, "epochs")


def test_positive_int_may_allow_none():
    assert v.positive_int(None, "patience", allow_none=True) is None
    with pytest.raises(ValueError, match="patience must be a positive integer or None"):
        v.positive_int(0, "patience", allow_none=True)


def test_integer_bounds():
    assert v.non_negative_int(0, "n") == 0 and v.int_at_least(3, "bins", 3) == 3
    with pytest.raises(ValueError, match="n must be an integer >= 0. Received: n=-1"):
        v.non_negative_int(-1, "n")
    with pytest.raises(ValueError, match="bins must be an integer >= 3. Received: bins=2"):
        v.int_at_least(2, "bins", 3)


def test_seed_and_seeds():
    assert v.seed(0) == 0 and v.seeds(5) == (5,) and v.seeds([1, np.int32(2)]) == (1, 2)
    with pytest.raises(ValueError, match="seed must be a non-negative integer. Received: seed=-3"):
        v.seed(-3)
    for bad in ((), (1.5,), "42", None):
        with pytest.raises(ValueError, match="seeds must be"):
            v.seeds(bad)
    with pytest.raises(ValueError, match="must not repeat"):
        v.seeds((1, 1))


def test_numbers():
    assert v.positive_number(np.float32(0.5), "lr") == pytest.approx(0.5)
    assert v.non_negative_number(0, "l2") == 0.0 and v.number_above(1.5, "factor", 1) == 1.5
    for bad in (0, -1, float("inf"), float("nan"), True, "1"):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            v.positive_number(bad, "lr")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        v.non_negative_number(float("nan"), "l2")
    with pytest.raises(ValueError, match="factor must be a number > 1"):
        v.number_above(1, "factor", 1)


def test_fractions():
    assert v.fraction(0, "dropout") == 0.0 and v.fraction(1, "share", closed=True) == 1.0
    assert v.open_fraction(0.5, "factor") == 0.5
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        v.fraction(1.0, "dropout")
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        v.open_fraction(0, "factor")


def test_choices_strings_booleans_and_sequences():
    assert v.one_of("adam", "optimizer", ("sgd", "adam")) == "adam"
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam'. Received: optimizer='adamax'"):
        v.one_of("adamax", "optimizer", ("sgd", "adam"))
    assert v.non_empty_str("run", "name") == "run"
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        v.non_empty_str("  ", "name")
    assert v.boolean(np.bool_(True), "training") is True
    with pytest.raises(TypeError, match="training must be True or False"):
        v.boolean(1, "training")
    assert v.int_sequence([8, 16], "filters") == (8, 16)
    for bad in ([], [0], "16", [1.5]):
        with pytest.raises(ValueError, match="filters must be a non-empty sequence of integers >= 1"):
            v.int_sequence(bad, "filters")


def test_is_int_and_is_number_refuse_booleans():
    assert v.is_int(np.int8(1)) and not v.is_int(True) and not v.is_int(1.0)
    assert v.is_number(np.float16(1)) and not v.is_number(np.bool_(False)) and not v.is_number("1")
