"""Checks for ``05_regularization``: how many penalty terms ``model.losses`` holds (predict, then
run), the fraction of near-zero weights, a dropout that is not inverted (find the bug), and a fair
test of dropout (design the experiment)."""

from __future__ import annotations

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, NotStarted, exercise, require, require_array, require_callable
from helpers.checks._design import two_arm_design

__all__ = ["penalty_terms_prediction", "near_zero_weight_fraction", "dropout_fix", "dropout_design"]


def _number(value, what: str) -> float:
    if value is None or value is Ellipsis:
        raise Hint(f"{what} is {value!r}. Did you forget to `return` it, or leave the `...` in place?")
    arr = np.asarray(value)
    if arr.ndim > 0 and arr.size > 1:
        raise Hint(f"{what} returned an array of shape {arr.shape}; sum everything into one number.")
    try:
        return float(arr)
    except (TypeError, ValueError) as exc:
        raise Hint(f"{what} must return a number. Received {type(value).__name__}.") from exc


def _penalty_counts(model) -> dict:
    """What a learner may count in ``model``: the regularized tensors, and the tensors often mistaken for them."""
    from helpers import models

    trainable = list(model.trainable_weights)
    penalized = [v for v in trainable if getattr(v, "regularizer", None) is not None]
    leaves = list(models.walk_layers(model, leaves_only=True))
    regularized_layers = [layer for layer in leaves if any(v.regularizer is not None for v in layer.trainable_weights)]
    batch_norm = [layer for layer in leaves if "normalization" in type(layer).__name__.lower()]
    return {
        "penalized": penalized,
        "trainable": len(trainable),
        "weights": len(model.weights),
        "with_biases": sum(len(layer.trainable_weights) for layer in regularized_layers),
        "with_batch_norm": len(penalized) + sum(len(layer.trainable_weights) for layer in batch_norm),
        "kernels": sum(1 for v in trainable if v.path.rsplit("/", 1)[-1] == "kernel"),
        "layers": sum(1 for layer in leaves if layer.weights),
    }


def _terms(n: int) -> str:
    return f"{n} term{'' if n == 1 else 's'}"


@exercise("Exercise: predict how many penalty terms model.losses holds")
def penalty_terms_prediction(predicted, model) -> str:
    """``predicted`` is the number of terms in ``model.losses`` (05 builds ``model`` with an L2
    ``kernel_regularizer`` on some conv and dense layers, BatchNorm after the convs): one per trainable
    weight tensor that has a regularizer (``Layer._get_regularization_losses`` in Keras 3)."""
    if predicted is Ellipsis or predicted is None:
        raise NotStarted("Replace the `...` with your prediction: a whole number of penalty terms.")
    require(
        _validate.is_int(predicted) or (_validate.is_number(predicted) and float(predicted).is_integer()),
        f"Predict a whole number of terms. Received: {predicted!r}",
    )
    require(hasattr(model, "trainable_weights"), f"Pass the model the notebook built. Received: {type(model).__name__}")
    predicted = int(predicted)
    counts = _penalty_counts(model)
    measured = len(model.losses)
    names = ", ".join(v.path for v in counts["penalized"])
    if predicted == measured:
        return (
            f"Right: {_terms(measured)}, one per trainable weight tensor that has a regularizer ({names}). "
            "kernel_regularizer= attaches to the kernel only: the biases, BatchNorm's gamma and beta (and its "
            "moving statistics, which are not even trained) and a layer without a regularizer add nothing. "
            "fit adds the terms' sum to the loss."
        )
    said = f"model.losses holds {_terms(measured)}; you predicted {predicted}."
    hints = [
        (
            counts["weights"],
            "You counted every weight tensor, BatchNorm's moving mean and variance included (they are not even "
            "trained). A penalty exists only where a layer was given a regularizer, and only for that tensor.",
        ),
        (
            counts["trainable"],
            "You counted every trainable tensor. kernel_regularizer= attaches to its layer's kernel only: "
            "biases, BatchNorm's gamma and beta, and layers without a regularizer add no term.",
        ),
        (
            counts["with_batch_norm"],
            "You counted BatchNorm's gamma and beta. BatchNormalization has its own gamma_regularizer= and "
            "beta_regularizer=, off by default: the conv's kernel_regularizer does not reach them.",
        ),
        (
            counts["with_biases"],
            "You counted the regularized layers' biases. kernel_regularizer= penalizes the kernel only; a bias "
            "is penalized only with bias_regularizer=.",
        ),
        (
            counts["layers"],
            "You counted the layers that have weights. A term belongs to a regularized tensor, not to a layer: "
            "look for the layers created with kernel_regularizer=, and which of their tensors it names.",
        ),
        (
            counts["kernels"],
            "You counted every kernel. One layer was built without kernel_regularizer=: its kernel adds no term.",
        ),
        (1, "Keras keeps one term per regularized tensor in model.losses; fit adds them up into one number."),
        (
            0,
            "The terms exist as soon as the model is built, before any training: each tensor with a "
            "regularizer adds one, computed from its current value.",
        ),
    ]
    for value, hint in hints:
        if predicted == value and value != measured:
            raise Hint(f"{said} {hint}")
    raise Hint(f"{said} Count the tensors that have a regularizer: {names}.")


def _near_zero_weight_fraction_reference():
    """The course's ``near_zero_fraction``: ``regularization.near_zero_fraction(w, threshold)``."""
    from helpers import regularization

    return regularization.near_zero_fraction


@exercise("Exercise: the fraction of near-zero weights", reference=_near_zero_weight_fraction_reference)
def near_zero_weight_fraction(fn) -> str:
    """``fn(w, threshold)`` returns the fraction of entries of ``w`` with ``|w| < threshold``."""
    require_callable(fn, "near_zero_fraction")
    rng = np.random.default_rng(7)
    dense = rng.normal(0, 0.05, (40, 30))
    sparse = np.where(
        rng.random((6, 6, 2, 8)) < 0.6, rng.normal(0, 2e-4, (6, 6, 2, 8)), rng.normal(0, 0.05, (6, 6, 2, 8))
    )
    cases = [
        (np.array([-0.5, -5e-4, 0.0, 2e-4, 0.3, -0.02, 0.01, 8e-4]), 1e-3),
        (dense, 1e-3),
        (sparse, 1e-3),
        (dense, 0.05),
    ]
    for w, threshold in cases:
        what = f"near_zero_fraction(w of shape {w.shape}, threshold={threshold})"
        got = _number(fn(w.copy(), threshold), what)
        expected = float(np.mean(np.abs(w) < threshold))
        if np.isclose(got, expected, atol=1e-9):
            continue
        if np.isclose(got, np.sum(np.abs(w) < threshold)) and w.size > 1:
            raise Hint(
                f"{what} returned {got:g}, a count. Divide by the number of weights ({w.size}) "
                "for a fraction between 0 and 1."
            )
        if np.isclose(got, 100 * expected):
            raise Hint("Return a fraction between 0 and 1, not a percentage.")
        if np.isclose(got, np.mean(w < threshold)):
            raise Hint("Negative weights count too: compare the absolute value |w| (np.abs) with the threshold.")
        if np.isclose(got, np.mean(w == 0)):
            raise Hint("Exact zeros are rare in floating point; count every weight with |w| < threshold.")
        if np.isclose(got, np.mean(np.abs(w) > threshold)) or np.isclose(got, np.mean(np.abs(w) >= threshold)):
            raise Hint("You counted the large weights; count those *below* the threshold.")
        raise Hint(f"{what} returned {got:.4f}; expected {expected:.4f}: the mean of |w| < threshold.")
    return "Your measure works on 1-D and 4-D arrays and any threshold."


def _dropout(x, rate: float, training: bool, rng: np.random.Generator) -> np.ndarray:
    """Inverted dropout, as Keras's ``Dropout``: in training zero each entry of ``x`` with probability
    ``rate`` and divide the others by ``1 - rate``; at inference return ``x`` unchanged."""
    x = np.asarray(x)
    if not training:
        return x
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0)


def _dropout_fix_reference():
    """The course's fixed ``dropout``, for the cells after the exercise while yours does not pass."""
    return _dropout


@exercise("Exercise: find the bug in a dropout that is not inverted", reference=_dropout_fix_reference)
def dropout_fix(fn) -> str:
    """``fn(x, rate, training, rng)`` is inverted dropout: the identity at inference; in training it zeroes
    about a ``rate`` share of the entries and rescales the others so that the mean is unchanged."""
    require_callable(fn, "dropout")
    units = np.random.default_rng(11).uniform(0.5, 1.5, (200, 100))  # a batch of dense activations
    maps = np.random.default_rng(12).uniform(0.0, 2.0, (16, 8, 8, 8))  # a batch of conv feature maps
    for label, x, rate in [("x", units, 0.2), ("x", units, 0.5), ("x", units, 0.75), ("feature maps", maps, 0.3)]:
        _check_inference(fn, x, rate, f"dropout({label} of shape {x.shape}, rate={rate}, training=False, rng)")
        _check_training(fn, x, rate, f"dropout({label} of shape {x.shape}, rate={rate}, training=True, rng)")
    same = require_array(fn(units.copy(), 0.0, True, np.random.default_rng(3)), what="dropout(x, 0.0, True, rng)")
    require(np.allclose(same, units), "With rate=0.0 nothing should be dropped or scaled: the output must equal x.")
    first, again = (np.asarray(fn(units.copy(), 0.5, True, np.random.default_rng(5))) for _ in range(2))
    require(
        np.array_equal(first, again),
        "Two calls with generators seeded alike gave different masks: draw the mask from the `rng` you are "
        "given (rng.random), not from np.random, so that a run can be repeated.",
    )
    other = np.asarray(fn(units.copy(), 0.5, True, np.random.default_rng(6)))
    require(
        not np.array_equal(first == 0, other == 0),
        "Every call drops the same entries: draw a new random mask from `rng` at every call.",
    )
    return (
        "Right: at inference x passes unchanged; in training a `rate` share is zeroed and the rest scaled by "
        "1/(1 - rate), so the mean is the same in both modes. That is inverted dropout, Keras's Dropout."
    )


def _check_inference(fn, x: np.ndarray, rate: float, what: str) -> None:
    out = require_array(fn(x.copy(), rate, False, np.random.default_rng(3)), what=what)
    require(out.shape == x.shape, f"{what} has shape {out.shape}; it must keep the input's shape {x.shape}.")
    if np.allclose(out, x * (1 - rate)):
        raise Hint(
            "At inference you multiply by (1 - rate). That is the original dropout convention (Srivastava et "
            "al., 2014), and it is valid: training and inference then agree on average. But it is not what "
            "Keras does: Keras's Dropout (inverted dropout) makes the correction during training, so that "
            "inference is the plain network, x passed through unchanged."
        )
    require(np.allclose(out, x), f"{what} changed x. Dropout is off at inference: with training=False return x.")


def _check_training(fn, x: np.ndarray, rate: float, what: str) -> None:
    out = require_array(fn(x.copy(), rate, True, np.random.default_rng(3)), what=what)
    require(out.shape == x.shape, f"{what} has shape {out.shape}; it must keep the input's shape {x.shape}.")
    dropped = np.isclose(out, 0.0)
    share = float(dropped.mean())
    if abs(share - (1 - rate)) < 0.03 and abs(rate - 0.5) > 0.1:
        raise Hint(
            f"With rate={rate} you zeroed {share:.0%} of the entries: you drop with probability 1 - rate. "
            f"`rate` is the share *dropped* (as in Keras's Dropout(rate)), so about {rate:.0%} should be zero."
        )
    require(
        abs(share - rate) < 0.03,
        f"With rate={rate} you zeroed {share:.0%} of the entries in training; about {rate:.0%} should be zero. "
        "Draw one uniform number per entry (rng.random(x.shape)) and drop where it is below rate.",
    )
    ratio = out[~dropped] / x[~dropped]
    mean_in, mean_out = float(x.mean()), float(out.mean())
    noise = float(np.sqrt(np.sum(x**2) * rate / (1 - rate)) / x.size)  # the standard error of mean_out
    if abs(mean_out - mean_in) > 5 * noise:
        said = f"In training your output's mean is {mean_out:.3f}, the input's {mean_in:.3f}"
        if np.allclose(ratio, 1.0):
            raise Hint(
                f"{said}: about {1 - rate:g} of it, while at inference the next layer gets the full x. The "
                "network is trained on activations of one scale and used on another. Make the training output's "
                "expected value equal the input's, as Keras does."
            )
        if np.allclose(ratio, 1 - rate):
            raise Hint(
                f"{said}: shrinking the kept entries moves it further away; they must make up for the dropped ones."
            )
        raise Hint(
            f"{said}: they should match (within sampling noise), so that the next layer sees the same scale in "
            "training and at inference."
        )
    require(
        np.allclose(ratio, ratio.flat[0]),
        "Your kept entries are scaled by different factors: scale every kept entry by the same number.",
    )
    require(
        np.allclose(ratio, 1 / (1 - rate)),
        f"Kept entries should be x / (1 - rate) = x * {1 / (1 - rate):.3g}; yours are x * {ratio.flat[0]:.3g}.",
    )


def _dropout_design_reference(model, epochs: int, seeds, learning_rate=None, batch_size=None, rate: float = 0.5):
    """The course's design, for the cells after the exercise: ``model`` (05's ``DESIGN_MODEL``) without and
    with dropout ``rate``, the same ``epochs`` (and learning rate and batch size, when given), trained on
    ``seeds`` and decided on validation accuracy (05 passes ``DESIGN_MODEL, DESIGN_EPOCHS, DESIGN_SEEDS,
    PEAK_LR, BATCH_SIZE``)."""
    from helpers import experiments

    budget = {"model": dict(model), "epochs": _validate.positive_int(epochs, "epochs")}
    if learning_rate is not None:
        budget["learning_rate"] = learning_rate
    if batch_size is not None:
        budget["batch_size"] = _validate.positive_int(batch_size, "batch_size")
    rate = _validate.open_fraction(rate, "rate")
    arms = {"baseline": budget, f"dropout {rate:g}": {**budget, "model": {**budget["model"], "dropout": rate}}}
    return experiments.Design(arms=arms, seeds=_validate.seeds(seeds), metric="val_accuracy")


def _dropout_of(arm) -> object:
    model = arm.get("model")
    return model.get("dropout", 0.0) if isinstance(model, dict) else None


@exercise("Exercise: design a fair test of dropout", reference=_dropout_design_reference)
def dropout_design(design, model, epochs: int, seeds) -> str:
    """``design`` (an ``experiments.Design``) tests whether dropout helps ``model`` (05's ``DESIGN_MODEL``):
    a baseline arm without dropout and one arm that differs from it only in ``model.dropout``, within the
    notebook's ``epochs`` and ``seeds`` budget (:func:`helpers.checks._design.two_arm_design`)."""
    (base_name, base), (name, variant) = two_arm_design(
        design,
        "model.dropout",
        model=model,
        epochs=epochs,
        seeds=seeds,
        what="dropout",
        model_name="DESIGN_MODEL",
        epochs_name="DESIGN_EPOCHS",
    )
    base_rate, rate = _dropout_of(base), _dropout_of(variant)
    if _validate.is_number(base_rate) and base_rate > 0:
        raise Hint(
            f"Your first arm, {base_name!r}, has dropout={base_rate!r}. The first arm is the baseline that the "
            "verdict compares with: put the arm without dropout first."
        )
    if not (_validate.is_number(rate) and 0 < rate < 1):
        raise Hint(
            f"Arm {name!r} has dropout={rate!r}. A dropout rate is the share of units dropped: a number "
            "between 0 and 1, e.g. 0.5."
        )
    n = len(set(design.seeds))
    return (
        f"A fair test: {name!r} differs from {base_name!r} only in its dropout ({rate:g}), both train "
        f"DESIGN_MODEL for {epochs} epoch{'s' if epochs != 1 else ''} on the same {n} seeds, and {design.metric} "
        "decides. The cell below runs it."
    )
