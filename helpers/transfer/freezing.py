"""What a transferred model trains: its base and blocks, freezing and unfreezing them, new heads,
independent copies, and a probe of BatchNorm's inference mode.

The recipe these support: reuse the base, train a new head on it while it is frozen, then unfreeze
the top blocks (BatchNormalization stays frozen) and recompile with a low rate.
"""

from __future__ import annotations

import re

import keras
import numpy as np
from keras import layers

from helpers import _validate
from helpers.model_stats import _model_input
from helpers.models import walk_layers

__all__ = [
    "base_of",
    "batchnorm_drift",
    "blocks",
    "copy_model",
    "feature_extractor",
    "freeze",
    "trainable_counts",
    "trainable_layers",
    "unfreeze_top",
    "with_new_head",
]

_BLOCK = re.compile(r"^(block_?\d+)_")  # the course's block1_conv1, MobileNetV2's block_1_expand


def base_of(model: keras.Model) -> keras.Model:
    """The feature extractor inside ``model``: its one nested model, or ``model`` itself.

    A transfer model is a base (a nested model) followed by a new head; a flat model is its own
    base. Freezing, block names and the trainable-layers plot all act on this base.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) > 1:
        raise ValueError(
            f"{model.name!r} holds {len(nested)} nested models ({', '.join(m.name for m in nested)}); "
            "pass the base model itself."
        )
    return nested[0] if nested else model


def blocks(model: keras.Model) -> list[str]:
    """The base's block names in order (``block1``, ``block2``, ... or MobileNetV2's ``block_1``, ...)."""
    seen: list[str] = []
    for layer in base_of(model).layers:
        match = _BLOCK.match(layer.name)
        if match and match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def _index_until(base: keras.Model, until: str) -> int:
    names = [layer.name for layer in base.layers]
    if until in names:
        return names.index(until)
    in_block = [i for i, n in enumerate(names) if n.startswith(until + "_")]
    if in_block:
        return in_block[-1]
    found = blocks(base)
    raise ValueError(
        f"until={until!r} is neither a layer nor a block of {base.name!r}. "
        f"Blocks: {', '.join(found) or 'none'}; layers: {', '.join(names[:6])}, ..."
    )


def freeze(model: keras.Model, until: str | None = None, *, train_batchnorm: bool = False) -> keras.Model:
    """Freeze the base of ``model`` up to and including ``until``; the base's later layers train.

    Args:
        model: a base model, or a model holding one nested base (the new head is never frozen).
        until: a block (``"block2"``) or a layer name; ``None`` freezes the whole base.
        train_batchnorm: let BatchNormalization layers after ``until`` train (default False: they
            stay frozen, which in Keras 3 also keeps them in inference mode, using the source's
            statistics; fine-tuning on a few hundred images would otherwise wreck them).

    Returns ``model``. Recompile it afterwards: ``trainable`` is read when the training step is built.
    """
    base = base_of(model)
    if until is None:
        stop = len(base.layers) - 1
    elif isinstance(until, str):
        stop = _index_until(base, until)
    else:
        raise TypeError(f"until must be a block or layer name (str) or None. Received: until={until!r}")
    model.trainable = True
    base.trainable = True
    for i, layer in enumerate(base.layers):
        frozen = i <= stop or (isinstance(layer, layers.BatchNormalization) and not train_batchnorm)
        layer.trainable = not frozen
    return model


def unfreeze_top(model: keras.Model, n_blocks: int, *, train_batchnorm: bool = False) -> keras.Model:
    """Make the top ``n_blocks`` blocks of the base (and the layers after them) trainable.

    Lower blocks (and, unless ``train_batchnorm``, every BatchNormalization layer) stay frozen;
    ``n_blocks=0`` freezes the whole base. Layers before the first block (a stem) stay frozen.
    Recompile afterwards, with a learning rate about 10x lower than the head's.
    """
    names = blocks(model)
    if not _validate.is_int(n_blocks) or not 0 <= n_blocks <= len(names):
        raise ValueError(
            f"n_blocks must be an integer in [0, {len(names)}] (the base has blocks "
            f"{', '.join(names) or 'none'}). Received: n_blocks={n_blocks!r}"
        )
    base = base_of(model)
    if n_blocks == 0:
        return freeze(model, None, train_batchnorm=train_batchnorm)
    if n_blocks == len(names):
        first = next(i for i, layer in enumerate(base.layers) if layer.name.startswith(names[0] + "_"))
        return freeze(model, base.layers[first - 1].name, train_batchnorm=train_batchnorm)
    return freeze(model, names[len(names) - n_blocks - 1], train_batchnorm=train_batchnorm)


def trainable_counts(model: keras.Model) -> dict[str, int]:
    """Numbers of trainable and non-trainable parameters (what ``summary()`` reports)."""

    def count(ws):
        return int(sum(int(np.prod(w.shape)) for w in ws))

    return {"trainable": count(model.trainable_weights), "non_trainable": count(model.non_trainable_weights)}


def trainable_layers(model: keras.Model) -> dict[str, bool]:
    """``{layer name: trains?}`` for every layer with weights, base first, then the head.

    A layer trains only if it and every model around it are ``trainable``.
    """
    base = base_of(model)
    out = {}
    for layer in base.layers:
        if layer.weights:
            out[layer.name] = bool(layer.trainable and base.trainable and model.trainable)
    if base is not model:
        for layer in model.layers:
            if layer is not base and layer.weights:
                out[layer.name] = bool(layer.trainable and model.trainable)
    return out


def feature_extractor(source: keras.Model, *, output: str | None = None, name: str = "base") -> keras.Model:
    """A copy of ``source`` cut before its classifier head: images in, features out.

    Args:
        output: the last layer to keep (default: ``head_gap`` if present, else the last block layer).
        name: the new model's name.

    The copy owns its weights, so training it never changes ``source`` (each strategy you compare
    starts from the same pretrained weights).
    """
    if not isinstance(source, keras.Model):
        raise TypeError(f"source must be a keras.Model. Received: {type(source).__name__}")
    names = [layer.name for layer in source.layers]
    if output is None:
        if "head_gap" in names:
            output = "head_gap"
        else:
            in_blocks = [n for n in names if _BLOCK.match(n)]
            if not in_blocks:
                raise ValueError(f"{source.name!r} has no 'head_gap' or blockN_ layers; pass output=<layer name>.")
            output = in_blocks[-1]
    if output not in names:
        raise ValueError(f"output={output!r} is not a layer of {source.name!r}. Layers: {', '.join(names)}")
    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    return keras.Model(_model_input(copy), copy.get_layer(output).output, name=name)


def with_new_head(
    base: keras.Model, num_classes: int, *, dropout: float = 0.0, freeze_base: bool = True, name: str = "transfer"
) -> keras.Model:
    """``base`` (frozen by default) followed by a new classifier: [GAP ->] [Dropout ->] Dense softmax.

    The new layers are named ``new_head_*`` and ``new_predictions``. Global average pooling is
    added only when the base outputs feature maps.
    """
    num_classes = _validate.int_at_least(num_classes, "num_classes", 2)
    dropout = _validate.fraction(dropout, "dropout")
    inputs = keras.Input(shape=base.input_shape[1:], name="image")
    x = base(inputs)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="new_head_gap")(x)
    elif len(x.shape) != 2:
        raise ValueError(f"The base must output features (N, D) or feature maps (N, H, W, C). Received {x.shape}")
    if dropout:
        x = layers.Dropout(dropout, name="new_head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="new_predictions", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)
    if freeze_base:
        freeze(model)
    return model


def copy_model(model: keras.Model) -> keras.Model:
    """An independent copy of ``model`` (nested models too): same weights and ``trainable`` flags.

    Use it to branch an experiment, e.g. fine-tune a copy of the feature-extraction model and
    keep the original to compare with.
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    # Setting a model's flag resets every layer inside it, so go outside in: the model, then each
    # layer in order (nested models before their own layers), then the leaf layers once more, since
    # a nested model's flag reset them after they were set.
    clone.trainable = model.trainable
    for src, dst in zip(walk_layers(model), walk_layers(clone)):
        dst.trainable = src.trainable
    for src, dst in zip(walk_layers(model, leaves_only=True), walk_layers(clone, leaves_only=True)):
        dst.trainable = src.trainable
    return clone


def batchnorm_drift(model: keras.Model, x: np.ndarray) -> float:
    """How far one training-mode forward pass on ``x`` moves the BatchNorm moving statistics.

    Returns the largest absolute change of any moving mean or variance (0.0: every BatchNorm layer
    stayed in inference mode). The statistics are restored afterwards, so probing changes nothing.
    """
    bns = [layer for layer in walk_layers(model, leaves_only=True) if isinstance(layer, layers.BatchNormalization)]
    if not bns:
        raise ValueError(f"{model.name!r} has no BatchNormalization layers.")
    before = [(v, np.array(v.numpy())) for bn in bns for v in (bn.moving_mean, bn.moving_variance)]
    try:
        model(np.asarray(x, dtype=np.float32), training=True)
        return float(max(np.max(np.abs(v.numpy() - old)) for v, old in before))
    finally:
        for v, old in before:
            v.assign(old)
