"""helpers.pipelines: the course's tf.data pipeline (to_tf_dataset), throughput measurements, PNG encoding."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import data, models, pipelines, training


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return rng.random((40, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 40)


@pytest.fixture(scope="module")
def mnist5k():
    return data.load("mnist5k")


# ----------------------------------------------------------------------------------------------
# to_tf_dataset.


def test_to_tf_dataset_batches_shuffles_and_augments(mnist5k):
    ds = pipelines.to_tf_dataset(
        mnist5k.x_train[:100], mnist5k.y_train[:100], batch_size=32, shuffle=True, augment=lambda x, training: x * 0.0
    )
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [32, 32, 32, 4]
    assert batches[0][0].shape[1:] == (28, 28, 1)
    assert float(np.abs(batches[0][0]).max()) == 0.0  # the augmentation ran
    first = [b[1].numpy().tolist() for b in ds][0]
    second = [b[1].numpy().tolist() for b in ds][0]
    assert first != second, "training order is reshuffled every epoch"


@pytest.mark.parametrize(
    ("x", "y", "exc", "match"),
    [
        (np.zeros((4, 28, 28)), np.zeros(4), ValueError, "without a channel axis"),
        (np.zeros((4, 1, 28, 28)), np.zeros(4), ValueError, "channels-first|Channels-first"),
        (np.zeros((0, 28, 28, 1)), np.zeros(0), ValueError, "empty"),
        (np.full((2, 4, 4, 1), np.nan), np.zeros(2), ValueError, "NaN"),
        (np.zeros((2, 4, 4, 1)), np.eye(2), ValueError, "one-hot"),
        (np.zeros((2, 4, 4, 1)), np.array([0, -1]), ValueError, "class ids"),
        (np.zeros((2, 4, 4, 1)), np.zeros(3), ValueError, "3 labels but there are 2 images"),
        (np.zeros((2, 4, 4, 1)), np.array([0.5, 1]), ValueError, "whole class ids"),
        (np.array([["a"]]), np.zeros(1), TypeError, "numbers"),
    ],
)
def test_to_tf_dataset_rejects_bad_input(x, y, exc, match):
    with pytest.raises(exc, match=match):
        pipelines.to_tf_dataset(x, y)


def _labels(batches) -> list[list[int]]:
    return [yb.numpy().tolist() for _, yb in batches]


def test_to_tf_dataset_repeat_is_endless_with_full_batches():
    x = np.zeros((10, 2, 2, 1), np.float32)
    y = np.arange(10)
    ds = pipelines.to_tf_dataset(x, y, batch_size=4, shuffle=True, repeat=True, seed=3)
    assert ds.cardinality() == tf.data.INFINITE_CARDINALITY
    sizes = [int(xb.shape[0]) for xb, _ in ds.take(25)]  # 100 examples: ten passes over 10
    assert sizes == [4] * 25, "repeating before batching keeps every batch full across passes"


def test_to_tf_dataset_repeat_reshuffles_each_pass_and_is_seeded():
    x = np.zeros((10, 2, 2, 1), np.float32)
    y = np.arange(10)

    def stream(seed):
        ds = pipelines.to_tf_dataset(x, y, batch_size=5, shuffle=True, repeat=True, seed=seed)
        return [label for batch in _labels(ds.take(8)) for label in batch]

    labels = stream(3)
    passes = [labels[i : i + 10] for i in range(0, 40, 10)]
    assert all(sorted(p) == list(range(10)) for p in passes), "each pass sees every example once"
    assert len({tuple(p) for p in passes}) > 1, "the order changes from pass to pass"
    assert stream(3) == labels, "the same seed gives the same stream"
    assert stream(4) != labels


def test_to_tf_dataset_without_repeat_ends_after_one_pass():
    x = np.zeros((10, 2, 2, 1), np.float32)
    ds = pipelines.to_tf_dataset(x, np.arange(10), batch_size=4)
    assert [int(xb.shape[0]) for xb, _ in ds] == [4, 4, 2]
    assert _labels(ds) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], "no shuffle: the order is kept"


# ----------------------------------------------------------------------------------------------
# Throughput.


def test_throughput_dataclass():
    t = pipelines.Throughput(images_per_second=1234.4, rates=(1000.0, 1234.4, 2000.0), images=512)
    assert float(t) == 1234.4
    assert str(t) == "1,234 images/s (median of 3 passes over 512 images)"
    assert t.best == 2000.0, "best is the fastest pass: the one least slowed by other work"


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
