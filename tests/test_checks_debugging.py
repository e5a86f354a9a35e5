"""The 10 self-checks (mystery runs): they pass on the right diagnosis and a real fix, and explain
wrong names, fixes that change the wrong thing or leave the fault, fixes that do not train, and stubs."""

import dataclasses

import pytest

from helpers import checks, data
from helpers.diagnostics import faults


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
