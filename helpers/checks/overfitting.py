"""Checks for ``08_overfitting``: diagnosing bias and variance, predicting and extrapolating a
training-set-size curve, designing a fair test of augmentation, and the capstone's validation accuracy
(the test split is never looked at by a check: 08 evaluates it once, in its final cell)."""

from __future__ import annotations

import math

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, NotStarted, exercise, require, require_callable, word_answer
from helpers.checks._design import two_arm_design

__all__ = ["diagnose_fit", "curve_prediction", "extrapolate_error", "augmentation_design", "capstone_accuracy"]

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


# The answers a prediction may give, and the words that mean each.
_GAP_WORDS = {
    "shrinks": ("shrinks", "shrink", "closes", "narrows", "falls", "decreases", "smaller"),
    "grows": ("grows", "grow", "widens", "opens", "rises", "increases", "larger"),
}


def _gap_answer(value) -> str:
    return word_answer(value, _GAP_WORDS, '"big_gap"')


def _curve_by_size(curve, name: str):
    """Mean train accuracy, validation accuracy and gap of model ``name`` per training-set size."""
    import pandas as pd

    require(
        isinstance(curve, pd.DataFrame)
        and {"name", "train_size", "train_accuracy", "val_accuracy", "gap"} <= set(curve),
        "Pass the measured curve, the table `learning_curves.learning_curve_by_size` returned (`curve`).",
    )
    rows = curve[curve["name"] == name]
    require(
        rows["train_size"].nunique() >= 2,
        f"The curve has no run of the {name!r} model at two sizes or more: pass `curve`, with both models' runs.",
    )
    return rows.groupby("train_size")[["train_accuracy", "val_accuracy", "gap"]].mean()


@exercise("Exercise: predict the training-set-size curves")
def curve_prediction(predicted, curve, target: float = 0.97) -> str:
    """``predicted``, written before the curves were trained: ``{"big_gap": "shrinks" or "grows",
    "tiny_reaches_target": True or False}``, how the big model's train-minus-validation gap moves from
    the smallest to the largest size, and whether the tiny model's validation accuracy at the largest
    size reaches ``target``. ``curve`` is what was measured (``learning_curve_by_size`` rows of both
    models, named "big" and "tiny"): the prediction passes when it agrees with it."""
    keys = ("big_gap", "tiny_reaches_target")
    if predicted is Ellipsis:
        raise NotStarted(f"Write your prediction as a dict with the keys {', '.join(map(repr, keys))}.")
    require(
        isinstance(predicted, dict),
        f'Write your prediction as a dict: {{"big_gap": "shrinks" or "grows", "tiny_reaches_target": True or '
        f"False}}. Received {type(predicted).__name__}.",
    )
    missing = [k for k in keys if k not in predicted]
    require(not missing, f"Add your prediction for {', '.join(map(repr, missing))}.")
    target = _validate.fraction(target, "target", closed=True)
    gap = _gap_answer(predicted["big_gap"])
    reaches = predicted["tiny_reaches_target"]
    if reaches is Ellipsis or reaches is None:
        raise Hint('"tiny_reaches_target": replace the `...` with True or False.')
    require(
        isinstance(reaches, (bool, np.bool_)),
        f'"tiny_reaches_target": answer True or False (not text). Received {reaches!r}.',
    )

    big, tiny = _curve_by_size(curve, "big"), _curve_by_size(curve, "tiny")
    n0, n1 = int(big.index[0]), int(big.index[-1])
    g0, g1 = float(big["gap"].iloc[0]), float(big["gap"].iloc[-1])
    t0, t1 = float(big["train_accuracy"].iloc[0]), float(big["train_accuracy"].iloc[-1])
    v0, v1 = float(big["val_accuracy"].iloc[0]), float(big["val_accuracy"].iloc[-1])
    measured_gap = "shrinks" if g1 < g0 else "grows"
    tiny_n, tiny_val = int(tiny.index[-1]), float(tiny["val_accuracy"].iloc[-1])
    tiny_train = float(tiny["train_accuracy"].max())
    measured_reaches = tiny_val >= target

    big_story = (
        f"the big model's gap went from {g0:.1%} at {n0:,} examples to {g1:.1%} at {n1:,} (training accuracy "
        f"{t0:.1%} -> {t1:.1%}, validation {v0:.1%} -> {v1:.1%})"
    )
    tiny_story = (
        f"the tiny model reached {tiny_val:.1%} on validation at {tiny_n:,} examples (target {target:.0%}), its "
        f"training accuracy at most {tiny_train:.1%} over the sizes"
    )
    wrong = []
    if gap != measured_gap:
        if measured_gap == "shrinks":
            why = (
                "A model with room to memorize fits any training set it is given; more examples are harder to "
                "memorize and say more about digits it has not seen, so validation accuracy catches up: more "
                "data is the cure for variance."
            )
        else:
            why = (
                "Look at the epochs each size got (`epochs_run`): a run that has not fitted its training set "
                "yet has a small gap for that reason."
            )
        wrong.append(f"You predicted that the big model's gap {gap}; in this run it {measured_gap}: {big_story}. {why}")
    if bool(reaches) != measured_reaches:
        if measured_reaches:
            why = "In this run more data was enough for it."
        else:
            why = (
                "A model that cannot fit even its training digits to the target will not reach it on new ones: "
                "that is bias, and more data does not cure it (more capacity does)."
            )
        said = "would reach" if reaches else "would not reach"
        wrong.append(f"You predicted that the tiny model {said} the target; {tiny_story}. {why}")
    if wrong:
        raise Hint(" ".join(wrong))
    lesson = []
    if measured_gap == "shrinks":
        lesson.append("a gap that closes as data grows is variance")
    if not measured_reaches:
        lesson.append("a model that stays below the target however much data it gets is bias")
    return f"Both predictions agree with the run: {big_story}; {tiny_story}." + (
        f" The two shapes to recognize: {' and '.join(lesson)}." if lesson else ""
    )


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


def _augmentation_design_reference(model, epochs: int, seeds, augment, patience: int | None = None):
    """The course's design, for the cells after the exercise: the big ``model`` without and with the
    ``augment`` preset, the same ``epochs`` (and early stopping ``patience``), trained on ``seeds`` and
    decided on validation accuracy (08 passes ``BIG, FIX_EPOCHS, DESIGN_SEEDS, DATASET, PATIENCE``)."""
    from helpers import experiments

    budget = {"model": dict(model), "epochs": _validate.positive_int(epochs, "epochs")}
    if patience is not None:
        budget["patience"] = _validate.positive_int(patience, "patience")
    arms = {"baseline": budget, "augmentation": {**budget, "augment": augment}}
    return experiments.Design(arms=arms, seeds=_validate.seeds(seeds), metric="val_accuracy")


def _no_augmentation(value) -> bool:
    return value is None or value is False


@exercise("Exercise: design a fair test of augmentation", reference=_augmentation_design_reference)
def augmentation_design(design, model, epochs: int, seeds) -> str:
    """``design`` (an ``experiments.Design``) tests whether augmentation helps ``model`` (08's ``BIG``):
    a baseline arm without augmentation and one arm that differs from it only in ``augment``, within the
    notebook's ``epochs`` and ``seeds`` budget (:func:`helpers.checks._design.two_arm_design`)."""
    from helpers import augment as augment_module

    (base_name, base), (name, variant) = two_arm_design(
        design,
        "augment",
        model=model,
        epochs=epochs,
        seeds=seeds,
        what="augmentation",
        model_name="BIG",
        epochs_name="FIX_EPOCHS",
    )
    if not _no_augmentation(base.get("augment")):
        raise Hint(
            f"Your first arm, {base_name!r}, augments (augment={base.get('augment')!r}). The first arm is the "
            "baseline that the verdict compares with: put the arm without augmentation first."
        )
    value = variant.get("augment")
    if _no_augmentation(value) or value is True or not (isinstance(value, str) or callable(value)):
        raise Hint(
            f"Arm {name!r} has augment={value!r}, which is no augmentation runs.train can apply: pass a preset "
            "or dataset name, e.g. augment=DATASET (the digits preset of notebook 02)."
        )
    if isinstance(value, str):
        try:
            augment_module.preset(value)
        except ValueError as exc:
            raise Hint(f"Arm {name!r}: {exc}") from None
    n = len(set(design.seeds))
    stops = f" with early stopping (patience {base['patience']})" if "patience" in base else ""
    return (
        f"A fair test: {name!r} differs from {base_name!r} only in augment, both train the big model for "
        f"{epochs} epochs{stops} on the same {n} seeds, and {design.metric} decides. The cell below runs it."
    )


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
