"""Checks for ``09_hyperparameter_search``: a KerasTuner build function, reading a results table,
and telling a real difference between trials from seed noise."""

from __future__ import annotations

import math

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_callable

__all__ = ["tuner_build_function", "pick_best", "ranking_is_trustworthy"]


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


def _fake_results(columns: dict, names):
    import pandas as pd

    df = pd.DataFrame({"trial": [0, 1, 2, 3], **columns, "status": ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"]})
    df.attrs.update(hyperparameters=list(names), objective="val_accuracy", direction="max")
    return df


def _results_cases():
    """Two results tables of four trials (the third failed), with their best and worst row."""
    nan = float("nan")
    a = _fake_results(
        {"learning_rate": [1e-3, 5e-3, 3e-2, 2e-4], "head": ["gap", "flatten", "gap", "flatten"],
         "score": [0.91, 0.95, nan, 0.62], "best_epoch": [4, 5, nan, 3], "epochs": [6, 6, nan, 3],
         "seconds": [5.0, 4.0, nan, 2.0]},
        ["learning_rate", "head"],
    )  # fmt: skip
    b = _fake_results(
        {"filters": [32, 8, 16, 16], "dropout": [0.2, 0.0, 0.4, 0.1], "score": [0.88, 0.71, nan, 0.93],
         "best_epoch": [2, 3, nan, 4], "epochs": [4, 3, nan, 4], "seconds": [3.0, 2.0, nan, 3.5]},
        ["filters", "dropout"],
    )  # fmt: skip
    return [(a, 1, 3), (b, 3, 1)]  # (table, best row, worst row)


def _same_values(got: dict, expected: dict) -> bool:
    if set(got) != set(expected):
        return False
    for k, v in expected.items():
        g = got[k]
        if isinstance(v, float):
            if not isinstance(g, (int, float, np.number)) or not math.isclose(float(g), v, rel_tol=1e-9):
                return False
        elif g != v:
            return False
    return True


def _pick_best(results) -> dict:
    """The best completed trial's searched hyperparameters ``{name: value}`` of a
    :func:`helpers.tuning.results_table` (its best row is :func:`helpers.tuning.results.best_row`'s)."""
    from helpers.tuning.results import best_row

    row = best_row(results)
    if row is None:
        raise ValueError("No trial completed, so there is no best configuration. Run tuning.search first.")
    values = {name: row[name] for name in results.attrs["hyperparameters"]}
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}


def _pick_best_reference():
    """The course's ``pick_best(results)``, for the cells after the exercise."""
    return _pick_best


@exercise("Exercise: pick the best configuration from a results table", reference=_pick_best_reference)
def pick_best(fn) -> str:
    """``fn(results)`` returns the best completed trial's hyperparameters as a dict."""
    import pandas as pd

    require_callable(fn, "pick_best")
    for table, best, worst in _results_cases():
        names = table.attrs["hyperparameters"]
        expected = {n: table.loc[best, n] for n in names}
        expected = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in expected.items()}
        got = fn(table.copy())
        require(got is not None and got is not Ellipsis, "pick_best returned nothing. Did you forget `return`?")
        if isinstance(got, (pd.Series, pd.DataFrame)):
            raise Hint(
                "Return a plain dict, e.g. row[names].to_dict(), not a pandas "
                f"{type(got).__name__}: build_model and the notebook expect {{name: value}}."
            )
        require(isinstance(got, dict), f"Return a dict {{name: value}}. Received {type(got).__name__}.")
        extra = sorted(set(got) - set(names))
        if extra:
            raise Hint(
                f"Keep only the hyperparameters (results.attrs['hyperparameters'] = {names}); your dict also "
                f"has {extra}, which are results, not settings."
            )
        missing = sorted(set(names) - set(got))
        require(not missing, f"Your dict misses {missing}: include every name in results.attrs['hyperparameters'].")
        if _same_values(got, {n: table.loc[worst, n] for n in names}):
            raise Hint(
                "You picked the trial with the *lowest* score. The objective (val_accuracy) is maximized: "
                "use idxmax, or sort descending."
            )
        if _same_values(got, {n: table.loc[0, n] for n in names}) and best != 0:
            raise Hint(
                "You returned the first row. Find the row with the highest score, e.g. results['score'].idxmax()."
            )
        require(
            _same_values(got, expected),
            f"For a table whose best trial is {int(table.loc[best, 'trial'])} (score "
            f"{table.loc[best, 'score']:.2f}) you returned {got}; expected {expected}. Failed trials have "
            "score NaN: idxmax skips them.",
        )
    return "You read the table right: the best completed trial, its hyperparameters only."


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
