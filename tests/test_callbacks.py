"""helpers.callbacks for 06: the per-run bundle, EarlyStopping replayed, the resumable CSV log."""

import csv
import functools

import keras
import numpy as np
import pytest

from helpers import callbacks, config, data, models, resume, training


@pytest.fixture(scope="module")
def small():
    return data.load("digits", image_size=(8, 8), train_size=200)


def _model(ds):
    config.seed_everything()
    model = models.simple_cnn(
        ds.input_shape, ds.num_classes, filters=(4,), dense_units=0, batch_norm=False, dropout=0.0
    )
    return training.compile_classifier(model, learning_rate=1e-3)


def test_get_callbacks_bundle_and_folders(tmp_path):
    bundle = callbacks.get_callbacks(
        "base_1", patience=3, checkpoint=True, log_dir=tmp_path / "logs", checkpoint_dir=tmp_path / "ckpt"
    )
    types = [type(cb) for cb in bundle]
    assert types == [
        keras.callbacks.EarlyStopping,
        keras.callbacks.TensorBoard,
        keras.callbacks.CSVLogger,
        keras.callbacks.ModelCheckpoint,
    ]
    early, board, log, ckpt = bundle
    assert early.patience == 3 and early.restore_best_weights and early.monitor == "val_loss"
    assert board.log_dir == str(tmp_path / "logs" / "base_1") and board.histogram_freq == 0
    with_histograms = callbacks.get_callbacks("h", histogram_freq=1, csv=False, log_dir=tmp_path / "logs")
    assert with_histograms[1].histogram_freq == 1
    with pytest.raises(ValueError, match="histogram_freq must be an integer >= 0"):
        callbacks.get_callbacks("h", histogram_freq=-1, log_dir=tmp_path / "logs")
    assert log.filename == str(tmp_path / "logs" / "base_1" / "history.csv")
    assert ckpt.filepath == str(tmp_path / "ckpt" / "base_1.keras") and ckpt.save_best_only


def test_get_callbacks_defaults_go_under_build_logs():
    bundle = callbacks.get_callbacks("defaults_probe", csv=False, overwrite=False)
    assert [type(cb) for cb in bundle] == [keras.callbacks.EarlyStopping, keras.callbacks.TensorBoard]
    assert bundle[1].log_dir == str(config.LOG_DIR / "defaults_probe")
    assert callbacks.get_callbacks("x", patience=None, tensorboard=False, csv=False, overwrite=False) == []


def test_get_callbacks_overwrite_removes_only_that_run(tmp_path):
    (tmp_path / "run_a").mkdir()
    (tmp_path / "run_a" / "old.txt").write_text("old")
    (tmp_path / "run_b").mkdir()
    callbacks.get_callbacks("run_a", log_dir=tmp_path, csv=False)
    assert not (tmp_path / "run_a").exists() and (tmp_path / "run_b").exists()
    (tmp_path / "run_b" / "keep.txt").write_text("keep")
    callbacks.get_callbacks("run_b", log_dir=tmp_path, overwrite=False)
    assert (tmp_path / "run_b" / "keep.txt").exists()


@pytest.mark.parametrize("name", ["", "../up", "a/b", "..", ".hidden", "with space", 3])
def test_get_callbacks_rejects_unsafe_run_names(name):
    with pytest.raises(ValueError, match="name must be a short run name"):
        callbacks.get_callbacks(name)


def test_get_callbacks_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        callbacks.get_callbacks("x", patience=-1)
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
        callbacks.get_callbacks("x", min_delta=-0.1)
    with pytest.raises(ValueError, match="monitor must be a metric name"):
        callbacks.get_callbacks("x", monitor="")
    with pytest.raises(ValueError, match="mode must be one of 'auto', 'min', 'max'"):
        callbacks.get_callbacks("x", mode="up")
    bundle = callbacks.get_callbacks(
        "x", monitor="val_accuracy", mode="max", tensorboard=False, csv=False, log_dir=tmp_path
    )
    assert bundle[0].mode == "max" and bundle[0].monitor == "val_accuracy"


def test_the_bundle_writes_tensorboard_events_csv_and_best_checkpoint(small, tmp_path):
    model = _model(small)
    bundle = callbacks.get_callbacks("tiny", patience=1, checkpoint=True, log_dir=tmp_path, checkpoint_dir=tmp_path)
    history = training.fit(model, small, epochs=3, batch_size=50, callbacks=bundle)
    events = list((tmp_path / "tiny").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"train", "validation"}
    with open(tmp_path / "tiny" / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(history.epoch) and "val_loss" in rows[0]
    assert (tmp_path / "tiny.keras").is_file()


def test_histograms_of_weights_and_gradients_reach_the_event_files(small, tmp_path):
    model = _model(small)
    sample = (small.x_train[:32], small.y_train[:32])
    bundle = callbacks.get_callbacks("hist", patience=None, histogram_freq=1, gradient_sample=sample, log_dir=tmp_path)
    assert [type(cb) for cb in bundle][-1] is callbacks.GradientHistograms
    training.fit(model, small, epochs=2, batch_size=50, callbacks=bundle)
    assert bundle[-1].logged_epochs == [0, 1]
    tags = callbacks.logged_histograms(tmp_path / "hist")
    assert set(tags) == {"train", "gradients"}
    n_vars = len(model.trainable_variables)
    assert len(tags["train"]) == n_vars and all(t.endswith("/histogram") for t in tags["train"])
    assert len(tags["gradients"]) == n_vars and all(t.endswith("/gradient") for t in tags["gradients"])
    # Without histogram_freq there are neither weight nor gradient histograms.
    plain = callbacks.get_callbacks("plain", patience=None, gradient_sample=sample, log_dir=tmp_path)
    assert not any(isinstance(cb, callbacks.GradientHistograms) for cb in plain)
    training.fit(_model(small), small, epochs=1, batch_size=50, callbacks=plain)
    assert callbacks.logged_histograms(tmp_path / "plain") == {}


def test_gradient_histograms_errors(tmp_path):
    with pytest.raises(ValueError, match="x and y must be a non-empty batch"):
        callbacks.GradientHistograms(tmp_path, np.zeros((3, 8, 8, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="freq must be"):
        callbacks.GradientHistograms(tmp_path, np.zeros((3, 8, 8, 1)), np.zeros(3), freq=0)
    with pytest.raises(FileNotFoundError, match="No run folder"):
        callbacks.logged_histograms(tmp_path / "missing")


def test_tensorboard_command():
    assert callbacks.tensorboard_command() == "tensorboard --logdir build/logs"
    assert callbacks.tensorboard_command("/tmp/elsewhere") == "tensorboard --logdir /tmp/elsewhere"


@functools.lru_cache(maxsize=1)
def _tiny_model():
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])


def _keras_early_stopping(values, patience, mode="min", min_delta=0.0):
    """What Keras's own EarlyStopping does on a curve, fed epoch by epoch."""
    model = _tiny_model()
    monitor = "val_loss" if mode == "min" else "val_accuracy"
    es = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=patience, mode=mode, min_delta=min_delta, restore_best_weights=True
    )
    es.set_model(model)
    model.stop_training = False
    es.on_train_begin()
    last = len(values)
    for epoch, value in enumerate(values):
        es.on_epoch_end(epoch, {monitor: float(value)})
        if model.stop_training:
            last = epoch + 1
            break
    return es.best_epoch + 1, last


def test_early_stopping_trace_agrees_with_keras_on_random_curves():
    rng = np.random.default_rng(1)
    for _ in range(150):
        n = int(rng.integers(1, 25))
        values = np.round(np.cumsum(rng.normal(-0.02, 0.1, size=n)) + 2, 2)  # rounded: ties happen
        patience = int(rng.integers(0, 6))
        assert callbacks.early_stopping_trace(values, patience) == _keras_early_stopping(values, patience)
        acc = 1 - values / 10
        assert callbacks.early_stopping_trace(acc, patience, mode="max") == _keras_early_stopping(acc, patience, "max")
        smooth = values + rng.uniform(-0.004, 0.004, size=n)  # no exact ties with min_delta (float32 in Keras)
        assert callbacks.early_stopping_trace(smooth, patience, min_delta=0.05) == _keras_early_stopping(
            smooth, patience, min_delta=0.05
        )


def test_early_stopping_trace_examples_and_errors():
    assert callbacks.early_stopping_trace([3, 2, 1, 1.5, 1.2, 1.1, 0.9], 3) == (3, 6)
    assert callbacks.early_stopping_trace([3, 2, 1], 3) == (3, 3)
    assert callbacks.early_stopping_trace([1.0, 0.99, 0.98], 1, min_delta=0.05) == (1, 2)
    with pytest.raises(ValueError, match="non-empty 1-D sequence of finite numbers"):
        callbacks.early_stopping_trace([], 2)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        callbacks.early_stopping_trace([1.0], 1.5)
    with pytest.raises(ValueError, match="mode must be one of 'min', 'max'"):
        callbacks.early_stopping_trace([1.0], 1, mode="auto")


def test_interrupt_after_epoch(small):
    model = _model(small)
    stop = callbacks.InterruptAfterEpoch(2)
    with pytest.raises(callbacks.TrainingInterrupted, match="after epoch 2"):
        training.fit(model, small, epochs=4, batch_size=100, callbacks=[stop])
    assert stop.fired
    with pytest.raises(ValueError, match="epoch must be a positive integer"):
        callbacks.InterruptAfterEpoch(0)


def _drive(logger, start, stop, value=0.5):
    logger.on_train_begin()
    for epoch in range(start, stop):
        logger.on_epoch_begin(epoch)
        logger.on_epoch_end(epoch, {"loss": value + epoch, "val_loss": np.float32(value)})


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_resumable_csv_logger_truncates_to_the_resume_epoch(tmp_path):
    path = tmp_path / "sub" / "log.csv"
    logger = resume.ResumableCSVLogger(path)
    _drive(logger, 0, 4)
    assert [r["epoch"] for r in _rows(path)] == ["0", "1", "2", "3"]
    with open(path, "a") as fh:
        fh.write("4,0.1")  # half a row: the process died while writing
    _drive(logger, 2, 5, value=9.0)  # resumed at epoch 2: rows 2, 3 and the partial row are replaced
    rows = _rows(path)
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [float(r["val_loss"]) for r in rows] == [0.5, 0.5, 9.0, 9.0, 9.0]
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]


def test_resumable_csv_logger_adds_new_columns_and_replaces_foreign_files(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("not,a,log\n1,2,3\n")
    logger = resume.ResumableCSVLogger(path)
    _drive(logger, 0, 1)
    logger.on_epoch_begin(1)
    logger.on_epoch_end(1, {"loss": 1.0, "val_loss": 1.0, "learning_rate": 0.1})
    rows = _rows(path)
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert rows[0]["learning_rate"] == "NA" and rows[1]["learning_rate"] == "0.1"


def test_safe_backup_publishes_each_epoch_atomically(small, tmp_path):
    model = _model(small)
    backup = resume.SafeBackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    training.fit(model, small, epochs=2, batch_size=100, callbacks=[backup])
    files = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert files == ["state-000002.weights.h5", "training_metadata.json"], "one state file, no temporaries"
    import json

    meta = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert meta["epoch"] == 2 and meta["weights"] == "state-000002.weights.h5"
    assert meta["variables"][0] == ["block1_conv1/kernel", [3, 3, 1, 4]]
