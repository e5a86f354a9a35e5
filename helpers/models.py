"""Model builders used across the notebooks. Every layer has an explicit name, so ``summary()`` and
the feature-map plots are stable from run to run.

* :func:`lenet5` — LeCun et al. (1998), introduced in ``01_cnn_foundations``.
* :func:`simple_cnn` — the configurable course CNN (conv blocks, BN, dropout, Flatten or GAP head)
  that later notebooks and the hyperparameter search build on.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence

import keras
from keras import layers

from helpers import _validate

HEADS = ("flatten", "gap")
LENET5_MIN_SIZE = 28  # C1 (same) -> S2 -> C3 (5x5, valid) -> S4 -> C5 (5x5, valid) leaves C5 at least 1x1


def _check_shape_and_classes(input_shape, num_classes) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(shape) != 3 or not all(_validate.is_int(d) and d > 0 for d in shape):
        raise ValueError(
            "input_shape must be (height, width, channels) with positive integers, e.g. (28, 28, 1). "
            f"Received: input_shape={input_shape!r}"
        )
    _validate.int_at_least(num_classes, "num_classes", 2)
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def _check_kernel_size(kernel_size) -> int:
    if not _validate.is_int(kernel_size) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer. Received: kernel_size={kernel_size!r}")
    return int(kernel_size)


def lenet5(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    activation: str = "tanh",
    pooling: str = "avg",
    name: str = "lenet5",
) -> keras.Model:
    """LeNet-5 with the 1998 layout, adapted to 28x28 inputs.

    C1 (6 filters 5x5) - S2 (2x2 subsampling) - C3 (16 filters 5x5) - S4 - C5 (120 filters 5x5) -
    F6 (84 units) - output (``num_classes``). Two adaptations, stated so nothing is hidden: C1 uses
    ``"same"`` padding, which equals the paper's padding of MNIST from 28x28 to 32x32, and the
    output is a softmax instead of the paper's radial-basis units. C3 connects to all six maps
    (the paper used a sparse table to save compute in 1998).

    Args:
        activation: ``"tanh"`` (default, as in the paper) or e.g. ``"relu"``.
        pooling: ``"avg"`` (default, the paper's subsampling) or ``"max"``.
    """
    input_shape = _check_shape_and_classes(input_shape, num_classes)
    _validate.one_of(pooling, "pooling", ("avg", "max"))
    if min(input_shape[:2]) < LENET5_MIN_SIZE:
        raise ValueError(
            f"LeNet-5 needs images of at least {LENET5_MIN_SIZE}x{LENET5_MIN_SIZE} pixels. "
            f"Received: input_shape={input_shape}. "
            "Resize them first, e.g. helpers.data.load('digits', image_size=(28, 28))."
        )
    pool = layers.AveragePooling2D if pooling == "avg" else layers.MaxPooling2D
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(6, 5, padding="same", activation=activation, name="C1")(inputs)
    x = pool(2, name="S2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="C3")(x)
    x = pool(2, name="S4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="C5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, name="F6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def simple_cnn(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    convs_per_block: int = 2,
    batch_norm: bool = True,
    bn_momentum: float = 0.99,
    dropout: float = 0.3,
    head: str = "gap",
    dense_units: int = 128,
    l2: float = 0.0,
    l1: float = 0.0,
    spatial_dropout: float = 0.0,
    max_norm: float = 0.0,
    augmentation: keras.layers.Layer | None = None,
    name: str = "simple_cnn",
) -> keras.Model:
    """A configurable CNN: a feature extractor of conv blocks and a small classifier head.

    Each block is ``convs_per_block`` x (Conv ``kernel_size`` -> [BatchNorm] -> ReLU) followed by
    2x2 max pooling; ``len(filters)`` is the number of blocks. The head is Flatten or global
    average pooling (``head="gap"``), then [dropout ->] Dense(``dense_units``) -> [dropout ->]
    softmax. ``augmentation`` (e.g. a ``helpers.augment`` preset) runs first, during training only.

    Args:
        filters: filters per block (default ``(32, 64)``: two blocks).
        kernel_size: conv kernel size, odd (default 3).
        convs_per_block: conv layers per block (default 2).
        batch_norm: add BatchNormalization after every conv (default True).
        bn_momentum: momentum of BatchNorm's moving statistics (Keras's default 0.99). With few
            steps per epoch (small datasets) 0.9 lets the inference statistics catch up sooner.
        dropout: dropout rate in the head, 0 to disable (default 0.3).
        head: ``"gap"`` (default) or ``"flatten"``.
        dense_units: units of the hidden dense layer, 0 for none (default 128).
        l2: L2 weight penalty on conv and dense kernels (default 0).
        l1: L1 weight penalty on the same kernels (default 0); pushes many weights to (near) zero: sparsity.
        spatial_dropout: SpatialDropout2D rate after each block's pooling, 0 to disable (default 0).
        max_norm: cap the L2 norm of each unit's incoming weights (each conv filter, each dense unit's
            column) at this value after every step, 0 to disable (default 0). Srivastava et al. (2014)
            paired it with dropout (c = 3-4). Unlike a penalty it does nothing until a norm reaches the cap.
    """
    input_shape = _check_shape_and_classes(input_shape, num_classes)
    filters = _validate.int_sequence(filters, "filters")
    kernel_size = _check_kernel_size(kernel_size)
    convs_per_block = _validate.positive_int(convs_per_block, "convs_per_block")
    dropout = _validate.fraction(dropout, "dropout")
    bn_momentum = _validate.fraction(bn_momentum, "bn_momentum")
    _validate.one_of(head, "head", HEADS)
    l1 = _validate.non_negative_number(l1, "l1")
    l2 = _validate.non_negative_number(l2, "l2")
    spatial_dropout = _validate.fraction(spatial_dropout, "spatial_dropout")
    max_norm = _validate.non_negative_number(max_norm, "max_norm")
    dense_units = _validate.non_negative_int(dense_units, "dense_units")
    smallest = min(input_shape[:2]) // (2 ** len(filters))
    if smallest < 1:
        raise ValueError(
            f"{len(filters)} pooling blocks shrink a {input_shape[0]}x{input_shape[1]} image below 1 pixel. "
            "Use fewer blocks or larger images."
        )

    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None
    # A conv kernel is (height, width, in, out): one filter's weights span the first three axes.
    conv_cap = keras.constraints.MaxNorm(max_norm, axis=[0, 1, 2]) if max_norm else None
    dense_cap = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm else None
    inputs = keras.Input(shape=input_shape, name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    for b, n_filters in enumerate(filters, start=1):
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(
                n_filters,
                kernel_size,
                padding="same",
                use_bias=not batch_norm,
                kernel_regularizer=reg,
                kernel_constraint=conv_cap,
                name=f"block{b}_conv{c}",
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        if spatial_dropout:
            x = layers.SpatialDropout2D(spatial_dropout, name=f"block{b}_spatial_dropout")(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="head_gap")(x)
    else:
        x = layers.Flatten(name="head_flatten")(x)
    if dense_units:
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout1")(x)
        x = layers.Dense(
            dense_units, activation="relu", kernel_regularizer=reg, kernel_constraint=dense_cap, name="head_dense"
        )(x)
    return _classify(inputs, x, num_classes, dropout=dropout, regularizer=reg, constraint=dense_cap, name=name)


SIMPLE_CNN_OPTIONS: tuple[str, ...] = tuple(
    name for name, p in inspect.signature(simple_cnn).parameters.items() if p.kind is p.KEYWORD_ONLY
)
"""The keyword arguments of :func:`simple_cnn` (everything but the input shape and the classes):
what a model spec (``helpers.runs``), the overfitting CNN and the search space may set."""


def check_simple_cnn_options(options, *, allowed: Sequence[str] = SIMPLE_CNN_OPTIONS) -> dict:
    """``options`` as a dict, or a ``TypeError`` naming an argument :func:`simple_cnn` does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"Unknown model option(s) {', '.join(unknown)}. Choose from: {', '.join(sorted(allowed))}.")
    return dict(options)


def walk_layers(model, *, leaves_only: bool = False, with_paths: bool = False) -> Iterator:
    """Every layer of ``model`` in order, the layers of nested models (a base inside a head) included.

    Args:
        leaves_only: skip the nested models themselves and keep only their layers (default False:
            a nested model is yielded, then its layers).
        with_paths: yield ``(path, layer)`` pairs, the path naming the enclosing models, e.g.
            ``"base/block1_conv1"`` (default False: layers alone).

    Input layers are skipped: they hold no weights and compute nothing.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"Expected a Keras model or Sequential. Received: {type(model).__name__}")
    yield from _walk(model, "", leaves_only, with_paths)


def _walk(model, prefix: str, leaves_only: bool, with_paths: bool) -> Iterator:
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        path = f"{prefix}{layer.name}"
        nested = hasattr(layer, "layers")
        if not (nested and leaves_only):
            yield (path, layer) if with_paths else layer
        if nested:
            yield from _walk(layer, f"{path}/", leaves_only, with_paths)


def _classify(
    inputs, features, num_classes: int, *, dropout: float, regularizer, name: str, constraint=None
) -> keras.Model:
    """The model from ``inputs`` to softmax probabilities over ``features`` ([dropout ->] Dense).

    The output layer is float32 even under mixed precision: a softmax in float16 can round to 0 or 1.
    """
    x = layers.Dropout(dropout, name="head_dropout")(features) if dropout else features
    outputs = layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizer,
        kernel_constraint=constraint,
        name="predictions",
        dtype="float32",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _check_initializer(kernel_initializer):
    """``kernel_initializer`` unchanged if Keras can use it (a name such as ``"he_normal"``, a config
    dict or an ``Initializer``), else a ``ValueError`` that names the argument (Keras's own message
    does not say which argument was wrong). A name is best: every layer then builds its own
    initializer, whereas one *seeded* instance would give layers of the same shape the same weights."""
    message = (
        "kernel_initializer must be a Keras initializer or its name, e.g. 'he_normal' or 'glorot_uniform'. "
        f"Received: kernel_initializer={kernel_initializer!r}"
    )
    if not isinstance(kernel_initializer, (str, dict, keras.initializers.Initializer)):
        raise ValueError(message)
    try:
        keras.initializers.get(kernel_initializer)
    except (ValueError, TypeError) as exc:
        raise ValueError(message) from exc
    return kernel_initializer


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's Conv2D layers, in order (for feature-map and filter plots)."""
    return [layer.name for layer in model.layers if isinstance(layer, layers.Conv2D)]


# ----------------------------------------------------------------------------------------------
# Residual networks (introduced in 03_architecture).


def residual_block(
    x,
    filters: int,
    *,
    stride: int = 1,
    kernel_size: int = 3,
    batch_norm: bool = True,
    skip: bool = True,
    l2: float = 0.0,
    kernel_initializer="glorot_uniform",
    name: str = "res",
):
    """One basic residual block (He et al., 2016): ``relu(F(x) + shortcut(x))``.

    ``F`` is Conv(``kernel_size``, ``stride``) -> [BN] -> ReLU -> Conv -> [BN]. The shortcut is the
    identity when the shape is unchanged, otherwise a 1x1 convolution with the same stride (a
    "projection", plus BN when ``batch_norm``). With ``skip=False`` the block is the same two
    convolutions without the shortcut: the "plain" twin used to show what the skip buys.

    Layer names: ``{name}_conv1``, ``{name}_bn1``, ``{name}_relu1``, ``{name}_conv2``, ``{name}_bn2``,
    ``{name}_proj`` and ``{name}_proj_bn`` (projection only), ``{name}_add`` (skip only), ``{name}_out``.

    Args:
        x: a 4-D Keras tensor ``(batch, height, width, channels)``.
        filters: output channels of both convolutions.
        stride: stride of the first convolution (2 halves height and width; default 1).
        kernel_size: odd kernel size of both convolutions (default 3).
        batch_norm: BatchNormalization after each convolution (default True).
        skip: add the shortcut (default True); False builds the plain twin.
        l2: L2 weight penalty on the conv kernels (default 0).
        kernel_initializer: initializer of every conv kernel (default ``"glorot_uniform"``, Keras's
            default). ``"he_normal"`` (He et al., 2015: variance ``2 / fan_in``) keeps the scale of
            ReLU activations from layer to layer; Glorot's ``2 / (fan_in + fan_out)`` halves the
            second moment at every ReLU layer of equal width, which a deep stack without
            BatchNorm or shortcuts cannot afford.
        name: prefix of every layer name (default ``"res"``).
    """
    if len(getattr(x, "shape", ())) != 4:
        raise ValueError(
            f"x must be a 4-D tensor (batch, height, width, channels). Received shape={getattr(x, 'shape', None)}"
        )
    filters = _validate.positive_int(filters, "filters")
    if not _validate.is_int(stride) or stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2. Received: stride={stride!r}")
    kernel_size = _check_kernel_size(kernel_size)
    l2 = _validate.non_negative_number(l2, "l2")
    kernel_initializer = _check_initializer(kernel_initializer)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None

    def conv(t, k, s, suffix):
        return layers.Conv2D(
            filters,
            k,
            strides=s,
            padding="same",
            use_bias=not batch_norm,
            kernel_regularizer=reg,
            kernel_initializer=kernel_initializer,
            name=f"{name}_{suffix}",
        )(t)

    y = conv(x, kernel_size, stride, "conv1")
    if batch_norm:
        y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = conv(y, kernel_size, 1, "conv2")
    if batch_norm:
        y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if skip:
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            shortcut = conv(x, 1, stride, "proj")
            if batch_norm:
                shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
        y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def small_resnet(
    input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10, *, filters: Sequence[int] = (16, 32),
    blocks_per_stage: int = 1, kernel_size: int = 3, batch_norm: bool = True, skip: bool = True,
    dropout: float = 0.0, l2: float = 0.0, kernel_initializer="glorot_uniform", name: str = "small_resnet",
) -> keras.Model:  # fmt: skip
    """A small ResNet: a conv stem, stages of :func:`residual_block`, and a GAP -> softmax head.

    Stage ``s`` has ``blocks_per_stage`` blocks with ``filters[s]`` channels; every stage after the
    first starts with a stride-2 block (half the resolution, a projection shortcut). Depth is
    ``1 + 2 * len(filters) * blocks_per_stage`` convolutions (plus projections). ``skip=False``
    builds the plain network with the same convolutions and no shortcuts, for comparison.

    Layer names: ``stem_conv``, ``stem_bn``, ``stem_relu``, ``stage{s}_block{b}_*`` (see
    :func:`residual_block`), ``head_gap``, ``head_dropout``, ``predictions``.

    Args:
        filters: channels per stage (default ``(16, 32)``: two stages).
        blocks_per_stage: residual blocks per stage (default 1).
        kernel_size: odd kernel size of the block convolutions (default 3).
        batch_norm: BatchNormalization after every convolution (default True).
        skip: use shortcuts (default True); False gives the plain twin.
        dropout: dropout before the output layer, 0 to disable (default 0).
        l2: L2 weight penalty on conv and dense kernels (default 0).
        kernel_initializer: initializer of the stem's and the blocks' conv kernels (default
            ``"glorot_uniform"``, Keras's default; ``"he_normal"`` suits ReLU, see
            :func:`residual_block`). The output layer keeps Glorot: a softmax follows it, not a ReLU.
    """
    input_shape = _check_shape_and_classes(input_shape, num_classes)
    filters = _validate.int_sequence(filters, "filters")
    kernel_initializer = _check_initializer(kernel_initializer)
    blocks_per_stage = _validate.int_at_least(blocks_per_stage, "blocks_per_stage", 1)
    dropout = _validate.fraction(dropout, "dropout")
    l2 = _validate.non_negative_number(l2, "l2")
    if min(input_shape[:2]) < 2 ** (len(filters) - 1):
        raise ValueError(
            f"{len(filters) - 1} stride-2 stages need images of at least {2 ** (len(filters) - 1)} pixels per side. "
            f"Received: input_shape={input_shape}. Use fewer stages or larger images."
        )
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(
        filters[0],
        3,
        padding="same",
        use_bias=not batch_norm,
        kernel_regularizer=reg,
        kernel_initializer=kernel_initializer,
        name="stem_conv",
    )(inputs)
    if batch_norm:
        x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for s, n_filters in enumerate(filters, start=1):
        for b in range(1, blocks_per_stage + 1):
            stride = 2 if (s > 1 and b == 1) else 1
            x = residual_block(
                x,
                n_filters,
                stride=stride,
                kernel_size=kernel_size,
                batch_norm=batch_norm,
                skip=skip,
                l2=l2,
                kernel_initializer=kernel_initializer,
                name=f"stage{s}_block{b}",
            )
    x = layers.GlobalAveragePooling2D(name="head_gap")(x)
    return _classify(inputs, x, num_classes, dropout=dropout, regularizer=reg, name=name)
