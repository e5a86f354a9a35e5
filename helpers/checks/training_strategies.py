"""Checks for ``04_training_strategies``: a training step with ``tf.GradientTape`` (against
``model.fit``), Adam by hand, a prediction of what three learning rates do (against the runs), step
decay, and a fair design of the schedule comparison (warmup + cosine against a constant rate)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from helpers import _validate
from helpers.checks._core import (
    Hint,
    NotStarted,
    exercise,
    require,
    require_array,
    require_callable,
    require_number,
    word_answer,
)
from helpers.checks._design import two_arm_design

__all__ = ["gradient_tape_step", "adam_update_step", "lr_outcome_prediction", "step_decay_rule", "schedule_design"]


# ----------------------------------------------------------------------------------------------
# Exercise: the training step model.fit repeats, written with tf.GradientTape and compared with fit.

TAPE_SEED = 7
TAPE_BATCHES, TAPE_BATCH_SIZE, TAPE_LR = 4, 16, 0.05


def _tape_data():
    """Four batches of 6x6 images of three classes (a bright pair of rows per class, plus noise)."""
    rng = np.random.default_rng(TAPE_SEED)
    n = TAPE_BATCHES * TAPE_BATCH_SIZE
    y = rng.integers(0, 3, n).astype(np.int32)
    x = rng.uniform(0.0, 0.3, size=(n, 6, 6, 1)).astype(np.float32)
    for k in range(3):
        x[y == k, 2 * k : 2 * k + 2, :, 0] += 0.7
    return x, y


def _tape_model():
    """A small network whose initial weights depend only on ``TAPE_SEED`` (no dropout, no batch norm),
    with a probe that records the ``training`` flag each call passes down."""
    import keras

    class TrainingProbe(keras.layers.Layer):
        """The identity; remembers the ``training`` argument of every call."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.calls = []

        def call(self, x, training=None):
            self.calls.append(training)
            return x

    inputs = keras.Input((6, 6, 1))
    conv_init, dense_init = (keras.initializers.GlorotUniform(TAPE_SEED + k) for k in range(2))
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=conv_init, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    probe = TrainingProbe(name="training_probe")
    x = probe(x)
    outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer=dense_init, name="dense")(x)
    model = keras.Model(inputs, outputs, name="tape_check")
    probe.calls.clear()  # building the model called it symbolically
    return model, probe


def _tape_optimizer():
    import keras

    return keras.optimizers.SGD(TAPE_LR, momentum=0.9)


@functools.cache
def _fitted() -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], np.ndarray, float, float]:
    """What ``model.fit(..., shuffle=False)`` does to the check's network on its four batches: the
    weights before and after them, the loss of each batch, and the mean loss before and after
    (computed once per kernel)."""
    import keras

    x, y = _tape_data()
    model, _ = _tape_model()
    initial, before = tuple(w.copy() for w in model.get_weights()), _mean_loss(model, x, y)
    means = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(float(logs["loss"]))  # the running mean over the epoch so far

    model.compile(optimizer=_tape_optimizer(), loss=keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
    model.fit(x, y, batch_size=TAPE_BATCH_SIZE, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    totals = np.arange(1, len(means) + 1) * np.array(means)
    losses = np.diff(totals, prepend=0.0)  # equal batches: batch k's loss = k * mean_k - (k - 1) * mean_(k-1)
    return initial, tuple(model.get_weights()), losses, before, _mean_loss(model, x, y)


def _mean_loss(model, x, y) -> float:
    import keras

    return float(keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=False)))


@exercise("Exercise: a training step with tf.GradientTape")
def gradient_tape_step(fn) -> str:
    """``fn(model, optimizer, loss_fn, x, y)`` takes one optimizer step on the batch ``(x, y)`` and
    returns its loss. The check trains one copy of a small network with it, batch after batch, and an
    identical copy (same seed) with ``model.fit(..., shuffle=False)`` on the same batches, then
    compares the weights and the loss of every batch."""
    import keras

    require_callable(fn, "train_step")
    x, y = _tape_data()
    mine, probe = _tape_model()
    start = [w.copy() for w in mine.get_weights()]
    initial, expected, fit_losses, before_loss, fit_loss = _fitted()
    if not all(np.array_equal(a, b) for a, b in zip(start, initial)):  # pragma: no cover - a change in Keras
        raise RuntimeError("The check's two copies of its network differ before training: report this to the course.")
    optimizer, loss_fn = _tape_optimizer(), keras.losses.SparseCategoricalCrossentropy()
    losses = []
    for b in range(TAPE_BATCHES):
        batch = slice(b * TAPE_BATCH_SIZE, (b + 1) * TAPE_BATCH_SIZE)
        try:
            out = fn(mine, optimizer, loss_fn, x[batch], y[batch])
        except ValueError as exc:
            if "target.shape" in str(exc):  # Keras's loss with predictions and labels swapped
                raise Hint(
                    "Keras losses take the labels first: loss = loss_fn(y, predictions), as in model.compile's loss."
                ) from exc
            if "No gradients provided" not in str(exc):
                raise
            raise Hint(
                "tape.gradient returned None for every weight, so the optimizer had nothing to apply. The tape "
                "records only what runs inside `with tf.GradientTape() as tape:`: compute the predictions and the "
                "loss in that block, then call tape.gradient(loss, model.trainable_variables)."
            ) from exc
        if out is None:
            raise Hint("Your train_step returned nothing. End it with `return loss`.")
        losses.append(require_number(out, "Your train_step", returns="the batch's loss (one number)"))
    names = [v.path for v in mine.weights]
    after = mine.get_weights()
    moved = [not np.allclose(a, s) for a, s in zip(after, start)]
    if not any(moved):
        raise Hint(
            "No weight changed: your step computes the gradient but never applies it. Finish with "
            "optimizer.apply_gradients(zip(grads, model.trainable_variables))."
        )
    left = [n for n, m, e, s in zip(names, moved, expected, start) if not m and not np.allclose(e, s)]
    if left:
        raise Hint(
            f"Your step left {', '.join(left)} unchanged, which model.fit trains. Take the gradient with respect to "
            "model.trainable_variables (every weight the model trains) and apply it to the same list."
        )
    if not all(np.allclose(a, e, rtol=1e-4, atol=1e-5) for a, e in zip(after, expected)):
        if _mean_loss(mine, x, y) > before_loss > fit_loss:
            raise Hint(
                "Your steps go uphill: the loss over these batches went up, while model.fit's went down. The "
                "gradient points uphill; apply_gradients already subtracts it (w <- w - lr * grad): pass the "
                "gradients as they are, not negated."
            )
        worst = max(range(len(names)), key=lambda i: float(np.max(np.abs(after[i] - expected[i]))))
        raise Hint(
            f"After {TAPE_BATCHES} batches your weights differ from model.fit's (most in {names[worst]}). One step is: "
            "predictions = model(x, training=True) and loss = loss_fn(y, predictions) inside the tape (labels "
            "first), grads = tape.gradient(loss, model.trainable_variables), then one "
            "optimizer.apply_gradients(zip(grads, model.trainable_variables)) per batch."
        )
    if not np.allclose(losses, fit_losses, rtol=1e-4, atol=1e-5):
        raise Hint(
            f"Your weights match model.fit's, but the losses you returned ({np.round(losses, 4)}) are not the ones "
            f"fit reports for these batches ({np.round(fit_losses, 4)}). Return the loss the tape recorded, computed "
            "before the update."
        )
    if any(flag is not True for flag in probe.calls):
        raise Hint(
            "Your weights match model.fit's, but you called the model without training=True. This network has no "
            "dropout or batch normalization, so here it changed nothing; with them (the course's CNN has dropout) "
            "fit runs them in training mode and your step would not. Call model(x, training=True) in the tape."
        )
    return (
        f"Your step matches model.fit: the same weights after {TAPE_BATCHES} batches and the same loss on each. "
        "This is the loop fit runs for you (plus metrics, callbacks and a compiled graph)."
    )


# ----------------------------------------------------------------------------------------------
# Exercise: one Adam step, compared with keras.optimizers.Adam on a keras.Variable.

ADAM_SETTINGS = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


def _adam_reference(
    grads: np.ndarray,
    w0: np.ndarray,
    *,
    bias_correction=(True, True),
    square=True,
    sign=1.0,
    lr=0.1,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-7,
) -> np.ndarray:
    """Adam in NumPy (the paper's form), with switches that reproduce typical mistakes."""
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    out = []
    for t, g in enumerate(grads, start=1):
        w, m, v = _adam_step(
            w, g, m, v, t, lr, beta_1, beta_2, epsilon, bias_correction=bias_correction, square=square, sign=sign
        )
        out.append(w.copy())
    return np.array(out)


def _adam_step(
    w,
    grad,
    m,
    v,
    t,
    lr=0.1,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-7,
    *,
    bias_correction=(True, True),
    square=True,
    sign=1.0,
):
    """One Adam step (t counts from 1): the new ``(w, m, v)``. The keywords after ``*`` reproduce
    typical mistakes (for the check's hints); their defaults are the right update."""
    m = beta_1 * m + (1 - beta_1) * grad
    v = beta_2 * v + (1 - beta_2) * (grad * grad if square else grad)
    m_hat = m / (1 - beta_1**t) if bias_correction[0] else m
    v_hat = v / (1 - beta_2**t) if bias_correction[1] else v
    return w - sign * lr * m_hat / (np.sqrt(np.abs(v_hat)) + epsilon), m, v


def _adam_update_step_reference():
    """The course's ``adam_step``, for the cells after the exercise while yours does not pass."""
    return _adam_step


def _keras_adam(grads: np.ndarray, w0: np.ndarray) -> np.ndarray:
    """The same steps taken by ``keras.optimizers.Adam`` on a ``keras.Variable``."""
    import keras

    var = keras.Variable(w0.astype(np.float32))
    opt = keras.optimizers.Adam(**ADAM_SETTINGS)
    out = []
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype(np.float32)), var)])
        out.append(np.asarray(var, dtype=np.float64).copy())
    return np.array(out)


@exercise("Exercise: one Adam step by hand", reference=_adam_update_step_reference)
def adam_update_step(fn) -> str:
    """``fn(w, grad, m, v, t)`` must return the new ``(w, m, v)`` of one Adam step (t counts from 1)."""
    require_callable(fn, "adam_step")
    rng = np.random.default_rng(4)
    w0 = np.array([1.0, -2.0, 0.5])
    grads = rng.normal(size=(6, 3)) * np.array([100.0, 1.0, 0.1])  # three very different scales
    w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
    mine = []
    for t, g in enumerate(grads, start=1):
        result = fn(w.copy(), g.copy(), m.copy(), v.copy(), t)
        if result is None or result is Ellipsis:
            raise Hint("Your function returned nothing. End it with `return w, m, v`.")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Hint(
                f"Return the three updated arrays as a tuple `(w, m, v)`. Received: {type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            )
        w, m, v = (require_array(r, (3,), what=name) for r, name in zip(result, ("w", "m", "v")))
        require(
            np.all(np.isfinite(w)),
            f"Step t={t} produced {w}. If t started at 0, 1 - beta**0 = 0 divides by zero: the first step is t = 1.",
        )
        mine.append(w.copy())
    mine = np.array(mine)
    expected = _keras_adam(grads, w0)
    if np.allclose(mine, expected, rtol=1e-3, atol=1e-5):  # Keras puts epsilon slightly differently
        return (
            "Your update matches keras.optimizers.Adam for six steps, on gradients of three very "
            "different sizes: every coordinate moved about lr per step, whatever its gradient's scale."
        )
    first_mine, first_keras = mine[0] - w0, expected[0] - w0
    variants = {
        "sign": (
            _adam_reference(grads, w0, sign=-1.0),
            "Your steps go uphill: subtract the update, w = w - lr * m_hat / (sqrt(v_hat) + epsilon).",
        ),
        "no_correction": (
            _adam_reference(grads, w0, bias_correction=(False, False)),
            (
                "Your first step is about 3x too large: m and v start at 0, so early on they are "
                "too small. Divide by (1 - beta_1**t) and (1 - beta_2**t): the bias correction."
            ),
        ),
        "m_only": (
            _adam_reference(grads, w0, bias_correction=(True, False)),
            "You corrected m but not v: divide v by (1 - beta_2**t) too.",
        ),
        "v_only": (
            _adam_reference(grads, w0, bias_correction=(False, True)),
            "You corrected v but not m: divide m by (1 - beta_1**t) too.",
        ),
        "no_square": (
            _adam_reference(grads, w0, square=False),
            "v is the running mean of the *squared* gradient: use grad**2.",
        ),
    }
    for ref, hint in variants.values():
        if np.allclose(mine, ref, rtol=1e-4, atol=1e-6):
            raise Hint(hint)
    raise Hint(
        f"After the first step Keras moves w by {np.round(first_keras, 4)}, yours by "
        f"{np.round(first_mine, 4)}. Update m and v first (m = beta_1*m + (1-beta_1)*grad, "
        "v = beta_2*v + (1-beta_2)*grad**2), then bias-correct both, then step."
    )


# ----------------------------------------------------------------------------------------------
# Predict, then run: what Adam does at three learning rates from the range test.

OUTCOMES = ("diverges", "barely moves", "learns")
BARELY = 0.10  # a final validation loss less than 10 % below the untrained network's: barely moved
BORDERLINE = 0.02  # within 2 points of a boundary either neighbouring label is accepted

_PAST = {"diverges": "diverged", "barely moves": "barely moved", "learns": "learned"}
_WHY = {
    "diverges": (
        "Steps this large overshoot: the loss goes up instead of down, and the network can end up dead at "
        "chance level. The range test's lowest point is where this begins: the edge of divergence, not a "
        "rate to train with."
    ),
    "barely moves": (
        "Steps this small are safe but slow: in this budget the weights hardly left their start. It would "
        "need many more epochs."
    ),
    "learns": (
        "This rate lies on the falling part of the range test's curve, below the point where the loss "
        "turns up: each step makes progress without overshooting."
    ),
}


def outcome(start_loss: float, final_loss: float) -> tuple[str, float]:
    """The label of a run from its validation loss before and after training, and the relative drop:
    NaN or higher than at the start = diverges, less than ``BARELY`` lower = barely moves, else learns."""
    if not np.isfinite(final_loss):
        return "diverges", -np.inf
    drop = (start_loss - final_loss) / start_loss
    return ("diverges" if drop < 0 else "barely moves" if drop < BARELY else "learns"), drop


def _accepted(drop: float) -> set[str]:
    """The labels consistent with a measured drop: one, or two neighbouring ones near a boundary."""
    labels = set()
    for shift in (-BORDERLINE, 0.0, BORDERLINE):
        d = drop + shift
        labels.add("diverges" if d < 0 else "barely moves" if d < BARELY else "learns")
    return labels


def _parse_outcomes(prediction, names) -> dict[str, str]:
    if prediction is Ellipsis or (isinstance(prediction, Mapping) and all(v is Ellipsis for v in prediction.values())):
        raise NotStarted("Replace each `...` with your prediction, before running the cells below.")
    require(
        isinstance(prediction, Mapping),
        f"Predict with a dict, one label per rate: {{{names[0]!r}: 'learns', ...}}. "
        f"Received {type(prediction).__name__}.",
    )
    missing = [n for n in names if n not in prediction]
    require(not missing, f"Add your prediction for {', '.join(map(repr, missing))}.")
    labels = {}
    for name in names:
        labels[name] = word_answer(prediction[name], {outcome: () for outcome in OUTCOMES}, repr(name))
    return labels


@exercise("Predict, then run: what each learning rate does")
def lr_outcome_prediction(prediction, histories, learning_rates, start_loss) -> str:
    """Compare the learner's labels (``"diverges"``, ``"barely moves"`` or ``"learns"`` per run) with
    what the runs measured.

    ``histories`` maps each run's name to its Keras ``History`` (or its ``.history`` dict),
    ``learning_rates`` each name to its rate, and ``start_loss`` is the validation loss of the
    untrained network every run starts from. A run's label comes from :func:`outcome` on its last
    validation loss; within ``BORDERLINE`` of a boundary either neighbouring label passes, with a note.
    """
    names = list(histories)
    labels = _parse_outcomes(prediction, names)
    start = _validate.positive_number(start_loss, "start_loss")
    wrong, close, facts = [], [], []
    for name in names:
        fact, actual, drop = _measured(name, histories[name], learning_rates[name], start)
        facts.append(f"{fact}: {actual}.")
        if labels[name] == actual:
            continue
        if labels[name] in _accepted(drop):
            close.append(f"{name}: you said {labels[name]!r}, a close call (measured: {actual}).")
        else:
            wrong.append(f"{fact}: it {_PAST[actual]}, not {labels[name]!r}. {_WHY[actual]}")
    if wrong:
        raise Hint(" ".join(wrong) + " Keep the surprise in mind: it is the point of predicting first.")
    return "Your predictions agree with the runs. " + " ".join(facts + close)


def _measured(name: str, history, learning_rate: float, start: float) -> tuple[str, str, float]:
    """What one run did, in words, with its label and the relative drop of its validation loss."""
    hist = getattr(history, "history", history)
    final = float(hist["val_loss"][-1])
    actual, drop = outcome(start, final)
    ended = f"{final:.3f} ({-drop:+.0%} from {start:.3f})" if np.isfinite(final) else "NaN"
    losses = np.asarray(hist["loss"], dtype=float)
    if not np.isfinite(losses).all():
        ended += "; its training loss became NaN"
    elif losses.max() > start:
        ended += f"; its training loss rose to {losses.max():.3g} (epoch {int(np.argmax(losses)) + 1})"
    return f"{name} (lr {float(learning_rate):.3g}): the validation loss ended at {ended}", actual, drop


# ----------------------------------------------------------------------------------------------
# Exercise: step decay, compared with helpers.schedules.step_decay (Keras's ExponentialDecay).


@exercise("Exercise: a step-decay schedule")
def step_decay_rule(fn) -> str:
    """``fn(step, initial_lr, drop_every, factor)`` must return the learning rate of step decay."""
    from helpers import schedules

    require_callable(fn, "step_decay_lr")
    for initial_lr, drop_every, factor in ((0.1, 10, 0.1), (3e-3, 7, 0.5)):
        schedule = schedules.step_decay(initial_lr, drop_every=drop_every, factor=factor)
        for step in range(3 * drop_every + 2):
            expected = float(schedule(step))
            got = fn(step, initial_lr, drop_every, factor)
            got = require_number(got)
            if np.isclose(got, expected, rtol=1e-5):
                continue
            if np.isclose(got, initial_lr * factor ** (step / drop_every), rtol=1e-5):
                raise Hint(
                    "Your rate decays smoothly at every step. Step decay is a staircase: count whole "
                    "periods with integer division, step // drop_every."
                )
            if np.isclose(got, initial_lr * factor ** ((step + 1) // drop_every), rtol=1e-5):
                raise Hint(
                    f"Off by one: at step {step} your rate has already dropped. Steps count from 0, so "
                    f"steps 0..{drop_every - 1} use the initial rate."
                )
            if np.isclose(got, initial_lr, rtol=1e-5):
                raise Hint(
                    f"At step {step} the rate should have dropped {step // drop_every} time(s) by "
                    f"factor={factor}: multiply by factor ** (step // drop_every)."
                )
            raise Hint(
                f"step_decay_lr({step}, {initial_lr}, {drop_every}, {factor}) returned {got:.4g}; "
                f"expected {expected:.4g} = initial_lr * factor ** (step // drop_every)."
            )
    return "Your schedule matches helpers.schedules.step_decay (Keras's ExponentialDecay with staircase=True)."


# ----------------------------------------------------------------------------------------------
# Design the experiment: does warmup + cosine beat a constant learning rate at the same budget?

DESIGN_CHANGE = "schedule"
_TRAIN_DEFAULT_SCHEDULE = "warmup_cosine"  # runs.train's default


def _schedule_design_reference(seeds, epochs, model, learning_rate):
    """The course's design: the same network, optimizer, peak rate, seeds and budget; only the schedule
    differs (the constant rate first, as the baseline)."""
    from helpers import experiments

    base = {"model": dict(model), "epochs": int(epochs), "optimizer": "momentum", "learning_rate": float(learning_rate)}
    return experiments.Design(
        arms={"constant": {**base, "schedule": "constant"}, "warmup + cosine": {**base, "schedule": "warmup_cosine"}},
        seeds=tuple(seeds),
    )


def _schedule_of(arm: Mapping) -> str:
    return arm.get("schedule", _TRAIN_DEFAULT_SCHEDULE)


@exercise("Design the experiment: warmup + cosine against a constant rate", reference=_schedule_design_reference)
def schedule_design(design, seeds, epochs, model) -> str:
    """``design`` is an ``experiments.Design`` that tests whether warmup + cosine beats a constant rate:
    fair, two arms (the constant baseline first), within the notebook's ``seeds``, ``epochs`` budget and
    ``model`` spec (:func:`helpers.checks._design.two_arm_design`)."""
    (base_name, base), (variant_name, variant) = two_arm_design(
        design,
        DESIGN_CHANGE,
        model=model,
        epochs=epochs,
        seeds=seeds,
        what="warmup + cosine",
        model_name="DESIGN_CNN",
        epochs_name="DESIGN_EPOCHS",
    )
    schedules = (_schedule_of(base), _schedule_of(variant))
    if schedules[0] == schedules[1]:
        unset = [name for name, arm in design.arms.items() if "schedule" not in arm]
        raise Hint(
            f"Both arms train with {schedules[0]!r}"
            + (
                f": {' and '.join(map(repr, unset))} sets no schedule, and runs.train's default is "
                f"{_TRAIN_DEFAULT_SCHEDULE!r}. Set schedule='constant' in the baseline."
                if unset
                else "."
            )
        )
    if schedules == ("warmup_cosine", "constant"):
        raise Hint(
            f"The first arm is the baseline: put the constant rate first ({variant_name!r}), then warmup + cosine, "
            "so that the verdict reads what the schedule gains over a constant rate."
        )
    require(
        schedules == ("constant", "warmup_cosine"),
        f"This comparison is warmup + cosine against a constant rate: schedule='constant' in the first arm and "
        f"'warmup_cosine' in the second. Received {schedules[0]!r} and {schedules[1]!r}.",
    )
    n = len(set(design.seeds))
    return (
        f"Fair: both arms train the same network for {epochs} epoch(s) on the same {n} seeds with "
        f"the same optimizer and peak rate; only the schedule differs ({base_name!r} is the baseline). The cell "
        "below runs it and pairs the arms by seed."
    )
