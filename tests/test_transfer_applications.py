"""keras.applications builders: offline with weights=None, a clear fast error for offline ImageNet."""

import socket
import time
import urllib.error

import keras
import numpy as np
import pytest

from helpers import transfer


@pytest.fixture
def no_cached_weights(tmp_path, monkeypatch):
    """Point Keras's download cache at an empty folder, so nothing is found locally."""
    from keras.src.backend import config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def _fail_download(exc):
    def urlretrieve(url, *args, **kwargs):
        raise exc

    return urlretrieve


def test_mobilenet_builds_offline_with_random_weights():
    base = transfer.application("MobileNetV2", input_size=96, alpha=0.35)
    assert base.input_shape == (None, 96, 96, 3) and len(base.output_shape) == 2
    model = transfer.application("MobileNetV2", num_classes=5, input_size=96, alpha=0.35)
    assert model.output_shape == (None, 5)
    head = 5 * base.output_shape[-1] + 5
    assert transfer.trainable_counts(model)["trainable"] == head
    assert len(transfer.blocks(model)) == 16 and transfer.blocks(model)[0] == "block_1"
    transfer.unfreeze_top(model, 2)
    flags = transfer.trainable_layers(model)
    assert flags["block_16_project"] and not flags["block_14_project"] and not flags["block_16_project_BN"]
    x = transfer.to_application_input(np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32))
    assert model(x).shape == (2, 5)


def test_input_size_rules():
    assert transfer.application_input_size("MobileNetV2") == 96
    assert transfer.application_input_size("MobileNetV2", 64) == 64  # random weights: any size >= 32
    assert transfer.application_input_size("ResNet50", 64, weights="imagenet") == 64
    with pytest.raises(ValueError, match=r"ImageNet weights exist for input sizes \(96, 128"):
        transfer.application_input_size("MobileNetV2", 64, weights="imagenet")
    with pytest.raises(ValueError, match="input_size must be an integer >= 32"):
        transfer.application_input_size("MobileNetV2", 28)
    with pytest.raises(ValueError, match="Unknown application 'VGG99'"):
        transfer.application("VGG99")
    with pytest.raises(ValueError, match="weights must be None or 'imagenet'"):
        transfer.application("MobileNetV2", weights="cifar")


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_offline_imagenet_fails_fast_with_a_clear_message(no_cached_weights, monkeypatch, error):
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "urlretrieve", _fail_download(error))
    previous = socket.getdefaulttimeout()
    start = time.perf_counter()
    with pytest.raises(transfer.WeightsUnavailableError) as info:
        transfer.application("MobileNetV2", input_size=96, weights="imagenet", alpha=0.35)
    assert time.perf_counter() - start < 30
    message = str(info.value)
    assert "MobileNetV2" in message and "offline" in message and "weights=None" in message
    assert str(no_cached_weights) in message  # says where to put the file
    assert socket.getdefaulttimeout() == previous  # the download timeout was restored


def test_imagenet_is_only_attempted_when_asked(monkeypatch):
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "urlretrieve", _fail_download(AssertionError("no download expected")))
    transfer.application("MobileNetV2", input_size=96, alpha=0.35)  # weights=None: never downloads


def test_other_errors_are_not_disguised_as_offline(no_cached_weights, monkeypatch):
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "urlretrieve", _fail_download(RuntimeError("disk on fire")))
    with pytest.raises(RuntimeError, match="disk on fire"):
        transfer.application("MobileNetV2", input_size=96, weights="imagenet", alpha=0.35)


def test_download_timeout_is_applied_during_the_build(monkeypatch):
    seen = {}

    def fake_constructor(**kwargs):
        seen["timeout"] = socket.getdefaulttimeout()
        raise urllib.error.URLError("stalled")

    monkeypatch.setattr(keras.applications, "MobileNetV2", fake_constructor)
    with pytest.raises(transfer.WeightsUnavailableError):
        transfer.application("MobileNetV2", weights="imagenet", download_timeout=3.0)
    assert seen["timeout"] == 3.0


def test_preprocess_contracts():
    gray = np.linspace(0, 1, 2 * 28 * 28).reshape(2, 28, 28, 1).astype(np.float32)
    mobile = transfer.to_application_input(gray, "MobileNetV2")
    assert mobile.shape == (2, 96, 96, 3)
    assert mobile.min() >= -1.0 - 1e-5 and mobile.max() <= 1.0 + 1e-5 and mobile.min() < -0.9
    assert transfer.preprocess_function("MobileNetV2") is keras.applications.mobilenet_v2.preprocess_input
    resnet = transfer.to_application_input(gray, "ResNet50", input_size=32)
    assert resnet.shape == (2, 32, 32, 3) and resnet.min() < -100 and resnet.max() > 100  # caffe: mean-subtracted
    effnet = transfer.to_application_input(gray, "EfficientNetB0", input_size=32)
    assert effnet.max() > 200  # identity: the model rescales 0..255 itself
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        transfer.to_application_input(gray * 255, "MobileNetV2")
    for spec in transfer.APPLICATIONS.values():
        assert "0..255" in spec.input_contract
