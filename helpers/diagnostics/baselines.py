"""Dumb baselines (``10_debugging_training``): the scores a CNN must beat before it means anything.

Karpathy's recipe: "get dumb baselines" before the real model. Without them, 85 % validation
accuracy is neither good nor bad; with them it is "worse than logistic regression on raw pixels",
which points at a bug, not at a lack of epochs. Four baselines, each fit on the training split and
scored on the **validation** split (the test split is never read):

* **majority class**: always predict the most common training class (1/K on balanced data);
* **input-independent**: a tiny Keras model trained on *zeroed* inputs, so it can learn only the
  class prior. Karpathy's check that the model uses its input at all: your CNN must beat it, and a
  CNN that scores the same ignores its input (an input that never reaches it, dead units);
* **logistic regression** on the raw pixels (scikit-learn): a linear model, the floor for a CNN;
* **k-nearest neighbours** on the raw pixels (scikit-learn): memorization by pixel distance.
"""

from __future__ import annotations

import math
import time
import warnings

import keras
import numpy as np
import pandas as pd

from helpers import _validate, config
from helpers.data import subsample, validate_labels

__all__ = ["baselines"]

BASELINE_NAMES = ("majority class", "input-independent", "logistic regression", "k-nearest neighbours")
"""The rows of :func:`baselines`, in order."""


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def _majority(y_train, y_val) -> tuple[float, str]:
    counts = np.bincount(y_train)
    majority = int(np.argmax(counts))
    share = counts[majority] / counts.sum()
    return float(np.mean(y_val == majority)), f"always class {majority} ({share:.0%} of training)"


def _input_independent(x_train, y_train, x_val, y_val, num_classes: int, *, epochs: int, seed: int):
    """A softmax layer trained on all-zero inputs: only its bias can learn, so it learns the class prior.

    Trained with Adam in mini-batches of 256 zeroed images and their (shuffled) labels, as ``fit``
    would, but in a plain loop: every zeroed batch is the same tensor, and ~70 small eager steps
    cost far less than ``fit`` building a pipeline of zeros and tracing its training function.
    """
    import tensorflow as tf

    batch = 256
    inputs = keras.Input(shape=x_train.shape[1:], name="zeroed_image")
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="prior")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs, name="input_independent")
    optimizer = keras.optimizers.Adam(0.05)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    zeros = tf.zeros((min(batch, len(y_train)), *x_train.shape[1:]))
    rng = np.random.default_rng(seed)
    loss = math.nan
    for _ in range(epochs):
        order = rng.permutation(len(y_train))
        for start in range(0, len(order), batch):
            labels = tf.constant(y_train[order[start : start + batch]])
            with tf.GradientTape() as tape:
                value = loss_fn(labels, model(zeros[: len(labels)], training=True))
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = float(value)
    probabilities = model(np.zeros((len(y_val), *x_val.shape[1:]), dtype=np.float32), training=False)
    predictions = np.argmax(keras.ops.convert_to_numpy(probabilities), axis=1)
    return float(np.mean(predictions == y_val)), f"softmax on zeroed inputs, {epochs} epochs (last loss {loss:.3f})"


def _one_thread():
    """scikit-learn's native thread pools limited to one thread.

    On the course's 2-core machines, with TensorFlow's threads and other work about, the
    multithreaded logistic regression on 3,500 digits took 17 s and the single-threaded one 1.6 s
    (same iterations, same accuracy): the threads mostly waited for each other.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _logistic_regression(x_train, y_train, x_val, y_val, *, seed: int, max_iter: int) -> tuple[float, str]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings(), _one_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a baseline need not converge to the last digit
        model.fit(_flat(x_train), y_train)
        score = model.score(_flat(x_val), y_val)
    return float(score), f"scikit-learn, raw pixels, C=1, {int(model.n_iter_[0])} iterations"


def _knn(x_train, y_train, x_val, y_val, *, k: int) -> tuple[float, str]:
    from sklearn.neighbors import KNeighborsClassifier

    with _one_thread():
        model = KNeighborsClassifier(n_neighbors=k).fit(_flat(x_train), y_train)
        score = model.score(_flat(x_val), y_val)
    return float(score), f"scikit-learn, raw pixels, k={k}, Euclidean"


def baselines(
    data,
    *,
    max_train: int | None = None,
    knn_k: int = 5,
    seed: int = config.DEFAULT_SEED,
    epochs: int = 5,
    max_iter: int = 200,
) -> pd.DataFrame:
    """The four dumb baselines of a dataset, fit on training and scored on validation.

    See the module's docstring for what each one says. Any image size and channel count works:
    the pixel models see the flattened images.

    Args:
        data: a :class:`helpers.data.Dataset` (its ``x_train, y_train, x_val, y_val``).
        max_train: fit on a stratified subset of this many training images (default None: all;
            1,000 makes the logistic regression a few times faster).
        knn_k: neighbours of the k-NN vote (default 5).
        seed: seeds the subset and the models (default 42).
        epochs: epochs of the input-independent model (default 5; it only learns a bias).
        max_iter: iterations of the logistic regression's solver (default 200).

    Returns:
        A DataFrame with one row per baseline and columns ``baseline, val_accuracy, how`` (how it
        was computed) and ``seconds``.
    """
    seed = _validate.seed(seed)
    knn_k = _validate.positive_int(knn_k, "knn_k")
    epochs = _validate.positive_int(epochs, "epochs")
    max_iter = _validate.positive_int(max_iter, "max_iter")
    max_train = _validate.positive_int(max_train, "max_train", allow_none=True)
    x_train, y_train = data.x_train, validate_labels(data.y_train, n=len(data.x_train), name="y_train")
    x_val, y_val = data.x_val, validate_labels(data.y_val, n=len(data.x_val), name="y_val")
    if max_train is not None and max_train < len(x_train):
        x_train, y_train = subsample(x_train, y_train, max_train, seed=seed)
    if knn_k > len(x_train):
        raise ValueError(f"knn_k={knn_k} is more than the {len(x_train)} training images.")
    num_classes = max(int(getattr(data, "num_classes", 0) or 0), int(y_train.max()) + 1, int(y_val.max()) + 1)
    runs = {
        "majority class": lambda: _majority(y_train, y_val),
        "input-independent": lambda: _input_independent(
            x_train, y_train, x_val, y_val, num_classes, epochs=epochs, seed=seed
        ),
        "logistic regression": lambda: _logistic_regression(
            x_train, y_train, x_val, y_val, seed=seed, max_iter=max_iter
        ),
        "k-nearest neighbours": lambda: _knn(x_train, y_train, x_val, y_val, k=knn_k),
    }
    rows = []
    for name in BASELINE_NAMES:
        start = time.perf_counter()
        accuracy, how = runs[name]()
        rows.append(
            {
                "baseline": name,
                "val_accuracy": accuracy,
                "how": f"{how}; fit on {len(x_train)} training images",
                "seconds": time.perf_counter() - start,
            }
        )
    return pd.DataFrame(rows, columns=["baseline", "val_accuracy", "how", "seconds"])
