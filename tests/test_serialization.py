"""Every custom Keras layer and callback in helpers is registered and round-trips through its config.

The classes are discovered by walking the package, so a new layer or callback added without a
registration (or without an example below) fails here rather than when a learner reloads a model.
"""

import importlib
import inspect
import pkgutil

import keras
import pytest

import helpers
from helpers import augment, averaging, callbacks, resume


def _custom_keras_classes() -> set[type]:
    found = set()
    for info in pkgutil.walk_packages(helpers.__path__, prefix="helpers."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            concrete = not cls.__name__.startswith("_")  # a private base class is never used on its own
            if (
                concrete
                and cls.__module__ == module.__name__
                and issubclass(cls, (keras.layers.Layer, keras.callbacks.Callback))
            ):
                found.add(cls)
    return found


def _examples(tmp_path) -> dict[type, object]:
    """One instance with non-default arguments per class: a round trip must keep every one of them."""
    return {
        augment.CheckValueRange: augment.CheckValueRange(value_range=(-1.0, 1.0), tolerance=0.05),
        augment.RandomStrokeWidth: augment.RandomStrokeWidth(factor=0.3, seed=7),
        callbacks.InterruptAfterEpoch: callbacks.InterruptAfterEpoch(3),
        resume.ResumableCSVLogger: resume.ResumableCSVLogger(tmp_path / "log.csv", separator=";"),
        resume.SafeBackupAndRestore: resume.SafeBackupAndRestore(
            tmp_path / "backup", save_freq=5, delete_checkpoint=False
        ),
        callbacks.LRFinder: callbacks.LRFinder(
            start_lr=1e-5, end_lr=3.0, num_steps=77, smoothing=0.8, stop_factor=None
        ),
        callbacks.EpochTimer: callbacks.EpochTimer(),
        averaging.WeightAveraging: averaging.WeightAveraging(start_epoch=7),
    }


# Classes that cannot round-trip on purpose, with the reason; their docstrings must say so.
NOT_SERIALIZABLE = {
    "GradientHistograms": "holds a batch of training data; get_callbacks builds it per run",
    "TrainingStats": "holds a probe batch of training data; a notebook builds it per run (10)",
}


def test_every_custom_class_has_an_example(tmp_path):
    classes = {c.__qualname__: c for c in _custom_keras_classes()}
    missing = set(classes) - {c.__qualname__ for c in _examples(tmp_path)} - set(NOT_SERIALIZABLE)
    assert not missing, f"add an example (and a registration) for: {sorted(missing)}"
    for name in NOT_SERIALIZABLE:
        assert "Not serializable" in (classes[name].__doc__ or ""), (
            f"{name}'s docstring must say it is not serializable"
        )


@pytest.mark.parametrize(
    "name",
    [
        "CheckValueRange",
        "RandomStrokeWidth",
        "InterruptAfterEpoch",
        "ResumableCSVLogger",
        "SafeBackupAndRestore",
        "LRFinder",
        "EpochTimer",
    ],
)
def test_registered_and_round_trips(name, tmp_path):
    obj = next(o for c, o in _examples(tmp_path).items() if c.__name__ == name)
    assert keras.saving.get_registered_name(type(obj)) == f"cnn_course>{name}"
    config = keras.saving.serialize_keras_object(obj)
    again = keras.saving.deserialize_keras_object(config)
    assert type(again) is type(obj)
    assert again.get_config() == obj.get_config()
    assert keras.saving.serialize_keras_object(again) == config
