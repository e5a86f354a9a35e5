"""training.fit(resume_dir=...): an interrupted run resumes after its last finished epoch.

The first test is the real thing: a training process is killed with SIGKILL (no cleanup, no
exception handler runs) after it finished a few epochs, then started again with the same
resume_dir. The others cover the crash windows one by one, in-process and fast.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import callbacks, config, data, models, resume, training

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 8
KILL_AFTER = 2  # finished epochs in the backup before the kill
TRAIN_SIZE, BATCH = 200, 50
STEPS = TRAIN_SIZE // BATCH

CHILD = r"""
import json, sys, time
import keras
from helpers import config, data, models, training

resume_dir, epochs, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
config.setup(show=False)
ds = data.load("mnist5k", train_size=200)
model = models.simple_cnn(ds.input_shape, ds.num_classes, filters=(4,), dense_units=0, batch_norm=False,
                          dropout=0.0)
training.compile_classifier(model, learning_rate=1e-3)


class SlowBatches(keras.callbacks.Callback):
    # Stretch each epoch so that the kill lands in the middle of one.
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(pause)


history = training.fit(model, ds, epochs=epochs, batch_size=50, callbacks=[SlowBatches()],
                       resume_dir=resume_dir, verbose=0)
print("RESULT " + json.dumps({"epochs": history.epoch, "iterations": int(model.optimizer.iterations.numpy())}),
      flush=True)
"""


def _child(resume_dir, pause):
    env = {**os.environ, "COURSE_VERBOSE": "0", "PYTHONPATH": str(ROOT)}
    return [sys.executable, "-c", CHILD, str(resume_dir), str(EPOCHS), str(pause)], env


def _finished_epochs(resume_dir) -> int | None:
    meta = Path(resume_dir) / resume.RESUME_BACKUP_NAME / "training_metadata.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text())["epoch"]  # published atomically: always whole JSON


@pytest.mark.slow
def test_a_process_killed_with_sigkill_resumes_after_its_last_finished_epoch(tmp_path):
    resume_dir = tmp_path / "run"
    cmd, env = _child(resume_dir, pause=0.15)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 420
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"the training process ended (rc={proc.returncode}) before it could be killed:\n"
                    f"{proc.stderr.read()[-3000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the training process did not finish 2 epochs in time")
            done = _finished_epochs(resume_dir)
            if done is not None and done >= KILL_AFTER:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    finished = _finished_epochs(resume_dir)
    assert KILL_AFTER <= finished < EPOCHS, "killed mid-run, after at least two finished epochs"
    logged = resume.resume_log(resume_dir).index.tolist()
    assert logged[:finished] == list(range(finished)), "every finished epoch is in the log"

    cmd, env = _child(resume_dir, pause=0.0)
    out = subprocess.run(cmd, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert result["epochs"] == list(range(finished, EPOCHS)), "continues with the next epoch, none rerun"
    assert result["iterations"] == EPOCHS * STEPS, "optimizer state restored: exactly EPOCHS epochs of steps"
    log = resume.resume_log(resume_dir)
    assert log.index.tolist() == list(range(EPOCHS)), "one row per epoch: no gap, no duplicate"
    assert np.all(np.isfinite(log[["loss", "accuracy", "val_loss", "val_accuracy"]].to_numpy()))
    assert not (resume_dir / resume.RESUME_BACKUP_NAME).exists(), "the backup is removed once training completes"


# ----------------------------------------------------------------------------------------------
# The same guarantees in-process, crash window by crash window.


@pytest.fixture(scope="module")
def small():
    return data.load("mnist5k", train_size=TRAIN_SIZE)


def _model(ds, filters=(4,)):
    config.seed_everything()
    model = models.simple_cnn(
        ds.input_shape, ds.num_classes, filters=filters, dense_units=0, batch_norm=False, dropout=0.0
    )
    return training.compile_classifier(model, learning_rate=1e-3)


def _interrupt(ds, resume_dir, after=2, epochs=5):
    model = _model(ds)
    with pytest.raises(callbacks.TrainingInterrupted, match=f"after epoch {after}"):
        training.fit(
            model,
            ds,
            epochs=epochs,
            batch_size=BATCH,
            resume_dir=resume_dir,
            callbacks=[callbacks.InterruptAfterEpoch(after)],
        )
    return model


class _WeightsAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def test_interrupted_then_resumed_run_has_every_epoch_once(small, tmp_path):
    interrupted = _interrupt(small, tmp_path)
    assert resume.resume_log(tmp_path).index.tolist() == [0, 1]
    assert _finished_epochs(tmp_path) == 2

    fresh = _model(small)  # as a restarted process would build it
    probe = _WeightsAtStart()
    history = training.fit(fresh, small, epochs=5, batch_size=BATCH, resume_dir=tmp_path, callbacks=[probe])
    assert history.epoch == [2, 3, 4]
    for restored, saved in zip(probe.weights, interrupted.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    assert int(fresh.optimizer.iterations.numpy()) == 5 * STEPS
    assert resume.resume_log(tmp_path).index.tolist() == [0, 1, 2, 3, 4]
    assert not (tmp_path / resume.RESUME_BACKUP_NAME).exists()
    assert fresh._initial_epoch is None, "a later fit of the same model starts at epoch 0 again"


def test_a_logged_epoch_without_backup_is_rerun_and_its_row_replaced(small, tmp_path):
    _interrupt(small, tmp_path)
    log_path = tmp_path / resume.RESUME_LOG_NAME
    header = log_path.read_text().splitlines()[0]
    with open(log_path, "a") as fh:  # killed after logging epoch 2, before its backup; then mid-row
        fh.write("2," + ",".join(["999"] * (header.count(","))) + "\n3,0.5,0.")
    history = training.fit(_model(small), small, epochs=4, batch_size=BATCH, resume_dir=tmp_path)
    assert history.epoch == [2, 3]
    log = resume.resume_log(tmp_path)
    assert log.index.tolist() == [0, 1, 2, 3]
    assert (log.to_numpy() < 999).all(), "the stale row of the rerun epoch is gone"


def test_an_orphan_weights_file_from_a_kill_mid_save_is_ignored(small, tmp_path):
    _interrupt(small, tmp_path)
    backup = tmp_path / resume.RESUME_BACKUP_NAME
    (backup / "state-999999.weights.h5").write_bytes(b"half-written")  # never published in the metadata
    history = training.fit(_model(small), small, epochs=3, batch_size=BATCH, resume_dir=tmp_path)
    assert history.epoch == [2]


def test_a_backup_written_by_keras_own_callback_is_restored_too(small, tmp_path):
    model = _model(small)
    backup = tmp_path / resume.RESUME_BACKUP_NAME
    with pytest.raises(callbacks.TrainingInterrupted):
        training.fit(
            model,
            small,
            epochs=4,
            batch_size=BATCH,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(backup)), callbacks.InterruptAfterEpoch(1)],
        )
    model._initial_epoch = None
    history = training.fit(_model(small), small, epochs=4, batch_size=BATCH, resume_dir=tmp_path)
    assert history.epoch == [1, 2, 3]


def test_a_completed_run_starts_over_with_a_fresh_log(small, tmp_path):
    training.fit(_model(small), small, epochs=2, batch_size=BATCH, resume_dir=tmp_path)
    history = training.fit(_model(small), small, epochs=1, batch_size=BATCH, resume_dir=tmp_path)
    assert history.epoch == [0]
    assert resume.resume_log(tmp_path).index.tolist() == [0]


def test_resuming_with_another_architecture_is_a_clear_error(small, tmp_path):
    _interrupt(small, tmp_path)
    other = _model(small, filters=(6,))
    expected = (
        r"does not match this model \(first difference: backup block1_conv1/kernel \(3, 3, 1, 4\) "
        r"vs model block1_conv1/kernel \(3, 3, 1, 6\)\).*clear_resume_state"
    )
    with pytest.raises(ValueError, match=expected):
        training.fit(other, small, epochs=5, batch_size=BATCH, resume_dir=tmp_path)


def test_clear_resume_state_forgets_the_run_and_keeps_other_files(small, tmp_path):
    _interrupt(small, tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    resume.clear_resume_state(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    history = training.fit(_model(small), small, epochs=1, batch_size=BATCH, resume_dir=tmp_path)
    assert history.epoch == [0]
    resume.clear_resume_state(tmp_path / "missing")  # nothing to clear is fine
    with pytest.raises(ValueError, match="must be a folder"):
        resume.clear_resume_state(tmp_path / "notes.txt")


def test_resume_errors(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="No training log at .*resume_dir="):
        resume.resume_log(tmp_path)
    with pytest.raises(ValueError, match="resume_dir must be a folder path"):
        training.fit(_model(small), small, epochs=1, resume_dir=3)
