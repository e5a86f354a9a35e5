"""helpers.experiments: nested subsets, tidy runs, the training-set-size curve, the recommended recipe."""

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import experiments, recipes
from helpers.data import Dataset

TINY_MODEL = {"filters": (4,), "convs_per_block": 1, "batch_norm": False, "dropout": 0.0, "dense_units": 8}


def tiny_dataset(n_train=60, n_val=30, n_test=30, name="tiny", seed=0) -> Dataset:
    """Three classes of 8x8 images (a bright row band per class plus noise): learnable in a few steps."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
        for k in range(3):
            x[y == k, 2 * k + 1 : 2 * k + 3, :, 0] += 0.7
        return np.clip(x, 0, 1), y.astype(np.int32)

    x_tr, y_tr = make(n_train)
    x_va, y_va = make(n_val)
    x_te, y_te = make(n_test)
    return Dataset(
        name=name,
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=x_te,
        y_test=y_te,
        class_names=("a", "b", "c"),
        description="tiny synthetic test data",
    )


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset()


# ---------------------------------------------------------------------------------------------- subsets


def test_nested_subsets_are_nested_stratified_and_seeded():
    y = np.repeat(np.arange(10), [50, 60, 40, 55, 45, 50, 52, 48, 50, 50])
    subsets = experiments.nested_subset_indices(y, [20, 100, 250, 500], seed=3)
    assert sorted(subsets) == [20, 100, 250, 500]
    for size, idx in subsets.items():
        assert len(idx) == size and len(np.unique(idx)) == size
        counts = np.bincount(y[idx], minlength=10)
        expected = size * np.bincount(y) / len(y)
        assert np.all(np.abs(counts - expected) <= 1.0), (size, counts, expected)
    assert set(subsets[20]) <= set(subsets[100]) <= set(subsets[250]) <= set(subsets[500])
    again = experiments.nested_subset_indices(y, [100], seed=3)
    other = experiments.nested_subset_indices(y, [100], seed=4)
    np.testing.assert_array_equal(again[100], subsets[100])
    assert not np.array_equal(other[100], subsets[100])


def test_nested_subsets_full_size_is_everything():
    y = np.arange(30) % 3
    idx = experiments.nested_subset_indices(y, [30])[30]
    np.testing.assert_array_equal(idx, np.arange(30))


@pytest.mark.parametrize(
    ("sizes", "match"),
    [
        ([2], r"from 3 \(one example per class\) to 30"),
        ([31], "to 30"),
        ([], "Every size must be"),
        ([10.5], "Every size must be"),
        ([True], "Every size must be"),
        (["ten"], "whole numbers"),
    ],
)
def test_nested_subsets_reject_bad_sizes(sizes, match):
    with pytest.raises(ValueError, match=match):
        experiments.nested_subset_indices(np.arange(30) % 3, sizes)


def test_nested_subsets_reject_bad_seed():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        experiments.nested_subset_indices(np.arange(30) % 3, [10], seed=-1)


def test_with_train_subset_keeps_validation_and_test(tiny):
    sub = experiments.with_train_subset(tiny, np.array([0, 1, 2, 5]))
    assert len(sub.x_train) == 4 and list(sub.y_train) == [0, 1, 2, 2]
    assert sub.x_val is tiny.x_val and sub.x_test is tiny.x_test and sub.name == tiny.name


@pytest.mark.parametrize(
    ("indices", "match"),
    [
        (np.array([], dtype=int), "non-empty 1-D array of integers"),
        (np.array([0.5, 1.0]), "non-empty 1-D array of integers"),
        (np.array([[0, 1]]), "non-empty 1-D array of integers"),
        (np.array([0, 60]), r"must lie in \[0, 60\)"),
        (np.array([-1]), r"must lie in \[0, 60\)"),
    ],
)
def test_with_train_subset_rejects_bad_indices(tiny, indices, match):
    with pytest.raises(ValueError, match=match):
        experiments.with_train_subset(tiny, indices)


def test_epochs_for_size_gives_small_sets_enough_steps():
    assert experiments.epochs_for_size(3500, epochs=10, min_steps=300) == 10  # 55 steps/epoch already
    assert experiments.epochs_for_size(250, epochs=10, min_steps=300) == 75  # 4 steps/epoch
    assert experiments.epochs_for_size(250, epochs=10) == 10
    assert experiments.epochs_for_size(100, epochs=1, min_steps=5, batch_size=50) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2, "min_steps": -1}, "min_steps must be an integer >= 0"),
        ({"epochs": 2, "min_steps": 1.5}, "min_steps must be an integer >= 0"),
    ],
)
def test_epochs_for_size_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        experiments.epochs_for_size(100, **kwargs)


# ---------------------------------------------------------------------------------------------- models and runs


def test_build_model_from_a_dict_or_a_callable(tiny):
    model = experiments.build_model(TINY_MODEL, tiny)
    assert model.input_shape[1:] == (8, 8, 1) and model.output_shape[-1] == 3
    same = experiments.build_model(
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
        ({"augmentation": None}, ValueError, "augmentation is run_recipe's augment= argument"),
        ("simple_cnn", TypeError, "dict of helpers.models.simple_cnn arguments or a callable"),
        (lambda d: "not a model", TypeError, "must produce a keras.Model"),
    ],
)
def test_build_model_rejects_bad_specs(tiny, spec, error, match):
    with pytest.raises(error, match=match):
        experiments.build_model(spec, tiny)


def test_run_recipe_returns_a_tidy_row(tiny):
    run = experiments.run_recipe("baseline", tiny, TINY_MODEL, epochs=2, batch_size=16, verbose=0)
    assert set(run.row) == set(experiments.ROW_COLUMNS)
    row = run.row
    assert row["name"] == "baseline" and row["seed"] == 42 and row["train_size"] == 60
    assert row["epochs_run"] == row["best_epoch"] == 2 and len(run.history["loss"]) == 2
    assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["val_accuracy"] <= 1
    assert row["gap"] == pytest.approx(row["train_accuracy"] - row["val_accuracy"])
    assert row["val_loss"] == pytest.approx(run.history["val_loss"][-1])
    assert row["params"] == run.model.count_params() and row["seconds"] > 0
    assert "baseline" in repr(run) and "gap" in repr(run)


def test_run_recipe_is_reproducible_with_a_seed(tiny):
    kwargs = dict(epochs=2, batch_size=16, verbose=0, augment="digits", seed=7)
    a = experiments.run_recipe("a", tiny, TINY_MODEL, **kwargs)
    b = experiments.run_recipe("a", tiny, TINY_MODEL, **kwargs)
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)
    assert a.row["val_accuracy"] == b.row["val_accuracy"]


def test_run_recipe_with_early_stopping_keeps_the_best_epoch(tiny):
    run = experiments.run_recipe("es", tiny, TINY_MODEL, epochs=4, patience=1, batch_size=16, verbose=0)
    losses = run.history["val_loss"]
    assert run.row["best_epoch"] == int(np.argmin(losses)) + 1
    assert run.row["val_loss"] == pytest.approx(min(losses))
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
def test_run_recipe_rejects_bad_arguments(tiny, kwargs, error, match):
    args = {"name": "x", "epochs": 1, "verbose": 0, **kwargs}
    with pytest.raises(error, match=match):
        experiments.run_recipe(args.pop("name"), tiny, TINY_MODEL, **args)


def test_run_recipe_rejects_arrays_instead_of_a_dataset(tiny):
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        experiments.run_recipe("x", (tiny.x_train, tiny.y_train), TINY_MODEL, epochs=1)


# ---------------------------------------------------------------------------------------------- curves and tables


def test_learning_curve_by_size_trains_every_size_and_seed(tiny):
    curve = experiments.learning_curve_by_size(
        "tiny", tiny, TINY_MODEL, [12, 60], epochs=1, seeds=(1, 2), min_steps=4, batch_size=12, verbose=0
    )
    assert isinstance(curve, pd.DataFrame) and list(curve.columns) == list(experiments.ROW_COLUMNS)
    assert list(curve["train_size"]) == [12, 12, 60, 60] and list(curve["seed"]) == [1, 2, 1, 2]
    assert list(curve["epochs_run"]) == [4, 4, 1, 1]  # the small subset got min_steps updates
    assert (curve["name"] == "tiny").all()


@pytest.mark.parametrize("seeds", [(), (1, 1), (1.5,), "42"])
def test_learning_curve_by_size_rejects_bad_seeds(tiny, seeds):
    with pytest.raises(ValueError, match="seeds must"):
        experiments.learning_curve_by_size("x", tiny, TINY_MODEL, [30], epochs=1, seeds=seeds)


ROWS = [
    {"name": "a", "seed": 1, "train_accuracy": 1.0, "val_accuracy": 0.9, "gap": 0.1},
    {"name": "a", "seed": 2, "train_accuracy": 1.0, "val_accuracy": 0.8, "gap": 0.2},
    {"name": "b", "seed": 1, "train_accuracy": 0.9, "val_accuracy": 0.9, "gap": 0.0},
]


def test_results_table_and_summary():
    table = experiments.results_table(ROWS)
    assert list(table["name"]) == ["a", "a", "b"]
    summary = experiments.summarize(table)
    assert list(summary.index) == ["a", "b"] and list(summary["seeds"]) == [2, 1]
    assert summary.loc["a", "val_accuracy_mean"] == pytest.approx(0.85)
    assert summary.loc["a", "val_accuracy_std"] == pytest.approx(0.05)
    assert summary.loc["b", "gap_std"] == 0
    assert experiments.summarize(ROWS, metrics=("val_accuracy",)).shape == (2, 3)


def test_results_table_accepts_runs(tiny):
    run = experiments.run_recipe("r", tiny, TINY_MODEL, epochs=1, verbose=0)
    table = experiments.results_table([run])
    assert list(table.columns) == list(experiments.ROW_COLUMNS) and table.loc[0, "name"] == "r"


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        ([], ValueError, "at least one run"),
        ([{"name": "a"}], ValueError, "lacks seed, val_accuracy"),
        (["a"], TypeError, "Run objects or row dicts"),
    ],
)
def test_results_table_rejects_bad_rows(rows, error, match):
    with pytest.raises(error, match=match):
        experiments.results_table(rows)


def test_summarize_names_missing_columns():
    with pytest.raises(ValueError, match="no column 'test_accuracy'"):
        experiments.summarize(ROWS, metrics=("test_accuracy",))


# ---------------------------------------------------------------------------------------------- recommended recipe


def test_recommended_recipe_is_the_documented_one():
    recipe = experiments.recommended_recipe()
    assert isinstance(recipe, recipes.Recipe)
    assert recipe.augment is True and recipe.epochs == experiments.RECOMMENDED_EPOCHS
    same_network = ("filters", "convs_per_block", "head", "dropout", "bn_momentum", "batch_size")
    assert all(getattr(recipe, f) == getattr(recipes.FAST, f) for f in same_network)
    assert recipe.peak_lr == experiments.RECOMMENDED_PEAK_LR == 3e-3 and recipe.epochs == 20
    short = experiments.recommended_recipe(epochs=2, augment=False)
    assert short.epochs == 2 and short.augment is False and short.filters == recipe.filters


def test_recommended_recipe_rejects_unknown_fields():
    with pytest.raises(ValueError, match="Unknown recipe field.*learning_rate.*Fields: augment"):
        experiments.recommended_recipe(learning_rate=1e-3)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        experiments.recommended_recipe(epochs=0)


def test_train_recommended_adds_early_stopping(monkeypatch, tiny):
    seen = {}

    def fake_train(self, data, *, seed, callbacks=(), verbose=None):
        seen.update(recipe=self, seed=seed, callbacks=list(callbacks))
        return "model", "history"

    monkeypatch.setattr(recipes.Recipe, "train", fake_train)
    extra = keras.callbacks.Callback()
    assert experiments.train_recommended(tiny, seed=5, patience=3, callbacks=[extra]) == ("model", "history")
    stop, other = seen["callbacks"]
    assert isinstance(stop, keras.callbacks.EarlyStopping) and other is extra
    assert stop.restore_best_weights and stop.patience == 3 and stop.monitor == "val_loss"
    assert stop.start_from_epoch == experiments.RECOMMENDED_EPOCHS // 2  # not during the high-LR phase
    assert seen["seed"] == 5 and seen["recipe"] == experiments.recommended_recipe()
    experiments.train_recommended(tiny, recipe=experiments.recommended_recipe(epochs=6), start_from_epoch=0)
    assert seen["callbacks"][0].start_from_epoch == 0 and seen["recipe"].epochs == 6
    experiments.train_recommended(tiny, patience=None)
    assert seen["callbacks"] == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"recipe": {"epochs": 2}}, TypeError, "recipe must be a helpers.training.Recipe"),
        ({"patience": 0}, ValueError, "patience must be a positive integer"),
        ({"seed": "42"}, ValueError, "seed must be a non-negative integer"),
        ({"start_from_epoch": 20}, ValueError, r"start_from_epoch must be an integer in \[0, 20\)"),
        ({"start_from_epoch": -1}, ValueError, "start_from_epoch must be an integer"),
        ({"start_from_epoch": 2.5}, ValueError, "start_from_epoch must be an integer"),
    ],
)
def test_train_recommended_rejects_bad_arguments(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        experiments.train_recommended(tiny, **kwargs)


def test_train_recommended_rejects_arrays():
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        experiments.train_recommended(np.zeros((4, 28, 28, 1)))


def test_train_recommended_trains_a_model(tiny):
    digits_like = dataclasses.replace(tiny, name="digits")  # the digits augmentation preset applies
    recipe = experiments.recommended_recipe(epochs=2, filters=(8,), convs_per_block=1)
    model, history = experiments.train_recommended(digits_like, recipe=recipe, patience=1, verbose=0)
    assert isinstance(model, keras.Model) and 1 <= len(history.history["loss"]) <= 2
    assert model.name == "course_recipe"
