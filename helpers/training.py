"""Compile and fit recipes shared by the notebooks.

``01_cnn_foundations`` introduces :func:`compile_classifier` and :func:`fit`; later notebooks add
schedules and strategies here rather than in a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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


def warmup_cosine(
    peak_lr: float, total_steps: int, *, warmup_fraction: float = 0.1, final_fraction: float = 0.01
) -> keras.optimizers.schedules.LearningRateSchedule:
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
    resume_dir=None,
) -> keras.callbacks.History:
    """Train a compiled ``model`` on ``data``'s training split, validating on its validation split.

    The test split is never touched here: evaluate it once, at the end.

    Args:
        epochs: passes over the training split.
        batch_size: examples per step (default 64).
        augment: optional augmentation applied in the tf.data pipeline (training only).
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity; default :func:`helpers.config.fit_verbose` (quiet in CI).
        resume_dir: a folder that makes the run resumable (06), e.g.
            ``config.BUILD_DIR / "resume" / "my_run"``; default None (not resumable). After every
            epoch the training state (weights, optimizer, epoch) is backed up in
            ``resume_dir/backup`` with ``keras.callbacks.BackupAndRestore`` (written atomically,
            see :class:`helpers.callbacks.SafeBackupAndRestore`) and the epoch's metrics are
            appended to ``resume_dir/history.csv``. If the process dies (crash, Ctrl-C, SIGKILL),
            call ``fit`` again with the same ``resume_dir``, a model built and compiled the same
            way and the same ``epochs``: training continues after the last finished epoch and
            ends at ``epochs`` in total, and the CSV keeps exactly one row per epoch. The returned
            History holds only the epochs run by this call. The backup is deleted when training
            completes; :func:`clear_resume_state` starts over. EarlyStopping's patience counter
            is not part of the backup: it restarts on resume.
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
    callbacks = list(callbacks)
    if resume_dir is not None:
        from pathlib import Path

        from helpers.callbacks import (
            RESUME_BACKUP_NAME,
            RESUME_LOG_NAME,
            ResumableCSVLogger,
            SafeBackupAndRestore,
        )

        if not isinstance(resume_dir, (str, Path)) or not str(resume_dir):
            raise ValueError(f"resume_dir must be a folder path. Received: resume_dir={resume_dir!r}")
        resume_dir = config.ensure_dir(Path(resume_dir))
        # The log, then the backup, then your callbacks: a kill between the two leaves a logged
        # epoch that is rerun (its row is replaced), never a backed-up epoch without its row.
        callbacks = [
            ResumableCSVLogger(resume_dir / RESUME_LOG_NAME),
            SafeBackupAndRestore(resume_dir / RESUME_BACKUP_NAME),
            *callbacks,
        ]
    train, val, _ = data.pipelines(batch_size, augment=augment, seed=seed)
    try:
        return model.fit(
            train,
            validation_data=val,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,  # the pipeline reshuffles every epoch itself
            verbose=config.fit_verbose() if verbose is None else verbose,
        )
    finally:
        if resume_dir is not None:
            model._initial_epoch = None  # Keras keeps the restored epoch on the model otherwise


# ----------------------------------------------------------------------------------------------
# The course's recommended recipe (08's capstone and the benchmarks use it; bench/ times it).

import dataclasses as _dataclasses  # noqa: E402


@_dataclasses.dataclass(frozen=True)
class Recipe:
    """The course's recommended recipe for small grayscale datasets such as ``mnist5k``.

    A compact two-block CNN (two 3x3 convolutions per block, 16 then 32 filters) with BatchNorm (so
    a high peak learning rate is safe), warmup + cosine decay over a short, fixed number of epochs
    (fast progress, then annealing), batch 64, and optional label-preserving augmentation. Each
    choice is motivated in notebooks 02-05. ``bench/`` races it against reference recipes: on
    ``mnist5k`` it first reaches 98 % test accuracy after about 15 s of training on 2 CPU cores.
    The filter counts were chosen by that benchmark: (32, 64) is as accurate but costs four times
    the compute per epoch; one convolution per block is cheaper but stalls near 97.7 %.
    """

    filters: tuple[int, ...] = (16, 32)
    convs_per_block: int = 2
    head: str = "flatten"
    dropout: float = 0.3
    bn_momentum: float = 0.9
    batch_size: int = 64
    peak_lr: float = 5e-3
    epochs: int = 14
    augment: bool = False

    def build(self, data: Dataset, *, seed: int = config.DEFAULT_SEED) -> keras.Model:
        """A compiled model for ``data`` whose schedule spans ``self.epochs`` epochs."""
        from helpers import models

        config.seed_everything(seed)
        model = models.simple_cnn(
            data.input_shape,
            data.num_classes,
            filters=self.filters,
            convs_per_block=self.convs_per_block,
            head=self.head,
            dropout=self.dropout,
            bn_momentum=self.bn_momentum,
            name="course_recipe",
        )
        steps = self.epochs * steps_per_epoch(len(data.x_train), self.batch_size)
        return compile_classifier(model, learning_rate=warmup_cosine(self.peak_lr, steps))

    def augmentation(self, data: Dataset, *, seed: int = config.DEFAULT_SEED):
        """The augmentation preset for ``data`` (None when the recipe does not augment)."""
        from helpers import augment

        return augment.preset(data.name, seed=seed) if self.augment else None

    def train(self, data: Dataset, *, seed: int = config.DEFAULT_SEED, callbacks=(), verbose=None):
        """Build and train; returns ``(model, history)``."""
        model = self.build(data, seed=seed)
        history = fit(
            model,
            data,
            epochs=self.epochs,
            batch_size=self.batch_size,
            augment=self.augmentation(data, seed=seed),
            callbacks=callbacks,
            seed=seed,
            verbose=verbose,
        )
        return model, history


RECOMMENDED = Recipe()


# ----------------------------------------------------------------------------------------------
# Resuming an interrupted run (06_monitoring_evaluation): see fit(resume_dir=...).


def resume_log(resume_dir):
    """The per-epoch log of a resumable run (``resume_dir/history.csv``) as a pandas DataFrame.

    One row per finished epoch, indexed by the 0-based ``epoch`` column as Keras writes it.
    """
    from pathlib import Path

    import pandas as pd

    from helpers.callbacks import RESUME_LOG_NAME

    path = Path(resume_dir) / RESUME_LOG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No training log at {path}. It is written by helpers.training.fit(..., resume_dir={str(resume_dir)!r}) "
            "once the first epoch has finished."
        )
    return pd.read_csv(path).set_index("epoch")


def clear_resume_state(resume_dir) -> None:
    """Forget a resumable run: delete the backup and the log that ``fit(resume_dir=...)`` wrote.

    Only those two entries of ``resume_dir`` are removed (anything else you keep there stays), so
    the next ``fit`` with this folder starts from epoch 1. A folder that does not exist is fine.
    """
    import shutil
    from pathlib import Path

    from helpers.callbacks import RESUME_BACKUP_NAME, RESUME_LOG_NAME

    folder = Path(resume_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"resume_dir must be a folder. Received a file: {folder}")
    shutil.rmtree(folder / RESUME_BACKUP_NAME, ignore_errors=True)
    (folder / RESUME_LOG_NAME).unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# Learning-rate range test, the rule that picks a rate from it, and schedules (introduced in
# 04_training_strategies).

import dataclasses as _dataclasses  # noqa: E402,F811

import numpy as _np  # noqa: E402

SCHEDULES = ("constant", "step_decay", "warmup_cosine")


def _check_positive_lr(value, name: str = "learning_rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, _np.floating)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    return float(value)


def constant_lr(learning_rate: float) -> float:
    """A constant learning rate, returned as a plain float.

    A float (not a ``LearningRateSchedule``) keeps the optimizer's rate settable, which
    ``keras.callbacks.ReduceLROnPlateau`` and :class:`helpers.callbacks.LRFinder` need: given a
    schedule, both fail with ``TypeError``.
    """
    return _check_positive_lr(learning_rate)


def step_decay(
    initial_lr: float, *, drop_every: int, factor: float = 0.1
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Step decay: ``initial_lr * factor ** (step // drop_every)`` (the classic ResNet schedule).

    The rate stays flat for ``drop_every`` optimizer steps (batches, not epochs), then drops by
    ``factor``. It is Keras's ``ExponentialDecay`` with ``staircase=True``.

    Args:
        initial_lr: the rate of the first ``drop_every`` steps.
        drop_every: steps between two drops (a positive integer).
        factor: multiplier at each drop, in (0, 1) (default 0.1).
    """
    initial_lr = _check_positive_lr(initial_lr, "initial_lr")
    if isinstance(drop_every, bool) or not isinstance(drop_every, (int, _np.integer)) or drop_every < 1:
        raise ValueError(f"drop_every must be a positive integer (steps). Received: drop_every={drop_every!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1). Received: factor={factor!r}")
    return keras.optimizers.schedules.ExponentialDecay(
        initial_lr, decay_steps=int(drop_every), decay_rate=float(factor), staircase=True
    )


def make_schedule(name: str, peak_lr: float, total_steps: int, **kwargs):
    """One of :data:`SCHEDULES` for a run of ``total_steps`` optimizer steps, peaking at ``peak_lr``.

    * ``"constant"``: ``peak_lr`` throughout (a float, see :func:`constant_lr`);
    * ``"step_decay"``: ``peak_lr``, divided by 10 after each third of the run (override with
      ``drop_every=``, ``factor=``);
    * ``"warmup_cosine"``: :func:`warmup_cosine` (override ``warmup_fraction=``, ``final_fraction=``).

    Comparing schedules on the same budget means the same ``total_steps`` and ``peak_lr`` for each.
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}. Choose one of {', '.join(SCHEDULES)}.")
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, _np.integer)) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer. Received: total_steps={total_steps!r}")
    if name == "constant":
        if kwargs:
            raise ValueError(f"The constant schedule takes no options. Received: {', '.join(kwargs)}")
        return constant_lr(peak_lr)
    if name == "step_decay":
        kwargs.setdefault("drop_every", max(1, math.ceil(total_steps / 3)))
        return step_decay(peak_lr, **kwargs)
    return warmup_cosine(peak_lr, int(total_steps), **kwargs)


def learning_rate_values(schedule, steps: int) -> _np.ndarray:
    """The learning rate at optimizer steps ``0 .. steps - 1`` of a float or a schedule (for plots)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, _np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer. Received: steps={steps!r}")
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return _np.array([float(schedule(s)) for s in range(int(steps))])
    return _np.full(int(steps), _check_positive_lr(schedule, "schedule"))


LR_RULES = ("minimum", "steepest")


def suggest_learning_rate(learning_rates, losses, *, method: str = "minimum", factor: float = 10.0) -> float:
    """Pick a learning rate from a range test's curve of (smoothed) loss against learning rate.

    * ``"minimum"`` (default): the rate at the lowest loss, divided by ``factor`` (10). At the
      minimum the loss is about to blow up: that rate is the edge of stability, not a rate to train
      with. An order of magnitude lower still makes fast progress and leaves room for the noise of
      real training (Smith, 2017; fastai's ``lr_min``).
    * ``"steepest"``: the rate where the loss falls fastest per decade of learning rate (the most
      negative slope of loss against log10(rate), measured over a window of points), looked for
      below the minimum and after the first tenth of the curve. It often lands near the minimum
      rule's pick, but moves more with the noise of the curve.

    Only the finite part of the curve is used (a diverged run ends in NaN or inf).

    Args:
        learning_rates: increasing positive rates, one per recorded batch.
        losses: the loss at each rate (ideally smoothed, e.g. ``LRRangeTest.smoothed_losses``).
        method: ``"minimum"`` or ``"steepest"``.
        factor: the divisor of the ``"minimum"`` rule, > 1 (default 10).
    """
    if method not in LR_RULES:
        raise ValueError(f"method must be one of {', '.join(LR_RULES)}. Received: method={method!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 1:
        raise ValueError(f"factor must be a number > 1. Received: factor={factor!r}")
    lrs = _np.asarray(learning_rates, dtype=_np.float64)
    loss = _np.asarray(losses, dtype=_np.float64)
    if lrs.ndim != 1 or lrs.shape != loss.shape:
        raise ValueError(
            "learning_rates and losses must be 1-D and of the same length. "
            f"Received shapes {lrs.shape} and {loss.shape}"
        )
    if not _np.all(_np.isfinite(lrs)) or _np.any(lrs <= 0) or _np.any(_np.diff(lrs) <= 0):
        raise ValueError("learning_rates must be positive, finite and increasing (as a range test records them).")
    finite = _np.isfinite(loss)
    n = len(loss) if finite.all() else int(_np.argmin(finite))  # stop at the first NaN/inf
    if n < 5:
        raise ValueError(
            f"The curve has {n} finite points before it diverges; at least 5 are needed. "
            "Start the range test at a lower learning rate or use more steps."
        )
    lrs, loss = lrs[:n], loss[:n]
    best = int(_np.argmin(loss))
    if method == "minimum":
        return float(lrs[best] / factor)
    if best < n // 10 + 2:
        raise ValueError(
            "The loss is lowest at the start of the curve, so it never falls: start the range "
            "test at a lower learning rate."
        )
    # Slope over a window of +-k points (a tenth of a decade of noise should not win), skipping the
    # first tenth of the curve, where the loss of a fresh model wobbles before any learning.
    k = max(1, n // 20)
    log_lr = _np.log10(lrs)
    first = max(k, n // 10)
    idx = _np.arange(first, max(first + 1, best - k + 1))
    idx = idx[(idx - k >= 0) & (idx + k < n)]
    if idx.size == 0:
        raise ValueError("The curve falls over too few points to measure a slope: use more steps.")
    slopes = (loss[idx + k] - loss[idx - k]) / (log_lr[idx + k] - log_lr[idx - k])
    return float(lrs[idx[int(_np.argmin(slopes))]])


@_dataclasses.dataclass(frozen=True)
class LRRangeTest:
    """The result of :func:`lr_range_test`: one entry per batch, in the order they ran."""

    learning_rates: _np.ndarray
    losses: _np.ndarray
    smoothed_losses: _np.ndarray
    optimizer: str
    batch_size: int
    diverged: bool

    @property
    def min_loss_lr(self) -> float:
        """The learning rate at which the smoothed loss was lowest."""
        return float(self.learning_rates[int(_np.argmin(self.smoothed_losses))])

    def suggest(self, method: str = "minimum", **kwargs) -> float:
        """:func:`suggest_learning_rate` applied to the smoothed curve."""
        return suggest_learning_rate(self.learning_rates, self.smoothed_losses, method=method, **kwargs)

    def __repr__(self) -> str:
        return (
            f"LRRangeTest({self.optimizer}, batch {self.batch_size}, {len(self.learning_rates)} steps "
            f"from {self.learning_rates[0]:.1e} to {self.learning_rates[-1]:.1e}, lowest loss at "
            f"{self.min_loss_lr:.2e}{', diverged' if self.diverged else ''})"
        )


def lr_range_test(
    model: keras.Model,
    data: Dataset,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    num_steps: int = 100,
    batch_size: int = 64,
    smoothing: float = 0.9,
    stop_factor: float | None = 4.0,
    seed: int = config.DEFAULT_SEED,
    verbose: int | str | None = None,
) -> LRRangeTest:
    """Run a learning-rate range test for a compiled ``model`` and return the curve.

    The rate grows exponentially from ``start_lr`` to ``end_lr`` over ``num_steps`` batches of the
    training split (shuffled with ``seed``, repeated as needed, all batches full) while
    :class:`helpers.callbacks.LRFinder` records the loss. The test trains a **copy** of the model
    (same weights, a fresh optimizer of the same kind and settings), so ``model`` itself is left
    exactly as it was. Pick a rate with ``result.suggest()`` (see :func:`suggest_learning_rate`).

    Args:
        model: a model compiled with a float learning rate (its optimizer and loss are copied).
        data: a :class:`helpers.data.Dataset`; only its training split is used.
        start_lr, end_lr, num_steps, smoothing, stop_factor: as in :class:`helpers.callbacks.LRFinder`.
        batch_size: examples per step (default 64): use the batch size you will train with, since
            the best rate depends on it.
        seed: seeds the shuffle (default 42).
        verbose: Keras verbosity; default :func:`helpers.config.fit_verbose`.
    """
    import tensorflow as tf

    from helpers.callbacks import LRFinder
    from helpers.data import validate_images, validate_labels

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or getattr(model, "loss", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model, optimizer='adam').")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but {data.name!r} "
            f"images have shape {data.input_shape}."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, _np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    finder = LRFinder(
        start_lr=start_lr, end_lr=end_lr, num_steps=num_steps, smoothing=smoothing, stop_factor=stop_factor
    )
    fresh = type(optimizer).from_config(optimizer.get_config())
    try:
        fresh.learning_rate = finder.start_lr
    except TypeError as exc:
        raise TypeError(
            "lr_range_test sets the learning rate itself: compile the model with a float "
            "learning rate (e.g. learning_rate=1e-3), not a LearningRateSchedule."
        ) from exc
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(optimizer=fresh, loss=model.loss)
    x = validate_images(data.x_train)
    y = validate_labels(data.y_train, n=len(x))
    stream = (
        tf.data.Dataset.from_tensor_slices((x.astype(_np.float32), y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(int(batch_size))
        .prefetch(tf.data.AUTOTUNE)
    )
    copy.fit(
        stream,
        epochs=1,
        steps_per_epoch=finder.num_steps,
        callbacks=[finder],
        shuffle=False,
        verbose=config.fit_verbose() if verbose is None else verbose,
    )
    if len(finder.losses) < 2:
        raise RuntimeError(
            f"The range test recorded {len(finder.losses)} finite losses; the loss was not "
            f"finite from start_lr={finder.start_lr:g}. Start lower."
        )
    return LRRangeTest(
        _np.asarray(finder.learning_rates),
        _np.asarray(finder.losses),
        _np.asarray(finder.smoothed_losses),
        type(optimizer).__name__,
        int(batch_size),
        finder.diverged,
    )
