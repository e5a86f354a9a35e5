"""Compile and fit recipes shared by the notebooks.

``01_cnn_foundations`` introduces :func:`compile_classifier` and :func:`fit`; later notebooks add
schedules and strategies here rather than in a notebook.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import keras

from helpers import config
from helpers.data import Dataset

OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adamw": lambda lr: keras.optimizers.AdamW(lr, weight_decay=1e-4),
}


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one epoch (the last one may be partial)."""
    if n_examples <= 0 or batch_size <= 0:
        raise ValueError(f"n_examples and batch_size must be positive. Received: {n_examples}, {batch_size}")
    return math.ceil(n_examples / batch_size)


def warmup_cosine(peak_lr: float, total_steps: int, *, warmup_fraction: float = 0.1,
                  final_fraction: float = 0.01) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warmup to ``peak_lr`` over ``warmup_fraction`` of the steps, then cosine decay.

    Warmup lets a high learning rate start safely (BatchNorm statistics settle first); the cosine
    tail anneals to ``final_fraction * peak_lr`` so the last epochs fine-tune instead of bouncing.
    """
    if peak_lr <= 0 or total_steps <= 0 or not 0 <= warmup_fraction < 1:
        raise ValueError(
            "peak_lr and total_steps must be positive and warmup_fraction in [0, 1). Received: "
            f"peak_lr={peak_lr}, total_steps={total_steps}, warmup_fraction={warmup_fraction}"
        )
    warmup = int(total_steps * warmup_fraction)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else peak_lr,
        decay_steps=max(1, total_steps - warmup),
        alpha=final_fraction,
        warmup_target=peak_lr if warmup else None,
        warmup_steps=warmup,
    )


def compile_classifier(
    model: keras.Model,
    *,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    metrics: Sequence = ("accuracy",),
) -> keras.Model:
    """Compile ``model`` for integer-label classification (sparse cross-entropy) and return it."""
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {optimizer!r}. Choose one of {', '.join(OPTIMIZERS)}.")
        optimizer = OPTIMIZERS[optimizer](learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def fit(
    model: keras.Model,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    augment: Callable | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str | None = None,
    seed: int = config.DEFAULT_SEED,
) -> keras.callbacks.History:
    """Train a compiled ``model`` on ``data``'s training split, validating on its validation split.

    The test split is never touched here: evaluate it once, at the end.

    Args:
        epochs: passes over the training split.
        batch_size: examples per step (default 64).
        augment: optional augmentation applied in the tf.data pipeline (training only).
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity; default :func:`helpers.config.fit_verbose` (quiet in CI).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer. Received: epochs={epochs!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model).")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but {data.name!r} "
            f"images have shape {data.input_shape}. Build the model with input_shape=data.input_shape."
        )
    train, val, _ = data.pipelines(batch_size, augment=augment, seed=seed)
    return model.fit(train, validation_data=val, epochs=epochs, callbacks=list(callbacks),
                     shuffle=False,  # the pipeline reshuffles every epoch itself
                     verbose=config.fit_verbose() if verbose is None else verbose)
