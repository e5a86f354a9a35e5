"""Compile and fit: the two calls every notebook trains with (introduced in ``01_cnn_foundations``).

:func:`compile_classifier` sets up integer-label classification with an optimizer from
:data:`OPTIMIZERS`; :func:`fit` trains on a dataset's training split and validates on its
validation split, optionally resumable (:mod:`helpers.resume`). Learning-rate schedules are in
:mod:`helpers.schedules`, the course's recipes in :mod:`helpers.recipes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import keras

from helpers import _internals, _validate, config
from helpers.data import Dataset

OPTIMIZERS = {
    "sgd": lambda lr, **kw: keras.optimizers.SGD(lr, **kw),
    "momentum": lambda lr, **kw: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, **kw),
    "rmsprop": lambda lr, **kw: keras.optimizers.RMSprop(lr, **kw),
    "adam": lambda lr, **kw: keras.optimizers.Adam(lr, **kw),
    "adamw": lambda lr, **kw: keras.optimizers.AdamW(lr, weight_decay=1e-4, **kw),
}
"""The optimizers by name: each takes the learning rate (and options every Keras optimizer has, e.g. ``use_ema``)."""


def compile_classifier(
    model: keras.Model,
    *,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    metrics: Sequence = ("accuracy",),
    label_smoothing: float = 0.0,
    soft_labels: bool = False,
    ema: float | None = None,
) -> keras.Model:
    """Compile ``model`` for integer-label classification (sparse cross-entropy) and return it.

    Args:
        optimizer: a name from :data:`OPTIMIZERS` (built with ``learning_rate``) or an optimizer instance.
        label_smoothing: train towards ``1 - eps`` on the true class and ``eps / K`` on every class (05);
            the loss is then :class:`helpers.losses.CrossEntropy`, which Keras's sparse loss cannot replace.
        soft_labels: accept soft training labels too (mixup's, see :func:`fit`); also uses
            :class:`helpers.losses.CrossEntropy`.
        ema: keep an exponential moving average of the weights with this momentum (e.g. 0.99) and end
            training on it: Keras's ``use_ema``, for an optimizer given by name (08). ``fit`` swaps the
            averaged values in after its last epoch; the validation metrics of each epoch are measured on
            the raw weights.
    """
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {optimizer!r}. Choose one of {', '.join(OPTIMIZERS)}.")
        options = {} if ema is None else {"use_ema": True, "ema_momentum": _validate.open_fraction(ema, "ema")}
        optimizer = OPTIMIZERS[optimizer](learning_rate, **options)
    elif ema is not None:
        raise ValueError("ema= applies to an optimizer given by name; build your instance with use_ema=True instead.")
    metrics = list(metrics)
    loss = "sparse_categorical_crossentropy"
    if label_smoothing or soft_labels:
        from helpers import losses

        loss = losses.CrossEntropy(label_smoothing=label_smoothing)
        metrics = [losses.accuracy_metric() if m == "accuracy" else m for m in metrics]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    _internals.build_training_state(model)  # one trace of the training step instead of two
    return model


def fit(
    model: keras.Model,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    augment: Callable | None = None,
    mixup: float | None = None,
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
        mixup: mix each training batch with :func:`helpers.augment.mixup` with this ``alpha`` (e.g.
            0.2), after ``augment``; default None (no mixup). Its labels are soft: compile with
            ``compile_classifier(..., soft_labels=True)``. Validation data are never mixed.
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity; default :func:`helpers.config.fit_verbose` (quiet in CI).
        resume_dir: a folder that makes the run resumable (06), e.g.
            ``config.BUILD_DIR / "resume" / "my_run"``; default None (not resumable). After every
            epoch the training state (weights, optimizer, epoch) is backed up in
            ``resume_dir/backup`` with ``keras.callbacks.BackupAndRestore`` (written atomically,
            see :class:`helpers.resume.SafeBackupAndRestore`) and the epoch's metrics are
            appended to ``resume_dir/history.csv``. If the process dies (crash, Ctrl-C, SIGKILL),
            call ``fit`` again with the same ``resume_dir``, a model built and compiled the same
            way and the same ``epochs``: training continues after the last finished epoch and
            ends at ``epochs`` in total, and the CSV keeps exactly one row per epoch. The returned
            History holds only the epochs run by this call. The backup is deleted when training
            completes; :func:`helpers.resume.clear_resume_state` starts over. EarlyStopping's patience counter
            is not part of the backup: it restarts on resume.
    """
    epochs = _validate.positive_int(epochs, "epochs")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model).")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but {data.name!r} "
            f"images have shape {data.input_shape}. Build the model with input_shape=data.input_shape."
        )
    if mixup is not None:
        from helpers import losses

        if not isinstance(model.loss, losses.CrossEntropy):
            raise ValueError(
                "mixup makes soft labels, which the sparse cross-entropy cannot read: compile with "
                "helpers.training.compile_classifier(model, ..., soft_labels=True) first."
            )
    callbacks = list(callbacks)
    if resume_dir is not None:
        from helpers import resume

        if not isinstance(resume_dir, (str, Path)) or not str(resume_dir):
            raise ValueError(f"resume_dir must be a folder path. Received: resume_dir={resume_dir!r}")
        resume_dir = config.ensure_dir(Path(resume_dir))
        # The log, then the backup, then your callbacks: a kill between the two leaves a logged
        # epoch that is rerun (its row is replaced), never a backed-up epoch without its row.
        callbacks = [
            resume.ResumableCSVLogger(resume_dir / resume.RESUME_LOG_NAME),
            resume.SafeBackupAndRestore(resume_dir / resume.RESUME_BACKUP_NAME),
            *callbacks,
        ]
    train, val, _ = data.pipelines(batch_size, augment=augment, seed=seed)
    if mixup is not None:
        from helpers import augment as augment_module

        train = augment_module.mixup(train, data.num_classes, alpha=mixup, seed=seed)
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
            _internals.forget_restored_epoch(model)
