import numpy as np
import pytest

from helpers import data, evaluation, models


@pytest.fixture(scope="module")
def tiny():
    return data.load("digits", image_size=(28, 28))


def test_accuracy_of_an_untrained_model_is_a_fraction(tiny, seeded):
    model = models.lenet5()
    acc = evaluation.evaluate(model, tiny, "val")
    assert 0.0 <= acc <= 1.0
    preds = evaluation.predict_classes(model, tiny.x_val)
    assert preds.shape == tiny.y_val.shape and preds.dtype == np.int32
    assert acc == pytest.approx(np.mean(preds == tiny.y_val))


def test_evaluation_errors(tiny):
    model = models.lenet5()
    with pytest.raises(ValueError, match="split must be one of train, val, test"):
        evaluation.evaluate(model, tiny, "holdout")
    with pytest.raises(ValueError, match=r"expects images of shape \(28, 28, 1\)"):
        evaluation.predict_classes(model, np.zeros((2, 8, 8, 1)))
