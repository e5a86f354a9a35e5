"""helpers.diagnostics.baselines: majority is chance on balanced classes, pixel models beat it, and
only the training and validation splits are read."""

import numpy as np
import pytest

from helpers import data, diagnostics
from helpers.data import Dataset


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist5k")


def test_baselines_on_balanced_digits(digits):
    table = diagnostics.baselines(digits, max_train=600)
    assert list(table.columns) == ["baseline", "val_accuracy", "how", "seconds"]
    scores = table.set_index("baseline")["val_accuracy"]
    assert list(scores.index) == ["majority class", "input-independent", "logistic regression", "k-nearest neighbours"]
    assert scores["majority class"] == pytest.approx(0.1)  # 50 of the 500 validation digits in each class
    assert scores["input-independent"] == pytest.approx(0.1, abs=0.02)  # it can only learn the prior
    assert scores["logistic regression"] > 0.75 and scores["k-nearest neighbours"] > 0.75
    assert table["how"].str.contains("fit on 600 training images").all()


def test_baselines_never_read_the_test_split_and_learn_an_imbalanced_prior():
    rng = np.random.default_rng(0)

    def split(n):
        y = (rng.uniform(size=n) < 0.2).astype(np.int32)  # 80 % class 0
        x = rng.uniform(size=(n, 6, 6, 3)).astype(np.float32) * 0.3
        x[y == 1, :3] += 0.6  # class 1: a bright top half, in colour
        return x, y

    x_train, y_train = split(200)
    x_val, y_val = split(100)
    poisoned = np.full((4, 6, 6, 3), np.nan, np.float32)  # any use of the test split would fail loudly
    ds = Dataset("colour", x_train, y_train, x_val, y_val, poisoned, np.zeros(4, np.int32), ("a", "b"), "")
    scores = diagnostics.baselines(ds, knn_k=3).set_index("baseline")["val_accuracy"]
    assert scores["majority class"] == pytest.approx(np.mean(y_val == 0))
    assert scores["input-independent"] == pytest.approx(scores["majority class"])  # the prior's argmax: class 0
    assert scores["logistic regression"] > 0.95 and scores["k-nearest neighbours"] > 0.95


def test_baselines_arguments(tiny):
    with pytest.raises(ValueError, match="knn_k=100 is more"):
        diagnostics.baselines(tiny, knn_k=100)
    with pytest.raises(ValueError, match="max_train"):
        diagnostics.baselines(tiny, max_train=0)
