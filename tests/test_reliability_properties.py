"""Property-based tests: odd inputs to the data functions either work or raise the documented
ValueError/TypeError with a message that says what to change. Nothing else may escape."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import data, pipelines

# derandomize: every run (and CI) tries the same examples, so a failure reproduces. To hunt for new
# ones locally, set derandomize=False and run with --hypothesis-seed=<any number>.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.float32, np.float64, np.uint8, np.int64, np.bool_, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)


def _explains(exc: Exception) -> bool:
    msg = str(exc)
    return len(msg) > 20 and any(
        w in msg for w in ("must", "Received", "empty", "Use", "looks", "holds", "need", "Known", "Pass")
    )


@SETTINGS
@given(hnp.arrays(DTYPES, SHAPES))
def test_validate_images_accepts_or_explains(x):
    try:
        out = data.validate_images(x)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        assert out.ndim == 4 and out.shape[0] > 0 and out.shape[-1] in (1, 3)
        if np.issubdtype(out.dtype, np.floating):
            assert np.all(np.isfinite(out))


@SETTINGS
@given(
    hnp.arrays(
        st.sampled_from([np.int64, np.int8]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
        elements=st.integers(-3, 12),
    )
    | hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
        elements=st.floats(allow_nan=True) | st.integers(-3, 12).map(float),
    ),
    st.integers(1, 12),
)
def test_validate_labels_accepts_or_explains(y, num_classes):
    try:
        out = data.validate_labels(y, num_classes=num_classes)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        assert out.ndim == 1 and out.min() >= 0 and out.max() < num_classes


@SETTINGS
@given(st.lists(st.integers(0, 4), min_size=0, max_size=40), (st.floats(-0.5, 1.5) | st.just(float("nan"))))
def test_stratified_split_keeps_every_class_or_explains(labels, fraction):
    y = np.array(labels, dtype=np.int64)
    x = np.zeros((len(y), 2, 2, 1), np.float32)
    try:
        x_a, y_a, x_b, y_b = data.stratified_split(x, y, fraction, seed=1)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        assert set(y_a) == set(y_b) == set(y)
        assert len(x_a) + len(x_b) == len(y)


@SETTINGS
@given(
    st.integers(1, 5), st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3]), st.integers(-2, 7), st.booleans()
)
def test_to_tf_dataset_batches_or_explains(n, h, w, c, batch_size, shuffle):
    x = np.random.default_rng(0).random((n, h, w, c)).astype(np.float32)
    y = np.arange(n) % 2
    try:
        ds = pipelines.to_tf_dataset(x, y, batch_size=batch_size, shuffle=shuffle)
    except (ValueError, TypeError) as exc:
        assert batch_size <= 0 and _explains(exc)
    else:
        sizes = [int(xb.shape[0]) for xb, _ in ds]
        assert sum(sizes) == n and max(sizes) <= batch_size
        assert all(tuple(xb.shape[1:]) == (h, w, c) for xb, _ in ds)


@SETTINGS
@given(st.tuples(st.integers(-2, 40), st.integers(-2, 40)) | st.just((8,)) | st.just((1.5, 2)))
def test_resize_images_or_explains(size):
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    try:
        out = data.resize_images(x, size)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        assert out.shape == (2, *size, 1) and np.all(np.isfinite(out))


@SETTINGS
@given(st.text(max_size=12), (st.floats(-1, 2) | st.just(float("nan"))), (st.floats(-1, 2) | st.just(float("nan"))))
def test_load_rejects_bad_names_and_fractions_clearly(name, val_fraction, test_fraction):
    if name in data.OFFLINE or name in data.ONLINE:
        return
    with pytest.raises((ValueError, TypeError)) as info:
        data.load(name, val_fraction=val_fraction, test_fraction=test_fraction)
    assert _explains(info.value), str(info.value)


@SETTINGS
@given(st.floats(-1, 4) | st.just(float("nan")) | st.integers(-1, 4) | st.booleans())
def test_augment_strength_is_validated(strength):
    from helpers import augment

    try:
        layer = augment.preset("digits", strength=strength)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
        out = np.asarray(layer(x, training=True))
        assert out.shape == x.shape and np.all(np.isfinite(out))
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


@settings(SETTINGS, max_examples=40)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3])),
        elements=st.floats(0, 1),
    )  # valid batches in the preset's range, tiny images included
    | hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=5, min_side=0, max_side=9),
        elements=st.floats(-300, 300) | st.sampled_from([0.0, 0.5, 1.0, 255.0]),
    ),
    st.sampled_from([np.float32, np.float64, np.uint8, np.int64]),
    st.sampled_from(["digits", "clothing", "objects"]),
    st.sampled_from([1, 2, 3, 0, -1, 1.5]),
)
def test_augment_variants_of_odd_images_work_or_explain(values, dtype, name, n):
    """Any shape, dtype or pixel range: augmented copies in the input's range, or a clear error."""
    from helpers import augment

    x = values.astype(dtype)
    try:
        out = augment.variants(augment.preset(name), x, n=n)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        images = data.validate_images(x)
        assert out.shape == (len(images), n, *images.shape[1:])
        event("augmented")
        assert np.all(np.isfinite(out)) and out.min() >= -0.02 and out.max() <= 1.02


@SETTINGS
@given(
    st.tuples(st.integers(-1, 40), st.integers(-1, 40), st.integers(-1, 4)) | st.just((28, 28)) | st.just((28.0, 28, 1))
)
def test_flip_rate_probe_shape_works_or_explains(shape):
    from helpers import augment

    try:
        rates = augment.flip_rate(augment.preset("digits"), n=4, image_shape=shape)
    except (ValueError, TypeError) as exc:
        assert _explains(exc), str(exc)
    else:
        assert rates == {"horizontal": 0.0, "vertical": 0.0}
