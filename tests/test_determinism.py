"""Same seed -> identical weights and metrics on the CPU; another seed -> different ones."""

import numpy as np

from helpers import augment, config, data, models, training


def _train(seed: int):
    config.setup(seed=seed, show=False)
    ds = data.load("mnist5k", train_size=300, seed=seed)
    model = models.simple_cnn(ds.input_shape, ds.num_classes, filters=(8, 16), convs_per_block=1,
                              head="flatten", dropout=0.2, dense_units=32,
                              augmentation=augment.preset("digits", seed=seed))
    steps = 2 * training.steps_per_epoch(len(ds.x_train), 32)
    training.compile_classifier(model, learning_rate=training.warmup_cosine(3e-3, steps))
    history = training.fit(model, ds, epochs=2, batch_size=32, augment=augment.preset("digits", seed=seed),
                           seed=seed, verbose=0)
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
