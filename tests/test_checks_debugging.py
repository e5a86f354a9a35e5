"""The 10 self-checks. The prediction about shuffled labels passes when it agrees with the runs and
explains each wrong half; the fixed model-and-compile function passes with either single softmax and
names what is still wrong in the unchanged bug and its usual variants; the mystery runs pass on the
right diagnosis and a real fix, and explain wrong names, fixes that change the wrong thing or leave
the fault, fixes that do not train, and stubs."""

import dataclasses

import keras
import numpy as np
import pytest

from helpers import checks, data
from helpers.diagnostics import OverfitResult, faults


@pytest.fixture(scope="module")
def base():
    return faults.healthy(data.load("mnist5k"))


def _case(base, number, fault):
    """The case of mystery ``number`` whose seed draws ``fault`` (the first such seed)."""
    seed = next(s for s in range(100) if faults._draw(number, s) == fault)
    case = faults.mystery(number, base, seed=seed)
    assert case.reveal() == fault
    return case


@pytest.fixture(scope="module")
def lr_case(base):
    return _case(base, 2, "learning_rate_too_high")


def stub(setup):
    raise NotImplementedError


# ---------------------------------------------------------------- predict, then run: shuffled labels


@pytest.fixture(scope="module")
def shuffled_setup(base):
    return faults.make("shuffled_labels", base)


@pytest.fixture(scope="module")
def small_model(shuffled_setup):
    return shuffled_setup.build_model()


def _run(setup, model, val=0.1, train=0.12):
    """A TrainingResult with chosen accuracies (no training: the check only reads it)."""
    return faults.TrainingResult(setup, model, 42, {"loss": [2.3, 2.3]}, train, val, 2, 1.0)


def _overfit(passed=True):
    losses = np.linspace(2.3, 0.04 if passed else 1.9, 40 if passed else 100)
    return OverfitResult(
        passed, 40 if passed else None, float(losses[-1]), losses, 0.05, 100, 16, 3e-3, "Adam", 2.0, [], 1.0
    )


RIGHT = {"val_accuracy": (0.0, 0.2), "memorized": True}


def test_prediction_passes_when_both_halves_hold(shuffled_setup, small_model):
    result = checks.shuffled_labels_prediction(RIGHT, _run(shuffled_setup, small_model), _overfit())
    assert result and "Both predictions hold" in result.message
    assert "That is chance" in result.message and "at least 16 of 16" in result.message
    assert f"{small_model.count_params():,} weights" in result.message
    assert "did not memorize its 1000 random labels in 2 epochs" in result.message


def test_a_range_that_misses_by_noise_only_still_passes(shuffled_setup, small_model):
    # 500 validation images: one standard error of 10 % is 1.3 points, so 0.12 is within two of it, 0.13 is not
    n_val = len(shuffled_setup.data.y_val)
    assert n_val == 500
    prediction = {"val_accuracy": (0.12, 0.3), "memorized": True}
    assert checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())
    prediction = {"val_accuracy": (0.13, 0.3), "memorized": True}
    assert not checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())


def test_a_hopeful_validation_range_is_explained(shuffled_setup, small_model):
    prediction = {"val_accuracy": (0.5, 0.7), "memorized": True}
    result = checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())
    assert result.status == "not yet"
    assert "below your range" in result.message and "say nothing about the images" in result.message
    assert "(Your other prediction holds.)" in result.message and "surprise" in result.message


def test_predicting_no_memorization_is_explained(shuffled_setup, small_model):
    prediction = {"val_accuracy": (0.0, 0.2), "memorized": False}
    result = checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())
    assert not result and "would not memorize" in result.message and "can fit any labels of 16 images" in result.message
    assert "(Your other prediction holds.)" in result.message


def test_both_halves_wrong(shuffled_setup, small_model):
    prediction = {"val_accuracy": (0.6, 0.8), "memorized": False}
    result = checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())
    assert not result and "below your range" in result.message and "would not memorize" in result.message
    assert "other prediction holds" not in result.message


def test_the_check_follows_the_measurements_not_a_fixed_answer(shuffled_setup, small_model):
    # a run whose overfit test failed and whose network memorized: the opposite answers pass
    run = _run(shuffled_setup, small_model, val=0.1, train=0.9)
    result = checks.shuffled_labels_prediction(RIGHT, run, _overfit(passed=False))
    assert not result and "would memorize" in result.message and "did not memorize the 16 images" in result.message
    assert "memorized much of its 1000 random labels" in result.message
    assert checks.shuffled_labels_prediction({"val_accuracy": (0.0, 0.2), "memorized": False}, run, _overfit(False))
    off_chance = checks.shuffled_labels_prediction(
        {"val_accuracy": (0.3, 0.5), "memorized": True}, _run(shuffled_setup, small_model, val=0.4), _overfit()
    )
    assert off_chance and "not at chance" in off_chance.message


@pytest.mark.parametrize(
    ("prediction", "hint"),
    [
        (..., "Not started yet"),
        ({"val_accuracy": ..., "memorized": ...}, "Not started yet"),
        ({"val_accuracy": (0.0, 0.2), "memorized": ...}, "memorized: replace the `...` with True or False"),
        ({"val_accuracy": ..., "memorized": True}, "val_accuracy: replace the `...` with your prediction, a range"),
        ({"val_accuracy": (0.0, 0.2)}, "Add your prediction for memorized"),
        ([(0.0, 0.2), True], "Predict with a dict"),
        ({"val_accuracy": 0.1, "memorized": True}, "rather than one number"),
        ({"val_accuracy": (10, 20), "memorized": True}, "as fractions"),
        ({"val_accuracy": (0.2, 0.1), "memorized": True}, "reversed"),
        ({"val_accuracy": (0.0, 0.5), "memorized": True}, "at most 30 points wide"),
        ({"val_accuracy": ("low", "high"), "memorized": True}, "two numbers"),
        ({"val_accuracy": (0.0, 0.2), "memorized": "yes"}, "True (the overfit test reaches its target loss) or False"),
    ],
)
def test_prediction_explains_malformed_answers(shuffled_setup, small_model, prediction, hint):
    result = checks.shuffled_labels_prediction(prediction, _run(shuffled_setup, small_model), _overfit())
    assert not result and hint in result.message, result.message
    assert result.status == ("not started" if "Not started" in hint else "not yet")


def test_prediction_wants_the_shuffled_run_and_the_overfit_test(base, shuffled_setup, small_model):
    healthy_run = _run(base, small_model, val=0.9)
    assert (
        "Pass the run trained with shuffled labels"
        in checks.shuffled_labels_prediction(RIGHT, healthy_run, _overfit()).message
    )
    assert (
        "Pass the overfit test"
        in checks.shuffled_labels_prediction(RIGHT, _run(shuffled_setup, small_model), 0.04).message
    )


def test_the_untouched_prediction_stub_is_not_started(shuffled_setup, small_model):
    shuffled_prediction = {
        "val_accuracy": ...,  # (low, high): the validation accuracy of the healthy run trained on shuffled labels
        "memorized": ...,  # True or False: does the overfit test memorize the 16 images with shuffled labels?
    }
    result = checks.shuffled_labels_prediction(shuffled_prediction, _run(shuffled_setup, small_model), _overfit())
    assert result.status == "not started"


# ---------------------------------------------------------------- find the bug: the output layer and the loss


def build_classifier(input_shape, num_classes):
    """The notebook's buggy function, as it shows it."""
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def variant(activation="softmax", from_logits=True, *, loss=None, units=None, shape=None, optimizer=None,
            compile=True, softmax_layer=False, returns="model"):  # fmt: skip
    """build_classifier with one thing changed: what a learner's fix might look like."""

    def fixed_classifier(input_shape, num_classes):
        layers = [
            keras.Input(shape=shape or input_shape),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(units or num_classes, activation=activation),
        ]
        model = keras.Sequential(layers + ([keras.layers.Softmax()] if softmax_layer else []))
        if compile:
            model.compile(
                optimizer=optimizer or keras.optimizers.Adam(1e-3),
                loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                metrics=["accuracy"],
            )
        return {"model": model, "none": None, "summary": "model"}[returns]

    return fixed_classifier


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fix", "how"),
    [
        (variant(None, True), "returns logits and the loss applies the softmax"),
        (variant("softmax", False), "ends with the softmax and the loss takes its probabilities"),
        (variant("softmax", loss="sparse_categorical_crossentropy"), "ends with the softmax"),
        (variant(None, False, softmax_layer=True), "ends with the softmax"),
    ],
)
def test_pairing_passes_on_either_single_softmax(fix, how):
    result = checks.output_loss_pairing(fix)
    assert result and how in result.message and "32 steps bring it to" in result.message, result.message


def test_the_unchanged_bug_gets_a_hint_that_is_not_the_answer():
    result = checks.output_loss_pairing(build_classifier)
    assert result.status == "not yet" and "Still two softmaxes" in result.message
    assert "from_logits=False" not in result.message and "activation=None" not in result.message
    same = checks.output_loss_pairing(variant(None, True, softmax_layer=True))  # a Softmax layer instead
    assert not same and "Still two softmaxes" in same.message


@pytest.mark.parametrize(
    ("fix", "hint"),
    [
        (variant(None, False), "Now no softmax is left"),
        (variant("sigmoid", False), "a sigmoid output gives each class its own yes/no probability"),
        (variant("sigmoid", True), "a sigmoid output"),
        (variant("relu", True), "The output layer's activation is relu"),
        (variant("softmax", loss=keras.losses.CategoricalCrossentropy()), "keep build_classifier's loss"),
        (variant("softmax", loss="binary_crossentropy"), "keep build_classifier's loss"),
        (variant(None, True, units=10), "With num_classes=4 your model has 10 outputs"),
        (variant(None, True, shape=(28, 28, 1)), "cannot take images of shape (12, 12, 1)"),
        (variant(None, True, compile=False), "not compiled"),
        (variant(None, True, returns="none"), "forget `return model`"),
        (variant(None, True, returns="summary"), "Return the compiled Keras model"),
    ],
)
def test_pairing_explains_what_is_still_wrong(fix, hint):
    result = checks.output_loss_pairing(fix)
    assert result.status == "not yet" and hint in result.message, result.message


def test_pairing_wants_the_function_itself():
    assert (
        "Pass your function `fixed_classifier` itself"
        in checks.output_loss_pairing(build_classifier((12, 12, 1), 4)).message
    )
    assert "Pass your function" in checks.output_loss_pairing("fixed_classifier").message


@pytest.mark.slow
def test_a_right_pairing_that_does_not_learn_is_refused():
    result = checks.output_loss_pairing(variant(None, True, optimizer=keras.optimizers.SGD(1e-5)))
    assert not result and "hardly lower the loss" in result.message


def nb_fixed_classifier(input_shape, num_classes):
    # YOUR CODE HERE: build_classifier, with its bug fixed (and nothing else changed)
    raise NotImplementedError


def test_the_untouched_pairing_stub_is_not_started():
    assert checks.output_loss_pairing(nb_fixed_classifier).status == "not started"


# ---------------------------------------------------------------- naming the fault


@pytest.mark.parametrize("name", ["learning_rate_too_high", "Learning rate too high", " learning-rate-too-high "])
def test_diagnosis_passes_on_the_hidden_fault(lr_case, name):
    result = checks.mystery_diagnosis(lr_case, name)
    assert result and "TrainingStats" in result.message and "mystery_fix" in result.message


def test_a_wrong_diagnosis_points_to_the_tools_but_not_to_the_answer(lr_case):
    result = checks.mystery_diagnosis(lr_case, "shuffled_labels")
    clues = faults.MYSTERIES[1].clues
    assert not result and "Not shuffled_labels" in result.message
    assert clues["shuffled_labels"] in result.message and clues["learning_rate_too_high"] in result.message
    assert "learning_rate_too_high" not in result.message


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        (..., "Not started yet"),
        (None, "Not started yet"),
        (3, "as a string"),
        ("overfitting", "is not the name of a fault. This case is one of: shuffled_labels"),
        ("dead_relus", "not among this case's candidates"),
    ],
)
def test_diagnosis_explains_answers_that_are_not_candidates(lr_case, name, hint):
    result = checks.mystery_diagnosis(lr_case, name)
    assert not result and hint in result.message


def test_checks_want_the_case_itself(lr_case):
    assert "Pass the case itself" in checks.mystery_diagnosis(lr_case.setup, "x").message
    assert "Pass the case itself" in checks.mystery_fix("case", stub).message


# ---------------------------------------------------------------- fixing the run


@pytest.mark.slow
def test_fix_passes_on_a_real_fix(lr_case):
    result = checks.mystery_fix(lr_case, lambda setup: dataclasses.replace(setup, learning_rate=1e-3))
    assert result and "changing only learning_rate" in result.message


@pytest.mark.slow
def test_fix_that_removes_the_fault_but_does_not_train_is_refused(lr_case):
    result = checks.mystery_fix(lr_case, lambda setup: dataclasses.replace(setup, learning_rate=1e-7))
    assert not result and "the target is 80%" in result.message


@pytest.mark.parametrize(
    ("fix", "hint"),
    [
        (stub, "Not started yet"),
        (lambda setup: ..., "Not started yet"),
        (lambda setup: None, "forget `return`"),
        (lambda setup: 3, "Return a TrainingSetup"),
        ("fix", "Pass your function"),
        (lambda setup: setup, "unchanged"),
        (lambda setup: dataclasses.replace(setup, data=faults.healthy(data.load("digits")).data), "Keep `data`"),
        (lambda setup: dataclasses.replace(setup, epochs=2), "this run's fault is elsewhere"),
        (lambda setup: dataclasses.replace(setup, learning_rate=3e-3, augment=None, epochs=2), "also changes epochs"),
        (lambda setup: dataclasses.replace(setup, learning_rate=0.05), "still has its fault: Adam's learning rate"),
        (lambda setup: dataclasses.replace(setup, clipnorm=1.0), "still has its fault"),
    ],
)
def test_fix_explains_what_is_wrong_without_training(lr_case, fix, hint):
    result = checks.mystery_fix(lr_case, fix)
    assert not result and hint in result.message, result.message


def test_a_wrong_field_points_to_the_diagnostic(lr_case):
    result = checks.mystery_fix(lr_case, lambda setup: dataclasses.replace(setup, batch_size=64))
    assert faults.MYSTERIES[1].clues["learning_rate_too_high"] in result.message


def test_fix_that_brings_in_another_fault_is_refused(base):
    case = _case(base, 1, "dead_relus")
    # BatchNorm does revive the ReLUs, but with momentum 0.99 its statistics never catch up.
    result = checks.mystery_fix(case, lambda setup: dataclasses.replace(setup, batch_norm=True, bn_momentum=0.99))
    assert not result and "brings in another problem" in result.message and "moving statistics" in result.message


def test_fix_that_edits_the_data_in_place_is_refused(base):
    case = _case(base, 2, "learning_rate_too_high")

    def vandal(setup):
        setup.data.x_train[:10] = 0
        return dataclasses.replace(setup, learning_rate=3e-3)

    result = checks.mystery_fix(case, vandal)
    assert not result and "in place" in result.message


# ---------------------------------------------------------------- the notebook's untouched stubs
# No cell after a mystery uses its answer, so these checks have no reference answer.


def nb_fix_1(setup):
    # YOUR CODE HERE: return dataclasses.replace(setup, <what is broken>=<its healthy value>)
    raise NotImplementedError


def test_the_untouched_mystery_stubs_are_not_started(lr_case):
    diagnosis_1 = ...  # YOUR ANSWER: one of case_1.pool, e.g. "learning_rate_too_high"
    assert checks.mystery_diagnosis(lr_case, diagnosis_1).status == "not started"
    assert checks.mystery_fix(lr_case, nb_fix_1).status == "not started"
    assert checks.mystery_diagnosis(lr_case, "shuffled_labels").status == "not yet"
