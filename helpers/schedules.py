"""Learning-rate schedules and the learning-rate range test (introduced in ``04_training_strategies``).

* :func:`warmup_cosine`, :func:`step_decay`, :func:`one_cycle`, :func:`constant_lr` and :func:`make_schedule` (one of
  :data:`SCHEDULES` by name, for comparisons on the same budget); :func:`steps_per_epoch` turns
  epochs into the optimizer steps a schedule counts; :func:`learning_rate_values` for plots.
* :func:`lr_range_test` runs the test on a copy of a model and returns an :class:`LRRangeTest`;
  :func:`suggest_learning_rate` picks a rate from its curve (:data:`LR_RULES`).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

from helpers import _validate, config, pipelines
from helpers.data import Dataset


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one epoch (the last one may be partial): what a schedule's step count is made of."""
    n_examples = _validate.positive_int(n_examples, "n_examples")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    return math.ceil(n_examples / batch_size)


def warmup_cosine(
    peak_lr: float, total_steps: int, *, warmup_fraction: float = 0.1, final_fraction: float = 0.01
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warmup to ``peak_lr`` over ``warmup_fraction`` of the steps, then cosine decay.

    The warmup keeps the first steps small while the weights are random (and, for Adam, while its
    moment estimates rest on a few batches). In 04 it
    let Adam train at the range test's minimum, a peak that left it at chance level without a
    warmup, on every seed tested. The cosine tail anneals to ``final_fraction * peak_lr``.
    ``warmup_fraction=0`` gives the same cosine decay without a warmup (the control of that test).
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


SCHEDULES = ("constant", "step_decay", "warmup_cosine", "one_cycle")


@keras.saving.register_keras_serializable(package="cnn_course")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy's learning rate (Smith, 2018; fastai's ``fit_one_cycle``): see :func:`one_cycle`."""

    def __init__(self, peak_lr, total_steps, warmup_fraction=0.25, div_factor=25.0, final_div_factor=1e5):
        self.peak_lr = float(peak_lr)
        self.total_steps = int(total_steps)
        self.warmup_fraction = float(warmup_fraction)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        ops = keras.ops
        up = max(1, int(self.total_steps * self.warmup_fraction))
        down = max(1, self.total_steps - up)
        start = self.peak_lr / self.div_factor
        end = self.peak_lr / self.final_div_factor
        step = ops.cast(step, "float32")

        def cosine(a, b, progress):  # from a (progress 0) to b (progress 1) along half a cosine
            return b + (a - b) * 0.5 * (1.0 + ops.cos(math.pi * ops.clip(progress, 0.0, 1.0)))

        rising = cosine(start, self.peak_lr, step / up)
        return ops.where(step < up, rising, cosine(self.peak_lr, end, (step - up) / down))

    def get_config(self) -> dict:
        return {
            "peak_lr": self.peak_lr,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def one_cycle(
    peak_lr: float,
    total_steps: int,
    *,
    warmup_fraction: float = 0.25,
    div_factor: float = 25.0,
    final_div_factor: float = 1e5,
) -> OneCycle:
    """The one-cycle policy: up from ``peak_lr / div_factor`` to ``peak_lr``, then down to almost 0.

    Both halves follow half a cosine: the first ``warmup_fraction`` of the steps rise to the peak, the
    rest anneal to ``peak_lr / final_div_factor``. The defaults are fastai's ``fit_one_cycle``
    (``pct_start=0.25``, ``div=25``, ``div_final=1e5``). Where
    :func:`warmup_cosine` spends a tenth of the run warming up from 0, one-cycle spends a quarter at
    rates near the peak: a longer time at high rates, which Smith found regularizes. fastai also cycles
    the momentum (0.95 down to 0.85 and back); Keras's optimizers take a fixed momentum, so this
    schedules the learning rate only.
    """
    peak_lr = _validate.positive_number(peak_lr, "peak_lr")
    total_steps = _validate.positive_int(total_steps, "total_steps")
    warmup_fraction = _validate.open_fraction(warmup_fraction, "warmup_fraction")
    div_factor = _validate.number_above(div_factor, "div_factor", 1)
    final_div_factor = _validate.number_above(final_div_factor, "final_div_factor", 1)
    return OneCycle(peak_lr, total_steps, warmup_fraction, div_factor, final_div_factor)


def constant_lr(learning_rate: float) -> float:
    """A constant learning rate, returned as a plain float.

    A float (not a ``LearningRateSchedule``) keeps the optimizer's rate settable, which
    ``keras.callbacks.ReduceLROnPlateau`` and :class:`helpers.callbacks.LRFinder` need: given a
    schedule, both fail with ``TypeError``.
    """
    return _validate.positive_number(learning_rate, "learning_rate")


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
    initial_lr = _validate.positive_number(initial_lr, "initial_lr")
    drop_every = _validate.positive_int(drop_every, "drop_every")
    factor = _validate.open_fraction(factor, "factor")
    return keras.optimizers.schedules.ExponentialDecay(
        initial_lr, decay_steps=int(drop_every), decay_rate=float(factor), staircase=True
    )


def make_schedule(name: str, peak_lr: float, total_steps: int, **kwargs):
    """One of :data:`SCHEDULES` for a run of ``total_steps`` optimizer steps, peaking at ``peak_lr``.

    * ``"constant"``: ``peak_lr`` throughout (a float, see :func:`constant_lr`);
    * ``"step_decay"``: ``peak_lr``, divided by 10 after each third of the run (override with
      ``drop_every=``, ``factor=``);
    * ``"warmup_cosine"``: :func:`warmup_cosine` (override ``warmup_fraction=``, ``final_fraction=``);
    * ``"one_cycle"``: :func:`one_cycle` (override ``warmup_fraction=``, ``div_factor=``, ``final_div_factor=``).

    Comparing schedules on the same budget means the same ``total_steps`` and ``peak_lr`` for each.
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}. Choose one of {', '.join(SCHEDULES)}.")
    total_steps = _validate.positive_int(total_steps, "total_steps")
    if name == "constant":
        if kwargs:
            raise ValueError(f"The constant schedule takes no options. Received: {', '.join(kwargs)}")
        return constant_lr(peak_lr)
    if name == "step_decay":
        kwargs.setdefault("drop_every", max(1, math.ceil(total_steps / 3)))
        return step_decay(peak_lr, **kwargs)
    if name == "one_cycle":
        return one_cycle(peak_lr, int(total_steps), **kwargs)
    return warmup_cosine(peak_lr, int(total_steps), **kwargs)


def learning_rate_values(schedule, steps: int) -> np.ndarray:
    """The learning rate at optimizer steps ``0 .. steps - 1`` of a float or a schedule (for plots)."""
    steps = _validate.positive_int(steps, "steps")
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return np.array([float(schedule(s)) for s in range(int(steps))])
    return np.full(int(steps), _validate.positive_number(schedule, "schedule"))


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
    factor = _validate.number_above(factor, "factor", 1)
    lrs = np.asarray(learning_rates, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if lrs.ndim != 1 or lrs.shape != loss.shape:
        raise ValueError(
            "learning_rates and losses must be 1-D and of the same length. "
            f"Received shapes {lrs.shape} and {loss.shape}"
        )
    if not np.all(np.isfinite(lrs)) or np.any(lrs <= 0) or np.any(np.diff(lrs) <= 0):
        raise ValueError("learning_rates must be positive, finite and increasing (as a range test records them).")
    finite = np.isfinite(loss)
    n = len(loss) if finite.all() else int(np.argmin(finite))  # stop at the first NaN/inf
    if n < 5:
        raise ValueError(
            f"The curve has {n} finite points before it diverges; at least 5 are needed. "
            "Start the range test at a lower learning rate or use more steps."
        )
    lrs, loss = lrs[:n], loss[:n]
    best = int(np.argmin(loss))
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
    log_lr = np.log10(lrs)
    first = max(k, n // 10)
    idx = np.arange(first, max(first + 1, best - k + 1))
    idx = idx[(idx - k >= 0) & (idx + k < n)]
    if idx.size == 0:
        raise ValueError("The curve falls over too few points to measure a slope: use more steps.")
    slopes = (loss[idx + k] - loss[idx - k]) / (log_lr[idx + k] - log_lr[idx - k])
    return float(lrs[idx[int(np.argmin(slopes))]])


@dataclasses.dataclass(frozen=True)
class LRRangeTest:
    """The result of :func:`lr_range_test`: one entry per batch, in the order they ran."""

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    optimizer: str
    batch_size: int
    diverged: bool

    @property
    def min_loss_lr(self) -> float:
        """The learning rate at which the smoothed loss was lowest."""
        return float(self.learning_rates[int(np.argmin(self.smoothed_losses))])

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
    from helpers.callbacks import LRFinder

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or getattr(model, "loss", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model, optimizer='adam').")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but {data.name!r} "
            f"images have shape {data.input_shape}."
        )
    batch_size = _validate.positive_int(batch_size, "batch_size")
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
    stream = pipelines.to_tf_dataset(
        data.x_train, data.y_train, batch_size=batch_size, shuffle=True, repeat=True, seed=seed, cache=False
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
        np.asarray(finder.learning_rates),
        np.asarray(finder.losses),
        np.asarray(finder.smoothed_losses),
        type(optimizer).__name__,
        int(batch_size),
        finder.diverged,
    )
