"""helpers.loss_surfaces: real Keras optimizers on 2-D surfaces."""

import keras
import numpy as np
import pytest

from helpers import loss_surfaces


def test_surfaces_have_their_minimum_where_they_say():
    for surface in loss_surfaces.SURFACES.values():
        X, Y, Z = surface.grid(301)
        assert Z.shape == (301, 301) and X.shape == Y.shape == Z.shape
        assert Z.min() >= surface.min_value - 1e-9
        assert Z.min() == pytest.approx(surface.min_value, abs=1e-3)
        assert set(surface.learning_rates) == set(loss_surfaces.UPDATE_RULES)


def test_gradient_matches_finite_differences():
    surface = loss_surfaces.get_surface("saddle")
    point = np.array([0.7, -0.4])
    h = 1e-3
    numeric = [(surface(*(point + d)) - surface(*(point - d))) / (2 * h) for d in (np.array([h, 0]), np.array([0, h]))]
    np.testing.assert_allclose(surface.gradient(point), numeric, rtol=1e-3, atol=1e-4)


def test_descend_with_sgd_is_plain_gradient_descent():
    traj = loss_surfaces.descend("bowl", "gd", learning_rate=0.1, steps=5, start=(2.0, -1.0))
    # On f = (x^2 + y^2) / 2 the gradient is the point itself: each step multiplies it by 0.9.
    expected = np.array([[2.0, -1.0]]) * (0.9 ** np.arange(6))[:, None]
    np.testing.assert_allclose(traj.points, expected, rtol=1e-5)
    np.testing.assert_allclose(traj.losses, 0.5 * (expected**2).sum(axis=1), rtol=1e-5)
    assert traj.optimizer == "gd" and traj.learning_rate == pytest.approx(0.1)


def test_descend_accepts_a_keras_optimizer_instance():
    traj = loss_surfaces.descend("ravine", keras.optimizers.Adam(0.05), steps=10)
    assert traj.points.shape == (11, 2) and traj.optimizer == "adam"
    assert traj.final_loss < traj.losses[0]
    with pytest.raises(ValueError, match="learning_rate is only for an optimizer given by name"):
        loss_surfaces.descend("ravine", keras.optimizers.Adam(0.05), learning_rate=0.1)


def test_the_notebook_claims_hold():
    ravine = loss_surfaces.compare_optimizers("ravine", steps=100)
    assert ravine["gd"].final_loss > 100 * max(ravine["momentum"].final_loss, ravine["adam"].final_loss)
    saddle = loss_surfaces.compare_optimizers("saddle", steps=100)
    half = loss_surfaces.SURFACES["saddle"].min_value / 2
    gd, adam = loss_surfaces.steps_to_reach(saddle["gd"], half), loss_surfaces.steps_to_reach(saddle["adam"], half)
    assert adam is not None and gd is not None and adam * 1.5 < gd


def test_divergence_stops_the_path():
    traj = loss_surfaces.descend("bowl", "gd", learning_rate=1e20, steps=50)
    assert np.all(np.isfinite(traj.points)) and len(traj.points) < 51


def test_steps_to_reach_counts_from_the_last_crossing():
    traj = loss_surfaces.Trajectory("x", 0.1, np.zeros((6, 2)), np.array([5.0, 0.5, 2.0, 0.4, 0.3, 0.2]))
    assert loss_surfaces.steps_to_reach(traj, 1.0) == 3
    assert loss_surfaces.steps_to_reach(traj, 6.0) == 0
    assert loss_surfaces.steps_to_reach(traj, 0.1) is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: loss_surfaces.get_surface("rosenbrock"),
            "Unknown surface 'rosenbrock'. Choose one of bowl, ravine, saddle",
        ),
        (lambda: loss_surfaces.make_optimizer("adagrad", 0.1), "Unknown optimizer 'adagrad'"),
        (lambda: loss_surfaces.make_optimizer("adam", 0.0), "learning_rate must be a positive number"),
        (lambda: loss_surfaces.descend("bowl", "gd", steps=0), "steps must be a positive integer"),
        (lambda: loss_surfaces.descend("bowl", "gd", start=(1.0, 2.0, 3.0)), r"start must be two finite numbers"),
        (lambda: loss_surfaces.SURFACES["bowl"].grid(1), "n must be an integer >= 2"),
        (
            lambda: loss_surfaces.compare_optimizers("bowl", ("gd",), learning_rates={"adam": 0.1}),
            "learning_rates names optimizers that are not compared: adam",
        ),
    ],
)
def test_bad_arguments_are_explained(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_descend_rejects_other_objects():
    with pytest.raises(TypeError, match="optimizer must be a keras.optimizers.Optimizer"):
        loss_surfaces.descend("bowl", object())
