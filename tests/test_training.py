import keras
import numpy as np
import pytest

from helpers import config, data, models, schedules, training


def test_warmup_cosine_rises_then_decays():
    sched = schedules.warmup_cosine(1e-2, 100, warmup_fraction=0.1)
    lrs = [float(sched(s)) for s in (0, 5, 10, 55, 100)]
    assert lrs[0] == 0.0 and lrs[1] == pytest.approx(5e-3) and lrs[2] == pytest.approx(1e-2)
    assert lrs[2] > lrs[3] > lrs[4] == pytest.approx(1e-4, rel=1e-3)


def test_warmup_cosine_rejects_bad_values():
    with pytest.raises(ValueError, match="peak_lr and total_steps must be positive"):
        schedules.warmup_cosine(0.0, 10)


def test_compile_and_fit_small_run(seeded):
    ds = data.load("mnist5k", train_size=200)
    model = training.compile_classifier(models.lenet5(), learning_rate=2e-3)
    history = training.fit(model, ds, epochs=2, batch_size=50)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]


def test_fit_explains_mistakes():
    ds = data.load("digits")
    with pytest.raises(ValueError, match="Compile the model first"):
        training.fit(models.simple_cnn((8, 8, 1), 10, filters=(8,)), ds, epochs=1)
    model = training.compile_classifier(models.simple_cnn((28, 28, 1), 10, filters=(8,)))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(28, 28, 1\).*\(8, 8, 1\)"):
        training.fit(model, ds, epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        training.fit(model, ds, epochs=0)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="Unknown optimizer 'adamax'"):
        training.compile_classifier(models.lenet5(), optimizer="adamax")


def test_steps_per_epoch():
    assert schedules.steps_per_epoch(3500, 64) == 55
    with pytest.raises(ValueError):
        schedules.steps_per_epoch(0, 64)
    assert isinstance(
        training.compile_classifier(models.lenet5(), optimizer="momentum").optimizer, keras.optimizers.SGD
    )
    assert np.isfinite(schedules.steps_per_epoch(1, 1))


def test_mixup_trains_on_soft_labels_and_validates_on_class_numbers(tiny):
    from helpers import losses

    config.seed_everything()
    model = models.simple_cnn(tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=0, dropout=0.0)
    with pytest.raises(ValueError, match="compile_classifier\\(model, ..., soft_labels=True\\)"):
        training.compile_classifier(model)
        training.fit(model, tiny, epochs=1, mixup=0.2, verbose=0)
    training.compile_classifier(model, soft_labels=True)
    assert isinstance(model.loss, losses.CrossEntropy) and model.loss.label_smoothing == 0.0
    history = training.fit(model, tiny, epochs=2, batch_size=16, mixup=0.4, verbose=0)
    assert all(np.isfinite(history.history["loss"])) and 0 <= history.history["val_accuracy"][-1] <= 1
