"""The contenders raced in the time-to-accuracy benchmark: the course's fast recipe and three references.

A :class:`Contender` is a benchmark entry (a name, its source, how to build and feed it), not a
course recipe: the course's one notion of a recipe is :class:`helpers.recipes.Recipe`, and its
contender wraps :data:`helpers.recipes.FAST`.

References are re-implemented from their sources (layer for layer, optimizer and batch size as
published); epochs are capped by the time budget rather than by the original epoch counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
from keras import layers

from helpers import config, recipes
from helpers.data import Dataset


@dataclasses.dataclass(frozen=True)
class Contender:
    name: str
    source: str
    batch_size: int
    max_epochs: int
    build: Callable[[Dataset, int], keras.Model]  # returns a compiled model
    augment: Callable[[Dataset, int], object] | None = None


def _compile(model, optimizer):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _adam_reference(name: str, hidden: Callable[[], list]) -> Callable[[Dataset, int], keras.Model]:
    """A contender's builder: ``Input -> hidden() -> softmax``, seeded, compiled with Adam (the references'
    setup). ``hidden`` makes the layers after seeding: a Dropout layer draws its seed when constructed."""

    def build(ds: Dataset, seed: int) -> keras.Model:
        config.seed_everything(seed)
        out = layers.Dense(ds.num_classes, activation="softmax")
        model = keras.Sequential([keras.Input(ds.input_shape), *hidden(), out], name=name)
        return _compile(model, keras.optimizers.Adam())

    return build


# keras.io "Simple MNIST convnet": conv32-pool-conv64-pool-flatten-dropout0.5-dense, Adam, batch 128.
keras_simple_convnet = _adam_reference("keras_simple_convnet", lambda: [
    layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
])  # fmt: skip

# TensorFlow "Convolutional Neural Network" tutorial: conv32-pool-conv64-pool-conv64-dense64, Adam.
tf_cnn_tutorial = _adam_reference("tf_cnn_tutorial", lambda: [
    layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
    layers.Dense(64, activation="relu"),
])  # fmt: skip


def lenet5_sgd(ds: Dataset, seed: int) -> keras.Model:
    """Classic LeNet-5 (tanh, average pooling) trained with plain SGD, as in 1998 (no momentum)."""
    from helpers import models

    config.seed_everything(seed)
    return _compile(models.lenet5(ds.input_shape, ds.num_classes), keras.optimizers.SGD(0.05))


def course(ds: Dataset, seed: int, recipe: recipes.Recipe = recipes.FAST) -> keras.Model:
    return recipe.build(ds, seed=seed)


def all_contenders(max_epochs: int, recipe: recipes.Recipe = recipes.FAST) -> list[Contender]:
    """The course recipe runs its own epoch count (its schedule spans it; capped by ``max_epochs``);
    the references train at their constant learning rates until the time budget runs out."""
    course_recipe = recipe.replace(epochs=min(recipe.epochs, max_epochs))
    return [
        Contender(
            "course recipe",
            "helpers.recipes.FAST",
            course_recipe.batch_size,
            course_recipe.epochs,
            lambda ds, seed: course(ds, seed, course_recipe),
            (lambda ds, seed: course_recipe.augmentation(ds, seed=seed)) if course_recipe.augment else None,
        ),
        Contender(
            "Keras simple MNIST convnet",
            "keras.io/examples/vision/mnist_convnet",
            128,
            max_epochs,
            keras_simple_convnet,
        ),
        Contender("TF CNN tutorial", "tensorflow.org/tutorials/images/cnn", 32, max_epochs, tf_cnn_tutorial),
        Contender("LeNet-5 + SGD", "LeCun et al. 1998", 32, max_epochs, lenet5_sgd),
    ]
