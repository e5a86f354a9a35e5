"""helpers.transfer.tasks: 07's transfer task on any dataset (mnist5k -> digits, or a split by class)."""

import dataclasses
import os

import numpy as np
import pytest

from helpers import config, transfer
from helpers.transfer import source as source_module

TINY = transfer.SourceSpec(name="tiny_source", filters=(4, 8, 8), epochs=1, batch_size=32, train_size=60)


def _write_folder(root, classes=4, per_class=6, size=(12, 10)):
    """``classes`` sub-folders of small RGB PNGs (non-square), one solid colour per class plus noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(classes):
        folder = root / f"class_{k}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = rng.uniform(0, 60, size=(*size, 3))
            img[..., k % 3] += 150
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


# ---------------------------------------------------------------- the spec's new fields


def test_spec_classes_and_signature_enter_the_fingerprint_only_when_set():
    assert "classes" not in TINY.to_dict() and "data_signature" not in TINY.to_dict()
    split = dataclasses.replace(TINY, classes=[0, 1, 2])
    assert split.classes == (0, 1, 2) and split.to_dict()["classes"] == [0, 1, 2]
    assert split.fingerprint() != TINY.fingerprint()
    assert transfer.SourceSpec(**split.to_dict()).fingerprint() == split.fingerprint()  # the metadata round trip
    signed = dataclasses.replace(split, data_signature="abc")
    assert signed.fingerprint() not in (split.fingerprint(), dataclasses.replace(split, data_signature="abd"))


@pytest.mark.parametrize("classes", [(1,), (0, 0), (0, -1), (0, 1.5), 3, "01"])
def test_spec_rejects_bad_classes(classes):
    with pytest.raises(ValueError, match="classes must be None or at least two different class ids"):
        dataclasses.replace(TINY, classes=classes)


def test_spec_rejects_an_empty_signature():
    with pytest.raises(ValueError, match="data_signature"):
        dataclasses.replace(TINY, data_signature="")


# ---------------------------------------------------------------- classes


def test_select_classes_keeps_and_relabels_those_classes_in_every_split(tiny):
    picked = transfer.select_classes(tiny, (2, 0))
    assert picked.class_names == ("c", "a") and picked.num_classes == 2
    for split, (x, y) in picked.splits().items():
        x_all, y_all = tiny.splits()[split]
        assert set(np.unique(y)) == {0, 1}
        np.testing.assert_array_equal(x[y == 0], x_all[y_all == 2])  # class 2 became class 0
        np.testing.assert_array_equal(x[y == 1], x_all[y_all == 0])
    assert "classes c, a only" in picked.description and picked.name == tiny.name


@pytest.mark.parametrize("classes", [(0,), (0, 0), (0, 3), (-1, 0), "ab"])
def test_select_classes_rejects_bad_classes(tiny, classes):
    with pytest.raises(ValueError, match="at least two different class ids from 0 to 2"):
        transfer.select_classes(tiny, classes)
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        transfer.select_classes(tiny.x_train, (0, 1))


def test_split_classes_gives_the_source_the_larger_half():
    assert transfer.split_classes(5) == ((0, 1, 2), (3, 4))
    assert transfer.split_classes(10) == ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
    assert transfer.split_classes(6, n_source=2) == ((0, 1), (2, 3, 4, 5))
    with pytest.raises(ValueError, match="at least 4 classes"):
        transfer.split_classes(3)
    with pytest.raises(ValueError, match="at least two classes on each side"):
        transfer.split_classes(5, n_source=4)


def test_folder_signature_notices_an_added_or_edited_image(tmp_path):
    root = _write_folder(tmp_path / "images", classes=2, per_class=2)
    first = transfer.folder_signature(root)
    assert first == transfer.folder_signature(root) and len(first) == 16
    (root / "class_0" / "notes.txt").write_text("not an image")
    assert transfer.folder_signature(root) == first
    image = root / "class_0" / "0.png"
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    edited = transfer.folder_signature(root)
    assert edited != first
    (root / "class_1" / "0.png").unlink()
    assert transfer.folder_signature(root) not in (first, edited)
    with pytest.raises(ValueError, match="is not a folder"):
        transfer.folder_signature(tmp_path / "missing")


# ---------------------------------------------------------------- the task


def test_the_default_task_adapts_digits_0_to_4_to_the_other_collections_5_to_9():
    task = transfer.transfer_task("mnist5k")
    assert not task.same_classes and task.collection == "digits" and task.target_dataset == "digits"
    assert task.spec == dataclasses.replace(transfer.source_spec(), name=f"{transfer.source_spec().name}_0to4",
                                            classes=(0, 1, 2, 3, 4))  # fmt: skip
    assert task.source_names == tuple("01234") and task.target_names == tuple("56789")
    assert "classes 0, 1, 2, 3, 4; target: digits, the other classes (5, 6, 7, 8, 9)" in str(task)
    assert task.spec.fingerprint() != transfer.source_spec().fingerprint()  # its own cache entry


def test_same_classes_pairs_mnist5k_with_all_ten_digits():
    task = transfer.transfer_task("mnist5k", same_classes=True)
    assert task.spec == transfer.source_spec() and task.same_classes and task.directory is None
    assert task.target_dataset == "digits" and task.source_names == task.target_names == tuple("0123456789")
    assert "target: digits" in str(task)
    with pytest.raises(ValueError, match="n_source does not apply"):
        transfer.transfer_task("mnist5k", n_source=5, same_classes=True)
    with pytest.raises(ValueError, match="same_classes=True needs a second collection of the same classes"):
        transfer.transfer_task("digits", same_classes=True)


@pytest.mark.slow
def test_the_targets_are_reframed_digits():
    task = transfer.transfer_task("mnist5k", same_classes=True)
    raw, target = task.load_target(20, prepared=False), task.load_target(20)
    assert raw.name == "digits" and raw.input_shape == target.input_shape == (28, 28, 1)
    np.testing.assert_array_equal(target.x_train, transfer.reframe(raw).x_train)
    assert len(target.y_train) == 20 and np.bincount(target.y_train).tolist() == [2] * 10
    new = transfer.transfer_task("mnist5k")
    raw, target = new.load_target(20, prepared=False), new.load_target(20)
    assert raw.class_names == target.class_names == tuple("56789") and raw.input_shape == (28, 28, 1)
    np.testing.assert_array_equal(target.x_train, transfer.reframe(raw).x_train)
    assert np.bincount(target.y_train).tolist() == [4] * 5
    whole = new.load_target()
    assert len(whole.y_val) == len(target.y_val) and set(np.unique(whole.y_val)) == set(range(5))


def test_a_colour_folder_is_split_by_class(tmp_path):
    root = _write_folder(tmp_path / "photos", classes=4, per_class=10)
    task = transfer.transfer_task(f"folder:{root}")
    assert not task.same_classes and task.target_dataset == f"folder:{root}"
    assert task.spec.classes == (0, 1) and task.target_classes == (2, 3)
    assert task.spec.name.startswith("source_cnn_smoke_folder_") and task.spec.dataset == f"folder:{root}"
    assert task.spec.data_signature == transfer.folder_signature(root)
    assert task.directory == config.BUILD_DIR / "pretrained"  # the user's source stays out of data/
    assert task.source_names == ("class_0", "class_1") and task.target_names == ("class_2", "class_3")
    assert "2 of its 4 classes (class_0, class_1); target: the other 2 (class_2, class_3)" in str(task)
    target = task.load_target(4)
    assert target.class_names == ("class_2", "class_3") and target.input_shape == (12, 10, 3)
    assert np.bincount(target.y_train).tolist() == [2, 2]
    whole = task.load_target()
    assert len(whole.y_val) == len(target.y_val) and len(whole.y_train) > 4  # validation stays whole
    assert task.prepare(target) is target
    assert transfer.transfer_task(f"folder:{root}").spec == task.spec  # same folder, same cache entry


def test_a_dataset_with_too_few_classes_is_refused_with_a_reason(tmp_path):
    root = _write_folder(tmp_path / "three", classes=3, per_class=10)
    with pytest.raises(ValueError, match="needs at least 4 classes; folder:.* has 3"):
        transfer.transfer_task(f"folder:{root}")
    for bad in ("", ["mnist5k"], None):
        with pytest.raises(ValueError, match="dataset must be a dataset name"):
            transfer.transfer_task(bad)


@pytest.mark.slow
def test_the_source_pretrains_on_its_classes_only(tmp_path, monkeypatch):
    """A split by class: the source sees only its classes, as many images as train_size says."""
    task = transfer.transfer_task("digits", n_source=3)
    spec = dataclasses.replace(task.spec, filters=TINY.filters, epochs=1, train_size=TINY.train_size)
    task = dataclasses.replace(task, spec=spec, directory=tmp_path)
    seen = []
    real = source_module._source_data
    monkeypatch.setattr(source_module, "_source_data", lambda s: seen.append(real(s)) or seen[-1])
    model = task.source_model(verbose=False)
    assert model.output_shape == (None, 3) and model.input_shape == (None, 8, 8, 1)
    (source,) = seen
    assert source.class_names == ("0", "1", "2") and len(source.y_train) == 60
    assert set(np.unique(source.y_val)) == {0, 1, 2}
    meta = task.read_metadata()
    assert meta["recipe"]["classes"] == [0, 1, 2] and meta["train_examples"] == 60
    assert meta["recipe_hash"] == task.spec.fingerprint()
    assert (tmp_path / f"{spec.name}.keras").is_file()
    assert task.load_target().class_names == tuple("3456789")
