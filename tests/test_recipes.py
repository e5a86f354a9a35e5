"""helpers.recipes: the course's recipes, their fields, the early stopping they bring, and training."""

import dataclasses
import statistics

import keras
import numpy as np
import pytest

from helpers import recipes, schedules


def test_the_recommended_recipe_is_the_benchmarked_one():
    r = recipes.FAST
    assert (r.filters, r.convs_per_block, r.head, r.dropout, r.bn_momentum) == ((16, 32), 2, "flatten", 0.3, 0.9)
    assert (r.batch_size, r.peak_lr, r.epochs, r.augment) == (64, 5e-3, 14, False)


def test_recipe_builds_a_compiled_model_whose_schedule_spans_its_epochs():
    from helpers import data

    ds = data.load("mnist5k", train_size=200)
    recipe = recipes.Recipe(epochs=3)
    model = recipe.build(ds, seed=1)
    assert model.name == "course_recipe" and model.optimizer is not None
    steps = 3 * schedules.steps_per_epoch(len(ds.x_train), recipe.batch_size)
    schedule = model.optimizer.get_config()["learning_rate"]["config"]  # a serialized CosineDecay
    assert schedule["warmup_target"] == recipe.peak_lr
    assert schedule["warmup_steps"] + schedule["decay_steps"] == steps
    assert recipe.augmentation(ds) is None and recipes.Recipe(augment=True).augmentation(ds) is not None


def test_accurate_is_fast_with_augmentation_and_more_epochs_all_trained():
    recipe = recipes.ACCURATE
    assert isinstance(recipe, recipes.Recipe)
    assert recipe.augment is True and recipe.epochs == 20 and recipe.peak_lr == 3e-3 and recipe.patience is None
    assert recipe.callbacks() == []  # early stopping cut seed 42 short at 97.8 % validation (recipes.ACCURATE)
    same_network = ("filters", "convs_per_block", "head", "dropout", "bn_momentum", "batch_size")
    assert all(getattr(recipe, f) == getattr(recipes.FAST, f) for f in same_network)
    short = recipe.replace(epochs=2, augment=False)
    assert short.epochs == 2 and short.augment is False and short.filters == recipe.filters
    assert recipes.FAST.callbacks() == []


def test_replace_rejects_unknown_fields_and_bad_values():
    with pytest.raises(ValueError, match="Unknown recipe field.*learning_rate.*Fields: augment"):
        recipes.ACCURATE.replace(learning_rate=1e-3)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        recipes.ACCURATE.replace(epochs=0)


def test_early_stopping_watches_the_second_half(monkeypatch, tiny):
    seen = {}

    def fake_fit(model, data, *, callbacks=(), seed, **kwargs):
        seen.update(callbacks=list(callbacks), seed=seed, epochs=kwargs["epochs"])
        return "history"

    monkeypatch.setattr(recipes.training, "fit", fake_fit)
    extra = keras.callbacks.Callback()
    digits_like = dataclasses.replace(tiny, name="digits")
    model, history = recipes.ACCURATE.replace(filters=(4,)).train(digits_like, seed=5, callbacks=[extra])
    assert isinstance(model, keras.Model) and history == "history"
    assert seen["callbacks"] == [extra] and seen["seed"] == 5 and seen["epochs"] == 20  # ACCURATE trains every epoch
    stopping = recipes.ACCURATE.replace(filters=(4,), patience=5)
    stopping.train(digits_like, callbacks=[extra])
    stop, other = seen["callbacks"]
    assert isinstance(stop, keras.callbacks.EarlyStopping) and other is extra
    assert stop.restore_best_weights and stop.patience == 5 and stop.monitor == "val_loss"
    assert stop.start_from_epoch == stopping.epochs // 2  # not during the high-LR phase
    stopping.replace(epochs=6, start_from_epoch=0).train(digits_like)
    assert seen["callbacks"][0].start_from_epoch == 0 and seen["epochs"] == 6


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"patience": 0}, "patience must be a positive integer"),
        ({"start_from_epoch": 20}, r"start_from_epoch must be an integer in \[0, 20\)"),
        ({"start_from_epoch": -1}, "start_from_epoch must be an integer"),
        ({"start_from_epoch": 2.5}, "start_from_epoch must be an integer"),
        ({"peak_lr": 0}, "peak_lr must be a positive number"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
    ],
)
def test_recipe_rejects_bad_fields(fields, match):
    with pytest.raises(ValueError, match=match):
        recipes.ACCURATE.replace(**fields)


def test_label_smoothing_reaches_the_loss(tiny):
    tiny_recipe = recipes.FAST.replace(filters=(4,))
    assert tiny_recipe.build(tiny).loss == "sparse_categorical_crossentropy"
    assert tiny_recipe.replace(label_smoothing=0.1).build(tiny).loss.label_smoothing == 0.1


def test_train_rejects_bad_arguments(tiny):
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        recipes.ACCURATE.train(np.zeros((4, 28, 28, 1)))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        recipes.ACCURATE.train(tiny, seed="42")


def test_train_trains_a_model(tiny):
    digits_like = dataclasses.replace(tiny, name="digits")  # the digits augmentation preset applies
    recipe = recipes.ACCURATE.replace(epochs=2, filters=(8,), convs_per_block=1, patience=1)
    model, history = recipe.train(digits_like, verbose=0)
    assert isinstance(model, keras.Model) and 1 <= len(history.history["loss"]) <= 2
    assert model.name == "course_recipe"


def _record(recipe, **changes):
    return {
        "recipe": {**dataclasses.asdict(recipe), **changes},
        "seeds": [42, 43, 44],
        "runs": [{"seed": s, "val_accuracy": 0.98, "test_accuracy": 0.985} for s in (42, 43, 44)],
        "median_val_accuracy": 0.98,
        "median_test_accuracy": 0.985,
    }


def test_seed_measurement_reads_the_bench_record_of_this_recipe(tmp_path):
    import json

    path = tmp_path / "capstone_seeds.json"
    record = _record(recipes.ACCURATE)
    path.write_text(json.dumps(record))  # JSON turns the filters tuple into a list
    assert recipes.seed_measurement(recipes.ACCURATE, path)["median_test_accuracy"] == 0.985
    path.write_text(json.dumps(_record(recipes.ACCURATE, epochs=30)))
    with pytest.raises(ValueError, match="stale. Rerun: python -m bench.capstone_seeds"):
        recipes.seed_measurement(recipes.ACCURATE, path)
    with pytest.raises(FileNotFoundError, match="python -m bench.capstone_seeds"):
        recipes.seed_measurement(recipes.ACCURATE, tmp_path / "missing.json")


def test_the_committed_seed_measurement_is_of_the_accurate_recipe():
    """bench/results/capstone_seeds.json matches recipes.ACCURATE (else 08's targets rest on a stale run)."""
    record = recipes.seed_measurement()
    assert len(record["seeds"]) >= 3 and len(record["runs"]) == len(record["seeds"])
    assert record["median_val_accuracy"] == statistics.median(r["val_accuracy"] for r in record["runs"])
    assert record["median_test_accuracy"] == statistics.median(r["test_accuracy"] for r in record["runs"])
