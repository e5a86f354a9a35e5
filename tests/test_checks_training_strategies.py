"""The self-checks of 04_training_strategies pass on correct answers and explain typical mistakes."""

import numpy as np
import pytest

from helpers import checks, schedules


def stub(*args):
    raise NotImplementedError


def adam_step(w, grad, m, v, t, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = beta_1 * m + (1 - beta_1) * grad
    v = beta_2 * v + (1 - beta_2) * grad**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon), m, v


def adam_variant(*, correct_m=True, correct_v=True, square=True, sign=1.0, t_offset=0):
    def step(w, grad, m, v, t, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        t = t + t_offset
        m = beta_1 * m + (1 - beta_1) * grad
        v = beta_2 * v + (1 - beta_2) * (grad**2 if square else grad)
        with np.errstate(all="ignore"):  # t = 0 divides by zero, on purpose
            m_hat = m / (1 - beta_1**t) if correct_m else m
            v_hat = v / (1 - beta_2**t) if correct_v else v
            return w - sign * lr * m_hat / (np.sqrt(np.abs(v_hat)) + epsilon), m, v

    return step


def test_adam_check_passes_on_the_paper_form_and_on_keras_form():
    assert checks.adam_update_step(adam_step)

    def keras_form(w, grad, m, v, t, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        m = m + (grad - m) * (1 - beta_1)
        v = v + (grad**2 - v) * (1 - beta_2)
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        return w - alpha * m / (np.sqrt(v) + epsilon), m, v

    assert checks.adam_update_step(keras_form)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda *a: None, "End it with `return w, m, v`"),
        (lambda w, g, m, v, t: w - 0.1 * g, "as a tuple `(w, m, v)`"),
        (adam_variant(sign=-1.0), "go uphill"),
        (adam_variant(correct_m=False, correct_v=False), "bias correction"),
        (adam_variant(correct_v=False), "corrected m but not v"),
        (adam_variant(correct_m=False), "corrected v but not m"),
        (adam_variant(square=False), "*squared* gradient"),
        (adam_variant(t_offset=-1), "the first step is t = 1"),
        (lambda w, g, m, v, t: (w - 0.1 * np.sign(g), m, v), "Update m and v first"),
        ("adam_step", "Pass your function"),
    ],
)
def test_adam_check_fails_with_a_hint(answer, hint):
    result = checks.adam_update_step(answer)
    assert not result and hint in result.message


def scaled_lr(lr, b0, b, optimizer):
    k = b / b0
    return lr * k if optimizer in ("sgd", "momentum") else lr * np.sqrt(k)


def test_batch_scaling_check_passes_on_linear_for_sgd_and_square_root_for_adam():
    assert checks.batch_scaling_rule(scaled_lr)
    assert checks.batch_scaling_rule(lambda lr, b0, b, opt: lr * (b / b0) ** (0.5 if opt in ("adam", "rmsprop") else 1))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda lr, b0, b, opt: None, "forget `return`"),
        (lambda lr, b0, b, opt: lr * b0 / b, "inverted"),
        (lambda lr, b0, b, opt: lr * np.sqrt(b0 / b), "inverted"),
        (lambda lr, b0, b, opt: lr * b / b0, "the linear rule, an SGD result"),  # linear for every optimizer
        (lambda lr, b0, b, opt: lr * np.sqrt(b / b0), "the square-root rule, derived for Adam"),  # sqrt for all
        (lambda lr, b0, b, opt: scaled_lr(lr, b0, b, "adam" if opt == "momentum" else "sgd"), "square-root rule"),
        (lambda lr, b0, b, opt: scaled_lr(lr, b0, b, opt if opt != "rmsprop" else "sgd"), "linear rule"),
        (lambda lr, b0, b, opt: lr + b - b0, "expected"),
        (lambda lr, b0, b, opt: "fast", "Return a number"),
        (lambda lr, b0, b: lr * b / b0, "TypeError"),  # the old three-argument form
    ],
)
def test_batch_scaling_check_fails_with_a_hint(answer, hint):
    result = checks.batch_scaling_rule(answer)
    assert not result and hint in result.message


def test_lr_range_rule_check_passes_and_agrees_with_the_helper():
    assert checks.lr_range_rule(lambda lrs, losses: lrs[np.nanargmin(losses)] / 10)
    assert checks.lr_range_rule(lambda lrs, losses: schedules.suggest_learning_rate(lrs, losses))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda lrs, losses: None, "forget `return`"),
        (lambda lrs, losses: lrs[np.argmin(losses)] / 10, "np.nanargmin"),
        (lambda lrs, losses: lrs[np.nanargmin(losses)], "divide by 10"),
        (lambda lrs, losses: lrs[np.nanargmin(losses)] * 10, "do not multiply"),
        (lambda lrs, losses: np.nanmin(losses) / 10, "You returned a loss value"),
        (lambda lrs, losses: np.nanargmin(losses) / 10, "the index of the minimum"),
        (lambda lrs, losses: lrs[np.nanargmax(losses)] / 10, "the rule gives"),
        (lambda lrs, losses: [1, 2], "Return one learning rate"),
    ],
)
def test_lr_range_rule_check_fails_with_a_hint(answer, hint):
    result = checks.lr_range_rule(answer)
    assert not result and hint in result.message


def test_step_decay_check():
    assert checks.step_decay_rule(lambda s, lr, every, f: lr * f ** (s // every))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda s, lr, every, f: None, "forget `return`"),
        (lambda s, lr, every, f: lr * f ** (s / every), "integer division"),
        (lambda s, lr, every, f: lr * f ** ((s + 1) // every), "Off by one"),
        (lambda s, lr, every, f: lr, "should have dropped"),
        (lambda s, lr, every, f: lr * (1 - f) ** (s // every), "expected"),
    ],
)
def test_step_decay_check_fails_with_a_hint(answer, hint):
    result = checks.step_decay_rule(answer)
    assert not result and hint in result.message


# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def adam_stub(w, grad, m, v, t, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    # YOUR CODE HERE: update m and v, bias-correct them, take the step; return w, m, v.
    raise NotImplementedError


def scaling_stub(base_lr, base_batch_size, batch_size, optimizer):
    # YOUR CODE HERE: the learning rate for batch_size, given base_lr worked at base_batch_size:
    # the linear rule for optimizer "sgd" or "momentum", the square-root rule for "adam" or "rmsprop".
    ...


def pick_stub(learning_rates, losses):
    # YOUR CODE HERE: the learning rate at the lowest loss, divided by 10 (NaNs ignored).
    ...


def step_decay_stub(step, initial_lr, drop_every, factor):
    # YOUR CODE HERE
    ...


@pytest.mark.parametrize(
    ("name", "stub_answer"),
    [("adam_update_step", adam_stub), ("batch_scaling_rule", scaling_stub), ("lr_range_rule", pick_stub)],
)
def test_the_reference_passes_and_replaces_the_untouched_stub(assert_reference_replaces_stub, name, stub_answer):
    assert_reference_replaces_stub(name, stub_answer)


def test_the_references_compute_what_the_later_cells_need(fresh_kernel):
    rng = np.random.default_rng(0)
    w, g, m, v = (rng.normal(size=2) for _ in range(4))
    v = np.abs(v)
    mine = adam_step(w, g, m, v, 3, lr=0.2)
    course = fresh_kernel.answer("adam_update_step", adam_stub)(w, g, m, v, 3, lr=0.2)
    for a, b in zip(mine, course):
        np.testing.assert_allclose(a, b)
    assert fresh_kernel.answer("batch_scaling_rule", scaling_stub)(0.01, 64, 256, "momentum") == pytest.approx(0.04)
    lrs = np.geomspace(1e-4, 1.0, 40)
    losses = (np.log10(lrs) + 1.5) ** 2
    losses[-5:] = np.nan  # a diverged tail
    pick = fresh_kernel.answer("lr_range_rule", pick_stub)(lrs, losses)
    assert pick == pytest.approx(lrs[np.nanargmin(losses)] / 10)


def test_the_untouched_step_decay_stub_is_not_started():
    assert checks.step_decay_rule(step_decay_stub).status == "not started"
