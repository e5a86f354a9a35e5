"""The one place where the course reaches into Keras' or KerasTuner's private state.

Public APIs do not cover three things the course needs, so the helpers below touch private
attributes. Each says why. :data:`PRIVATE_API` lists every private name the course relies on,
here and in :class:`helpers.resume.SafeBackupAndRestore` (which overrides
``keras.callbacks.BackupAndRestore``'s private save and load hooks to make backups atomic);
``tests/test_internals.py`` checks that each still exists in the installed versions, so an
upgrade that moves one fails a test instead of silently breaking resumption.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_API: dict[str, tuple[str, ...]] = {
    # keras.Model.fit reads _initial_epoch, which BackupAndRestore sets when it restores a backup;
    # _symbolic_build creates the training state before the first trace (build_training_state).
    "keras.Model": ("_initial_epoch", "_symbolic_build"),
    # SafeBackupAndRestore replaces the two hooks and reads the state they use.
    "keras.callbacks.BackupAndRestore": (
        "_save_model",
        "_load_model",
        "_training_metadata_path",
        "_current_epoch",
        "_last_batch_seen",
    ),
    # KerasTuner's oracle keeps the trials to run again after a crash in _retry_queue.
    "keras_tuner.Oracle": ("_retry_queue",),
    # Where keras.utils.get_file caches downloads: only the private config module says.
    "keras.src.backend.config": ("keras_home",),
}


def forget_restored_epoch(model) -> None:
    """Clear the epoch that ``BackupAndRestore`` restored onto ``model``.

    Keras keeps it on the model after ``fit`` returns, and a later ``fit`` on the same model would
    start from that epoch; :func:`helpers.training.fit` calls this when a resumable run ends.
    """
    model._initial_epoch = None


def set_restored_epoch(model, epoch: int) -> None:
    """Tell ``model.fit`` to continue after ``epoch`` (what ``BackupAndRestore`` does on restore)."""
    model._initial_epoch = int(epoch)


def keras_download_dir() -> Path:
    """The folder where ``keras.utils.get_file`` caches ImageNet weights (``KERAS_HOME`` or ``~/.keras``).

    Named in the offline error of :func:`helpers.transfer.application`, so a learner knows where to
    copy a weights file. Keras exposes it only through a private function; if that moves, the
    documented default is used.
    """
    try:
        from keras.src.backend.config import keras_home

        return Path(keras_home()) / "models"
    except (ImportError, AttributeError):
        return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def drop_stale_retries(oracle) -> None:
    """Keep only retries of trials that did not complete.

    KerasTuner saves ``oracle.json`` before it forgets a finished trial as "ongoing"; a distributed
    chief (or a process killed at that moment) leaves it so, and a reload would run that finished
    trial again. No public API edits the retry queue.
    """
    import keras_tuner as kt

    done = kt.engine.trial.TrialStatus.COMPLETED
    oracle._retry_queue = [t for t in oracle._retry_queue if t not in oracle.trials or oracle.trials[t].status != done]


def build_training_state(model) -> bool:
    """Create ``model``'s optimizer, loss and metric variables now, eagerly; True if it could.

    Keras 3 on TensorFlow (without a distribution strategy) creates them inside the first trace of
    the train function. A ``tf.function`` that creates variables is traced twice, so every new
    model paid for two traces of its training step: on 2 CPU cores about 2 s per model, which in
    the smoke profile was the largest single cost of the course (``make bench``'s profile).
    ``Model._symbolic_build`` (what Keras itself calls under a distribution strategy) builds that
    state from symbolic shapes, so the step is traced once; the numbers trained are the same.
    A model without a known input shape (a ``Sequential`` not yet called) is left to build lazily.
    """
    import numpy as np

    if not getattr(model, "built", False) or not getattr(model, "inputs", None) or len(model.inputs) != 1:
        return False
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        return False
    batch = (np.zeros((1, *shape), "float32"), np.zeros((1,), "int32"))
    model._symbolic_build(data_batch=batch)
    return True
