"""Checks for ``08_overfitting``: diagnosing bias and variance, extrapolating a training-set-size
curve, choosing a recipe on validation results, and the capstone's validation accuracy (the test
split is never looked at by a check: 08 evaluates it once, in its final cell)."""

from __future__ import annotations

import math

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, exercise, require, require_callable

__all__ = ["diagnose_fit", "extrapolate_error", "pick_best_recipe", "capstone_accuracy"]

DIAGNOSES = ("high bias", "high variance", "good fit")


def _reference_diagnosis(train_acc: float, val_acc: float, target: float, max_gap: float) -> str:
    if train_acc < target:
        return "high bias"
    if train_acc - val_acc > max_gap:
        return "high variance"
    return "good fit"


def _diagnose_fit_reference(target: float, max_gap: float):
    """The course's ``diagnose(train_acc, val_acc, target=target, max_gap=max_gap)``, for the cells after
    the exercise; ``target`` and ``max_gap`` are the notebook's (``TARGET``, ``MAX_GAP``)."""
    target = _validate.fraction(target, "target", closed=True)
    max_gap = _validate.fraction(max_gap, "max_gap", closed=True)

    def diagnose(train_acc, val_acc, target=target, max_gap=max_gap):
        return _reference_diagnosis(train_acc, val_acc, target, max_gap)

    return diagnose


@exercise("Exercise: diagnose bias or variance", reference=_diagnose_fit_reference)
def diagnose_fit(fn) -> str:
    """``fn(train_acc, val_acc, target, max_gap)`` returns "high bias", "high variance" or "good fit"."""
    require_callable(fn, "diagnose")
    # (train, val, target, max_gap, what a wrong answer usually means)
    cases = [
        (0.999, 0.985, 0.97, 0.02, None),
        (1.000, 0.900, 0.97, 0.02, "gap"),
        (0.990, 0.940, 0.97, 0.02, "gap"),
        (0.800, 0.790, 0.97, 0.02, "bias"),
        (0.700, 0.550, 0.97, 0.02, "order"),
        (0.930, 0.900, 0.90, 0.05, "arguments"),
        (0.930, 0.860, 0.90, 0.05, "arguments"),
        (0.880, 0.870, 0.85, 0.02, "arguments"),
    ]
    for train, val, target, max_gap, trap in cases:
        expected = _reference_diagnosis(train, val, target, max_gap)
        got = fn(train, val, target, max_gap)
        call = f"diagnose(train_acc={train}, val_acc={val}, target={target}, max_gap={max_gap})"
        require(got is not None and got is not Ellipsis, f"{call} returned {got!r}. Did you forget to `return`?")
        require(
            isinstance(got, str) and got.strip().lower() in DIAGNOSES,
            f"{call} returned {got!r}. Return exactly one of {', '.join(map(repr, DIAGNOSES))}.",
        )
        got = got.strip().lower()
        if got == expected:
            continue
        if trap == "bias" or (expected == "high bias" and got == "good fit"):
            raise Hint(
                f"{call} should be 'high bias': the model reaches only {train:.0%} on the examples it "
                f"trains on, below the target {target:.0%}. When a model cannot fit its own training "
                "data, more data will not help; it needs more capacity or more training."
            )
        if trap == "order":
            raise Hint(
                f"{call} should be 'high bias'. The gap is large too, but check bias first: while the "
                "training accuracy is below the target, fixing variance (more regularization) only "
                "lowers it further."
            )
        if trap == "gap":
            raise Hint(
                f"{call} should be 'high variance': the model fits its training data ({train:.1%}) much "
                f"better than new data ({val:.1%}). The gap is train_acc - val_acc = {train - val:.3f} "
                f"> max_gap = {max_gap}."
            )
        if trap == "arguments":
            raise Hint(
                f"{call} should be {expected!r}. Use the `target` and `max_gap` arguments instead of "
                "fixed numbers: another dataset has another target."
            )
        raise Hint(
            f"{call} should be {expected!r}: compare train_acc with target first, then "
            "train_acc - val_acc with max_gap."
        )
    return "Right on eight cases. Bias first (can it fit what it sees?), then variance (does it generalize?)."


def _reference_extrapolation(sizes, errors, n) -> float:
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
    return float(np.exp(intercept + slope * np.log(n)))


def _extrapolate_error_reference():
    """The course's ``predict_error(sizes, errors, n)`` (a power law fitted in log-log space), for the
    cells after the exercise."""
    return _reference_extrapolation


@exercise("Exercise: extrapolate a training-set-size curve", reference=_extrapolate_error_reference)
def extrapolate_error(fn) -> str:
    """``fn(sizes, errors, n)`` fits ``log(error) = a + b log(size)`` and returns the error at ``n``."""
    require_callable(fn, "predict_error")
    rng = np.random.default_rng(8)
    cases = [
        (np.array([250, 500, 1000, 2000]), None, 4000),
        (np.array([100, 300, 900, 2700, 8100]), None, 20000),
        (np.array([500, 1000, 2000, 3500]), np.array([0.08, 0.05, 0.036, 0.028]), 7000),
    ]
    for sizes, errors, n in cases:
        if errors is None:
            errors = 1.8 * sizes**-0.45 * np.exp(rng.normal(0, 0.04, len(sizes)))
        expected = _reference_extrapolation(sizes, errors, n)
        got = fn(sizes.copy(), errors.copy(), n)
        call = f"predict_error(sizes={sizes.tolist()}, errors=[{', '.join(f'{e:.3f}' for e in errors)}], n={n})"
        require(got is not None and got is not Ellipsis, f"{call} returned {got!r}. Did you forget to `return`?")
        try:
            got = float(np.squeeze(got))
        except (TypeError, ValueError):
            raise Hint(f"{call} returned {type(got).__name__}; return one number, the predicted error.") from None
        if np.isclose(got, expected, rtol=1e-3):
            continue
        if np.isclose(got, np.log(expected), rtol=1e-3) or np.isclose(got, np.log10(expected), rtol=1e-3):
            raise Hint(f"{call} returned {got:.4f}, a logarithm of the error. Convert back: np.exp(a + b * np.log(n)).")
        linear = np.polyval(np.polyfit(sizes, errors, 1), n)
        if np.isclose(got, linear, rtol=1e-3):
            raise Hint(
                f"{call} returned {got:.4f}: a straight line through the raw numbers. Errors shrink like a "
                "power of the size, which is a straight line only in log-log space: fit "
                "np.log(errors) against np.log(sizes)."
            )
        semilog = np.polyval(np.polyfit(np.log(sizes), errors, 1), np.log(n))
        if np.isclose(got, semilog, rtol=1e-3):
            raise Hint(
                f"{call} returned {got:.4f}: you took the log of the sizes only. Take the log of the errors "
                "too, and np.exp the prediction."
            )
        if got <= 0 or got >= errors.max():
            raise Hint(
                f"{call} returned {got:.4f}, but the error at n={n} should be positive and below the smallest "
                f"size's error {errors.max():.3f}. Fit np.polyfit(np.log(sizes), np.log(errors), 1)."
            )
        raise Hint(
            f"{call} returned {got:.4f}; expected {expected:.4f}. Fit slope, intercept = "
            "np.polyfit(np.log(sizes), np.log(errors), 1), then return np.exp(intercept + slope * np.log(n))."
        )
    return (
        "Your power law matches on three curves. Each doubling of the data multiplies the error by the same "
        "factor, 2**slope."
    )


def _synthetic_table(names):
    import pandas as pd

    a, b, c, d = names
    # a: one lucky seed; b: best on average; c: best training fit; d: no gap because it fits nothing.
    rows = [
        (a, 1, 0.995, 0.90),
        (a, 2, 0.995, 0.99),
        (c, 1, 1.0, 0.93),
        (c, 2, 1.0, 0.94),
        (b, 1, 0.97, 0.96),
        (b, 2, 0.975, 0.965),
        (d, 1, 0.50, 0.50),
        (d, 2, 0.52, 0.52),
    ]
    table = pd.DataFrame(rows, columns=["name", "seed", "train_accuracy", "val_accuracy"])
    table["gap"] = table["train_accuracy"] - table["val_accuracy"]
    return table


def _best_recipe(table) -> str:
    """The configuration (``name``) with the highest mean validation accuracy over seeds, from a
    :func:`helpers.runs.table` (the mean is :func:`helpers.runs.summarize`'s)."""
    from helpers import runs

    return runs.summarize(table, metrics=("val_accuracy",))["val_accuracy_mean"].idxmax()


def _pick_best_recipe_reference():
    """The course's ``best_recipe(table)``, for the cells after the exercise."""
    return _best_recipe


@exercise("Exercise: choose a recipe on validation results", reference=_pick_best_recipe_reference)
def pick_best_recipe(fn) -> str:
    """``fn(table)`` returns the name of the configuration with the best mean validation accuracy."""
    require_callable(fn, "best_recipe")
    for names in (("lucky", "steady", "memorizer", "flat"), ("baseline", "both", "regularization", "augmentation")):
        table = _synthetic_table(names)
        got = fn(table.copy())
        require(got is not None and got is not Ellipsis, f"best_recipe returned {got!r}. Did you forget to `return`?")
        if not isinstance(got, str):
            raise Hint(
                f"best_recipe returned {type(got).__name__} {got!r}; return the configuration's name, a "
                "string from the table's `name` column (e.g. with .idxmax() on a Series indexed by name)."
            )
        lucky, steady, memorizer, flat = names
        if got == steady:
            continue
        if got == lucky:
            raise Hint(
                f"You picked {lucky!r}, whose best seed reached 99 %, but its other seed reached 90 %. One lucky "
                "seed is not a recipe: average each configuration over its seeds first "
                "(table.groupby('name')['val_accuracy'].mean())."
            )
        if got == memorizer:
            raise Hint(
                f"You picked {memorizer!r}, the best *training* accuracy. Training accuracy rewards memorizing; "
                "choose on validation accuracy."
            )
        if got == flat:
            raise Hint(
                f"You picked {flat!r}: the smallest gap or the lowest accuracy. A model that fits nothing has no "
                "gap; choose the highest mean validation accuracy (idxmax, not idxmin)."
            )
        raise Hint(f"best_recipe returned {got!r}, which is not a configuration in the table's `name` column.")
    return "Right: choose on the validation mean over seeds; the test split is kept for the very end."


CAPSTONE_VAL_TARGET = 0.98
"""08's validation target in ``full``: :data:`helpers.recipes.ACCURATE` reaches it on the median of
three seeds (``bench/capstone_seeds.py``)."""


def _capstone_accuracy_reference(data, epochs: int):
    """The course's capstone model, for the cells after the exercise: :data:`helpers.recipes.ACCURATE`
    with the notebook's epoch budget, trained on ``data`` (as 08's solution does; minutes in ``full``).

    Keras keeps the run's History on the model: ``model.history`` is what ``capstone_history`` holds in
    the solution.

    Args:
        data: the notebook's dataset (``ds``).
        epochs: the notebook's budget (``CAPSTONE_EPOCHS``).
    """
    from helpers import recipes

    recipe = recipes.ACCURATE.replace(epochs=_validate.positive_int(epochs, "epochs"))
    print(f"Training the course's capstone recipe for the cells below: {recipe}")
    model, _ = recipe.train(data)
    return model


@exercise("Exercise: capstone, beat the target validation accuracy", reference=_capstone_accuracy_reference)
def capstone_accuracy(model, data, target: float = CAPSTONE_VAL_TARGET) -> str:
    """``model`` (trained on ``data``'s training split) must reach ``target`` accuracy on its *validation*
    split (default :data:`CAPSTONE_VAL_TARGET`). Iterate on this as often as you like: it never looks at
    the test split, which the notebook evaluates once, at the end, for the recipe you settled on."""
    import keras

    from helpers import evaluation

    if model is None or model is Ellipsis:
        raise NotImplementedError
    require(
        isinstance(model, keras.Model),
        f"Pass your trained keras.Model (e.g. capstone_model). Received: {type(model).__name__}.",
    )
    expected = tuple(model.input_shape[1:])
    require(
        expected == data.input_shape,
        f"Your model expects inputs of shape {expected}, but {data.name!r} images have shape "
        f"{data.input_shape}. Build it with input_shape=ds.input_shape.",
    )
    require(
        model.output_shape[-1] == data.num_classes,
        f"Your model has {model.output_shape[-1]} outputs; {data.name!r} has {data.num_classes} classes.",
    )
    acc = evaluation.evaluate(model, data, "val")
    chance = 1.0 / data.num_classes
    if acc < chance + 0.1:
        raise Hint(
            f"Validation accuracy {acc:.1%} is close to chance ({chance:.0%}): is the model trained? Compile it "
            "(training.compile_classifier) and fit it (training.fit) before checking."
        )
    n_val = len(data.y_val)
    needed = math.ceil(target * n_val - 1e-9) - round(acc * n_val)
    require(
        acc >= target,
        f"Validation accuracy {acc:.2%} is below the target {target:.1%} ({needed} more validation "
        f"image{'s' if needed != 1 else ''} to get right). Ingredients from 02-07: the augmentation preset "
        "(augment.preset(DATASET)), a warmup-cosine schedule, enough epochs for augmented data, and "
        "EarlyStopping(restore_best_weights=True).",
    )
    return (
        f"Validation accuracy {acc:.2%} >= {target:.1%} on {n_val:,} validation images. The test split is "
        "evaluated once, in the notebook's final cell."
    )
