"""Same seed -> identical weights and metrics on the CPU; another seed -> different ones."""

import dataclasses

import numpy as np

from helpers import config, data, recipes

# The course recipe itself (recipes.FAST), with its augmentation on, shortened to 2 epochs.
RECIPE = dataclasses.replace(recipes.FAST, epochs=2, augment=True)


def _train(seed: int):
    config.setup(seed=seed, show=False)
    ds = data.load("mnist5k", train_size=300, seed=seed)
    model, history = RECIPE.train(ds, seed=seed, verbose=0)
    return [np.asarray(w) for w in model.get_weights()], history.history


def test_same_seed_same_weights_and_metrics():
    w1, h1 = _train(11)
    w2, h2 = _train(11)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2


def test_different_seeds_differ():
    w1, _ = _train(11)
    w3, _ = _train(12)
    assert any(not np.array_equal(a, b) for a, b in zip(w1, w3))
