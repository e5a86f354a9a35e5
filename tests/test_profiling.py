"""helpers.profiling: seconds per phase, nested calls counted once, tracing split from training."""

import numpy as np
import pytest

from helpers import profiling


@pytest.fixture
def timer(monkeypatch):
    """A fresh timer installed on keras.Model and helpers.plots; the patches are undone afterwards."""
    import keras

    from helpers import plots

    for name in ("fit", "evaluate", "predict"):
        monkeypatch.setattr(keras.Model, name, getattr(keras.Model, name))
    for name in plots.__all__:
        monkeypatch.setattr(plots, name, getattr(plots, name))
    return profiling.PhaseTimer().install()


def _model():
    import keras

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_fit_with_validation_counts_once_as_training_plus_tracing(timer, seeded):
    x = np.random.default_rng(0).random((256, 8), dtype=np.float32)
    y = np.arange(256) % 4
    _model().fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    s = timer.seconds
    assert timer.calls == {"fit": 1, "evaluate": 0, "predict": 0, "plots": 0}  # validation is inside fit
    assert s["training"] > 0 and s["tracing"] > 0 and s["evaluation"] == 0
    assert s["tracing"] > 2 * s["training"] / (3 * 6)  # a first step costs more than a typical one


def test_evaluate_and_predict_count_as_evaluation(timer, seeded):
    model = _model()
    x = np.zeros((64, 8), np.float32)
    model.predict(x, verbose=0)
    model.evaluate(x, np.zeros(64), verbose=0)
    assert timer.calls["predict"] == 1 and timer.calls["evaluate"] == 1
    assert timer.seconds["evaluation"] + timer.seconds["tracing"] > 0 and timer.seconds["training"] == 0


def test_plots_are_timed_as_plotting(timer):
    from helpers import plots

    fig = plots.plot_histories({"run": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}}, metric="loss")
    assert fig is not None and timer.calls["plots"] == 1 and timer.seconds["plotting"] > 0
    assert timer.seconds["training"] == 0 and timer.seconds["evaluation"] == 0


def test_report_adds_other_and_round_trips_through_the_printed_line(timer):
    timer.seconds["training"] = 3.0
    report = timer.report(total_seconds=10.0)
    assert report["other"] == pytest.approx(10.0 - sum(timer.seconds.values()), abs=0.01)
    line = f"noise\n{profiling.REPORT_MARKER}" + __import__("json").dumps(report) + "\n"
    assert profiling.parse_report(line) == report and profiling.parse_report("no report") is None
