"""helpers.persistence: .keras files saved and loaded in safe mode, with clear errors."""

import zipfile

import keras
import numpy as np
import pytest

from helpers import augment, config, models, persistence


@pytest.fixture
def model(seeded):
    net = models.simple_cnn((8, 8, 1), 3, filters=(4,), dense_units=8, name="tiny_cnn")
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return net


def test_saved_model_reloads_and_predicts_identically(model, tmp_path):
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype(np.float32)
    model.fit(x, np.arange(16) % 3, epochs=1, verbose=0)
    path = persistence.save_model(model, tmp_path / "deep" / "tiny.keras")
    assert path == tmp_path / "deep" / "tiny.keras" and zipfile.is_zipfile(path)
    loaded = persistence.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.name == "tiny_cnn" and loaded.optimizer is not None
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert getattr(persistence.load_model(path, compile=False), "optimizer", None) is None


def test_a_model_with_the_course_augmentation_layers_round_trips(tmp_path, seeded):
    net = models.simple_cnn(
        (28, 28, 1), 10, filters=(4,), dense_units=0, augmentation=augment.preset("digits"), name="augmented"
    )
    path = persistence.save_model(net, tmp_path / "augmented.keras")
    x = np.zeros((2, 28, 28, 1), np.float32)
    np.testing.assert_allclose(persistence.load_model(path).predict(x, verbose=0), net.predict(x, verbose=0))


def test_default_path_is_under_build_models(model):
    assert persistence.default_path("tiny_cnn") == config.BUILD_DIR / "models" / "tiny_cnn.keras"
    with pytest.raises(ValueError, match="plain file name without folders"):
        persistence.default_path("../escape")


def test_save_errors(model, tmp_path):
    with pytest.raises(ValueError, match=r"Save models with the \.keras extension.*save_weights"):
        persistence.save_model(model, tmp_path / "model.h5")
    with pytest.raises(ValueError, match=r"\.keras extension"):
        persistence.save_model(model, tmp_path / "model")
    with pytest.raises(TypeError, match="model must be a Keras model"):
        persistence.save_model("model", tmp_path / "m.keras")
    persistence.save_model(model, tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        persistence.save_model(model, tmp_path / "m.keras", overwrite=False)


def test_a_lambda_layer_is_refused_in_safe_mode(tmp_path):
    inputs = keras.Input((4,))
    net = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = persistence.save_model(net, tmp_path / "lambda.keras")
    with pytest.raises(persistence.UnsafeModelError, match="contains a Lambda layer.*safe_mode") as info:
        persistence.load_model(path)
    assert isinstance(info.value, ValueError) and "safe_mode" in str(info.value.__cause__)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file at .*Train and save it first"):
        persistence.load_model(tmp_path / "nope.keras")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.keras", b"just text, not a zip", "is not a Keras model file"),
        ("old.h5", b"\x89HDF\r\n\x1a\n", "is not a Keras model file.*re-save them as .keras"),
        ("w.weights.h5", b"\x89HDF\r\n\x1a\n", "holds weights only, not a model"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        persistence.load_model(path)


def test_a_zip_without_a_model_inside_and_a_folder_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "archive.keras", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="zip file but not a Keras model"):
        persistence.load_model(tmp_path / "archive.keras")
    with pytest.raises(ValueError, match="is a folder"):
        persistence.load_model(tmp_path)
    with pytest.raises(TypeError, match="path must be a file path"):
        persistence.load_model(None)


def test_an_unknown_custom_layer_names_the_class(tmp_path):
    class Doubler(keras.layers.Layer):
        def call(self, t):
            return t * 2

    inputs = keras.Input((4,))
    path = persistence.save_model(keras.Model(inputs, Doubler()(inputs)), tmp_path / "custom.keras")
    with pytest.raises(ValueError, match="uses 'Doubler', which this session does not know.*custom_objects"):
        persistence.load_model(path)
    loaded = persistence.load_model(path, custom_objects={"Doubler": Doubler})
    np.testing.assert_allclose(loaded.predict(np.ones((1, 4)), verbose=0), 2.0)


def test_a_model_trained_with_the_modern_toolbox_loads_in_a_fresh_interpreter(tmp_path, tiny):
    """Label smoothing's loss, the one-cycle schedule and the per-layer optimizer are registered objects:
    persistence.load_model finds them although the loading process never imported their modules."""
    import subprocess
    import sys

    from helpers import models, schedules, training, transfer

    model = models.simple_cnn(tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=0)
    optimizer = transfer.LayerwiseAdam(schedules.one_cycle(1e-2, 10), factors={"block1_conv1": 0.5})
    training.compile_classifier(model, optimizer=optimizer, label_smoothing=0.1)
    training.fit(model, tiny, epochs=1, batch_size=16, verbose=0)
    path = persistence.save_model(model, tmp_path / "toolbox.keras")
    code = (
        f"from helpers import persistence; m = persistence.load_model(r'{path}'); "
        "print(type(m.loss).__name__, m.loss.label_smoothing, type(m.optimizer).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["CrossEntropy", "0.1", "LayerwiseAdam"]
