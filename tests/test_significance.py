"""significance: standard errors, Wilson intervals and McNemar's test against known values."""

import math

import numpy as np
import pytest

from helpers import significance


def test_binomial_se_is_the_textbook_formula():
    assert significance.binomial_se(0.97, 1000) == pytest.approx(math.sqrt(0.97 * 0.03 / 1000))
    assert significance.binomial_se(0.97, 1000) == pytest.approx(0.0054, abs=1e-4)  # "about 0.5 points"
    assert significance.binomial_se(1.0, 50) == 0.0


def test_wilson_interval_brackets_the_accuracy_and_stays_in_range():
    low, high = significance.accuracy_interval(0.97, 1000)
    assert low < 0.97 < high
    # Wilson by hand for 970/1000, z = 1.96: centre 0.96820, half-width 0.01070
    assert (low, high) == pytest.approx((0.95750, 0.97891), abs=1e-4)
    low, high = significance.accuracy_interval(1.0, 20)
    assert high == 1.0 and 0.8 < low < 0.9  # not a point at 100 %
    wide, narrow = significance.accuracy_interval(0.9, 100), significance.accuracy_interval(0.9, 10_000)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    assert np.subtract(*significance.accuracy_interval(0.9, 100, confidence=0.5)[::-1]) < wide[1] - wide[0]


def test_format_accuracy():
    assert significance.format_accuracy(0.973, 1000) == "97.3 % ± 0.5"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: significance.binomial_se(97, 1000), "accuracy must be in"),
        (lambda: significance.binomial_se(0.9, 0), "n must be a positive integer"),
        (lambda: significance.accuracy_interval(0.9, 10, confidence=1.0), "confidence"),
        (lambda: significance.mcnemar([0, 1], [0, 1], [0]), "same images"),
        (lambda: significance.mcnemar([], [], []), "non-empty"),
        (lambda: significance.difference_is_clear(0.01), "what mcnemar returns"),
    ],
)
def test_bad_input_says_what_is_wrong(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_mcnemar_counts_only_disagreements():
    y = np.zeros(100, dtype=int)
    a = y.copy()
    b = y.copy()
    a[:5] = 1  # A wrong on 5
    b[:3] = 1  # B wrong on 3, all shared with A
    result = significance.mcnemar(y, a, b, names=("wide", "narrow"))
    assert (result.a_only, result.b_only, result.n) == (0, 2, 100)
    assert result.accuracy_difference == pytest.approx(-0.02)
    assert result.p_value == pytest.approx(0.5)  # 2 of 2 discordant: P = 2 * 0.25
    assert "narrow right on 2" in str(result) and "no clear difference" in str(result)
    assert not significance.difference_is_clear(result)


def test_mcnemar_detects_a_real_difference_and_takes_probabilities():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 1000)
    good = np.where(rng.random(1000) < 0.98, y, (y + 1) % 10)
    bad = np.where(rng.random(1000) < 0.90, y, (y + 1) % 10)
    result = significance.mcnemar(y, np.eye(10)[good], bad)
    assert result.a_only > result.b_only
    assert significance.difference_is_clear(result) and result.p_value < 1e-6
    assert "a clear difference" in str(result)


def test_identical_models_give_p_one():
    y = np.arange(10) % 3
    assert significance.mcnemar(y, y, y).p_value == 1.0
