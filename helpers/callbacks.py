"""Course callbacks (like Keras's own: ``Args:`` docstrings with defaults, state reset in
``on_train_begin`` so one instance can be reused, registered for safe ``.keras`` round-trips)."""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path

import keras

from helpers import _validate, config

_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_run_name(name) -> str:
    if not isinstance(name, str) or not _RUN_NAME.match(name) or name in {".", ".."} or ".." in name:
        raise ValueError(
            "name must be a short run name made of letters, digits, '_', '-' or '.', e.g. 'baseline' "
            f"or 'dropout_0.3'; it becomes a folder name. Received: name={name!r}"
        )
    return name


def get_callbacks(
    name: str,
    *,
    monitor: str = "val_loss",
    patience: int | None = 5,
    min_delta: float = 0.0,
    mode: str = "auto",
    restore_best_weights: bool = True,
    tensorboard: bool = True,
    histogram_freq: int = 0,
    csv: bool = True,
    checkpoint: bool = False,
    gradient_sample=None,
    log_dir=None,
    checkpoint_dir=None,
    overwrite: bool = True,
) -> list:
    """One callback bundle per run, like ``get_callbacks(name)`` in TF's overfit tutorial.

    For a run called ``name`` it returns, in this order:

    * ``EarlyStopping(monitor, patience, min_delta, restore_best_weights)``: stop once ``monitor``
      has not improved for ``patience`` epochs, and end with the weights of the best epoch;
    * ``TensorBoard`` writing to ``log_dir/name`` (one folder per run, so TensorBoard overlays runs);
    * ``CSVLogger`` writing ``log_dir/name/history.csv`` (one row per epoch, readable with pandas);
    * ``ModelCheckpoint`` saving the best model so far to ``checkpoint_dir/name.keras``;
    * :class:`GradientHistograms` writing gradient histograms to ``log_dir/name/gradients`` (only
      when ``gradient_sample`` is given and ``histogram_freq > 0``).

    Args:
        name: the run name; letters, digits, ``_``, ``-``, ``.`` (it becomes a folder name).
        monitor: the quantity to watch (default ``"val_loss"``).
        patience: epochs without improvement before stopping (default 5); ``None`` leaves
            EarlyStopping out.
        min_delta: the smallest change that counts as an improvement (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default: Keras infers it from the metric).
        restore_best_weights: end with the best epoch's weights (default True).
        tensorboard: add the TensorBoard callback (default True).
        histogram_freq: write a histogram of every weight to TensorBoard every this many epochs
            (default 0: none; 1 shows how each layer's weights move, at a small cost per epoch).
            Keras's ``TensorBoard`` writes weights only, never gradients: pass ``gradient_sample``
            for those.
        csv: add the CSVLogger (default True).
        checkpoint: add a ModelCheckpoint of the best model (default False).
        gradient_sample: ``(x, y)``, a fixed batch of training images and labels on which
            :class:`GradientHistograms` computes the gradients every ``histogram_freq`` epochs
            (default None: no gradient histograms).
        log_dir: the parent folder of the run folders (default ``helpers.config.LOG_DIR``,
            ``build/logs``, ignored by git).
        checkpoint_dir: where ``name.keras`` goes (default ``build/checkpoints``).
        overwrite: remove the run's previous folder ``log_dir/name`` first, so curves of an old
            run with the same name do not mix with the new one (default True). Only that one
            folder is removed.
    """
    name = _check_run_name(name)
    if patience is not None:
        patience = _validate.non_negative_int(patience, "patience")
    min_delta = _validate.non_negative_number(min_delta, "min_delta")
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"monitor must be a metric name such as 'val_loss'. Received: monitor={monitor!r}")
    _validate.one_of(mode, "mode", ("auto", "min", "max"))
    run_dir = Path(log_dir if log_dir is not None else config.LOG_DIR) / name
    if overwrite and run_dir.is_dir():
        shutil.rmtree(run_dir)
    out: list = []
    if patience is not None:
        out.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                patience=patience,
                min_delta=min_delta,
                mode=mode,
                restore_best_weights=restore_best_weights,
            )
        )
    if tensorboard:
        freq = _validate.non_negative_int(histogram_freq, "histogram_freq")
        out.append(keras.callbacks.TensorBoard(log_dir=str(run_dir), histogram_freq=freq, write_graph=False))
    if csv:
        config.ensure_dir(run_dir)
        out.append(keras.callbacks.CSVLogger(str(run_dir / "history.csv")))
    if checkpoint:
        folder = config.ensure_dir(
            Path(checkpoint_dir if checkpoint_dir is not None else config.BUILD_DIR / "checkpoints")
        )
        out.append(
            keras.callbacks.ModelCheckpoint(
                str(folder / f"{name}.keras"), monitor=monitor, mode=mode, save_best_only=True
            )
        )
    if gradient_sample is not None and tensorboard and histogram_freq:
        x, y = gradient_sample
        out.append(GradientHistograms(run_dir / "gradients", x, y, freq=histogram_freq))
    return out


def tensorboard_command(log_dir=None) -> str:
    """The shell command that opens TensorBoard on the course's logs (default ``build/logs``).

    Run it in a terminal from the repository root, then open http://localhost:6006. In Jupyter,
    ``%load_ext tensorboard`` followed by ``%tensorboard --logdir build/logs`` shows it inline.
    """
    folder = config.display_path(log_dir if log_dir is not None else config.LOG_DIR)
    return f"tensorboard --logdir {folder}"


def early_stopping_trace(values, patience: int, *, min_delta: float = 0.0, mode: str = "min") -> tuple[int, int]:
    """Replay ``keras.callbacks.EarlyStopping`` on a finished curve: ``(best_epoch, stopped_epoch)``.

    Both are 1-based, as Keras prints them ("Epoch 3/30"). ``stopped_epoch`` is the last epoch
    that would run: ``best + patience`` when the curve stalls long enough, else ``len(values)``.
    The rule is Keras's own: an epoch improves when it beats the best so far by more than
    ``min_delta``; every other epoch adds one to a counter that an improvement resets to 0, and
    training stops at the end of the epoch where the counter reaches ``patience``.

    Args:
        values: the monitored value per epoch, e.g. ``history.history["val_loss"]``.
        patience: epochs without improvement that are tolerated.
        min_delta: the smallest change that counts as an improvement (default 0).
        mode: ``"min"`` (default, for losses) or ``"max"`` (for accuracies).
    """
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"values must be a non-empty 1-D sequence of finite numbers. Received shape={values.shape}")
    patience = _validate.non_negative_int(patience, "patience")
    _validate.one_of(mode, "mode", ("min", "max"))
    sign = 1.0 if mode == "min" else -1.0
    best, best_epoch, wait = None, 0, 0
    for epoch, value in enumerate(values * sign):
        wait += 1
        if best is None or value + min_delta < best:
            best, best_epoch, wait = value, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return best_epoch + 1, epoch + 1
    return best_epoch + 1, len(values)


class ConfigRoundTrip:
    """``from_config`` for the course's callbacks: their ``get_config`` holds exactly the arguments
    of ``__init__``. (Keras's ``Callback`` has neither method, and a registered class needs both.)"""

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class TrainingInterrupted(RuntimeError):
    """Raised by :class:`InterruptAfterEpoch` to simulate a crash in the middle of ``fit``."""


@keras.saving.register_keras_serializable(package="cnn_course")
class InterruptAfterEpoch(ConfigRoundTrip, keras.callbacks.Callback):
    """Simulate an interruption: raise :class:`TrainingInterrupted` at the end of an epoch.

    The exception leaves ``fit`` the way a crash or Ctrl-C would, right after the epoch finished.
    ``training.fit(resume_dir=...)`` runs its log and backup before your callbacks, so that epoch
    is saved and a resumed run continues with the next one. Used in 06 to demonstrate resuming.

    Args:
        epoch: the 1-based epoch after which to stop (e.g. 3 stops after "Epoch 3/10"), counted in
            the absolute epoch numbers of the run, so a resumed run is not interrupted again.
    """

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = _validate.positive_int(epoch, "epoch")
        self.fired = False

    def on_train_begin(self, logs=None):
        self.fired = False

    def on_epoch_end(self, epoch, logs=None):
        # epoch is 0-based here; fit(resume_dir=...) has already logged and backed it up.
        if epoch + 1 == self.epoch:
            self.fired = True
            raise TrainingInterrupted(f"Simulated interruption after epoch {self.epoch}.")

    def get_config(self) -> dict:
        return {"epoch": self.epoch}


@keras.saving.register_keras_serializable(package="cnn_course")
class LRFinder(ConfigRoundTrip, keras.callbacks.Callback):
    """A learning-rate range test (Smith, 2017): raise the rate every batch and record the loss.

    The learning rate starts at ``start_lr`` and is multiplied by the same factor after every batch,
    so it reaches ``end_lr`` after ``num_steps`` batches (evenly spaced on a log scale). The loss of
    every batch is recorded, together with an exponentially smoothed, bias-corrected copy (as in
    fastai) that is easier to read. Training stops after ``num_steps`` batches, or earlier once the
    run has clearly diverged: the loss is not finite, or the smoothed loss exceeds ``stop_factor``
    times its lowest value (larger rates would tell nothing new).
    :func:`helpers.schedules.lr_range_test` runs it on a copy of a model, and
    :func:`helpers.training.suggest_learning_rate` turns the curve into a learning rate.

    Keras 3 passes ``logs["loss"]`` as the *running mean* of the epoch so far, not the batch's own
    loss. The callback recovers each batch's loss from two consecutive means, which is exact when
    all batches of the epoch have the same size (``lr_range_test`` makes sure they do).

    The optimizer needs a float learning rate: like ``ReduceLROnPlateau``, this callback sets the
    rate, and Keras refuses (``TypeError``) to set one that comes from a ``LearningRateSchedule``.

    Args:
        start_lr: the first learning rate (default 1e-6).
        end_lr: the learning rate at batch ``num_steps`` (default 1.0).
        num_steps: batches from ``start_lr`` to ``end_lr`` (default 100); training stops after them.
        smoothing: weight of the past in the smoothed loss, in ``[0, 1)`` (default 0.9; 0 turns
            smoothing off).
        stop_factor: stop once the smoothed loss exceeds this multiple of its lowest value (default
            4.0); ``None`` never stops early (except on a non-finite loss).

    Attributes:
        learning_rates, losses, smoothed_losses: one entry per recorded batch (reset at the start
            of every ``fit``, so one instance can be reused).
        diverged: True when the run stopped because the loss blew up (not because it ran out of steps).
    """

    def __init__(
        self,
        start_lr: float = 1e-6,
        end_lr: float = 1.0,
        num_steps: int = 100,
        smoothing: float = 0.9,
        stop_factor: float | None = 4.0,
    ):
        super().__init__()
        start_lr = _validate.positive_number(start_lr, "start_lr")
        end_lr = _validate.positive_number(end_lr, "end_lr")
        if not start_lr < end_lr:
            raise ValueError(f"start_lr must be smaller than end_lr. Received: start_lr={start_lr}, end_lr={end_lr}")
        num_steps = _validate.int_at_least(num_steps, "num_steps", 2)
        smoothing = _validate.fraction(smoothing, "smoothing")
        if stop_factor is not None:
            stop_factor = _validate.number_above(stop_factor, "stop_factor", 1)
        self.start_lr = float(start_lr)
        self.end_lr = float(end_lr)
        self.num_steps = int(num_steps)
        self.smoothing = float(smoothing)
        self.stop_factor = None if stop_factor is None else float(stop_factor)
        self._reset()

    def _reset(self) -> None:
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed_losses: list[float] = []
        self.diverged = False
        self._step = 0
        self._average = 0.0
        self._best = math.inf
        self._epoch_batches = 0
        self._previous_mean = 0.0

    def learning_rate_at(self, step: int) -> float:
        """The learning rate used for batch ``step`` (0-based): ``start_lr * factor ** step``."""
        ratio = self.end_lr / self.start_lr
        return self.start_lr * ratio ** (min(step, self.num_steps - 1) / (self.num_steps - 1))

    def on_train_begin(self, logs=None):
        self._reset()
        try:
            self.model.optimizer.learning_rate = self.start_lr
        except TypeError as exc:
            raise TypeError(
                "LRFinder sets the learning rate itself, so compile the model with a float learning "
                "rate, not a LearningRateSchedule (Keras cannot overwrite a schedule; "
                "ReduceLROnPlateau fails the same way)."
            ) from exc

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_batches = 0
        self._previous_mean = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.learning_rate_at(self._step)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if "loss" not in logs:
            raise ValueError(f"LRFinder needs the training loss in the batch logs. Received keys: {sorted(logs)}")
        mean = float(logs["loss"])
        self._epoch_batches += 1
        n = self._epoch_batches
        loss = n * mean - (n - 1) * self._previous_mean  # undo Keras's running mean
        self._previous_mean = mean
        lr = self.learning_rate_at(self._step)
        self._step += 1
        if not math.isfinite(loss):
            self.diverged = True
            self.model.stop_training = True
            return
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing**self._step) if self.smoothing else loss
        self.learning_rates.append(lr)
        self.losses.append(loss)
        self.smoothed_losses.append(smoothed)
        self._best = min(self._best, smoothed)
        if self.stop_factor is not None and self._best > 0 and smoothed > self.stop_factor * self._best:
            self.diverged = True
            self.model.stop_training = True
        elif self._step >= self.num_steps:
            self.model.stop_training = True

    def get_config(self) -> dict:
        return {
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "num_steps": self.num_steps,
            "smoothing": self.smoothing,
            "stop_factor": self.stop_factor,
        }


@keras.saving.register_keras_serializable(package="cnn_course")
class EpochTimer(ConfigRoundTrip, keras.callbacks.Callback):
    """Record the wall-clock seconds of every training epoch (validation included).

    The first epoch also builds the training graph (tracing), so :attr:`seconds_per_epoch` is the
    median of the *later* epochs, the steady state (the only epoch when there is just one). Used in
    04 to measure time per epoch against batch size.

    Attributes:
        epoch_seconds: one entry per epoch (reset at the start of every ``fit``).
    """

    def __init__(self):
        super().__init__()
        self.epoch_seconds: list[float] = []
        self._start = None

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = None

    @property
    def seconds_per_epoch(self) -> float:
        """Median seconds of the epochs after the first (NaN before any epoch has finished)."""
        import numpy as np

        times = self.epoch_seconds[1:] or self.epoch_seconds
        return float(np.median(times)) if times else float("nan")

    def get_config(self) -> dict:
        return {}


class GradientHistograms(keras.callbacks.Callback):
    """Write a TensorBoard histogram of every trainable variable's gradient every ``freq`` epochs.

    Keras's ``TensorBoard(histogram_freq=...)`` logs the weights only. Gradients tell a different
    story: a layer whose gradients shrink towards 0 has stopped learning (vanishing gradients, dead
    ReLUs), one whose gradients explode makes training unstable. The gradients are those of the
    training loss (regularization included) on one fixed batch, so epochs stay comparable; they
    cost one forward and backward pass of that batch per logged epoch. Not serializable (it holds
    data); TensorFlow backend only.

    Args:
        log_dir: the folder of the event files, e.g. ``build/logs/<run>/gradients`` (TensorBoard
            shows it as a run next to ``train`` and ``validation``).
        x, y: the fixed batch: images and integer labels (a few hundred images are plenty).
        freq: log every this many epochs (default 1), counted from epoch 0 like Keras's callback.

    Attributes:
        logged_epochs: the 0-based epochs logged so far (reset in ``on_train_begin``).
    """

    def __init__(self, log_dir, x, y, *, freq: int = 1):
        super().__init__()
        import numpy as np

        self.log_dir = Path(log_dir)
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y)
        if self.x.ndim < 2 or len(self.x) == 0 or len(self.x) != len(self.y):
            raise ValueError(
                "x and y must be a non-empty batch of images and their labels, of the same length. "
                f"Received shapes x={self.x.shape}, y={self.y.shape}"
            )
        self.freq = _validate.positive_int(freq, "freq")
        self.logged_epochs: list[int] = []
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self.logged_epochs = []
        self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.freq:
            return
        import tensorflow as tf

        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.model(self.x, training=True)
            loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=y_pred, training=True)
        gradients = tape.gradient(loss, variables)
        with self._writer.as_default():
            for variable, gradient in zip(variables, gradients):
                if gradient is not None:
                    tf.summary.histogram(f"{variable.path}/gradient", gradient, step=epoch)
        self._writer.flush()
        self.logged_epochs.append(epoch)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def logged_histograms(run_dir) -> dict[str, list[str]]:
    """The histogram tags TensorBoard will show for a run, per sub-folder (``train``, ``gradients``).

    Reads the event files under ``run_dir`` (e.g. ``build/logs/baseline``), so a notebook can check
    that ``histogram_freq`` really wrote weight histograms before sending you to TensorBoard.
    Returns ``{sub-folder: sorted tags}`` for the sub-folders that hold at least one histogram.
    """
    import tensorflow as tf

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder {run_dir}: train with callbacks.get_callbacks(name) first.")
    found: dict[str, set[str]] = {}
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "histograms" or value.HasField("histo"):
                    found.setdefault(path.parent.relative_to(run_dir).as_posix(), set()).add(value.tag)
    return {folder: sorted(tags) for folder, tags in sorted(found.items())}
