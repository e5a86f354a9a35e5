"""helpers.diagnostics.leakage: planted copies are found, a clean split has none."""

import numpy as np
import pytest

from helpers import diagnostics
from helpers.data import Dataset


def test_duplicates_finds_planted_copies_and_none_in_a_clean_split(tiny):
    assert diagnostics.duplicates(tiny.x_train, tiny.x_val) == 0  # independent noise: no copies
    x_val = tiny.x_val.copy()
    planted = {3: 10, 7: 0, 12: 41}  # validation index -> the training image copied there
    for j, i in planted.items():
        x_val[j] = tiny.x_train[i]
    x_val[12] = (tiny.x_train[41].astype(np.float64) * 255).astype(np.float32) / np.float32(255)  # a re-scaled copy
    assert diagnostics.duplicates(tiny.x_train, x_val) == 3
    pairs = diagnostics.duplicates(tiny.x_train, x_val, pairs=True)
    assert pairs.shape == (3, 2) and {(int(i), int(j)) for i, j in pairs} == {(i, j) for j, i in planted.items()}


def test_duplicates_compares_after_rounding():
    grey = np.full((1, 4, 4, 1), 0.5)
    nudged = grey + 1e-5  # far from a rounding boundary: equal at 3 decimals, not at 6
    assert diagnostics.duplicates(grey, nudged) == 1
    assert diagnostics.duplicates(grey, nudged, decimals=6) == 0
    assert diagnostics.duplicates(np.zeros((1, 2, 2, 1)), -np.full((1, 2, 2, 1), 1e-9)) == 1  # -0.0 is 0.0


def test_duplicates_counts_images_not_pairs_and_takes_colour_images():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(5, 4, 4, 3))
    a[1] = a[0]  # the same image twice in the reference set
    b = np.stack([a[0], rng.uniform(size=(4, 4, 3))])
    assert diagnostics.duplicates(a, b) == 1
    assert len(diagnostics.duplicates(a, b, pairs=True)) == 2


def test_duplicates_errors():
    with pytest.raises(ValueError, match="same shape"):
        diagnostics.duplicates(np.zeros((2, 4, 4, 1)), np.zeros((2, 5, 5, 1)))
    with pytest.raises(ValueError, match="non-empty"):
        diagnostics.duplicates(np.zeros((0, 4, 4, 1)), np.zeros((2, 4, 4, 1)))
    with pytest.raises(TypeError, match="numeric"):
        diagnostics.duplicates(np.array([["a"]]), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="decimals"):
        diagnostics.duplicates(np.zeros((1, 2)), np.zeros((1, 2)), decimals=-1)


def test_split_overlaps_reports_every_pair_of_splits(tiny):
    clean = diagnostics.split_overlaps(tiny)
    assert list(clean["check"]) == [
        "val in train", "test in train", "test in val", "train in train", "val in val", "test in test",
    ]  # fmt: skip
    assert clean["duplicates"].sum() == 0 and list(clean["of"]) == [30, 30, 30, 60, 30, 30]
    x_test = tiny.x_test.copy()
    x_test[:6] = tiny.x_val[:6]
    leaky = Dataset(
        "leaky", tiny.x_train, tiny.y_train, tiny.x_val, tiny.y_val, x_test, tiny.y_test, ("a", "b", "c"), ""
    )
    table = diagnostics.split_overlaps(leaky).set_index("check")
    assert table.loc["test in val", "duplicates"] == 6 and table.loc["test in val", "share"] == pytest.approx(0.2)
    assert table.loc["val in train", "duplicates"] == 0
