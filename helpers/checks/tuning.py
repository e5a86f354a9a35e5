"""Checks for ``09_hyperparameter_search``: a KerasTuner build function, predicting whether a search's
ranking of its best two trials survives other seeds, and telling a real difference from seed noise."""

from __future__ import annotations

import math

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_callable, word_answer

__all__ = ["tuner_build_function", "ranking_prediction", "ranking_is_trustworthy"]


def _conv_filters(model) -> list[int]:
    import keras

    return [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


@exercise("Exercise: a KerasTuner build function")
def tuner_build_function(build_fn, input_shape=(28, 28, 1), num_classes: int = 10) -> str:
    """``build_fn(hp)`` declares filters, learning_rate (log) and head, and returns a compiled CNN.

    Args:
        build_fn: the learner's ``build_model(hp)``.
        input_shape, num_classes: the notebook's dataset (``ds.input_shape``, ``ds.num_classes``);
            the default is mnist5k's 28x28x1 digits in 10 classes.
    """
    import keras
    import keras_tuner as kt

    if isinstance(build_fn, keras.Model):
        raise Hint(
            "Pass your function `build_model` itself (no parentheses), not a model it built: the tuner "
            "calls it once per trial."
        )
    require_callable(build_fn, "build_model")
    hp = kt.HyperParameters()
    model = build_fn(hp)
    require(
        model is not None and model is not Ellipsis, "build_model(hp) returned nothing. End it with `return model`."
    )
    require(
        isinstance(model, keras.Model), f"build_model(hp) must return a Keras model. Received {type(model).__name__}."
    )
    declared = {p.name: p for p in hp.space}
    missing = [n for n in ("filters", "learning_rate", "head") if n not in declared]
    require(
        not missing,
        f"Declare {', '.join(repr(n) for n in missing)} on hp (you declared {sorted(declared) or 'nothing'}). "
        "KerasTuner knows a hyperparameter by its name, so the names must match exactly, e.g. "
        "hp.Choice('filters', [8, 16, 32]).",
    )
    lr = declared["learning_rate"]
    require(
        isinstance(lr, kt.engine.hyperparameters.Float),
        f"learning_rate should be a continuous range, hp.Float(...), not {type(lr).__name__}: a range lets "
        "the search try values between the ones you would have listed.",
    )
    require(
        math.isclose(lr.min_value, 1e-4) and math.isclose(lr.max_value, 1e-2),
        f"learning_rate should range from 1e-4 to 1e-2. Received {lr.min_value:g} to {lr.max_value:g}.",
    )
    require(
        lr.sampling == "log",
        "Sample the learning rate on a log scale: hp.Float(..., sampling='log'). With the default linear "
        "sampling, 90% of the trials would land between 1e-3 and 1e-2 and almost none near 1e-4.",
    )
    filters = declared["filters"]
    values = sorted(getattr(filters, "values", []) or [])
    require(
        isinstance(filters, kt.engine.hyperparameters.Choice) and values == [8, 16, 32],
        f"filters should be hp.Choice('filters', [8, 16, 32]). Received {type(filters).__name__} {values or ''}.",
    )
    head = declared["head"]
    require(
        sorted(getattr(head, "values", []) or []) == ["flatten", "gap"],
        "head should be hp.Choice('head', ['flatten', 'gap']).",
    )
    require(
        getattr(model, "optimizer", None) is not None,
        "The model is not compiled: KerasTuner trains what you return, so call "
        "training.compile_classifier(model, learning_rate=learning_rate) before returning it.",
    )
    require(
        tuple(model.input_shape[1:]) == tuple(input_shape) and model.output_shape[-1] == num_classes,
        f"Build the model for the dataset, input {tuple(input_shape)} and {num_classes} classes: "
        "input_shape=ds.input_shape, num_classes=ds.num_classes. "
        f"Received input {tuple(model.input_shape[1:])}, {model.output_shape[-1]} outputs.",
    )

    chosen = hp.copy()
    chosen.values.update({"filters": 32, "learning_rate": 0.005, "head": "gap"})
    model = build_fn(chosen)
    convs = _conv_filters(model)
    require(
        bool(convs) and convs[0] == 32,
        f"With filters=32 chosen by the tuner, your first conv layer has {convs[0] if convs else 'no'} filters. "
        "Pass the value returned by hp.Choice(...) to simple_cnn instead of a number you typed.",
    )
    require(64 in convs, f"Use two blocks that double: filters=(f, 2 * f). Your conv layers have {convs} filters.")
    require(
        any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers),
        "With head='gap' chosen by the tuner, your model has no global average pooling: pass head=head.",
    )
    used_lr = float(np.asarray(model.optimizer.learning_rate))
    require(
        math.isclose(used_lr, 0.005, rel_tol=1e-4),
        f"With learning_rate=0.005 chosen by the tuner, your optimizer uses {used_lr:g}: pass "
        "learning_rate=learning_rate to compile_classifier.",
    )
    return "Your build function declares the space and builds exactly the model each trial asks for."


# What a prediction of the top two's ranking may say, and the words that mean each.
_RANKING_WORDS = {
    "holds": ("holds", "hold", "stays", "kept", "same"),
    "flips": ("flips", "flip", "reverses", "swaps", "swapped"),
    "tie": ("tie", "ties", "tied", "mixed", "unclear", "no clear difference"),
}


def _ranking_answer(value) -> str:
    return word_answer(
        value,
        _RANKING_WORDS,
        "Your prediction",
        " (holds: the winner beats the runner-up on every seed; flips: the runner-up beats the winner on every "
        "seed; tie: they trade places)",
    )


def _scores_by_seed(runs, what: str):
    import pandas as pd

    require(
        isinstance(runs, pd.DataFrame) and {"seed", "score"} <= set(runs.columns) and len(runs) >= 2,
        f"Pass the {what}'s reruns, the table tuning.rerun_with_seeds returned (two seeds or more).",
    )
    return runs.groupby("seed")["score"].mean()


def _measured_ranking(winner_runs, runner_up_runs) -> tuple:
    """``("holds" | "flips" | "tie", differences)``: the winner's rerun score minus the runner-up's, paired
    by seed; "holds" when the winner is better on every seed, "flips" when worse on every seed."""
    winner = _scores_by_seed(winner_runs, "winner")
    runner_up = _scores_by_seed(runner_up_runs, "runner-up")
    shared = winner.index.intersection(runner_up.index)
    require(
        len(shared) >= 2,
        "The winner and the runner-up must be retrained with the same seeds (SEEDS), at least two: "
        f"received seeds {list(winner.index)} and {list(runner_up.index)}.",
    )
    diffs = winner.loc[shared] - runner_up.loc[shared]
    if (diffs > 0).all():
        return "holds", diffs
    if (diffs < 0).all():
        return "flips", diffs
    return "tie", diffs


@exercise("Exercise: predict whether the search's ranking holds")
def ranking_prediction(predicted, winner_runs, runner_up_runs, search_scores=None) -> str:
    """``predicted`` ("holds", "flips" or "tie"), written before the search's best two trials were
    retrained with other seeds, agrees with what the reruns measured (:func:`_measured_ranking`).

    Args:
        winner_runs, runner_up_runs: :func:`helpers.tuning.rerun_with_seeds` tables of the two.
        search_scores: the two trials' scores in the search (best first), for the explanation.
    """
    answer = _ranking_answer(predicted)
    measured, diffs = _measured_ranking(winner_runs, runner_up_runs)
    winner = _scores_by_seed(winner_runs, "winner")
    k, spread = len(diffs), float(winner.max() - winner.min())
    what = (
        f"retrained with {k} seeds, the winner scored {winner.mean():.1%} on average and the runner-up "
        f"{_scores_by_seed(runner_up_runs, 'runner-up').mean():.1%}; winner minus runner-up, seed by seed: "
        + ", ".join(f"{d:+.1%}" for d in diffs)
    )
    margin = ""
    if search_scores is not None:
        best, second = sorted((float(s) for s in search_scores), reverse=True)[:2]
        relation = "larger" if best - second > spread else "no larger"
        margin = (
            f" The search's margin was {best - second:.1%}, {relation} than the {spread:.1%} over which the "
            "winner's own seeds spread."
        )
    if measured == "holds":
        lesson = (
            "The search's ranking survived other seeds here; with this few seeds, 'better on every seed' is "
            "the least a difference must show before you believe it."
        )
    elif measured == "flips":
        lesson = "The runner-up was the better configuration: the winner won the search by luck, the winner's curse."
    else:
        lesson = (
            "The two traded places from seed to seed: their difference is within the seed noise, so the "
            "search's ranking of them says nothing."
        )
    if answer != measured:
        names = {"holds": "that the ranking holds", "flips": "that it flips", "tie": "a tie"}
        raise Hint(
            f"You predicted {names[answer]}; in this run it {'is a tie' if measured == 'tie' else measured}: "
            f"{what}.{margin} {lesson}"
        )
    return f"Your prediction agrees with the reruns: {what}.{margin} {lesson}"


def _noise_cases():
    # (top_scores, seed_scores, expected, wrong_answers): wrong answers say which mistake gives them.
    return [
        ([0.95, 0.90, 0.80], [0.94, 0.95, 0.945], True),
        ([0.951, 0.948, 0.90], [0.94, 0.955, 0.947], False),
        ([0.90, 0.97, 0.95], [0.96, 0.962, 0.958], True),  # not sorted
        ([0.960, 0.950], [0.95, 0.96, 0.965, 0.955], False),  # gap between 1 and 2 noise widths
        ([0.96, 0.958, 0.90], [0.955, 0.96, 0.965], False),  # best vs worst would say True
    ]


def _ranking_is_trustworthy(top_scores, seed_scores) -> bool:
    """True when the best of ``top_scores`` beats the runner-up by more than twice the seed noise
    (``np.std(seed_scores, ddof=1)``)."""
    if len(top_scores) < 2 or len(seed_scores) < 2:
        raise ValueError(
            f"Pass at least two top scores and two seed scores. Received {len(top_scores)} and {len(seed_scores)}."
        )
    best, runner_up = sorted(top_scores, reverse=True)[:2]
    return bool(best - runner_up > 2 * np.std(seed_scores, ddof=1))


def _ranking_is_trustworthy_reference():
    """The course's ``ranking_is_trustworthy(top_scores, seed_scores)``, for the cells after the exercise."""
    return _ranking_is_trustworthy


@exercise("Exercise: is the ranking real or seed noise?", reference=_ranking_is_trustworthy_reference)
def ranking_is_trustworthy(fn) -> str:
    """``fn(top_scores, seed_scores)``: True iff best - runner-up > 2 x std(seed_scores, ddof=1)."""
    require_callable(fn, "ranking_is_trustworthy")
    for top, seeds, expected in _noise_cases():
        got = fn(list(top), list(seeds))
        require(got is not None and got is not Ellipsis, "Your function returned nothing. Did you forget `return`?")
        if not isinstance(got, (bool, np.bool_)):
            raise Hint(f"Return True or False (a comparison such as gap > 2 * noise). Received {got!r}.")
        if bool(got) == expected:
            continue
        s = sorted(top, reverse=True)
        noise = float(np.std(seeds, ddof=1))
        if bool(got) and s[0] - s[-1] > 2 * noise and not (s[0] - s[1] > 2 * noise):
            raise Hint(
                f"For top scores {top} you said the ranking is real. The question is whether the *best* beat "
                "the *runner-up* by more than the noise: compare the two highest scores, not the best and "
                "the worst."
            )
        if top[0] - top[1] != s[0] - s[1]:
            raise Hint(
                f"The scores {top} are not sorted. Sort them (highest first) before taking the gap between "
                "the best and the runner-up."
            )
        if bool(got) and s[0] - s[1] > noise:
            raise Hint(
                f"Top {top}, seeds {seeds}: the gap {s[0] - s[1]:.4f} exceeds one standard deviation "
                f"({noise:.4f}) but not two. Both scores wobble by about one noise width, so their difference "
                "wobbles by about 1.4 widths, and a gap of one width happens by luck about one time in two; "
                "require gap > 2 * noise."
            )
        raise Hint(
            f"For top scores {top} and seed scores {seeds} the answer is {expected}: gap = best - runner-up "
            f"= {s[0] - s[1]:.4f}, noise = np.std(seed_scores, ddof=1) = {noise:.4f}; trust the ranking when "
            "gap > 2 * noise."
        )
    return "Right: a ranking is only worth trusting when the gap is larger than the seed-to-seed noise."
