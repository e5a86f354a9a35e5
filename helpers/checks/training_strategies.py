"""Checks for ``04_training_strategies``: Adam by hand, how the learning rate scales with the batch
size (linear for SGD, square root for Adam), the range-test rule for picking a learning rate, and
step decay."""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_array, require_callable, require_number

__all__ = ["adam_update_step", "batch_scaling_rule", "lr_range_rule", "step_decay_rule"]


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
# Exercise: how the learning rate follows the batch size, per optimizer.

LINEAR_RULE_OPTIMIZERS = ("sgd", "momentum")
SQRT_RULE_OPTIMIZERS = ("adam", "rmsprop")


def _scaled_lr(base_lr: float, base_bs: int, bs: int, optimizer: str) -> float:
    """The reference answer: linear for SGD (Goyal et al., 2017), square root for Adam/RMSprop
    (Malladi et al., 2022)."""
    k = bs / base_bs
    return base_lr * (k if optimizer in LINEAR_RULE_OPTIMIZERS else np.sqrt(k))


def _batch_scaling_rule_reference():
    """The course's ``scaled_learning_rate``, for the cells after the exercise while yours does not pass."""
    return _scaled_lr


@exercise("Exercise: scale the learning rate with the batch size", reference=_batch_scaling_rule_reference)
def batch_scaling_rule(fn) -> str:
    """``fn(base_lr, base_batch_size, batch_size, optimizer)`` must scale the learning rate with the
    batch size: by ``k`` (linear rule) for ``"sgd"``/``"momentum"``, by ``sqrt(k)`` (square-root
    rule) for ``"adam"``/``"rmsprop"``, where ``k = batch_size / base_batch_size``."""
    require_callable(fn, "scaled_learning_rate")
    cases = ((0.01, 32, 128), (0.1, 256, 64), (0.04, 64, 64), (3e-4, 32, 96))
    for optimizer in ("momentum", "adam", "sgd", "rmsprop"):
        linear = optimizer in LINEAR_RULE_OPTIMIZERS
        for base_lr, base_bs, bs in cases:
            expected = _scaled_lr(base_lr, base_bs, bs, optimizer)
            got = require_number(fn(base_lr, base_bs, bs, optimizer))
            if np.isclose(got, expected, rtol=1e-9):
                continue
            k = bs / base_bs
            call = f"scaled_learning_rate({base_lr}, {base_bs}, {bs}, {optimizer!r}) returned {got:g}"
            if np.isclose(got, base_lr / k) or np.isclose(got, base_lr / np.sqrt(k)):
                raise Hint(
                    f"{call}: inverted. A batch k times larger averages k times more examples, so its "
                    "gradient is less noisy and it can take a *larger* step: multiply, do not divide."
                )
            if linear and np.isclose(got, base_lr * np.sqrt(k)):
                raise Hint(
                    f"{call}: that is the square-root rule, derived for Adam and RMSprop. For SGD (with "
                    "or without momentum) the step is lr * gradient, and k small steps add up to one "
                    "step of k * lr: multiply by k = batch_size / base_batch_size itself."
                )
            if not linear and np.isclose(got, base_lr * k):
                raise Hint(
                    f"{call}: that is the linear rule, an SGD result. Adam divides the gradient by its "
                    "running RMS, so its step is about lr whatever the gradient's size: the larger "
                    "batch only makes it less noisy, and the rule derived for Adam and RMSprop "
                    "(Malladi et al., 2022) multiplies lr by sqrt(k)."
                )
            raise Hint(
                f"{call}; expected {expected:g}. With k = batch_size / base_batch_size, multiply base_lr "
                f"by {'k' if linear else 'sqrt(k)'} for {optimizer!r}."
            )
    return (
        "Right: batch x k means lr x k for SGD, lr x sqrt(k) for Adam. The grid below uses SGD with "
        "momentum: see how far the measurements agree with the linear rule."
    )


# ----------------------------------------------------------------------------------------------
# Exercise: pick a learning rate from a range test.


def _range_cases():
    """Synthetic range-test curves: a dip at a known rate, one with a diverged (NaN) tail."""
    cases = []
    for lo, hi, n, best_at, nan_tail in (
        (1e-5, 1.0, 60, 3e-2, False),
        (1e-4, 10.0, 80, 0.3, True),
        (1e-6, 1e-1, 50, 2e-3, False),
    ):
        lrs = np.geomspace(lo, hi, n)
        x = np.log10(lrs) - np.log10(best_at)
        loss = 2.3 - 1.5 / (1 + np.exp(-3 * (x + 1.2))) + np.where(x > 0, 4 * x**2, 0.0)
        if nan_tail:
            loss[-8:] = np.nan
        cases.append((lrs, loss))
    return cases


def _lr_range_rule_reference():
    """The course's ``pick_learning_rate``: ``schedules.suggest_learning_rate`` (lowest loss / 10)."""
    from helpers import schedules

    return schedules.suggest_learning_rate


@exercise("Exercise: pick a learning rate from a range test", reference=_lr_range_rule_reference)
def lr_range_rule(fn) -> str:
    """``fn(learning_rates, losses)`` must return the rate at the lowest loss divided by 10."""
    require_callable(fn, "pick_learning_rate")
    for lrs, loss in _range_cases():
        finite = np.isfinite(loss)
        best = int(np.argmin(np.where(finite, loss, np.inf)))
        expected = lrs[best] / 10
        got = fn(lrs.copy(), loss.copy())
        got = require_number(got, returns="one learning rate (a number)")
        if np.isclose(got, expected, rtol=1e-6):
            continue
        if not np.isfinite(got) or (not finite.all() and np.isclose(got * 10, lrs[np.argmin(finite)], rtol=1e-6)):
            raise Hint(
                "This curve ends in NaN (the run diverged) and np.argmin returns the position of a NaN. "
                "Ignore the NaNs: use np.nanargmin(losses)."
            )
        if np.isclose(got, lrs[best], rtol=1e-6):
            raise Hint(
                "That is the rate at the lowest loss: the edge where training starts to blow up. "
                "Train one order of magnitude below it: divide by 10."
            )
        if np.isclose(got, np.nanmin(loss) / 10, rtol=1e-6) or np.isclose(got, np.nanmin(loss), rtol=1e-6):
            raise Hint(
                "You returned a loss value. Find *where* the loss is lowest (np.nanargmin) and "
                "return the learning rate at that position, divided by 10."
            )
        if np.isclose(got, lrs[best] * 10, rtol=1e-6):
            raise Hint("Divide by 10 (a rate below the minimum), do not multiply.")
        if np.isclose(got, best / 10, rtol=1e-6):
            raise Hint("You returned the index of the minimum. Use it to look up learning_rates[index].")
        raise Hint(f"Returned {got:.3g}; the lowest loss is at lr={lrs[best]:.3g}, so the rule gives {expected:.3g}.")
    return (
        "Your rule agrees with helpers.schedules.suggest_learning_rate on three curves, including one "
        "that diverged into NaN."
    )


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
