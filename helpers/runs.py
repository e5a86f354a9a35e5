"""Train named variants, compare them over seeds, tabulate them: the one API for experiments.

Notebooks 05 (regularizers), 07 (transfer strategies), 08 (fixes for overfitting) and 09 (the
winner of a search, again with other seeds) all compare runs the same way:

* :func:`train` trains one named variant from a seed and returns a :class:`Run`;
  :func:`measure` makes a :class:`Run` of a model trained some other way.
* :func:`over_seeds` repeats an experiment (one or several variants) for several seeds, so that a
  rule rests on more than one run.
* A run's ``row`` is a tidy result with the columns :data:`ROW_COLUMNS`;
  :func:`table` puts runs in a ``DataFrame`` (the test split only when asked, at the end),
  :func:`summarize` gives the mean and spread of each variant over its seeds and
  :func:`spread_text` says it in words for a printed sentence.

Accuracy in a row is measured after training, in inference mode (no dropout, no augmentation), on
the weights the run returns: the history's ``accuracy`` is an average over an epoch with dropout
and augmentation switched on, which understates how well the training set is fit. ``val_loss`` is
the validation cross-entropy of those weights without any weight penalty, so it compares
regularized and plain models (the ``val_loss`` of a Keras history includes the penalty).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from helpers import _validate, config, evaluation, models, schedules, training
from helpers.data import Dataset

ModelSpec = Mapping[str, Any] | Callable[[Dataset], keras.Model]

ROW_COLUMNS = (
    "name",
    "seed",
    "train_size",
    "epochs_run",
    "best_epoch",
    "train_accuracy",
    "val_accuracy",
    "gap",
    "val_loss",
    "params",
    "seconds",
)


@dataclasses.dataclass(frozen=True, repr=False)
class Run:
    """One trained variant: its tidy result ``row``, its per-epoch ``history`` and the ``model``."""

    name: str
    row: dict[str, Any]
    history: dict[str, list[float]]
    model: keras.Model

    train_accuracy = property(lambda self: self.row["train_accuracy"], doc="Accuracy on the training split.")
    val_accuracy = property(lambda self: self.row["val_accuracy"], doc="Accuracy on the validation split.")
    gap = property(lambda self: self.row["gap"], doc="Train minus validation accuracy: how much better it fits.")
    val_loss = property(lambda self: self.row["val_loss"], doc="Validation cross-entropy without penalty.")

    def __repr__(self) -> str:
        r = self.row
        return (
            f"Run {self.name!r} (seed {r['seed']}, {r['train_size']} examples): train {r['train_accuracy']:.2%}, "
            f"val {r['val_accuracy']:.2%}, gap {r['gap']:+.2%}, {r['epochs_run']} epochs, {r['seconds']:.1f} s"
        )


def model_from_spec(model: ModelSpec, data: Dataset) -> keras.Model:
    """An uncompiled model for ``data`` from a spec.

    Args:
        model: a dict of :func:`helpers.models.simple_cnn` keyword arguments (e.g.
            ``{"filters": (16,), "dropout": 0.0}``), or a callable ``model(data)`` returning a
            Keras model.
    """
    if isinstance(model, Mapping):
        bad = {"input_shape", "num_classes", "augmentation"} & set(model)
        if bad:
            raise ValueError(
                f"Do not put {', '.join(sorted(bad))} in the model spec: the input shape and classes come from "
                "the data, and augmentation is the augment= argument of runs.train."
            )
        options = models.check_simple_cnn_options(model)
        built = models.simple_cnn(data.input_shape, data.num_classes, **options)
    elif isinstance(model, keras.layers.Layer):
        raise TypeError(
            "model must build a new model (each run builds its own, from the seed): pass a function "
            f"model(data), e.g. lambda data: my_cnn(data.input_shape), not a built {type(model).__name__}."
        )
    elif callable(model):
        built = model(data)
    else:
        raise TypeError(
            "model must be a dict of helpers.models.simple_cnn arguments or a callable model(data). "
            f"Received: {type(model).__name__}"
        )
    if not isinstance(built, keras.Model):
        raise TypeError(f"The model spec must produce a keras.Model. Received: {type(built).__name__}")
    return built


def _augmentation(augment, seed: int):
    from helpers import augment as augment_module

    if augment is None or augment is False:
        return None
    if isinstance(augment, str):
        return augment_module.preset(augment, seed=seed)
    if callable(augment):
        return augment
    raise TypeError(
        "augment must be None, a preset or dataset name such as 'mnist5k', or a callable layer. "
        f"Received: {type(augment).__name__}"
    )


def _learning_rate(learning_rate, schedule: str, total_steps: int):
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate  # a ready schedule is used as it is
    _validate.one_of(schedule, "schedule", schedules.SCHEDULES)
    return schedules.make_schedule(schedule, _validate.positive_number(learning_rate, "learning_rate"), total_steps)


def train(
    name: str,
    data: Dataset,
    model: ModelSpec,
    *,
    epochs: int,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 3e-3,
    schedule: str = "warmup_cosine",
    batch_size: int = 64,
    augment=None,
    patience: int | None = None,
    label_smoothing: float = 0.0,
    mixup: float | None = None,
    ema: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    seed: int = config.DEFAULT_SEED,
    verbose: int | str | None = None,
) -> Run:
    """Seed, build, compile and train one named variant, then :func:`measure` it.

    Every variant starts from the same seed, so two runs differ only in what you changed. With
    ``patience``, ``keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True)``
    stops the run and puts back the weights of the epoch with the lowest validation loss.

    Args:
        name: the variant's name in tables and plots, e.g. ``"dropout 0.5"``.
        data: the dataset (its training split is what the model learns from).
        model: a dict of :func:`helpers.models.simple_cnn` arguments or a callable ``model(data)``.
        epochs: the most epochs to train (a schedule spans all of them).
        optimizer: a name from ``training.OPTIMIZERS`` (default ``"adam"``) or a fresh optimizer
            instance, e.g. ``keras.optimizers.AdamW(1e-3, weight_decay=0.1)`` (which brings its own
            learning rate).
        learning_rate: the peak rate, shaped over the run by ``schedule`` (default 3e-3), or a
            ready ``LearningRateSchedule``, used as it is.
        schedule: one of ``schedules.SCHEDULES`` (default ``"warmup_cosine"``).
        batch_size: examples per step (default 64).
        augment: None (default), a preset or dataset name for :func:`helpers.augment.preset`, or a
            callable applied to training batches.
        patience: epochs without a lower validation loss before stopping; None (default) trains
            all ``epochs`` and keeps the last weights.
        label_smoothing: the label-smoothing ``eps`` of the loss (05; default 0, none).
        mixup: mixup's ``alpha`` for the training batches (05; default None, no mixup).
        ema: end on an exponential moving average of the weights with this momentum (08; default
            None). Both with an optimizer given by name; see :func:`helpers.training.compile_classifier`.
        callbacks: more Keras callbacks, e.g. :class:`helpers.callbacks.WeightAveraging` (08).
        seed: seeds the weights, the shuffling and the augmentation (default 42).
        verbose: Keras verbosity; default :func:`helpers.config.fit_verbose`.
    """
    _validate.non_empty_str(name, "name")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a helpers.data.Dataset (from data.load). Received: {type(data).__name__}")
    epochs = _validate.positive_int(epochs, "epochs")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    patience = _validate.positive_int(patience, "patience", allow_none=True)
    seed = _validate.seed(seed)
    augmentation = _augmentation(augment, seed)

    config.seed_everything(seed)
    net = model_from_spec(model, data)
    steps = epochs * schedules.steps_per_epoch(len(data.x_train), batch_size)
    loss_options = {"label_smoothing": label_smoothing, "soft_labels": mixup is not None}
    if isinstance(optimizer, str):
        training.compile_classifier(
            net,
            optimizer=optimizer,
            learning_rate=_learning_rate(learning_rate, schedule, steps),
            ema=ema,
            **loss_options,
        )
    else:  # an optimizer instance brings its own learning rate
        training.compile_classifier(net, optimizer=optimizer, ema=ema, **loss_options)
    callbacks = list(callbacks)
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        )
    start = time.perf_counter()
    history = training.fit(
        net, data, epochs=epochs, batch_size=batch_size, augment=augmentation, mixup=mixup, callbacks=callbacks,
        seed=seed, verbose=verbose,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    val_losses = history.history.get("val_loss", [])
    best_epoch = int(np.argmin(val_losses)) + 1 if patience is not None and val_losses else None
    return measure(name, net, data, history=history, seed=seed, seconds=seconds, best_epoch=best_epoch)


def measure(
    name: str,
    model: keras.Model,
    data: Dataset,
    *,
    history=None,
    seed: int,
    seconds: float,
    best_epoch: int | None = None,
    epochs_run: int | None = None,
    train_size: int | None = None,
) -> Run:
    """A :class:`Run` of a trained ``model``: accuracy on the training and validation splits (in
    inference mode), the validation cross-entropy without penalty, and what training cost.

    Args:
        history: the ``keras.callbacks.History`` (or its ``.history`` dict) of the training.
        seed: the seed the run was trained with.
        seconds: training time.
        best_epoch: the epoch whose weights the model holds (default the last one).
        epochs_run: epochs trained (default the length of ``history``).
        train_size: training examples the model saw (default ``len(data.x_train)``).
    """
    hist = getattr(history, "history", history) or {}
    hist = {k: [float(v) for v in values] for k, values in hist.items()}
    epochs_run = len(hist.get("loss", [])) if epochs_run is None else int(epochs_run)
    train_acc = evaluation.evaluate(model, data, "train")
    val_acc = evaluation.evaluate(model, data, "val")
    row = {
        "name": name,
        "seed": int(seed),
        "train_size": int(len(data.x_train) if train_size is None else train_size),
        "epochs_run": epochs_run,
        "best_epoch": epochs_run if best_epoch is None else int(best_epoch),
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "gap": train_acc - val_acc,
        "val_loss": evaluation.cross_entropy(model, data.x_val, data.y_val),
        "params": int(model.count_params()),
        "seconds": float(seconds),
    }
    return Run(name=name, row=row, history=hist, model=model)


def _rows(runs) -> tuple[list[dict], list[Run | None]]:
    if isinstance(runs, Mapping):  # {name: run}, or a single row
        runs = list(runs.values()) if all(isinstance(r, Run) for r in runs.values()) else [runs]
    elif isinstance(runs, Run):
        runs = [runs]
    rows, objects = [], []
    for run in runs:
        row = run.row if isinstance(run, Run) else run
        if not isinstance(row, Mapping):
            raise TypeError(f"runs.table takes Run objects or row dicts. Received: {type(run).__name__}")
        missing = [c for c in ("name", "seed", "val_accuracy") if c not in row]
        if missing:
            raise ValueError(f"A row lacks {', '.join(missing)}; pass what runs.train returns.")
        rows.append(dict(row))
        objects.append(run if isinstance(run, Run) else None)
    if not rows:
        raise ValueError("runs.table needs at least one run (train one with runs.train).")
    return rows, objects


def table(
    runs: Iterable[Run | Mapping[str, Any]] | Mapping[str, Run],
    *,
    test_data: Dataset | None = None,
    extra: Mapping[str, Callable[[Run], Any]] | None = None,
) -> pd.DataFrame:
    """A tidy ``DataFrame``, one row per run in the given order (columns :data:`ROW_COLUMNS`).

    Args:
        runs: :class:`Run` objects or their rows (a list, or a ``{name: run}`` dict).
        test_data: the dataset whose **test** split to evaluate, adding a ``test_accuracy``
            column; default None. Pass it once, at the end, when every choice has been made on
            validation results.
        extra: more columns, ``{column: function(run)}``, e.g. the share of near-zero weights.
    """
    rows, objects = _rows(runs)
    for column, fn in (extra or {}).items():
        for row, run in zip(rows, objects):
            if run is None:
                raise TypeError(f"The column {column!r} needs Run objects (their models), not row dicts.")
            row[column] = fn(run)
    if test_data is not None:
        for row, run in zip(rows, objects):
            if run is None:
                raise TypeError("test_accuracy needs Run objects (their models), not row dicts.")
            row["test_accuracy"] = evaluation.evaluate(run.model, test_data, "test")
    keys = list(dict.fromkeys(k for row in rows for k in row))  # rows may measure different things
    return pd.DataFrame(rows, columns=[c for c in ROW_COLUMNS if c in keys] + [c for c in keys if c not in ROW_COLUMNS])


def over_seeds(experiment: Callable[[int], Any], seeds: Iterable[int], *, workers: int = 1) -> list:
    """Run ``experiment(seed)`` for every seed and collect what it returns, flat, in seed order.

    Each call starts from :func:`helpers.config.seed_everything` with its seed, so a comparison over
    seeds is as reproducible as one run. ``experiment`` returns a :class:`Run`, a row dict, or a list
    or ``{name: ...}`` dict of them (several variants trained with that seed); every row's ``seed``
    is set to the seed it ran with. The list is what :func:`table`, :func:`summarize` and
    ``plots.plot_run_results`` take. ``workers=2`` trains two seeds at once in worker processes
    (:func:`helpers.parallel.map_seeds`): faster on 2 cores where ``make bench`` measured it so.
    """
    from helpers import parallel

    seeds = _validate.seeds(seeds, "seeds")
    collected = []
    for seed, result in zip(seeds, parallel.map_seeds(experiment, seeds, workers=workers)):
        if isinstance(result, Run) or (isinstance(result, Mapping) and "name" in result):
            result = [result]
        elif isinstance(result, Mapping):
            result = list(result.values())
        elif not isinstance(result, (list, tuple)):
            raise TypeError(
                "experiment(seed) must return a Run, a row dict, or a list or {name: ...} dict of them. "
                f"Received: {type(result).__name__}"
            )
        for item in result:
            if isinstance(item, Run):
                item.row["seed"] = seed
            elif isinstance(item, Mapping):
                item = {**item, "seed": seed}
            else:
                raise TypeError(f"experiment(seed) returned a {type(item).__name__}; expected Runs or row dicts.")
            collected.append(item)
    return collected


def seed_verdict(differences, *, unit: str = "seed") -> str:
    """The course's bar for "better", in words: ``"better on every seed"``, ``"worse on every seed"`` or
    ``"no clear difference at this number of seeds"``, for a variant's paired differences from its
    baseline (one per seed, positive when the variant is better). ``unit`` names what was repeated
    (e.g. ``"draw"`` of labelled examples, ``"fix"``). Passing the bar is necessary, not sufficient: a
    difference smaller than a run's standard error can keep its sign over three seeds by chance."""
    diffs = np.asarray(differences, dtype=np.float64)
    if diffs.ndim != 1 or diffs.size == 0 or not np.all(np.isfinite(diffs)):
        raise ValueError(f"differences must be a non-empty 1-D list of finite numbers. Received: {differences!r}")
    _validate.non_empty_str(unit, "unit")
    if np.all(diffs > 0):
        return f"better on every {unit}"
    if np.all(diffs < 0):
        return f"worse on every {unit}"
    return f"no clear difference at this number of {unit}s"


def summarize(
    runs, *, by: str = "name", metrics: Sequence[str] = ("train_accuracy", "val_accuracy", "gap")
) -> pd.DataFrame:
    """Per-``by`` mean, standard deviation and range of ``metrics`` over seeds, and the number of seeds.

    ``runs`` is a :func:`table` or what it takes. Rows keep the order in which each group first
    appears; columns are ``<metric>_mean``, ``<metric>_std`` (0 with a single seed), ``<metric>_min``,
    ``<metric>_max``, and ``seeds``.
    """
    frame = runs if isinstance(runs, pd.DataFrame) else table(runs)
    missing = [c for c in (by, "seed", *metrics) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The table has no column {', '.join(map(repr, missing))}. Columns: {', '.join(frame.columns)}"
        )
    grouped = frame.groupby(by, sort=False)
    out = pd.DataFrame({"seeds": grouped["seed"].nunique()})
    for m in metrics:
        out[f"{m}_mean"] = grouped[m].mean()
        out[f"{m}_std"] = grouped[m].std(ddof=0)
        out[f"{m}_min"] = grouped[m].min()
        out[f"{m}_max"] = grouped[m].max()
    return out


def spread_text(runs, name: str, metric: str = "val_accuracy", *, by: str = "name", percent: bool | None = None) -> str:
    """One variant's ``metric`` over seeds in words: mean, range and number of seeds.

    Accuracies and gaps read as percentages, e.g. ``"97.2 % (96.9-97.5 %, 3 seeds)"``; anything else
    (a loss, seconds) as numbers, e.g. ``"0.084 (0.071-0.102, 3 seeds)"``. With one seed the text says
    so instead of showing a range: ``"97.2 % (1 seed)"``.

    Args:
        percent: show percentages; default: when ``metric`` ends in ``accuracy`` or is ``gap``.
    """
    summary = summarize(runs, by=by, metrics=(metric,))
    if name not in summary.index:
        raise ValueError(f"No variant {name!r} in the table. Variants: {', '.join(map(str, summary.index))}")
    row = summary.loc[name]
    mean, low, high, seeds = row[f"{metric}_mean"], row[f"{metric}_min"], row[f"{metric}_max"], int(row["seeds"])
    if percent is None:
        percent = metric.endswith("accuracy") or metric == "gap"
    if percent:
        fmt, unit = (lambda v: f"{100 * v:.1f}"), " %"
    else:
        fmt, unit = (lambda v: f"{v:.3g}"), ""
    if seeds == 1:
        return f"{fmt(mean)}{unit} (1 seed)"
    return f"{fmt(mean)}{unit} ({fmt(low)}-{fmt(high)}{unit}, {seeds} seeds)"
