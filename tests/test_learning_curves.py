"""helpers.learning_curves: nested stratified subsets, epochs for small sets, the training-set-size curve."""

import numpy as np
import pandas as pd
import pytest

from helpers import learning_curves, runs

TINY_MODEL = {"filters": (4,), "convs_per_block": 1, "batch_norm": False, "dropout": 0.0, "dense_units": 8}


def test_nested_subsets_are_nested_stratified_and_seeded():
    y = np.repeat(np.arange(10), [50, 60, 40, 55, 45, 50, 52, 48, 50, 50])
    subsets = learning_curves.nested_subset_indices(y, [20, 100, 250, 500], seed=3)
    assert sorted(subsets) == [20, 100, 250, 500]
    for size, idx in subsets.items():
        assert len(idx) == size and len(np.unique(idx)) == size
        counts = np.bincount(y[idx], minlength=10)
        expected = size * np.bincount(y) / len(y)
        assert np.all(np.abs(counts - expected) <= 1.0), (size, counts, expected)
    assert set(subsets[20]) <= set(subsets[100]) <= set(subsets[250]) <= set(subsets[500])
    again = learning_curves.nested_subset_indices(y, [100], seed=3)
    other = learning_curves.nested_subset_indices(y, [100], seed=4)
    np.testing.assert_array_equal(again[100], subsets[100])
    assert not np.array_equal(other[100], subsets[100])


def test_nested_subsets_full_size_is_everything():
    y = np.arange(30) % 3
    idx = learning_curves.nested_subset_indices(y, [30])[30]
    np.testing.assert_array_equal(idx, np.arange(30))


@pytest.mark.parametrize(
    ("sizes", "match"),
    [
        ([2], r"from 3 \(one example per class\) to 30"),
        ([31], "to 30"),
        ([], "Every size must be"),
        ([10.5], "Every size must be"),
        ([True], "Every size must be"),
        (["ten"], "whole numbers"),
    ],
)
def test_nested_subsets_reject_bad_sizes(sizes, match):
    with pytest.raises(ValueError, match=match):
        learning_curves.nested_subset_indices(np.arange(30) % 3, sizes)


def test_nested_subsets_reject_bad_seed():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        learning_curves.nested_subset_indices(np.arange(30) % 3, [10], seed=-1)


def test_sizes_within_keeps_sizes_that_fit_and_caps_the_rest():
    # mnist5k's full sizes on its 3,500 training digits: unchanged
    assert learning_curves.sizes_within((250, 500, 1000, 3500), 3500) == (250, 500, 1000, 3500)
    # a 5-class colour folder with 420 training images: the largest point becomes the whole split
    assert learning_curves.sizes_within((150, 600), 420) == (150, 420)
    assert learning_curves.sizes_within((250, 500, 1000, 3500), 420) == (250, 420)
    assert learning_curves.sizes_within([np.int64(20)], 20) == (20,)
    sizes = learning_curves.sizes_within((150, 600), 420)
    y = np.repeat(np.arange(5), 84)  # 5 classes x 84: the folder's training split
    assert sorted(learning_curves.nested_subset_indices(y, sizes)) == [150, 420]


@pytest.mark.parametrize(
    ("sizes", "n_train", "match"),
    [
        ((0, 10), 20, "each size"),
        ((10,), 0, "n_train"),
        ((), 20, "empty"),
        ("100", 20, "sequence"),
        ((2.5,), 9, "each"),
    ],
)
def test_sizes_within_rejects_bad_values(sizes, n_train, match):
    with pytest.raises(ValueError, match=match):
        learning_curves.sizes_within(sizes, n_train)


def test_with_train_subset_keeps_validation_and_test(tiny):
    sub = learning_curves.with_train_subset(tiny, np.array([0, 1, 2, 5]))
    assert len(sub.x_train) == 4 and list(sub.y_train) == [0, 1, 2, 2]
    assert sub.x_val is tiny.x_val and sub.x_test is tiny.x_test and sub.name == tiny.name


@pytest.mark.parametrize(
    ("indices", "match"),
    [
        (np.array([], dtype=int), "non-empty 1-D array of integers"),
        (np.array([0.5, 1.0]), "non-empty 1-D array of integers"),
        (np.array([[0, 1]]), "non-empty 1-D array of integers"),
        (np.array([0, 60]), r"must lie in \[0, 60\)"),
        (np.array([-1]), r"must lie in \[0, 60\)"),
    ],
)
def test_with_train_subset_rejects_bad_indices(tiny, indices, match):
    with pytest.raises(ValueError, match=match):
        learning_curves.with_train_subset(tiny, indices)


def test_epochs_for_size_gives_small_sets_enough_steps():
    assert learning_curves.epochs_for_size(3500, epochs=10, min_steps=300) == 10  # 55 steps/epoch already
    assert learning_curves.epochs_for_size(250, epochs=10, min_steps=300) == 75  # 4 steps/epoch
    assert learning_curves.epochs_for_size(250, epochs=10) == 10
    assert learning_curves.epochs_for_size(100, epochs=1, min_steps=5, batch_size=50) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2, "min_steps": -1}, "min_steps must be an integer >= 0"),
        ({"epochs": 2, "min_steps": 1.5}, "min_steps must be an integer >= 0"),
    ],
)
def test_epochs_for_size_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        learning_curves.epochs_for_size(100, **kwargs)


def test_learning_curve_by_size_trains_every_size_and_seed(tiny):
    curve = learning_curves.learning_curve_by_size(
        "tiny", tiny, TINY_MODEL, [12, 60], epochs=1, seeds=(1, 2), min_steps=4, batch_size=12, verbose=0
    )
    assert isinstance(curve, pd.DataFrame) and list(curve.columns) == list(runs.ROW_COLUMNS)
    assert list(curve["train_size"]) == [12, 12, 60, 60] and list(curve["seed"]) == [1, 2, 1, 2]
    assert list(curve["epochs_run"]) == [4, 4, 1, 1]  # the small subset got min_steps updates
    assert (curve["name"] == "tiny").all()


@pytest.mark.parametrize("seeds", [(), (1, 1), (1.5,), "42"])
def test_learning_curve_by_size_rejects_bad_seeds(tiny, seeds):
    with pytest.raises(ValueError, match="seeds must"):
        learning_curves.learning_curve_by_size("x", tiny, TINY_MODEL, [30], epochs=1, seeds=seeds)
