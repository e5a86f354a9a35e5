"""helpers.training's range test, LR rule and schedules, and helpers.callbacks' LRFinder and EpochTimer."""

import keras
import numpy as np
import pytest

from helpers import callbacks, data, models, schedules, training


@pytest.fixture(scope="module")
def small_data():
    return data.load("mnist5k", train_size=300)


def tiny_model(ds, optimizer="adam", learning_rate=1e-3):
    model = models.simple_cnn(
        ds.input_shape,
        ds.num_classes,
        filters=(4,),
        convs_per_block=1,
        dense_units=0,
        batch_norm=False,
        dropout=0.0,
        head="gap",
    )
    return training.compile_classifier(model, optimizer=optimizer, learning_rate=learning_rate)


# ---- schedules --------------------------------------------------------------------------------


def test_constant_and_step_decay():
    assert schedules.constant_lr(0.01) == 0.01 and isinstance(schedules.constant_lr(1), float)
    sched = schedules.step_decay(0.1, drop_every=10, factor=0.5)
    values = schedules.learning_rate_values(sched, 31)
    np.testing.assert_allclose(values[[0, 9, 10, 19, 20, 30]], [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], rtol=1e-6)
    assert (
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched)).get_config()
        == sched.get_config()
    )


def test_make_schedule_spans_the_budget():
    total = 90
    assert schedules.make_schedule("constant", 0.02, total) == 0.02
    step = schedules.learning_rate_values(schedules.make_schedule("step_decay", 0.02, total), total)
    np.testing.assert_allclose(step[[0, 29, 30, 59, 60, 89]], [0.02, 0.02, 2e-3, 2e-3, 2e-4, 2e-4], rtol=1e-5)
    cosine = schedules.learning_rate_values(schedules.make_schedule("warmup_cosine", 0.02, total), total)
    assert cosine[0] == 0.0 and cosine.max() == pytest.approx(0.02, rel=1e-5) and cosine[-1] < 0.001
    np.testing.assert_allclose(schedules.learning_rate_values(0.5, 3), [0.5, 0.5, 0.5])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: schedules.constant_lr(-1), "learning_rate must be a positive number"),
        (lambda: schedules.step_decay(0.1, drop_every=0), "drop_every must be a positive integer"),
        (lambda: schedules.step_decay(0.1, drop_every=5, factor=1.5), r"factor must be in \(0, 1\)"),
        (lambda: schedules.make_schedule("cyclic", 0.1, 10), "Unknown schedule 'cyclic'. Choose one of constant"),
        (lambda: schedules.make_schedule("constant", 0.1, 0), "total_steps must be a positive integer"),
        (lambda: schedules.make_schedule("constant", 0.1, 10, factor=0.5), "takes no options"),
        (lambda: schedules.learning_rate_values(0.1, 0), "steps must be a positive integer"),
    ],
)
def test_schedule_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_reduce_lr_on_plateau_cannot_change_a_schedule():
    """The pitfall the notebook shows: a schedule's rate cannot be set; a constant float can."""
    opt = keras.optimizers.SGD(schedules.make_schedule("warmup_cosine", 0.1, 100))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    opt = keras.optimizers.SGD(schedules.make_schedule("constant", 0.1, 100))
    opt.learning_rate = 0.01
    assert float(opt.learning_rate) == pytest.approx(0.01)


# ---- the rule ---------------------------------------------------------------------------------


def synthetic_curve(best_at=0.03, n=60, lo=1e-5, hi=1.0):
    lrs = np.geomspace(lo, hi, n)
    x = np.log10(lrs) - np.log10(best_at)
    return lrs, 2.3 - 1.5 / (1 + np.exp(-3 * (x + 1.2))) + np.where(x > 0, 4 * x**2, 0.0)


def test_suggest_learning_rate_minimum_rule():
    lrs, loss = synthetic_curve()
    best = lrs[np.argmin(loss)]
    assert best == pytest.approx(0.03, rel=0.25)
    assert schedules.suggest_learning_rate(lrs, loss) == pytest.approx(best / 10)
    assert schedules.suggest_learning_rate(lrs, loss, factor=3) == pytest.approx(best / 3)


def test_suggest_learning_rate_steepest_rule_lies_below_the_minimum():
    lrs, loss = synthetic_curve()
    steepest = schedules.suggest_learning_rate(lrs, loss, method="steepest")
    # The curve falls fastest a decade and a bit below its minimum (the sigmoid's centre).
    assert 0.03 / 30 < steepest < 0.03 / 5


def test_suggest_learning_rate_ignores_a_diverged_tail():
    lrs, loss = synthetic_curve()
    loss[-10:] = np.nan
    assert np.isfinite(schedules.suggest_learning_rate(lrs, loss))
    loss[4] = np.inf
    with pytest.raises(ValueError, match="4 finite points before it diverges; at least 5"):
        schedules.suggest_learning_rate(lrs, loss)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"method": "valley"}, "method must be one of minimum, steepest"), ({"factor": 1}, "factor must be a number > 1")],
)
def test_suggest_learning_rate_bad_options(kwargs, match):
    lrs, loss = synthetic_curve()
    with pytest.raises(ValueError, match=match):
        schedules.suggest_learning_rate(lrs, loss, **kwargs)


def test_suggest_learning_rate_bad_curves():
    lrs, loss = synthetic_curve()
    with pytest.raises(ValueError, match="same length"):
        schedules.suggest_learning_rate(lrs, loss[:-1])
    with pytest.raises(ValueError, match="positive, finite and increasing"):
        schedules.suggest_learning_rate(lrs[::-1], loss)
    with pytest.raises(ValueError, match="never falls"):
        schedules.suggest_learning_rate(lrs, np.linspace(1, 2, len(lrs)), method="steepest")


# ---- the callbacks ----------------------------------------------------------------------------


def test_lr_finder_grows_the_rate_and_records_each_batch_loss(small_data, seeded):
    # Rates so small that the weights do not move: each recorded loss must equal that batch's own
    # loss (Keras reports the epoch's running mean; the callback must undo it).
    finder = callbacks.LRFinder(start_lr=1e-12, end_lr=1e-11, num_steps=10, smoothing=0.0, stop_factor=None)
    model = tiny_model(small_data, optimizer="sgd")
    x, y = small_data.x_train[:100], small_data.y_train[:100]
    model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0, callbacks=[finder])
    np.testing.assert_allclose(finder.learning_rates, np.geomspace(1e-12, 1e-11, 10), rtol=1e-6)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    expected = [float(loss_fn(y[i : i + 10], model(x[i : i + 10]))) for i in range(0, 100, 10)]
    np.testing.assert_allclose(finder.losses, expected, rtol=1e-4)
    assert finder.smoothed_losses == finder.losses and not finder.diverged  # smoothing=0: raw losses


def test_lr_finder_undoes_the_running_mean():
    finder = callbacks.LRFinder(num_steps=50, smoothing=0.0, stop_factor=None)
    finder.set_model(type("M", (), {"optimizer": keras.optimizers.SGD(0.1), "stop_training": False})())
    finder.on_train_begin()
    finder.on_epoch_begin(0)
    batch_losses = [2.0, 1.0, 3.0, 0.5]
    running = np.cumsum(batch_losses) / np.arange(1, 5)
    for b, mean in enumerate(running):
        finder.on_train_batch_begin(b)
        finder.on_train_batch_end(b, {"loss": mean})
    np.testing.assert_allclose(finder.losses, batch_losses, rtol=1e-6)
    finder.on_epoch_begin(1)  # a new epoch restarts Keras's running mean
    finder.on_train_batch_end(0, {"loss": 7.0})
    assert finder.losses[-1] == pytest.approx(7.0)


def test_lr_finder_stops_on_divergence_and_resets(small_data, seeded):
    finder = callbacks.LRFinder(start_lr=1e-3, end_lr=1e4, num_steps=40, stop_factor=2.0)
    model = tiny_model(small_data, optimizer="sgd")
    for _ in range(2):  # the same instance, reused: its state restarts
        model.fit(small_data.x_train, small_data.y_train, batch_size=10, epochs=3, verbose=0, callbacks=[finder])
        assert finder.diverged and len(finder.learning_rates) < 40
        assert len(finder.learning_rates) == len(finder.losses) == len(finder.smoothed_losses)


def test_lr_finder_refuses_a_schedule(small_data):
    model = tiny_model(small_data, learning_rate=schedules.warmup_cosine(1e-3, 10))
    with pytest.raises(TypeError, match="compile the model with a float learning rate"):
        model.fit(
            small_data.x_train[:20],
            small_data.y_train[:20],
            epochs=1,
            verbose=0,
            callbacks=[callbacks.LRFinder(num_steps=5)],
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 0}, "start_lr must be a positive number"),
        ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr must be smaller than end_lr"),
        ({"num_steps": 1}, "num_steps must be an integer >= 2"),
        ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\)"),
        ({"stop_factor": 0.5}, "stop_factor must be a number > 1"),
    ],
)
def test_lr_finder_validates_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.LRFinder(**kwargs)


def test_callbacks_are_registered_and_round_trip():
    finder = callbacks.LRFinder(start_lr=1e-5, end_lr=3.0, num_steps=77, smoothing=0.8, stop_factor=None)
    config = keras.saving.serialize_keras_object(finder)
    assert config["registered_name"] == "cnn_course>LRFinder"
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, callbacks.LRFinder) and again.get_config() == finder.get_config()
    timer = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callbacks.EpochTimer()))
    assert isinstance(timer, callbacks.EpochTimer)


def test_epoch_timer_measures_every_epoch(small_data):
    timer = callbacks.EpochTimer()
    assert np.isnan(timer.seconds_per_epoch)
    model = tiny_model(small_data)
    model.fit(small_data.x_train[:50], small_data.y_train[:50], epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.epoch_seconds) == 3 and all(t > 0 for t in timer.epoch_seconds)
    assert timer.seconds_per_epoch == pytest.approx(np.median(timer.epoch_seconds[1:]))
    model.fit(small_data.x_train[:50], small_data.y_train[:50], epochs=1, verbose=0, callbacks=[timer])
    assert len(timer.epoch_seconds) == 1 and timer.seconds_per_epoch == timer.epoch_seconds[0]


# ---- lr_range_test ----------------------------------------------------------------------------


def test_lr_range_test_leaves_the_model_alone(small_data, seeded):
    model = tiny_model(small_data, optimizer="momentum", learning_rate=0.05)
    before = [w.copy() for w in model.get_weights()]
    result = schedules.lr_range_test(
        model, small_data, start_lr=1e-4, end_lr=10.0, num_steps=30, batch_size=32, verbose=0
    )
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.iterations.numpy() == 0
    assert result.optimizer == "SGD" and result.batch_size == 32
    assert len(result.learning_rates) == len(result.losses) == len(result.smoothed_losses) >= 5
    assert result.learning_rates[0] == pytest.approx(1e-4)
    assert np.all(np.diff(result.learning_rates) > 0)
    assert result.suggest() == pytest.approx(result.min_loss_lr / 10)
    assert "LRRangeTest(SGD, batch 32" in repr(result)


def test_lr_range_test_explains_mistakes(small_data):
    raw = models.simple_cnn(small_data.input_shape, 10, filters=(4,), dense_units=0)
    with pytest.raises(ValueError, match="Compile the model first"):
        schedules.lr_range_test(raw, small_data)
    scheduled = tiny_model(small_data, learning_rate=schedules.warmup_cosine(1e-3, 10))
    with pytest.raises(TypeError, match="lr_range_test sets the learning rate itself"):
        schedules.lr_range_test(scheduled, small_data, num_steps=5)
    digits = data.load("digits")
    with pytest.raises(ValueError, match=r"expects inputs of shape \(28, 28, 1\)"):
        schedules.lr_range_test(tiny_model(small_data), digits)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        schedules.lr_range_test(tiny_model(small_data), small_data, batch_size=0)


def test_one_cycle_rises_to_the_peak_then_anneals():
    total = 100
    sched = schedules.make_schedule("one_cycle", 0.02, total)
    values = schedules.learning_rate_values(sched, total + 1)
    peak_at = int(np.argmax(values))
    assert peak_at == 25 and values[peak_at] == pytest.approx(0.02, rel=1e-5)  # a quarter of the steps up
    assert values[0] == pytest.approx(0.02 / 25, rel=1e-5) and values[total] == pytest.approx(0.02 / 1e5, rel=1e-3)
    assert np.all(np.diff(values[: peak_at + 1]) > 0) and np.all(np.diff(values[peak_at:]) < 0)
    # half a cosine on each side: half-way through each half, the rate is half-way between its ends
    assert float(sched(12.5)) == pytest.approx((0.02 / 25 + 0.02) / 2, rel=1e-4)
    assert float(sched(62.5)) == pytest.approx((0.02 + 0.02 / 1e5) / 2, rel=1e-4)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched))
    assert again.get_config() == sched.get_config()


def test_one_cycle_explains_bad_options():
    with pytest.raises(ValueError, match=r"warmup_fraction must be in \(0, 1\)"):
        schedules.one_cycle(0.1, 100, warmup_fraction=1.0)
    with pytest.raises(ValueError, match="div_factor must be a number > 1"):
        schedules.one_cycle(0.1, 100, div_factor=0.5)
    with pytest.raises(ValueError, match="peak_lr must be a positive number"):
        schedules.one_cycle(0, 100)
