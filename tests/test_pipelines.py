"""Helpers added with 02_data_preparation: throughput measurements and PNG encoding in helpers.data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import models, pipelines, training


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return rng.random((40, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 40)


def test_throughput_dataclass():
    t = pipelines.Throughput(images_per_second=1234.4, rates=(1000.0, 1234.4, 2000.0), images=512)
    assert float(t) == 1234.4
    assert str(t) == "1,234 images/s (median of 3 passes over 512 images)"


def test_pipeline_throughput_of_tf_data(small):
    x, y = small
    result = pipelines.pipeline_throughput(pipelines.to_tf_dataset(x, y, batch_size=16), repeats=3)
    assert result.images == 40 and len(result.rates) == 3
    assert result.images_per_second > 0 and min(result.rates) <= result.images_per_second <= max(result.rates)


def test_pipeline_throughput_of_plain_iterables_and_images_only_batches(small):
    x, _ = small
    batches = [x[:16], x[16:32], x[32:]]
    assert pipelines.pipeline_throughput(batches, repeats=1, warmup=0).images == 40


def test_pipeline_throughput_of_a_pydataset(small):
    x, y = small

    class Feed(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10]

    assert pipelines.pipeline_throughput(Feed(), repeats=1).images == 40


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"repeats": 0}, "repeats must be an integer >= 1. Received: repeats=0"),
        ({"warmup": -1}, "warmup must be an integer >= 0. Received: warmup=-1"),
        ({"repeats": True}, "Received: repeats=True"),
    ],
)
def test_pipeline_throughput_rejects_bad_counts(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pipelines.pipeline_throughput([small[0]], **kwargs)


def test_pipeline_throughput_rejects_bad_pipelines():
    with pytest.raises(TypeError, match="pipeline must be a tf.data.Dataset"):
        pipelines.pipeline_throughput(42)
    with pytest.raises(ValueError, match="yielded no images"):
        pipelines.pipeline_throughput([])
    with pytest.raises(TypeError, match="Each batch must be images"):
        pipelines.pipeline_throughput([1, 2])


def test_training_throughput_trains_and_measures(small, seeded):
    x, y = small
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), convs_per_block=1, dense_units=0)
    training.compile_classifier(model)
    before = [w.copy() for w in model.get_weights()]
    result = pipelines.training_throughput(model, pipelines.to_tf_dataset(x, y, batch_size=16), repeats=2)
    assert result.images == 40 and len(result.rates) == 2 and result.images_per_second > 0
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_training_throughput_needs_a_compiled_model_and_images(small):
    x, y = small
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), convs_per_block=1, dense_units=0)
    pipeline = pipelines.to_tf_dataset(x, y, batch_size=16)
    with pytest.raises(ValueError, match="compiled Keras model"):
        pipelines.training_throughput(model, pipeline)
    training.compile_classifier(model)
    with pytest.raises(ValueError, match="Received: warmup=0"):
        pipelines.training_throughput(model, pipeline, warmup=0)
    with pytest.raises(ValueError, match="yielded no images"):
        pipelines.training_throughput(model, pipeline.take(0))


def test_encode_png_round_trips():
    x = np.random.default_rng(0).integers(0, 256, (3, 5, 4, 1)).astype(np.float32)
    pngs = pipelines.encode_png(x)
    assert len(pngs) == 3 and all(p.startswith(b"\x89PNG") for p in pngs)
    decoded = np.stack([tf.io.decode_png(p, channels=1).numpy() for p in pngs])
    np.testing.assert_array_equal(decoded, x.astype(np.uint8))


def test_encode_png_rejects_scaled_or_out_of_range_pixels():
    x = np.random.default_rng(0).random((2, 4, 4, 1))
    with pytest.raises(ValueError, match=r"scaled to \[0, 1\]; PNG stores 0..255"):
        pipelines.encode_png(x)
    with pytest.raises(ValueError, match="whole numbers 0..255"):
        pipelines.encode_png(x * 300)
    with pytest.raises(ValueError, match="channel axis"):
        pipelines.encode_png(x[..., 0])
