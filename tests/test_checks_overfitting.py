"""The self-checks of 08_overfitting pass on correct answers and explain typical mistakes."""

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import checks, experiments, training
from helpers.checks import _core, overfitting
from helpers.data import Dataset


def stub(*args):
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------- diagnose_fit


def good_diagnose(train_acc, val_acc, target=0.97, max_gap=0.02):
    if train_acc < target:
        return "high bias"
    if train_acc - val_acc > max_gap:
        return "high variance"
    return "good fit"


def test_diagnose_fit_passes_on_a_correct_answer():
    assert checks.diagnose_fit(good_diagnose)
    assert checks.diagnose_fit(lambda t, v, target, gap: good_diagnose(t, v, target, gap).upper())


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda t, v, target, gap: None, "forget to `return`"),
        (lambda t, v, target, gap: "overfitting", "Return exactly one of"),
        (lambda t, v, target, gap: "good fit", "should be 'high variance'"),
        (
            lambda t, v, target, gap: (
                good_diagnose(v, t, target, gap) if t - v > gap else good_diagnose(t, v, target, gap)
            ),
            "The gap is train_acc - val_acc",
        ),
        (
            lambda t, v, target, gap: "high variance" if t - v > gap else ("high bias" if t < target else "good fit"),
            "check bias first",
        ),
        (
            lambda t, v, target, gap: ("high variance" if t < target else "good fit") if t - v <= gap else "high bias",
            "should be 'high variance'",
        ),
        (lambda t, v, target, gap: good_diagnose(t, v), "Use the `target` and `max_gap` arguments"),
        ("diagnose", "Pass your function"),
    ],
)
def test_diagnose_fit_fails_with_a_hint(answer, hint):
    result = checks.diagnose_fit(answer)
    assert not result and hint in result.message


def test_diagnose_fit_spots_a_model_that_cannot_fit():
    result = checks.diagnose_fit(lambda t, v, target, gap: "high variance" if t - v > gap else "good fit")
    assert not result and "should be 'high bias'" in result.message and "more capacity" in result.message


# ---------------------------------------------------------------------------------------------- extrapolate_error


def good_predict(sizes, errors, n):
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
    return np.exp(intercept + slope * np.log(n))


def test_extrapolate_error_passes_on_correct_answers():
    assert checks.extrapolate_error(good_predict)

    def with_log10(sizes, errors, n):  # any base works if used consistently
        slope, intercept = np.polyfit(np.log10(sizes), np.log10(errors), 1)
        return 10 ** (intercept + slope * np.log10(n))

    assert checks.extrapolate_error(with_log10)
    assert checks.extrapolate_error(lambda s, e, n: np.array([good_predict(s, e, n)]))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda s, e, n: None, "forget to `return`"),
        (lambda s, e, n: "small", "return one number"),
        (lambda s, e, n: np.log(good_predict(s, e, n)), "a logarithm of the error"),
        (lambda s, e, n: np.polyval(np.polyfit(s, e, 1), n), "straight line through the raw numbers"),
        (lambda s, e, n: np.polyval(np.polyfit(np.log(s), e, 1), np.log(n)), "log of the sizes only"),
        (lambda s, e, n: e.max() * 2, "should be positive and below"),
        (lambda s, e, n: good_predict(s, e, n) * 0.9, "expected"),
        (lambda s, e, n: [1, 2], "return one number"),
    ],
)
def test_extrapolate_error_fails_with_a_hint(answer, hint):
    result = checks.extrapolate_error(answer)
    assert not result and hint in result.message


# ---------------------------------------------------------------------------------------------- curve_prediction


def curve_table(big_gaps=(0.15, 0.04), tiny_val=(0.78, 0.89), sizes=(250, 3500), seeds=(42,)):
    """A measured curve like 08's: the big model fits its training set, the tiny one stays below 97 %."""
    rows = []
    for seed in seeds:
        for size, gap, val in zip(sizes, big_gaps, (0.85, 0.95)):
            rows.append(("big", seed, size, val + gap, val))
        for size, val in zip(sizes, tiny_val):
            rows.append(("tiny", seed, size, min(val + 0.05, 0.9), val))
    table = pd.DataFrame(rows, columns=["name", "seed", "train_size", "train_accuracy", "val_accuracy"])
    table["gap"] = table["train_accuracy"] - table["val_accuracy"]
    return table


RIGHT = {"big_gap": "shrinks", "tiny_reaches_target": False}


def test_curve_prediction_passes_when_it_agrees_with_the_run():
    result = checks.curve_prediction(RIGHT, curve_table(), target=0.97)
    assert result and "gap went from 15.0% at 250 examples to 4.0% at 3,500" in result.message
    assert "variance" in result.message and "bias" in result.message
    assert checks.curve_prediction({"big_gap": " Closes", "tiny_reaches_target": np.bool_(False)}, curve_table())
    averaged = curve_table(seeds=(1, 2))  # several seeds: the mean per size
    assert checks.curve_prediction(RIGHT, averaged)


def test_curve_prediction_is_compared_with_what_was_measured():
    """The same prediction fails on a run that measured the opposite, and says what the run showed."""
    grew = checks.curve_prediction(RIGHT, curve_table(big_gaps=(0.02, 0.06)))
    assert not grew and "in this run it grows" in grew.message and "epochs_run" in grew.message
    assert checks.curve_prediction({"big_gap": "grows", "tiny_reaches_target": False}, curve_table((0.02, 0.06)))
    reached = checks.curve_prediction(RIGHT, curve_table(tiny_val=(0.9, 0.975)))
    assert not reached and "more data was enough" in reached.message
    assert checks.curve_prediction({**RIGHT, "tiny_reaches_target": True}, curve_table(tiny_val=(0.9, 0.975)))
    lower = checks.curve_prediction({**RIGHT, "tiny_reaches_target": True}, curve_table(), target=0.85)
    assert lower and "target 85%" in lower.message  # the notebook's TARGET, not a fixed 97 %


@pytest.mark.parametrize(
    ("prediction", "hint"),
    [
        ({"big_gap": "grows", "tiny_reaches_target": False}, "more data is the cure for variance"),
        ({"big_gap": "shrinks", "tiny_reaches_target": True}, "that is bias, and more data does not cure it"),
        ({"big_gap": "grows", "tiny_reaches_target": True}, "more data does not cure it"),
        ({"big_gap": "stays", "tiny_reaches_target": False}, 'answer "shrinks" or "grows"'),
        ({"big_gap": 0.1, "tiny_reaches_target": False}, 'answer "shrinks" or "grows"'),
        ({"big_gap": "shrinks", "tiny_reaches_target": "no"}, "True or False (not text)"),
        ({"big_gap": "shrinks", "tiny_reaches_target": ...}, "replace the `...` with True or False"),
        ({"big_gap": ..., "tiny_reaches_target": False}, 'replace the `...` with "shrinks" or "grows"'),
        ({"big_gap": "shrinks"}, "Add your prediction for 'tiny_reaches_target'"),
        (("shrinks", False), "Write your prediction as a dict"),
    ],
)
def test_curve_prediction_fails_with_a_hint(prediction, hint):
    result = checks.curve_prediction(prediction, curve_table())
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_curve_prediction_says_both_wrong_answers_at_once():
    result = checks.curve_prediction({"big_gap": "grows", "tiny_reaches_target": True}, curve_table())
    assert "big model's gap grows; in this run it shrinks" in result.message
    assert "tiny model would reach the target; the tiny model reached 89.0%" in result.message


def test_curve_prediction_needs_the_measured_curve():
    result = checks.curve_prediction(RIGHT, curve_table()[lambda t: t["name"] == "big"])
    assert not result and "no run of the 'tiny' model at two sizes" in result.message
    assert "Pass the measured curve" in checks.curve_prediction(RIGHT, [0.1, 0.2]).message


# ---------------------------------------------------------------------------------------------- augmentation_design
BIG = {
    "filters": (16,),
    "convs_per_block": 1,
    "batch_norm": False,
    "dropout": 0.0,
    "head": "flatten",
    "dense_units": 128,
}
REGULARIZED = {**BIG, "dropout": 0.5, "l2": 1e-4}
EPOCHS, PATIENCE, DESIGN_SEEDS = 20, 8, (42, 43, 44)
BUDGET = {"model": BIG, "epochs": EPOCHS, "patience": PATIENCE}


def design(arms=None, seeds=DESIGN_SEEDS, metric="val_accuracy"):
    arms = {"baseline": BUDGET, "augmentation": {**BUDGET, "augment": "mnist5k"}} if arms is None else arms
    return experiments.Design(arms=arms, seeds=seeds, metric=metric)


def test_augmentation_design_passes_on_a_fair_design():
    result = checks.augmentation_design(design(), BIG, EPOCHS, DESIGN_SEEDS)
    assert result and "differs from 'baseline' only in augment" in result.message and "3 seeds" in result.message
    without_stopping = {"model": BIG, "epochs": EPOCHS}
    other = design({"none": without_stopping, "digits": {**without_stopping, "augment": "digits"}}, seeds=(1, 2, 3))
    assert checks.augmentation_design(other, BIG, EPOCHS, DESIGN_SEEDS)  # any preset, any three seeds
    assert checks.augmentation_design(design(metric="val_loss"), BIG, EPOCHS, DESIGN_SEEDS)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            design({"baseline": BUDGET, "augmentation": {**BUDGET, "augment": "mnist5k", "epochs": 40}}),
            "budget (epochs)",
        ),
        (design({"baseline": BUDGET, "both": {**BUDGET, "model": REGULARIZED, "augment": "mnist5k"}}), "also changes"),
        (design({"baseline": {**BUDGET, "seed": 1}, "augmentation": {**BUDGET, "augment": "mnist5k"}}), "own seed"),
        (design(seeds=(42,)), "1 seed(s): use at least 3"),
        (design(metric="test_accuracy"), "test split is touched once"),
        (design(metric="gap"), "a smaller gap is not a better model"),
        (design({"baseline": BUDGET, "augmentation": BUDGET}), "is the same as 'baseline'"),
        (design({"augmentation": {**BUDGET, "augment": "mnist5k"}, "baseline": BUDGET}), "put the arm without"),
        (design({"baseline": BUDGET, "augmentation": {**BUDGET, "augment": False}}), "is no augmentation"),
        (design({"baseline": BUDGET, "augmentation": {**BUDGET, "augment": True}}), "augment=DATASET"),
        (design({"baseline": BUDGET, "augmentation": {**BUDGET, "augment": "flips"}}), "Unknown augmentation preset"),
        (
            design({"a": BUDGET, "b": {**BUDGET, "augment": "mnist5k"}, "c": {**BUDGET, "augment": "digits"}}),
            "Two answer the question",
        ),
        (
            design(
                {
                    "baseline": {**BUDGET, "model": REGULARIZED},
                    "augmentation": {**BUDGET, "model": REGULARIZED, "augment": "mnist5k"},
                }
            ),
            "model=BIG in the baseline",
        ),  # fmt: skip
        (
            design(
                {"baseline": {**BUDGET, "epochs": 5}, "augmentation": {**BUDGET, "epochs": 5, "augment": "mnist5k"}}
            ),
            "FIX_EPOCHS = 20",
        ),
        (design(seeds=(1, 2, 3, 4, 5)), "budget is 3 seeds"),
        ({"baseline": BUDGET}, "experiments.Design"),
    ],
)
def test_augmentation_design_fails_with_a_hint(answer, hint):
    result = checks.augmentation_design(answer, BIG, EPOCHS, DESIGN_SEEDS)
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_the_design_reference_is_the_fix_comparisons_budget():
    reference = overfitting._augmentation_design_reference(BIG, EPOCHS, DESIGN_SEEDS, "mnist5k", PATIENCE)
    assert reference == design()
    assert experiments.problems(reference, change="augment") == []
    assert "patience" not in overfitting._augmentation_design_reference(BIG, 2, (1, 2, 3), "mnist5k").arms["baseline"]


# ---------------------------------------------------------------------------------------------- capstone_accuracy


def digit_like_dataset() -> Dataset:
    """Two easy classes (left or right half lit) of 8x8 images."""
    rng = np.random.default_rng(1)

    def make(n):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.2, size=(n, 8, 8, 1)).astype(np.float32)
        x[y == 0, :, :4] += 0.8
        x[y == 1, :, 4:] += 0.8
        return x, y.astype(np.int32)

    (xtr, ytr), (xva, yva), (xte, yte) = make(80), make(20), make(40)
    return Dataset("tiny", xtr, ytr, xva, yva, xte, yte, ("left", "right"), "two easy classes")


@pytest.fixture(scope="module")
def easy():
    ds = digit_like_dataset()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(ds.input_shape), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    training.compile_classifier(model, learning_rate=0.05)
    training.fit(model, ds, epochs=5, batch_size=16, verbose=0)
    return ds, model


def test_capstone_accuracy_passes_on_a_trained_model(easy):
    ds, model = easy
    result = checks.capstone_accuracy(model, ds, target=0.95)
    assert result and "Validation accuracy 100.00% >= 95.0%" in result.message and "evaluated once" in result.message


def test_capstone_accuracy_explains_a_missed_target(easy):
    ds, model = easy
    flipped = dataclasses.replace(ds, y_val=np.where(np.arange(20) < 1, 1 - ds.y_val, ds.y_val))
    result = checks.capstone_accuracy(model, flipped, target=0.985)
    assert not result and "95.00% is below the target 98.5% (1 more validation image to" in result.message
    test_flipped = dataclasses.replace(ds, y_test=1 - ds.y_test)  # the check never looks at the test split
    assert checks.capstone_accuracy(model, test_flipped, target=0.95)
    assert "augment.preset" in result.message


def test_capstone_accuracy_default_target_is_the_validation_target():
    import inspect

    from helpers.checks import overfitting

    assert inspect.signature(checks.capstone_accuracy).parameters["target"].default == 0.98
    assert overfitting.CAPSTONE_VAL_TARGET == 0.98


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda ds: None, "Not started yet"),
        (lambda ds: ..., "Not started yet"),
        (lambda ds: "model", "Pass your trained keras.Model"),
        (
            lambda ds: keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]),
            "expects inputs of shape (28, 28, 1)",
        ),
        (
            lambda ds: keras.Sequential([keras.Input(ds.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)]),
            "has 10 outputs",
        ),
        (
            lambda ds: keras.Sequential(
                [keras.Input(ds.input_shape), keras.layers.Flatten(), keras.layers.Dense(2, kernel_initializer="zeros")]
            ),
            "is the model trained",
        ),
    ],
)
def test_capstone_accuracy_fails_with_a_hint(easy, make, hint):
    ds, _ = easy
    result = checks.capstone_accuracy(make(ds), ds)
    assert not result and hint in result.message


# ---------------------------------------------------------------------------------------------- reference answers
# The stubs exactly as the notebook's exercise cells hold them; the references stand in for the cells after them.
TARGET, MAX_GAP = 0.97, 0.02  # the notebook's


def nb_diagnose(train_acc, val_acc, target=TARGET, max_gap=MAX_GAP):
    # YOUR CODE HERE: return "high bias", "high variance" or "good fit".
    raise NotImplementedError


def nb_predict_error(sizes, errors, n):
    # YOUR CODE HERE: fit log(error) = intercept + slope * log(size); return the error at n.
    raise NotImplementedError


@pytest.mark.parametrize(
    ("name", "stub_fn", "context"),
    [("diagnose_fit", nb_diagnose, (TARGET, MAX_GAP)), ("extrapolate_error", nb_predict_error, ())],
)
def test_an_untouched_stub_is_not_started_and_the_reference_stands_in(fresh_kernel, name, stub_fn, context):
    check = getattr(checks, name)
    assert check(stub_fn).status == "not started"
    reference = _core.answer(name, stub_fn, *context)
    assert reference is not stub_fn and check(reference), f"the reference of {name} fails its own check"


def test_the_untouched_prediction_is_not_started():
    prediction = {"big_gap": ..., "tiny_reaches_target": ...}  # the notebook's stub
    assert checks.curve_prediction(prediction, curve_table()).status == "not started"
    assert checks.curve_prediction(..., curve_table()).status == "not started"
    half = checks.curve_prediction({"big_gap": "shrinks", "tiny_reaches_target": ...}, curve_table())
    assert half.status == "not yet"  # started: the hint says what is left


def test_the_untouched_design_is_not_started_and_the_reference_stands_in(fresh_kernel):
    design_stub = ...  # the notebook's stub
    assert checks.augmentation_design(design_stub, BIG, EPOCHS, DESIGN_SEEDS).status == "not started"
    context = (BIG, EPOCHS, DESIGN_SEEDS, "mnist5k", PATIENCE)  # what 08 passes to checks.answer
    reference = _core.answer("augmentation_design", design_stub, *context)
    assert reference == design()
    mine = design(seeds=(7, 8, 9))
    assert checks.augmentation_design(mine, BIG, EPOCHS, DESIGN_SEEDS)
    assert _core.answer("augmentation_design", mine, *context) is mine  # a passing answer is the learner's own
    assert checks.augmentation_design(reference, BIG, EPOCHS, DESIGN_SEEDS)  # the reference passes its check


def test_the_diagnosis_reference_takes_the_notebooks_thresholds_as_defaults():
    diagnose = overfitting._diagnose_fit_reference(0.90, 0.05)
    assert diagnose(0.93, 0.86) == "high variance" and diagnose(0.93, 0.89) == "good fit"
    assert diagnose(0.93, 0.89, target=0.95) == "high bias"
    with pytest.raises(ValueError, match="target"):
        overfitting._diagnose_fit_reference(97, 0.02)


def test_the_untouched_capstone_is_not_started(easy):
    ds, _ = easy
    capstone_model = ...  # the notebook's stub
    assert checks.capstone_accuracy(capstone_model, ds, target=0.9).status == "not started"


@pytest.mark.slow
def test_the_capstone_reference_trains_the_course_recipe_on_the_budget(fresh_kernel):
    """~5 s on 2 cores: recipes.ACCURATE, 6 epochs on 160 easy 8x8 images."""
    ds = dataclasses.replace(digit_like_dataset(), name="digits")  # a name with an augmentation preset
    ds = dataclasses.replace(ds, x_train=np.concatenate([ds.x_train] * 2), y_train=np.concatenate([ds.y_train] * 2))
    checks.capstone_accuracy(..., ds)
    model = _core.answer("capstone_accuracy", ..., ds, 6)
    assert isinstance(model, keras.Model) and model.history.params["epochs"] == 6  # what capstone_history holds
    assert checks.capstone_accuracy(model, ds, target=0.9)
