"""The exercise checks of 09_hyperparameter_search: pass on the solution, explain the typical mistakes."""

import numpy as np
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


def pick_best_solution(results):
    return results.loc[results["score"].idxmax(), results.attrs["hyperparameters"]].to_dict()


def test_pick_best_passes_on_the_solution(capsys):
    result, out = _run(checks.pick_best, pick_best_solution, capsys)
    assert result and "passed" in out
    loop = lambda r: {n: r.loc[r["score"].idxmax(), n] for n in r.attrs["hyperparameters"]}  # noqa: E731
    assert checks.pick_best(loop)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda r: ..., "returned nothing"),
        (lambda r: r.loc[r["score"].idxmin(), r.attrs["hyperparameters"]].to_dict(), "lowest"),
        (lambda r: r.loc[0, r.attrs["hyperparameters"]].to_dict(), "first row"),
        (lambda r: r.loc[r["score"].idxmax()].to_dict(), "Keep only the hyperparameters"),
        (lambda r: r.loc[r["score"].idxmax(), r.attrs["hyperparameters"]], "Return a plain dict"),
        (
            lambda r: {r.attrs["hyperparameters"][0]: r.loc[r["score"].idxmax(), r.attrs["hyperparameters"][0]]},
            "misses",
        ),
        (lambda r: {n: r.loc[2, n] for n in r.attrs["hyperparameters"]}, "expected"),
        (lambda r: [1], "Return a dict"),
    ],
)
def test_pick_best_hints(answer, hint, capsys):
    result, out = _run(checks.pick_best, answer, capsys)
    assert not result and hint in out, out


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


def nb_pick_best(results):
    # YOUR CODE HERE: the row with the highest score -> {name: value} for the searched names only.
    ...


def nb_ranking_is_trustworthy(top_scores, seed_scores):
    # YOUR CODE HERE: gap between the two highest top_scores vs 2 x the std of seed_scores.
    raise NotImplementedError


def nb_build_model(hp):
    # YOUR CODE HERE: declare filters, learning_rate and head on hp, then build, compile and return.
    raise NotImplementedError


@pytest.mark.parametrize(
    ("name", "stub_fn"), [("pick_best", nb_pick_best), ("ranking_is_trustworthy", nb_ranking_is_trustworthy)]
)
def test_an_untouched_stub_is_not_started_and_the_reference_stands_in(fresh_kernel, name, stub_fn):
    check = getattr(checks, name)
    assert check(stub_fn).status == "not started"  # pick_best's stub is a body of `...`: it returns None
    reference = _core.answer(name, stub_fn)
    assert reference is not stub_fn and check(reference), f"the reference of {name} fails its own check"


def test_the_untouched_build_function_is_not_started():
    assert checks.tuner_build_function(nb_build_model, (28, 28, 1), 10).status == "not started"


def test_the_references_refuse_what_has_no_answer():
    nan = [float("nan")] * 4  # every trial failed
    table = tuning_checks._fake_results(
        {"head": ["gap"] * 4, "score": nan, "best_epoch": nan, "epochs": nan, "seconds": nan}, ["head"]
    )
    with pytest.raises(ValueError, match="No trial completed"):
        tuning_checks._pick_best_reference()(table)
    with pytest.raises(ValueError, match="at least two top scores"):
        tuning_checks._ranking_is_trustworthy_reference()([0.9], [0.9, 0.91])
