"""helpers.runs: training named variants, measuring them in inference mode, tables and summaries."""

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import evaluation, regularization, runs

TINY_MODEL = {"filters": (4,), "convs_per_block": 1, "batch_norm": False, "dropout": 0.0, "dense_units": 8}


def test_model_from_spec_from_a_dict_or_a_callable(tiny):
    model = runs.model_from_spec(TINY_MODEL, tiny)
    assert model.input_shape[1:] == (8, 8, 1) and model.output_shape[-1] == 3
    same = runs.model_from_spec(
        lambda d: keras.Sequential(
            [keras.Input(d.input_shape), keras.layers.Flatten(), keras.layers.Dense(d.num_classes)]
        ),
        tiny,
    )
    assert same.output_shape[-1] == 3


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ({"input_shape": (8, 8, 1)}, ValueError, "Do not put input_shape"),
        ({"augmentation": None}, ValueError, "augmentation is the augment= argument"),
        ("simple_cnn", TypeError, "dict of helpers.models.simple_cnn arguments or a callable"),
        (lambda d: "not a model", TypeError, "must produce a keras.Model"),
    ],
)
def test_model_from_spec_rejects_bad_specs(tiny, spec, error, match):
    with pytest.raises(error, match=match):
        runs.model_from_spec(spec, tiny)


def test_train_returns_a_tidy_row(tiny):
    run = runs.train("baseline", tiny, TINY_MODEL, epochs=2, batch_size=16, verbose=0)
    assert set(run.row) == set(runs.ROW_COLUMNS)
    row = run.row
    assert row["name"] == "baseline" and row["seed"] == 42 and row["train_size"] == 60
    assert row["epochs_run"] == row["best_epoch"] == 2 and len(run.history["loss"]) == 2
    assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["val_accuracy"] <= 1
    assert row["gap"] == pytest.approx(row["train_accuracy"] - row["val_accuracy"])
    # no weight penalty here: the penalty-free val_loss is the history's (batch-averaged) one
    assert row["val_loss"] == pytest.approx(run.history["val_loss"][-1], rel=1e-3)
    assert row["params"] == run.model.count_params() and row["seconds"] > 0
    assert "baseline" in repr(run) and "gap" in repr(run)


def test_train_is_reproducible_with_a_seed(tiny):
    kwargs = dict(epochs=2, batch_size=16, verbose=0, augment="digits", seed=7)
    a = runs.train("a", tiny, TINY_MODEL, **kwargs)
    b = runs.train("a", tiny, TINY_MODEL, **kwargs)
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)
    assert a.row["val_accuracy"] == b.row["val_accuracy"]


def test_train_with_early_stopping_keeps_the_best_epoch(tiny):
    run = runs.train("es", tiny, TINY_MODEL, epochs=4, patience=1, batch_size=16, verbose=0)
    losses = run.history["val_loss"]
    assert run.row["best_epoch"] == int(np.argmin(losses)) + 1
    assert run.row["val_loss"] == pytest.approx(min(losses), rel=1e-3)  # the restored best epoch's
    assert run.row["epochs_run"] == len(losses) <= 4


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": ""}, ValueError, "name must be a non-empty string"),
        ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
        ({"batch_size": -1}, ValueError, "batch_size must be a positive integer"),
        ({"patience": 0}, ValueError, "patience must be a positive integer"),
        ({"seed": -3}, ValueError, "seed must be a non-negative integer. Received: seed=-3"),
        ({"augment": 3}, TypeError, "augment must be None, a preset or dataset name"),
        ({"augment": "rotate"}, ValueError, "Unknown augmentation preset 'rotate'"),
    ],
)
def test_train_rejects_bad_arguments(tiny, kwargs, error, match):
    args = {"name": "x", "epochs": 1, "verbose": 0, **kwargs}
    with pytest.raises(error, match=match):
        runs.train(args.pop("name"), tiny, TINY_MODEL, **args)


def test_train_rejects_arrays_instead_of_a_dataset(tiny):
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        runs.train("x", (tiny.x_train, tiny.y_train), TINY_MODEL, epochs=1)


ROWS = [
    {"name": "a", "seed": 1, "train_accuracy": 1.0, "val_accuracy": 0.9, "gap": 0.1},
    {"name": "a", "seed": 2, "train_accuracy": 1.0, "val_accuracy": 0.8, "gap": 0.2},
    {"name": "b", "seed": 1, "train_accuracy": 0.9, "val_accuracy": 0.9, "gap": 0.0},
]


def test_table_and_summary():
    table = runs.table(ROWS)
    assert list(table["name"]) == ["a", "a", "b"]
    summary = runs.summarize(table)
    assert list(summary.index) == ["a", "b"] and list(summary["seeds"]) == [2, 1]
    assert summary.loc["a", "val_accuracy_mean"] == pytest.approx(0.85)
    assert summary.loc["a", "val_accuracy_std"] == pytest.approx(0.05)
    assert summary.loc["b", "gap_std"] == 0
    assert summary.loc["a", "val_accuracy_min"] == pytest.approx(0.8)
    assert summary.loc["a", "val_accuracy_max"] == pytest.approx(0.9)
    assert runs.summarize(ROWS, metrics=("val_accuracy",)).shape == (2, 5)


def test_spread_text_reads_percentages_numbers_and_single_seeds():
    assert runs.spread_text(ROWS, "a") == "85.0 % (80.0-90.0 %, 2 seeds)"
    assert runs.spread_text(ROWS, "b") == "90.0 % (1 seed)"
    rows = [{"name": "x", "seed": s, "val_accuracy": 0.5, "seconds": t} for s, t in ((1, 12.0), (2, 14.5))]
    assert runs.spread_text(rows, "x", "seconds") == "13.2 (12-14.5, 2 seeds)"
    losses = [{"name": "x", "seed": s, "val_accuracy": 0.5, "val_loss": v} for s, v in ((1, 0.25), (2, 0.3))]
    assert runs.spread_text(losses, "x", "val_loss") == "0.275 (0.25-0.3, 2 seeds)"  # a loss is not a percentage
    assert runs.spread_text(losses, "x", "val_loss", percent=True) == "27.5 % (25.0-30.0 %, 2 seeds)"
    with pytest.raises(ValueError, match="No variant 'c' in the table. Variants: a, b"):
        runs.spread_text(ROWS, "c")


def test_over_seeds_reseeds_each_call_and_labels_rows(make_run):
    draws = {}

    def experiment(seed):
        draws[seed] = float(np.random.random())  # seeded by over_seeds
        return {"wide": {"name": "wide", "val_accuracy": 0.9}, "narrow": make_run("narrow", 1.0, 0.8)}

    out = runs.over_seeds(experiment, (3, 4))
    assert [r["seed"] if isinstance(r, dict) else r.row["seed"] for r in out] == [3, 3, 4, 4]
    again = {}
    runs.over_seeds(lambda seed: again.setdefault(seed, float(np.random.random())) and [], (3, 4))
    assert again == draws and draws[3] != draws[4]  # the same seed gives the same numbers
    summary = runs.summarize(runs.table(out), metrics=("val_accuracy",))
    assert list(summary["seeds"]) == [2, 2]


@pytest.mark.parametrize(("result", "match"), [(0.9, "must return a Run, a row dict"), (["x"], "returned a str")])
def test_over_seeds_rejects_what_it_cannot_tabulate(result, match):
    with pytest.raises(TypeError, match=match):
        runs.over_seeds(lambda seed: result, (1,))
    with pytest.raises(ValueError, match="seeds must be"):
        runs.over_seeds(lambda seed: [], ())


def test_table_accepts_runs(tiny):
    run = runs.train("r", tiny, TINY_MODEL, epochs=1, verbose=0)
    table = runs.table([run])
    assert list(table.columns) == list(runs.ROW_COLUMNS) and table.loc[0, "name"] == "r"


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        ([], ValueError, "at least one run"),
        ([{"name": "a"}], ValueError, "lacks seed, val_accuracy"),
        (["a"], TypeError, "Run objects or row dicts"),
    ],
)
def test_table_rejects_bad_rows(rows, error, match):
    with pytest.raises(error, match=match):
        runs.table(rows)


def test_summarize_names_missing_columns():
    with pytest.raises(ValueError, match="no column 'test_accuracy'"):
        runs.summarize(ROWS, metrics=("test_accuracy",))


# -- one API for the notebooks' comparisons (05's regularizers, 08's fixes) ------------------------


@pytest.mark.slow
def test_train_measures_in_inference_mode_and_is_seeded(tiny):
    spec = {**TINY_MODEL, "dropout": 0.5}
    a = runs.train("a", tiny, spec, epochs=2, batch_size=16, verbose=0)
    b = runs.train("b", tiny, spec, epochs=2, batch_size=16, verbose=0)
    assert a.train_accuracy == b.train_accuracy and a.val_accuracy == b.val_accuracy  # same seed, same run
    assert a.train_accuracy == evaluation.evaluate(a.model, tiny, "train")
    assert a.gap == pytest.approx(a.train_accuracy - a.val_accuracy)
    assert len(a.history["loss"]) == 2 and a.row["seconds"] > 0 and "test_accuracy" not in a.row
    assert a.val_loss == pytest.approx(evaluation.cross_entropy(a.model, tiny.x_val, tiny.y_val))


@pytest.mark.slow
def test_train_accepts_a_build_function_and_an_optimizer_instance(tiny):
    def small_cnn(data):
        return regularization.overfitting_cnn(data.input_shape, data.num_classes, filters=(4,), dense_units=8)

    run = runs.train(
        "adamw", tiny, small_cnn, epochs=1, optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.1), verbose=0
    )
    assert isinstance(run.model.optimizer, keras.optimizers.AdamW)
    assert 0.0 <= run.val_accuracy <= 1.0


def test_train_shapes_a_float_learning_rate_with_the_schedule(tiny):
    constant = runs.train("c", tiny, TINY_MODEL, epochs=1, learning_rate=1e-3, schedule="constant", verbose=0)
    assert float(constant.model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    ready = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.5)
    scheduled = runs.train("s", tiny, TINY_MODEL, epochs=1, learning_rate=ready, verbose=0)
    assert scheduled.model.optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    with pytest.raises(ValueError, match="schedule must be one of 'constant'"):
        runs.train("x", tiny, TINY_MODEL, epochs=1, schedule="cyclic")
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        runs.train("x", tiny, TINY_MODEL, epochs=1, learning_rate=0)


def test_train_explains_mistakes(tiny):
    with pytest.raises(TypeError, match="Unknown model option.*l3"):
        runs.train("x", tiny, {"l3": 1e-3}, epochs=1)
    with pytest.raises(TypeError, match="must build a new model.*not a built Sequential"):
        runs.train("x", tiny, keras.Sequential([keras.Input((8, 8, 1))]), epochs=1)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        runs.train("", tiny, TINY_MODEL, epochs=1)


def test_table_without_and_with_the_test_split(tiny, make_run):
    variants = {"base": make_run("base", 1.0, 0.9, val_loss=0.3), "l2": make_run("l2", 0.97, 0.93)}
    frame = runs.table(variants)
    assert isinstance(frame, pd.DataFrame) and list(frame["name"]) == ["base", "l2"]
    assert list(frame.columns) == list(runs.ROW_COLUMNS)  # no test column until asked
    assert frame.loc[0, "val_loss"] == pytest.approx(0.3)
    assert frame.loc[0, "gap"] == pytest.approx(0.1) and frame.loc[1, "gap"] == pytest.approx(0.04)
    zeros = {"|w|<0.01": lambda r: regularization.near_zero_fraction(r.model, 0.01)}
    frame = runs.table(list(variants.values()), test_data=tiny, extra=zeros)
    assert list(frame.columns)[-2:] == ["|w|<0.01", "test_accuracy"]
    assert frame.loc[1, "test_accuracy"] == evaluation.evaluate(variants["l2"].model, tiny, "test")
    assert "test_accuracy" not in variants["l2"].row  # the runs themselves are unchanged


def test_table_explains_bad_input(make_run):
    with pytest.raises(ValueError, match="at least one run"):
        runs.table({})
    with pytest.raises(TypeError, match="Run objects or row dicts.*float"):
        runs.table([0.9])
    with pytest.raises(TypeError, match="needs Run objects"):
        runs.table([{"name": "a", "seed": 1, "val_accuracy": 0.5}], extra={"x": lambda r: 1})
    single = runs.table(make_run("one", 0.9, 0.8))
    assert list(single["name"]) == ["one"]
    assert "Run 'one' (seed 0, 60 examples): train 90.00%" in repr(make_run("one", 0.9, 0.8))


def test_train_passes_the_modern_toolbox_through(tiny):
    from helpers import averaging, losses

    smoothed = runs.train("ls", tiny, TINY_MODEL, epochs=1, label_smoothing=0.1, verbose=0)
    assert smoothed.model.loss.label_smoothing == 0.1
    mixed = runs.train("mixup", tiny, TINY_MODEL, epochs=1, mixup=0.2, verbose=0)
    assert isinstance(mixed.model.loss, losses.CrossEntropy)
    averaged = runs.train(
        "ema+swa", tiny, TINY_MODEL, epochs=2, ema=0.9, callbacks=[averaging.WeightAveraging(1)], verbose=0
    )
    assert averaged.model.optimizer.use_ema and 0 <= averaged.val_accuracy <= 1
    # the reported val_loss is the plain cross-entropy, with or without smoothing in the training loss
    assert smoothed.val_loss == pytest.approx(evaluation.cross_entropy(smoothed.model, tiny.x_val, tiny.y_val))


def test_seed_verdict_is_the_course_bar_in_words():
    assert runs.seed_verdict([0.01, 0.002, 0.004]) == "better on every seed"
    assert runs.seed_verdict([-0.01, -0.2]) == "worse on every seed"
    assert runs.seed_verdict([0.01, 0.0, 0.02]) == "no clear difference at this number of seeds"
    assert runs.seed_verdict(pd.Series([0.1, 0.2]), unit="draw") == "better on every draw"
    with pytest.raises(ValueError, match="non-empty 1-D list of finite numbers"):
        runs.seed_verdict([])
