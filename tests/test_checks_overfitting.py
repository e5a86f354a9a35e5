"""The self-checks of 08_overfitting pass on correct answers and explain typical mistakes."""

import dataclasses

import keras
import numpy as np
import pytest

from helpers import checks, runs, training
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


# ---------------------------------------------------------------------------------------------- pick_best_recipe


def good_best(table):
    return table.groupby("name")["val_accuracy"].mean().idxmax()


def test_pick_best_recipe_passes_on_a_correct_answer():
    assert checks.pick_best_recipe(good_best)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda t: None, "forget to `return`"),
        (lambda t: t.loc[t["val_accuracy"].idxmax(), "name"], "One lucky seed"),
        (lambda t: t.groupby("name")["train_accuracy"].mean().idxmax(), "rewards memorizing"),
        (lambda t: t.groupby("name")["gap"].mean().idxmin(), "A model that fits nothing has no gap"),
        (lambda t: t.groupby("name")["val_accuracy"].mean().idxmin(), "idxmax, not idxmin"),
        (lambda t: t.groupby("name")["val_accuracy"].mean(), "return the configuration's name"),
        (lambda t: int(t["val_accuracy"].idxmax()), "return the configuration's name"),
        (lambda t: "steady", "not a configuration in the table"),
    ],
)
def test_pick_best_recipe_fails_with_a_hint(answer, hint):
    result = checks.pick_best_recipe(answer)
    assert not result and hint in result.message


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


def nb_best_recipe(table):
    # YOUR CODE HERE: return the name (a string) with the best mean validation accuracy.
    raise NotImplementedError


@pytest.mark.parametrize(
    ("name", "stub_fn", "context"),
    [
        ("diagnose_fit", nb_diagnose, (TARGET, MAX_GAP)),
        ("extrapolate_error", nb_predict_error, ()),
        ("pick_best_recipe", nb_best_recipe, ()),
    ],
)
def test_an_untouched_stub_is_not_started_and_the_reference_stands_in(fresh_kernel, name, stub_fn, context):
    check = getattr(checks, name)
    assert check(stub_fn).status == "not started"
    reference = _core.answer(name, stub_fn, *context)
    assert reference is not stub_fn and check(reference), f"the reference of {name} fails its own check"


def test_the_diagnosis_reference_takes_the_notebooks_thresholds_as_defaults():
    diagnose = overfitting._diagnose_fit_reference(0.90, 0.05)
    assert diagnose(0.93, 0.86) == "high variance" and diagnose(0.93, 0.89) == "good fit"
    assert diagnose(0.93, 0.89, target=0.95) == "high bias"
    with pytest.raises(ValueError, match="target"):
        overfitting._diagnose_fit_reference(97, 0.02)


def test_the_recipe_reference_reads_a_runs_table(make_run):
    fake = [make_run("base", 1.0, 0.90, seed=s) for s in (1, 2)] + [
        make_run("both", 0.98, v, seed=s) for s, v in ((1, 0.95), (2, 0.93))
    ]
    assert overfitting._pick_best_recipe_reference()(runs.table(fake)) == "both"


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
