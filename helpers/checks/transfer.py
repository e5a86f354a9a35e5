"""Checks for ``07_transfer_learning``: a new head on a frozen base, the share of it that trains (predict,
then run), what fine-tuning trains, a base frozen variable by variable (find the bug), and starting
fine-tuning correctly (unfreeze the top, keep BatchNorm frozen, recompile with a low rate).
"""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, predicted_range, require, require_callable, require_int

__all__ = [
    "feature_extraction_model",
    "trainable_fraction",
    "fine_tune_trainable_params",
    "frozen_base_builder",
    "start_fine_tuning",
]


def _tiny_source():
    """A small copy of the course's source architecture (3 blocks, BN, GAP head), fast to build."""
    from helpers import transfer

    return transfer.SourceSpec(name="check_source", filters=(4, 8, 8)).build((16, 16, 1), 10)


def _require_model(model, what: str):
    import keras

    if model is None or model is Ellipsis:
        raise Hint(f"{what} returned {model!r}. Did you forget to `return` the model?")
    require(isinstance(model, keras.Model), f"{what} must return a keras.Model. Received {type(model).__name__}.")
    return model


def _feature_extraction_model_reference(plan):
    """The course's ``build_feature_extraction_model(source, num_classes)``, for the cells after the
    exercise: a frozen copy of the source's base and a new softmax head, with ``plan``'s head dropout (as
    :func:`helpers.transfer.train_feature_extraction` builds it).

    Args:
        plan: the notebook's :class:`helpers.transfer.TransferPlan`.
    """
    from helpers import transfer

    if not isinstance(plan, transfer.TransferPlan):
        raise TypeError(f"plan must be the notebook's transfer.TransferPlan. Received: {type(plan).__name__}")

    def build_feature_extraction_model(source, num_classes):
        return transfer.with_new_head(transfer.feature_extractor(source), num_classes, dropout=plan.head_dropout)

    return build_feature_extraction_model


@exercise("Exercise: a new head on a frozen base", reference=_feature_extraction_model_reference)
def feature_extraction_model(fn) -> str:
    """``fn(source, num_classes)`` must return base-of-source (frozen, a copy) + a new softmax head."""
    from helpers import transfer

    require_callable(fn, "build_feature_extraction_model")
    source = _tiny_source()
    model = _require_model(fn(source, 3), "build_feature_extraction_model(source, 3)")
    if tuple(model.output_shape) == (None, 10):
        raise Hint(
            "Your model still ends in the source's 10-class head. Cut the source before its head "
            "(transfer.feature_extractor(source)) and add a new Dense(num_classes) layer."
        )
    require(
        tuple(model.output_shape) == (None, 3),
        f"The output shape is {model.output_shape}; with num_classes=3 it should be (None, 3).",
    )
    source_vars = {id(v) for v in source.weights}
    if any(id(v) in source_vars for v in model.weights):
        raise Hint(
            "Your model reuses the source model's own layers, so training it would change `source` "
            "too (and every later experiment would start from modified weights). Start from "
            "transfer.feature_extractor(source), which copies the base."
        )
    features = 8  # the tiny source's last block has 8 filters: GAP gives 8 features
    head = features * 3 + 3
    counts = transfer.trainable_counts(model)
    if counts["trainable"] == 0:
        raise Hint("Nothing in your model is trainable: freeze the base only. The new head must learn.")
    if counts["trainable"] > head:
        raise Hint(
            f"{counts['trainable']:,} parameters would train, but only the new head's {head} should: "
            "the base is not frozen. Set `base.trainable = False` (or transfer.freeze(model)) "
            "before compiling."
        )
    require(
        counts["trainable"] == head,
        f"{counts['trainable']} trainable parameters; a Dense(3) head on 8 pooled features has {head}. "
        "Add exactly one new Dense(num_classes, activation='softmax') layer.",
    )
    probs = np.asarray(model(np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32)))
    require(
        np.allclose(probs.sum(axis=1), 1.0, atol=1e-4) and probs.min() >= 0,
        "The outputs are not probabilities: give the new Dense layer activation='softmax'.",
    )
    return (
        f"Only the new head ({head} parameters here) trains; the copied base keeps its "
        f"{counts['non_trainable']:,} pretrained parameters fixed."
    )


FRACTION_RANGE_WIDTH = 0.02  # a predicted range of the trainable share may be at most 2 points wide


def _parameter_parts(model) -> dict[str, int]:
    """What ``model``'s parameters are: trainable ones, BatchNorm's moving statistics and its gamma/beta
    (in every BatchNormalization layer, wherever it is nested), and the total."""
    import keras

    from helpers import models, transfer

    bns = [
        layer
        for layer in models.walk_layers(model, leaves_only=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    moving = sum(int(np.prod(v.shape)) for bn in bns for v in (bn.moving_mean, bn.moving_variance))
    affine = sum(int(np.prod(v.shape)) for bn in bns for v in (bn.gamma, bn.beta) if v is not None)
    counts = transfer.trainable_counts(model)
    return {**counts, "total": counts["trainable"] + counts["non_trainable"], "moving": moving, "affine": affine}


@exercise("Exercise: predict the share of parameters that train")
def trainable_fraction(prediction, model) -> str:
    """``prediction``: the learner's ``(low, high)`` for ``trainable / total`` parameters of ``model`` (07's
    feature-extraction model, base frozen), made before the notebook printed it. It passes when the range
    holds the measured share and is at most :data:`FRACTION_RANGE_WIDTH` wide."""
    low, high = predicted_range(prediction, "Your prediction", FRACTION_RANGE_WIDTH)
    parts = _parameter_parts(model)
    trainable, total = parts["trainable"], parts["total"]
    share = trainable / total

    def holds(value):
        return low - 1e-12 <= value <= high + 1e-12

    measured = f"{trainable:,} of {total:,} parameters train, {share:.2%}"
    if not holds(share):
        if holds((trainable + parts["affine"]) / total):
            raise Hint(
                f"Your range holds what you would get if BatchNorm's gamma and beta ({parts['affine']:,} "
                "parameters) trained too. They belong to the base, and freezing the base freezes them as well."
            )
        if holds((trainable + parts["affine"] + parts["moving"]) / total):
            raise Hint(
                "Your range holds what you would get if every BatchNorm parameter trained: gamma and beta "
                f"({parts['affine']:,}) and the moving means and variances ({parts['moving']:,}). The moving "
                "statistics are never trainable (no gradient updates them), and gamma and beta"
                " are frozen with the base."
            )
        if low >= 0.25 and share < low:
            raise Hint(
                f"Your range ({low:g}, {high:g}) is far too high: only the new head trains. Compare the head's size "
                "(a Dense layer on 128 pooled features) with the base's convolutions, printed with the source above."
            )
        side = "above" if share > high else "below"
        raise Hint(
            f"The measured share is {side} your range ({low:g}, {high:g}). Only the new head trains: count its "
            "weights and biases (Dense(num_classes) on 128 features), and divide by everything in the model: the "
            "base's convolutions and BatchNorm parameters plus the head."
        )
    return (
        f"Your range holds it: {measured}. Only the new head trains, {trainable:,} weights and biases, against "
        f"{parts['non_trainable']:,} frozen ones in the base. The base's BatchNorm layers hold {parts['moving']:,} "
        "moving means and variances: those are never trainable (no gradient updates them, only a training-mode "
        f"forward pass), frozen or not; their {parts['affine']:,} gammas and betas are trainable weights, frozen "
        "here with the rest of the base. So the optimizer touches a small share of the model, and the few "
        "labelled images only have to fit that."
    )


# The course's source CNN: 3 blocks of one 3x3 conv (32, 64, 128 filters, no bias because BatchNorm
# follows), BatchNorm, pooling; the new head is Dense(num_classes) on the 128 pooled features.
_BN = {"block1": 2 * 32, "block2": 2 * 64, "block3": 2 * 128}  # gamma and beta (trainable ones)
_BIAS = {"block1": 32, "block2": 64, "block3": 128}


def _conv(channels: int) -> dict[str, int]:
    return {"block1": 3 * 3 * channels * 32, "block2": 3 * 3 * 32 * 64, "block3": 3 * 3 * 64 * 128}


def fine_tune_trainable(num_classes: int = 10, channels: int = 1) -> int:
    """Trainable parameters after ``unfreeze_top(model, 2)`` on 07's transfer model: 93,450 for the digits."""
    conv = _conv(channels)
    return conv["block2"] + conv["block3"] + 128 * num_classes + num_classes


FINE_TUNE_TRAINABLE = fine_tune_trainable()  # 93,450


@exercise("Exercise: what does fine-tuning train?")
def fine_tune_trainable_params(answer, num_classes: int = 10, channels: int = 1) -> str:
    """``answer``: trainable parameters after ``unfreeze_top(model, 2)`` on the course's transfer model.

    Args:
        num_classes, channels: the target's classes and image channels (``target.num_classes``,
            ``target.input_shape[-1]``); the default is the ten one-channel digits.
    """
    if answer is None or answer is Ellipsis:
        raise Hint("Replace the `...` with a number.")
    conv, expected = _conv(channels), fine_tune_trainable(num_classes, channels)
    head = 128 * num_classes + num_classes
    top = ("block2", "block3")
    mistakes = {
        expected + sum(_BN[b] for b in top): "You counted BatchNormalization's gamma and beta in blocks 2 and 3. "
        "unfreeze_top keeps every BatchNorm layer frozen (the BatchNorm rule), so they do not train.",
        expected + sum(_BIAS[b] for b in top): "The convolutions have no bias: a BatchNorm layer follows each one, "
        "and its beta already shifts the output (simple_cnn sets use_bias=False).",
        expected + sum(_BN[b] + _BIAS[b] for b in top): "Two things to drop: the convolutions have no bias "
        "(BatchNorm follows them), and the BatchNorm layers stay frozen.",
        expected
        + conv["block1"]: "Block 1 stays frozen: unfreeze_top(model, 2) opens only the top two blocks, 2 and 3.",
        conv["block3"] + head: "Two blocks are unfrozen, 2 and 3, not only the top one.",
        expected - head: f"Add the new head: Dense({num_classes}) on 128 features, biases included.",
    }
    if num_classes != 10:
        mistakes.setdefault(
            fine_tune_trainable(10, channels),
            f"That is the count for a 10-class head; this target has {num_classes} classes: Dense({num_classes}).",
        )
    if answer in mistakes:
        raise Hint(mistakes[answer])
    require_int(
        answer,
        expected,
        "Your count",
        f"Add block 2's conv (3x3x32x64), block 3's conv (3x3x64x128) and the head (128x{num_classes} + "
        f"{num_classes}). No conv biases (BatchNorm follows), BatchNorm frozen.",
    )
    return (
        f"{expected:,}: block 2 and block 3 convolutions plus the new head. The {conv['block1']:,} weights in "
        "block 1 and all BatchNorm parameters and statistics stay as the source learned them."
    )


def _weights_by_kind(model) -> dict[str, list]:
    """Copies of ``model``'s weights (nested models included), by what they are: the base's convolution
    kernels and biases, BatchNorm's gamma/beta, BatchNorm's moving statistics, and the head's Dense layers."""
    import keras

    from helpers import models

    out = {"conv": [], "bn_affine": [], "bn_moving": [], "head": []}
    for layer in models.walk_layers(model, leaves_only=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            out["bn_moving"] += [np.array(v.numpy()) for v in (layer.moving_mean, layer.moving_variance)]
            out["bn_affine"] += [np.array(v.numpy()) for v in (layer.gamma, layer.beta) if v is not None]
        elif isinstance(layer, keras.layers.Dense):
            out["head"] += [np.array(w.numpy()) for w in layer.weights]
        else:
            out["conv"] += [np.array(w.numpy()) for w in layer.weights]
    return out


def _largest_change(before: list, after: list) -> float:
    return max((float(np.max(np.abs(a - b))) for a, b in zip(before, after)), default=0.0)


@exercise("Exercise: find the bug in a frozen base")
def frozen_base_builder(fn) -> str:
    """``fn(source, num_classes)`` returns a copy of ``source``'s base, frozen, and a new softmax head. The
    check builds it on a small source with BatchNorm, runs one training step on a small batch, and requires
    the base's weights *and* BatchNorm moving statistics to stay exactly as they were while the head trains."""
    import keras

    from helpers import transfer

    require_callable(fn, "build_frozen_model")
    source = _tiny_source()
    source_vars = {id(v) for v in source.weights}
    rng = np.random.default_rng(7)
    for num_classes in (3, 5):
        what = f"build_frozen_model(source, {num_classes})"
        model = _require_model(fn(source, num_classes), what)
        require(
            tuple(model.output_shape) == (None, num_classes),
            f"{what} has output shape {model.output_shape}; expected (None, {num_classes}): a new "
            "Dense(num_classes) head.",
        )
        if any(id(v) in source_vars for v in model.weights):
            raise Hint(
                f"{what} reuses the source model's own layers: start from transfer.feature_extractor(source), a copy."
            )
        if transfer.trainable_counts(model)["trainable"] == 0:
            raise Hint(f"Nothing in {what} is trainable: freeze the base only; the new head must learn.")
        x = rng.random((16, 16, 16, 1), dtype=np.float32)
        y = rng.integers(0, num_classes, size=16)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        before = _weights_by_kind(model)
        model.train_on_batch(x, y)
        after = _weights_by_kind(model)
        moved = {kind: _largest_change(before[kind], after[kind]) for kind in before}
        if moved["conv"] > 0:
            raise Hint(
                f"One training step changed the base's convolution kernels (by up to {moved['conv']:.3g}): the base "
                "is not frozen."
            )
        if moved["bn_affine"] > 0:
            raise Hint(
                "One training step changed the gamma and beta of the base's BatchNorm layers, and their moving "
                "statistics with them: those layers are still trainable. A frozen base means all of its layers."
            )
        if moved["bn_moving"] > 0:
            trainable = transfer.trainable_counts(model)["trainable"]
            raise Hint(
                f"Still the training-mode bug: only {trainable:,} parameters are trainable (the head's), yet one "
                f"training step moved the BatchNorm moving means and variances by up to {moved['bn_moving']:.3g}. "
                "Those layers ran in training mode: they normalized with the batch's statistics and updated their "
                "moving ones. A Keras 3 BatchNormalization layer decides that from its own layer's `trainable` "
                "flag, not from its variables' flags, and fit's training=True overrides a `training=False` "
                "written inside the model (rule 3 above)."
            )
        require(moved["head"] > 0, f"The new head of {what} did not change in a training step: it must stay trainable.")
        probs = np.asarray(model(x[:4], training=False))
        require(
            np.allclose(probs.sum(axis=1), 1.0, atol=1e-4) and probs.min() >= 0,
            "The outputs are not probabilities: give the new Dense layer activation='softmax'.",
        )
    return (
        "After a training step the base is exactly as it was, BatchNorm moving statistics included, and the head "
        "learned. Freezing the layer (base.trainable = False) is what a Keras 3 BatchNormalization layer reads "
        "to stay in inference mode; freezing its variables one by one (PyTorch's requires_grad habit) hides them "
        "from the optimizer but leaves the layer trainable, so each training step re-estimates its statistics "
        "from a batch of a few target images."
    )


def _start_fine_tuning(model, n_blocks, learning_rate):
    """Unfreeze the top ``n_blocks`` blocks of ``model`` (BatchNorm stays frozen) and recompile it with
    ``learning_rate`` (a number or a schedule): the course's answer to exercise 5 of 07."""
    from helpers import training, transfer

    transfer.unfreeze_top(model, n_blocks)
    return training.compile_classifier(model, learning_rate=learning_rate)


def _start_fine_tuning_reference():
    """The course's ``start_fine_tuning(model, n_blocks, learning_rate)``, for the cells after the exercise."""
    return _start_fine_tuning


@exercise("Exercise: start fine-tuning", reference=_start_fine_tuning_reference)
def start_fine_tuning(fn) -> str:
    """``fn(model, n_blocks, learning_rate)`` must unfreeze the top ``n_blocks`` blocks (BatchNorm stays
    frozen) and recompile with ``learning_rate``; it returns the model."""
    import keras

    from helpers import transfer

    require_callable(fn, "start_fine_tuning")
    for n_blocks in (2, 1):
        model = transfer.with_new_head(transfer.feature_extractor(_tiny_source()), 3)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        old_optimizer = model.optimizer
        result = _require_model(fn(model, n_blocks, 1e-4), f"start_fine_tuning(model, {n_blocks}, 1e-4)")
        flags = transfer.trainable_layers(result)
        names = transfer.blocks(result)
        top, lower = names[len(names) - n_blocks :], names[: len(names) - n_blocks]
        if any(flags[n] for n in flags if "_bn" in n):
            raise Hint(
                "A BatchNormalization layer is trainable. Keep them frozen when fine-tuning on a small "
                "dataset: frozen, they run in inference mode with the source's statistics "
                "(transfer.unfreeze_top does this for you)."
            )
        base = result.get_layer("base")
        if not base.trainable and not any(flags[f"{b}_conv1"] for b in top):
            raise Hint(
                "The base model itself is still `trainable = False`, which hides every layer inside "
                "it, whatever their own flags say. Use transfer.unfreeze_top(model, n_blocks)."
            )
        if any(flags[f"{b}_conv1"] for b in lower):
            raise Hint(
                f"With n_blocks={n_blocks} only {', '.join(top)} may train; "
                f"{', '.join(b for b in lower if flags[f'{b}_conv1'])} must stay frozen."
            )
        require(
            all(flags[f"{b}_conv1"] for b in top),
            f"With n_blocks={n_blocks} the convolutions of {', '.join(top)} must be trainable. "
            "Did you use the n_blocks argument?",
        )
        require(flags.get("new_predictions", False), "The new head must keep training too.")
        if result.optimizer is old_optimizer:
            raise Hint(
                "You changed `trainable` but did not compile again. Keras builds the training step "
                "when you compile; without it, fit() silently keeps training only the head. "
                "Call training.compile_classifier(model, learning_rate=learning_rate)."
            )
        lr = result.optimizer.learning_rate
        lr = float(lr.numpy() if hasattr(lr, "numpy") else lr)
        require(
            abs(lr - 1e-4) < 1e-9,
            f"The new optimizer's learning rate is {lr:g}, but learning_rate=1e-4 was passed. Use the "
            "argument: fine-tuning needs a rate ~10x lower than the head's.",
        )
    return (
        "Top blocks open, BatchNorm frozen, recompiled with the low rate: the base can now adapt "
        "without forgetting what it learned."
    )
