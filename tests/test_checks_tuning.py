"""The exercise checks of 09_hyperparameter_search: pass on the solution, explain the typical mistakes."""

import numpy as np
import pandas as pd
import pytest

from helpers import checks, models, training
from helpers.checks import _core
from helpers.checks import tuning as tuning_checks


def _run(check, answer, capsys):
    result = check(answer)
    return result, capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- exercise 1


def build_solution(hp):
    filters = hp.Choice("filters", [8, 16, 32])
    learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    head = hp.Choice("head", ["flatten", "gap"])
    model = models.simple_cnn((28, 28, 1), 10, filters=(filters, 2 * filters), head=head)
    return training.compile_classifier(model, learning_rate=learning_rate)


def _variant(
    *, sampling="log", names=("filters", "learning_rate", "head"), compile_it=True, use_filters=True, use_lr=True,
    use_head=True, double=True, lr_choice=False, lr_range=(1e-4, 1e-2), ret=True,
):  # fmt: skip
    def build(hp):
        f = hp.Choice(names[0], [8, 16, 32])
        if lr_choice:
            lr = hp.Choice(names[1], [1e-4, 1e-3, 1e-2])
        else:
            lr = hp.Float(names[1], *lr_range, sampling=sampling)
        head = hp.Choice(names[2], ["flatten", "gap"])
        f = f if use_filters else 16
        model = models.simple_cnn(
            (28, 28, 1), 10, filters=(f, 2 * f) if double else (f, f), head=head if use_head else "flatten"
        )
        if compile_it:
            training.compile_classifier(model, learning_rate=lr if use_lr else 1e-3)
        return model if ret else None

    return build


def test_tuner_build_function_passes_on_the_solution(capsys):
    result, out = _run(checks.tuner_build_function, build_solution, capsys)
    assert result and "passed" in out


def test_tuner_build_function_on_the_stub(capsys):
    def stub(hp):
        raise NotImplementedError

    result, out = _run(checks.tuner_build_function, stub, capsys)
    assert not result and "Not started yet" in out


def test_tuner_build_function_checks_the_notebooks_dataset(capsys):
    """On a 5-class colour dataset the model must take its images and name its classes."""

    def colour_build(hp):
        filters = hp.Choice("filters", [8, 16, 32])
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        head = hp.Choice("head", ["flatten", "gap"])
        model = models.simple_cnn((32, 24, 3), 5, filters=(filters, 2 * filters), head=head)
        return training.compile_classifier(model, learning_rate=learning_rate)

    result = checks.tuner_build_function(colour_build, input_shape=(32, 24, 3), num_classes=5)
    assert result and "passed" in capsys.readouterr().out
    result = checks.tuner_build_function(build_solution, input_shape=(32, 24, 3), num_classes=5)
    out = capsys.readouterr().out
    assert not result and "input (32, 24, 3) and 5 classes" in out and "Received input (28, 28, 1), 10" in out
    assert not checks.tuner_build_function(colour_build)  # the default is the digits
    assert "ds.input_shape" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, hint",
    [
        (_variant(sampling="linear"), "Sample the learning rate on a log scale"),
        (_variant(names=("filters", "lr", "head")), "Declare 'learning_rate' on hp"),
        (_variant(lr_choice=True), "learning_rate should be a continuous range, hp.Float"),
        (_variant(lr_range=(1e-5, 1e-1)), "learning_rate should range from 1e-4 to 1e-2"),
        (_variant(compile_it=False), "The model is not compiled"),
        (_variant(use_filters=False), "Pass the value returned by hp.Choice"),
        (_variant(double=False), r"filters=\(f, 2 \* f\)"),
        (_variant(use_head=False), "pass head=head"),
        (_variant(use_lr=False), "pass learning_rate=learning_rate to compile_classifier"),
        (_variant(ret=False), "returned nothing"),
        (build_solution(__import__("keras_tuner").HyperParameters()), "Pass your function `build_model` itself"),
    ],
)
def test_tuner_build_function_hints(answer, hint, capsys):
    result, out = _run(checks.tuner_build_function, answer, capsys)
    assert not result
    assert __import__("re").search(hint, out), out


# ---------------------------------------------------------------------------------------------- exercise 2


def reruns(scores, seeds=(1, 2, 3), name="rerun"):
    """A tuning.rerun_with_seeds table: one row per seed, the trial's score and its final weights' accuracy."""
    return pd.DataFrame(
        {"name": name, "seed": list(seeds), "score": scores, "val_accuracy": [s - 0.01 for s in scores]}
    )


WINNER = reruns([0.934, 0.940, 0.934])
BEHIND, AHEAD, MIXED = reruns([0.918, 0.924, 0.912]), reruns([0.95, 0.945, 0.941]), reruns([0.93, 0.945, 0.92])


@pytest.mark.parametrize(
    ("prediction", "runner_up", "praise"),
    [
        ("holds", BEHIND, "survived other seeds"),
        (" Holds", BEHIND, "survived other seeds"),
        ("flips", AHEAD, "winner's curse"),
        ("tie", MIXED, "within the seed noise"),
    ],
)
def test_ranking_prediction_passes_when_it_agrees_with_the_reruns(prediction, runner_up, praise):
    result = checks.ranking_prediction(prediction, WINNER, runner_up, search_scores=[0.924, 0.94])
    assert result and praise in result.message, result.message
    assert "The search's margin was 1.6%" in result.message  # best first, whatever the order given


def test_ranking_prediction_reads_the_reruns_seed_by_seed():
    result = checks.ranking_prediction("holds", WINNER, BEHIND, search_scores=[0.94, 0.924])
    assert "winner minus runner-up, seed by seed: +1.6%, +1.6%, +2.2%" in result.message
    assert "1.6%, larger than the 0.6% over which the winner's own seeds spread" in result.message
    close = checks.ranking_prediction("holds", WINNER, BEHIND, search_scores=[0.94, 0.937])
    assert "no larger than the 0.6%" in close.message
    assert checks.ranking_prediction("holds", WINNER, BEHIND)  # without the search's scores too


@pytest.mark.parametrize(
    ("prediction", "runner_up", "hint"),
    [
        ("tie", BEHIND, "You predicted a tie; in this run it holds"),
        ("flips", BEHIND, "You predicted that it flips; in this run it holds"),
        ("holds", AHEAD, "in this run it flips"),
        ("holds", MIXED, "in this run it is a tie"),
        ("maybe", BEHIND, 'answer "holds" or "flips" or "tie"'),
        (True, BEHIND, 'answer "holds" or "flips" or "tie"'),
    ],
)
def test_ranking_prediction_fails_with_an_explanation(prediction, runner_up, hint):
    result = checks.ranking_prediction(prediction, WINNER, runner_up, search_scores=[0.94, 0.924])
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_ranking_prediction_needs_the_same_seeds_for_both():
    other_seeds = reruns([0.9, 0.91, 0.92], seeds=(4, 5, 6))
    result = checks.ranking_prediction("holds", WINNER, other_seeds)
    assert not result and "retrained with the same seeds" in result.message
    assert "Pass the runner-up's reruns" in checks.ranking_prediction("holds", WINNER, [0.9, 0.91]).message


# ---------------------------------------------------------------------------------------------- exercise 3


def trustworthy_solution(top_scores, seed_scores):
    best, runner_up = sorted(top_scores, reverse=True)[:2]
    return bool(best - runner_up > 2 * np.std(seed_scores, ddof=1))


def test_ranking_is_trustworthy_passes(capsys):
    result, out = _run(checks.ranking_is_trustworthy, trustworthy_solution, capsys)
    assert result and "passed" in out
    ddof0 = lambda t, s: sorted(t)[-1] - sorted(t)[-2] > 2 * np.std(s)  # noqa: E731 - both conventions pass
    assert checks.ranking_is_trustworthy(ddof0)


def test_ranking_is_trustworthy_on_the_stub(capsys):
    def stub(top_scores, seed_scores):
        raise NotImplementedError

    result, out = _run(checks.ranking_is_trustworthy, stub, capsys)
    assert not result and "Not started yet" in out


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda t, s: sorted(t)[-1] - sorted(t)[0] > 2 * np.std(s, ddof=1), "not the best and the worst"),
        (lambda t, s: t[0] - t[1] > 2 * np.std(s, ddof=1), "not sorted"),
        (lambda t, s: sorted(t)[-1] - sorted(t)[-2] > np.std(s, ddof=1), "require gap > 2 * noise"),
        (lambda t, s: sorted(t)[-1] - sorted(t)[-2], "Return True or False"),
        (lambda t, s: None, "returned nothing"),
        (lambda t, s: False, "the answer is True"),
    ],
)
def test_ranking_is_trustworthy_hints(answer, hint, capsys):
    result, out = _run(checks.ranking_is_trustworthy, answer, capsys)
    assert not result and hint in out, out


# ---------------------------------------------------------------------------------------------- reference answers
# The stubs exactly as the notebook's exercise cells hold them; the references stand in for the cells after them.


def nb_ranking_is_trustworthy(top_scores, seed_scores):
    # YOUR CODE HERE: gap between the two highest top_scores vs 2 x the std of seed_scores.
    raise NotImplementedError


def nb_build_model(hp):
    # YOUR CODE HERE: declare filters, learning_rate and head on hp, then build, compile and return.
    raise NotImplementedError


def test_an_untouched_stub_is_not_started_and_the_reference_stands_in(fresh_kernel):
    assert checks.ranking_is_trustworthy(nb_ranking_is_trustworthy).status == "not started"
    reference = _core.answer("ranking_is_trustworthy", nb_ranking_is_trustworthy)
    assert reference is not nb_ranking_is_trustworthy and checks.ranking_is_trustworthy(reference)


def test_the_untouched_prediction_is_not_started():
    prediction = ...  # the notebook's stub
    assert checks.ranking_prediction(prediction, WINNER, BEHIND).status == "not started"


def test_the_untouched_build_function_is_not_started():
    assert checks.tuner_build_function(nb_build_model, (28, 28, 1), 10).status == "not started"


def test_the_references_refuse_what_has_no_answer():
    with pytest.raises(ValueError, match="at least two top scores"):
        tuning_checks._ranking_is_trustworthy_reference()([0.9], [0.9, 0.91])
