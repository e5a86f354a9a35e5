"""The self-checks of 04_training_strategies pass on correct answers and explain typical mistakes."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import checks, experiments


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


def step_decay_stub(step, initial_lr, drop_every, factor):
    # YOUR CODE HERE
    ...


def test_the_adam_reference_passes_and_replaces_the_untouched_stub(assert_reference_replaces_stub):
    assert_reference_replaces_stub("adam_update_step", adam_stub)


def test_the_references_compute_what_the_later_cells_need(fresh_kernel):
    rng = np.random.default_rng(0)
    w, g, m, v = (rng.normal(size=2) for _ in range(4))
    v = np.abs(v)
    mine = adam_step(w, g, m, v, 3, lr=0.2)
    course = fresh_kernel.answer("adam_update_step", adam_stub)(w, g, m, v, 3, lr=0.2)
    for a, b in zip(mine, course):
        np.testing.assert_allclose(a, b)


def test_the_untouched_step_decay_stub_is_not_started():
    assert checks.step_decay_rule(step_decay_stub).status == "not started"


# A training step with tf.GradientTape, checked against model.fit.


def train_step(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def step_variant(*, training=True, sign=1.0, apply=True, variables=None, returns="loss"):
    """``train_step`` with one typical mistake switched on."""

    def step(model, optimizer, loss_fn, x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True) if training else model(x))
        chosen = model.trainable_variables if variables is None else variables(model)
        grads = tape.gradient(loss, chosen)
        if apply:
            optimizer.apply_gradients(zip([sign * g for g in grads], chosen))
        if returns == "loss":
            return loss
        if returns == "after":  # the loss after the update, not the one fit reports
            return loss_fn(y, model(x, training=True))
        return None

    return step


def outside_the_tape(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        pass
    loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def by_hand_uphill(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    for var, grad in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
        var.assign_add(0.05 * grad)  # w + lr * grad: uphill
    return loss


def swapped_arguments(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(model(x, training=True), y)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def two_steps(model, optimizer, loss_fn, x, y):
    train_step(model, optimizer, loss_fn, x, y)
    return train_step(model, optimizer, loss_fn, x, y)


def train_step_stub(model, optimizer, loss_fn, x, y):
    # YOUR CODE HERE
    raise NotImplementedError


def test_gradient_tape_check_passes_on_the_step_fit_takes():
    assert checks.gradient_tape_step(train_step)
    assert checks.gradient_tape_step(tf.function(train_step))  # compiled, as fit runs it
    weights = step_variant(variables=lambda model: model.weights)  # the same list here: no frozen weights
    assert checks.gradient_tape_step(weights)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (step_variant(training=False), "without training=True"),
        (step_variant(sign=-1.0), "go uphill"),
        (by_hand_uphill, "go uphill"),
        (step_variant(apply=False), "never applies it"),
        (outside_the_tape, "records only what runs inside"),
        (step_variant(variables=lambda model: model.layers[-1].trainable_variables), "model.trainable_variables"),
        (step_variant(returns="after"), "computed before the update"),
        (step_variant(returns=None), "End it with `return loss`"),
        (two_steps, "your weights differ from model.fit's"),
        (swapped_arguments, "labels first"),
        (lambda model, optimizer, loss_fn, x, y: "done", "Return the batch's loss"),
        ("train_step", "Pass your function"),
    ],
)
def test_gradient_tape_check_fails_with_a_hint(answer, hint):
    result = checks.gradient_tape_step(answer)
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_gradient_tape_check_names_the_weights_left_unchanged():
    result = checks.gradient_tape_step(step_variant(variables=lambda model: model.layers[-1].trainable_variables))
    assert "conv/kernel, conv/bias unchanged" in result.message


def test_the_untouched_train_step_stub_is_not_started():
    assert checks.gradient_tape_step(train_step_stub).status == "not started"


# Predict, then run: what Adam does at three rates from the range test.

START = 2.309  # the untrained network's validation loss


def history(val_losses, losses):
    return {"val_loss": list(val_losses), "loss": list(losses)}


RATES = {"picked / 10": 1e-3, "picked": 1e-2, "at the minimum": 0.12}
FULL = {  # the shape of the full profile's runs: two learn, the minimum blows up then sits at chance level
    "picked / 10": history([0.49, 0.31, 0.25, 0.185], [1.19, 0.44, 0.29, 0.21]),
    "picked": history([0.26, 0.17, 0.15, 0.11], [0.71, 0.22, 0.17, 0.14]),
    "at the minimum": history([2.307, 2.305, 2.307, 2.311], [4.87, 2.31, 2.31, 2.31]),
}
SMOKE = {  # one short epoch: the two learn a little, the minimum blows up
    "picked / 10": history([2.02], [2.23]),
    "picked": history([1.75], [2.25]),
    "at the minimum": history([2.38], [66.2]),
}
RIGHT = {"picked / 10": "learns", "picked": "learns", "at the minimum": "diverges"}


@pytest.mark.parametrize("runs", [FULL, SMOKE], ids=["full", "smoke"])
def test_prediction_check_passes_when_every_label_matches_the_runs(runs):
    result = checks.lr_outcome_prediction(RIGHT, runs, RATES, START)
    assert result and "at the minimum (lr 0.12): the validation loss ended at" in result.message


def test_prediction_check_explains_each_wrong_label():
    guess = {"picked / 10": "barely moves", "picked": "learns", "at the minimum": "learns"}
    result = checks.lr_outcome_prediction(guess, SMOKE, RATES, START)
    assert not result and result.status == "not yet"
    assert "picked / 10 (lr 0.001)" in result.message and "it learned, not 'barely moves'" in result.message
    assert "it diverged, not 'learns'" in result.message and "edge of divergence" in result.message
    assert "rose to 66.2 (epoch 1)" in result.message
    assert "picked (lr" not in result.message  # a right label is not explained as wrong


def test_prediction_check_explains_a_run_that_barely_moved():
    runs = {**SMOKE, "picked / 10": history([2.25], [2.29])}  # 2.5 % lower: barely moved
    result = checks.lr_outcome_prediction(RIGHT, runs, RATES, START)
    assert not result and "it barely moved, not 'learns'" in result.message and "more epochs" in result.message


def test_prediction_check_accepts_either_label_near_a_boundary():
    result = checks.lr_outcome_prediction({**RIGHT, "at the minimum": "barely moves"}, FULL, RATES, START)
    assert result and "a close call (measured: diverges)" in result.message
    far = checks.lr_outcome_prediction({**RIGHT, "at the minimum": "barely moves"}, SMOKE, RATES, START)
    assert not far and "it diverged, not 'barely moves'" in far.message  # 3 % above the start is no close call


def test_prediction_check_counts_nan_as_diverged():
    runs = {**SMOKE, "at the minimum": history([float("nan")], [float("nan")])}
    assert checks.lr_outcome_prediction(RIGHT, runs, RATES, START)
    result = checks.lr_outcome_prediction({**RIGHT, "at the minimum": "barely moves"}, runs, RATES, START)
    assert not result and "ended at NaN; its training loss became NaN" in result.message


def test_outcome_labels_a_run_by_its_validation_loss():
    from helpers.checks import training_strategies as ts

    assert ts.outcome(2.0, 2.1)[0] == "diverges" and ts.outcome(2.0, float("nan"))[0] == "diverges"
    assert ts.outcome(2.0, 1.9)[0] == "barely moves" and ts.outcome(2.0, 1.7)[0] == "learns"
    assert ts.outcome(2.0, 1.5) == ("learns", pytest.approx(0.25))


@pytest.mark.parametrize(
    ("answer", "status", "hint"),
    [
        ({"picked / 10": ..., "picked": ..., "at the minimum": ...}, "not started", "before running"),
        (..., "not started", "before running"),
        ({**RIGHT, "picked": ...}, "not yet", "'picked': replace the `...`"),
        ({"picked / 10": "learns", "picked": "learns"}, "not yet", "Add your prediction for 'at the minimum'"),
        ({**RIGHT, "picked": "explodes"}, "not yet", 'answer "diverges" or "barely moves" or "learns"'),
        (["learns", "learns", "diverges"], "not yet", "Predict with a dict"),
    ],
)
def test_prediction_check_asks_for_a_label_per_rate(answer, status, hint):
    result = checks.lr_outcome_prediction(answer, SMOKE, RATES, START)
    assert not result and result.status == status and hint in result.message, result.message


def test_prediction_labels_ignore_case_and_spaces():
    assert checks.lr_outcome_prediction({k: f" {v.upper()} " for k, v in RIGHT.items()}, FULL, RATES, START)


# Design the experiment: warmup + cosine against a constant rate.

SEEDS, EPOCHS, LR = (0, 1, 2), 1, 0.03
MODEL = {"filters": (8,), "convs_per_block": 1, "batch_norm": False, "head": "flatten", "dense_units": 32}
SAME = {"model": MODEL, "epochs": EPOCHS, "optimizer": "momentum", "learning_rate": LR}


def design(base=None, variant=None, seeds=SEEDS, metric="val_accuracy", **more):
    base = {**SAME, "schedule": "constant"} if base is None else base
    variant = {**SAME, "schedule": "warmup_cosine"} if variant is None else variant
    return experiments.Design(arms={"constant": base, "warmup + cosine": variant, **more}, seeds=seeds, metric=metric)


def check_design(answer):
    return checks.schedule_design(answer, seeds=SEEDS, epochs=EPOCHS, model=MODEL)


def test_design_check_passes_on_a_fair_test_of_the_schedule():
    assert check_design(design())
    assert check_design(design(metric="val_loss", seeds=(2, 0, 1)))
    assert check_design(design(variant={**SAME}))  # runs.train's default schedule is warmup + cosine


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"constant": SAME}, "experiments.Design(arms=..., seeds=...)"),
        (design(variant={**SAME, "schedule": "warmup_cosine", "epochs": 3}), "changes the budget (epochs)"),
        (design(variant={**SAME, "schedule": "warmup_cosine", "learning_rate": 0.1}), "also changes learning_rate"),
        (design(variant={**SAME, "schedule": "warmup_cosine", "seed": 1}), "sets its own seed"),
        (design(seeds=(0, 1)), "use at least 3"),
        (design(metric="test_accuracy"), "test split is touched once"),
        (design(base={**SAME}, variant={**SAME, "schedule": "warmup_cosine"}), "runs.train's default is"),
        (design(base={**SAME, "schedule": "warmup_cosine"}, variant={**SAME, "schedule": "constant"}), "baseline"),
        (design(variant={**SAME, "schedule": "step_decay"}), "'constant' in the first arm and 'warmup_cosine'"),
        (design(step={**SAME, "schedule": "step_decay"}), "Two answer the question"),
        (design(seeds=(0, 1, 2, 3)), "budget is 3 seeds"),
        (design(*({**SAME, "epochs": 2, "schedule": s} for s in ("constant", "warmup_cosine"))), "DESIGN_EPOCHS = 1"),
        (
            design(*({**SAME, "model": {"filters": (64, 128)}, "schedule": s} for s in ("constant", "warmup_cosine"))),
            "model=DESIGN_CNN in the baseline",
        ),  # fmt: skip
        (
            design(
                *(
                    {k: v for k, v in SAME.items() if k != "model"} | {"schedule": s}
                    for s in ("constant", "warmup_cosine")
                )
            ),
            "has no model",
        ),  # fmt: skip
        (design(metric="gap"), "the gap measures overfitting"),
    ],
)
def test_design_check_fails_with_a_hint(answer, hint):
    result = check_design(answer)
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_design_check_refuses_a_ready_schedule_as_learning_rate():
    import keras

    ready = keras.optimizers.schedules.CosineDecay(LR, 100)
    answer = design(*({**SAME, "learning_rate": ready, "schedule": s} for s in ("constant", "warmup_cosine")))
    result = check_design(answer)
    assert not result and "passes a ready schedule" in result.message


def test_the_untouched_design_stub_is_not_started():
    assert check_design(...).status == "not started"


def test_the_design_reference_is_fair_and_replaces_the_stub(fresh_kernel):
    reference = fresh_kernel.answer("schedule_design", ..., SEEDS, EPOCHS, MODEL, LR)
    assert isinstance(reference, experiments.Design) and check_design(reference)
    assert [arm["schedule"] for arm in reference.arms.values()] == ["constant", "warmup_cosine"]
    assert all(arm["learning_rate"] == LR and arm["epochs"] == EPOCHS for arm in reference.arms.values())
    mine = design(metric="val_loss")
    assert check_design(mine) and fresh_kernel.answer("schedule_design", mine, SEEDS, EPOCHS, MODEL, LR) is mine
    assert not check_design(design(seeds=(0, 1)))
    assert fresh_kernel.answer("schedule_design", mine, SEEDS, EPOCHS, MODEL, LR) == reference  # not after a miss
