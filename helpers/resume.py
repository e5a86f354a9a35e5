"""Resumable training (introduced in ``06_monitoring_evaluation``): see ``training.fit(resume_dir=...)``.

A resumable run keeps two things in its ``resume_dir``: the per-epoch log (:data:`RESUME_LOG_NAME`,
written by :class:`ResumableCSVLogger`) and the training state (:data:`RESUME_BACKUP_NAME`, written
by :class:`SafeBackupAndRestore`). Both are written atomically, so a run killed at any moment
resumes after its last finished epoch with exactly one log row per epoch. :func:`resume_log` reads
the log; :func:`clear_resume_state` starts over.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import keras

from helpers import _internals, _io, config
from helpers.callbacks import ConfigRoundTrip

RESUME_LOG_NAME = "history.csv"  # the per-epoch log that ``training.fit(resume_dir=...)`` keeps
RESUME_BACKUP_NAME = "backup"  # the BackupAndRestore folder inside a resume_dir


@keras.saving.register_keras_serializable(package="cnn_course")
class ResumableCSVLogger(ConfigRoundTrip, keras.callbacks.Callback):
    """Stream per-epoch metrics to a CSV file that stays exact across interruptions and resumes.

    Like ``keras.callbacks.CSVLogger(filename, append=True)``, with one difference that matters
    after a crash: when training (re)starts at epoch ``k`` (``BackupAndRestore`` decides ``k``),
    rows for epochs ``>= k`` and a half-written last line are dropped before logging resumes. So a
    run that is killed and resumed ends with exactly one row per epoch: no gap, no duplicate. Each
    row is flushed as soon as it is written, so it survives the process being killed.
    ``training.fit(resume_dir=...)`` uses it; the ``epoch`` column is 0-based, as in Keras's log.

    Args:
        filename: the CSV file (its folder is created).
        separator: the column separator (default ``","``).
    """

    def __init__(self, filename, separator: str = ","):
        super().__init__()
        self.filename = Path(filename)
        self.separator = separator
        self._fieldnames: list[str] | None = None
        self._started = False

    def on_train_begin(self, logs=None):
        self._fieldnames = None
        self._started = False

    def _read(self, before_epoch: int) -> tuple[list[str] | None, list[dict]]:
        """The header and the complete rows for epochs < ``before_epoch`` of the existing file."""
        if not self.filename.is_file():
            return None, []
        text = self.filename.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # killed while writing the last row
        if not lines:
            return None, []
        reader = csv.DictReader(lines, delimiter=self.separator)
        header = list(reader.fieldnames or [])
        if "epoch" not in header:
            return None, []
        rows, seen = [], set()
        for row in reader:
            try:
                epoch = int(row["epoch"])
            except (TypeError, ValueError):
                continue
            if epoch < before_epoch and None not in row.values() and epoch not in seen:
                rows.append(row)
                seen.add(epoch)
        return header, rows

    def _rewrite(self, header: list[str], rows: list[dict]) -> None:
        with _io.atomic_write(self.filename, newline="") as fh:  # a kill leaves the old file or the new
            writer = csv.DictWriter(fh, fieldnames=header, delimiter=self.separator, restval="NA")
            writer.writeheader()
            writer.writerows(rows)

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        config.ensure_dir(self.filename.parent)
        header, rows = self._read(epoch)
        self._fieldnames = header
        if header is not None:
            self._rewrite(header, rows)
        elif self.filename.exists():
            self.filename.unlink()  # not a log of ours (no epoch column): start a clean one

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {"epoch": int(epoch)}
        for key, value in logs.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                row[key] = str(value)
        keys = ["epoch", *sorted(k for k in row if k != "epoch")]
        if self._fieldnames is None:
            self._fieldnames = keys
            self._rewrite(keys, [])
        elif set(keys) - set(self._fieldnames):
            header, rows = self._read(epoch)
            self._fieldnames = (header or ["epoch"]) + [k for k in keys if k not in (header or [])]
            self._rewrite(self._fieldnames, rows)
        with open(self.filename, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=self._fieldnames, delimiter=self.separator, restval="NA", extrasaction="ignore"
            )
            writer.writerow(row)
            fh.flush()

    def get_config(self) -> dict:
        return {"filename": str(self.filename), "separator": self.separator}


@keras.saving.register_keras_serializable(package="cnn_course")
class SafeBackupAndRestore(ConfigRoundTrip, keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose backup is never half-written.

    Keras's callback overwrites ``latest.weights.h5`` and then ``training_metadata.json`` in place:
    a process killed in between (or mid-write) can leave weights and epoch number that disagree,
    or a file that no longer loads. Here each epoch's weights go to a new file, and one atomic
    rename of the metadata (which names that file) publishes the new state. Whenever the process
    dies, the backup is the last finished epoch, whole. Restoring also says clearly when the backup
    belongs to a different model. Everything else (``save_freq``, deleting the backup when training
    completes) is Keras's. ``training.fit(resume_dir=...)`` uses it.

    Args:
        backup_dir: the folder holding the backup (only this callback may write there).
        save_freq: ``"epoch"`` (default) or a number of batches, as in Keras.
        delete_checkpoint: delete the backup when training completes (default True).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint: bool = True):
        super().__init__(str(backup_dir), save_freq=save_freq, delete_checkpoint=delete_checkpoint)

    def get_config(self) -> dict:
        return {
            "backup_dir": str(self.backup_dir),
            "save_freq": self.save_freq,
            "delete_checkpoint": self.delete_checkpoint,
        }

    def _signature(self) -> list:
        """Name and shape of every model weight: a backup only fits a model with the same ones."""
        return [[getattr(v, "path", v.name), [int(d) for d in v.shape]] for v in self.model.weights]

    def _state_files(self) -> list[Path]:
        folder = Path(self.backup_dir)
        return sorted(folder.glob("state-*.weights.h5")) if folder.is_dir() else []

    def _save_model(self):
        folder = config.ensure_dir(Path(self.backup_dir))
        meta_path = Path(self._training_metadata_path)
        previous = self._state_files()
        serial = 1 + max((int(p.name.split("-")[1].split(".")[0]) for p in previous), default=0)
        weights = folder / f"state-{serial:06d}.weights.h5"
        self.model.save_weights(str(weights), overwrite=True)
        meta = {
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "weights": weights.name,
            "variables": self._signature(),
        }
        _io.write_text_atomic(meta_path, json.dumps(meta))  # the commit point
        for old in previous:
            old.unlink(missing_ok=True)

    def _load_model(self):
        meta_path = Path(self._training_metadata_path)
        if not meta_path.is_file():
            return  # nothing finished yet: a fresh start
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if "weights" not in meta:
            return super()._load_model()  # a backup written by Keras's own callback
        if not self.model.built:
            raise ValueError("To resume training, build the model before fit(), e.g. with keras.Input.")
        advice = (
            "Resume with the same architecture and compile settings, or start over after "
            "helpers.resume.clear_resume_state(resume_dir)."
        )
        saved, current = meta.get("variables"), self._signature()
        if saved is not None and saved != current:
            diff = next(((a, b) for a, b in zip(saved, current) if a != b), None)
            detail = (
                f"first difference: backup {diff[0][0]} {tuple(diff[0][1])} vs model {diff[1][0]} {tuple(diff[1][1])}"
                if diff
                else f"{len(saved)} weights in the backup, {len(current)} here"
            )
            raise ValueError(f"The training backup in {self.backup_dir} does not match this model ({detail}). {advice}")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(str(Path(self.backup_dir) / meta["weights"]))
        except Exception as exc:  # noqa: BLE001 - explain, then keep the cause
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ValueError(
                f"Could not restore the training backup in {self.backup_dir}: it does not match "
                f"this model ({type(exc).__name__}: {first}). {advice}"
            ) from exc
        _internals.set_restored_epoch(self.model, meta["epoch"])


def resume_log(resume_dir):
    """The per-epoch log of a resumable run (``resume_dir/history.csv``) as a pandas DataFrame.

    One row per finished epoch, indexed by the 0-based ``epoch`` column as Keras writes it.
    """
    import pandas as pd

    path = Path(resume_dir) / RESUME_LOG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No training log at {path}. It is written by helpers.training.fit(..., resume_dir={str(resume_dir)!r}) "
            "once the first epoch has finished."
        )
    return pd.read_csv(path).set_index("epoch")


def clear_resume_state(resume_dir) -> None:
    """Forget a resumable run: delete the backup and the log that ``fit(resume_dir=...)`` wrote.

    Only those two entries of ``resume_dir`` are removed (anything else you keep there stays), so
    the next ``fit`` with this folder starts from epoch 1. A folder that does not exist is fine.
    """
    folder = Path(resume_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"resume_dir must be a folder. Received a file: {folder}")
    shutil.rmtree(folder / RESUME_BACKUP_NAME, ignore_errors=True)
    (folder / RESUME_LOG_NAME).unlink(missing_ok=True)
