"""Toy 2-D loss surfaces and the trajectories real optimizers take on them (``04_training_strategies``):
see what GD, momentum, RMSprop and Adam do where you can draw the whole landscape.

Nothing here is a toy re-implementation: each path is produced by a real Keras optimizer
(``keras.optimizers.SGD``, ``RMSprop``, ``Adam``) updating a ``keras.Variable`` of two numbers, with
the gradient from automatic differentiation, exactly as ``model.fit`` updates a network's weights.
Only the loss is different: a formula of two parameters instead of a network on data.

* :data:`SURFACES`: a round **bowl**, a narrow **ravine** (badly conditioned) and a **saddle point**.
* :func:`descend` runs one optimizer from a start point and returns its :class:`Trajectory`.
* :func:`compare_optimizers` runs several with the learning rates you choose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import keras
import numpy as np

from helpers import _validate

__all__ = [
    "Surface",
    "Trajectory",
    "SURFACES",
    "UPDATE_RULES",
    "get_surface",
    "make_optimizer",
    "descend",
    "compare_optimizers",
    "steps_to_reach",
]


@dataclasses.dataclass(frozen=True)
class Surface:
    """A loss of two parameters ``f(x, y)``, with a sensible start point and plotting window.

    ``fn`` must use ``keras.ops`` (or plain arithmetic) so that it works on NumPy grids for the
    contour plot *and* on a ``keras.Variable`` under automatic differentiation.
    """

    name: str
    fn: Callable
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    min_value: float
    description: str
    learning_rates: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __call__(self, x, y):
        return self.fn(x, y)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, Y, Z)`` on an ``n x n`` grid over the plotting window (for contour plots)."""
        n = _validate.int_at_least(n, "n", 2)
        xs = np.linspace(*self.xlim, n)
        ys = np.linspace(*self.ylim, n)
        X, Y = np.meshgrid(xs, ys)
        return X, Y, np.asarray(self.fn(X, Y), dtype=np.float64)

    def gradient(self, point) -> np.ndarray:
        """The gradient ``(df/dx, df/dy)`` at ``point``, by automatic differentiation."""
        var = keras.Variable(_as_point(point, "point"), dtype="float32")
        return _value_and_gradient(self, var)[1]


def _bowl(x, y):
    return 0.5 * (x**2 + y**2)


def _ravine(x, y):
    return 0.01 * x**2 + 2.0 * y**2


def _saddle(x, y):
    return x**2 + (y**4 - 2.0 * y**2) / 40.0


# A table: one surface per block, its window and tuned learning rates side by side.
# fmt: off
SURFACES: dict[str, Surface] = {
    "bowl": Surface(
        "bowl", _bowl, start=(-2.5, 1.0), xlim=(-3.0, 3.0), ylim=(-2.5, 2.5), min_value=0.0,
        description="f = (x² + y²) / 2: the same curvature in every direction",
        learning_rates={"gd": 0.3, "momentum": 0.05, "rmsprop": 0.05, "adam": 0.2},
    ),
    "ravine": Surface(
        "ravine", _ravine, start=(-4.5, 1.0), xlim=(-5.0, 5.0), ylim=(-1.5, 1.5), min_value=0.0,
        description="f = 0.01 x² + 2 y²: 200x more curved across the valley than along it",
        learning_rates={"gd": 0.45, "momentum": 0.2, "rmsprop": 0.05, "adam": 0.2},
    ),
    "saddle": Surface(
        "saddle", _saddle, start=(1.5, 1e-3), xlim=(-2.0, 2.0), ylim=(-1.5, 1.5), min_value=-0.025,
        description="f = x² + (y⁴ - 2y²) / 40: a saddle at (0, 0), 20x flatter along y, valleys at y = ±1",
        learning_rates={"gd": 0.9, "momentum": 0.2, "rmsprop": 0.05, "adam": 0.2},
    ),
}
# fmt: on

UPDATE_RULES: dict[str, Callable] = {
    "gd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
    "adam": lambda lr: keras.optimizers.Adam(lr),
}
"""The four update rules of the notebook, by name: plain gradient descent, heavy-ball momentum (0.9),
RMSprop and Adam, all with Keras's defaults otherwise."""


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Where an optimizer went: ``points`` has shape ``(steps + 1, 2)`` (the start first) and
    ``losses`` the loss at each point."""

    optimizer: str
    learning_rate: float
    points: np.ndarray
    losses: np.ndarray

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def get_surface(surface: str | Surface) -> Surface:
    """A :class:`Surface` itself, or the one named in :data:`SURFACES`."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(
            f"Unknown surface {surface!r}. Choose one of {', '.join(SURFACES)} or pass a helpers.loss_surfaces.Surface."
        )
    return SURFACES[surface]


def make_optimizer(name: str, learning_rate: float):
    """A fresh Keras optimizer for one of :data:`UPDATE_RULES` (``gd``, ``momentum``, ``rmsprop``, ``adam``)."""
    if name not in UPDATE_RULES:
        raise ValueError(f"Unknown optimizer {name!r}. Choose one of {', '.join(UPDATE_RULES)}.")
    return UPDATE_RULES[name](_validate.positive_number(learning_rate, "learning_rate"))


def _as_point(point, what: str) -> np.ndarray:
    arr = np.asarray(point, dtype=np.float32)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be two finite numbers (x, y). Received: {what}={point!r}")
    return arr


def _value_and_gradient(surface: Surface, var) -> tuple[float, np.ndarray]:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = surface.fn(var[0], var[1])
    return float(loss), np.asarray(tape.gradient(loss, var), dtype=np.float64)


def descend(
    surface: str | Surface, optimizer, *, start=None, steps: int = 100, learning_rate: float | None = None
) -> Trajectory:
    """Minimize ``surface`` from ``start`` with a Keras optimizer for ``steps`` updates.

    The two parameters live in one ``keras.Variable``; each step computes the loss, its gradient
    (``tf.GradientTape``) and calls ``optimizer.apply_gradients``, as ``fit`` does for a network.
    A step that produces a non-finite point stops the run (the path ends where it blew up).

    Args:
        surface: a :class:`Surface` or a name in :data:`SURFACES`.
        optimizer: a Keras optimizer instance, or a name in :data:`UPDATE_RULES` (then
            ``learning_rate`` defaults to the surface's suggestion for that optimizer).
        start: the start point (default: the surface's).
        steps: number of updates (default 100).
        learning_rate: only with an optimizer name.
    """
    import tensorflow as tf

    surface = get_surface(surface)
    steps = _validate.positive_int(steps, "steps")
    if isinstance(optimizer, str):
        name = optimizer
        if learning_rate is None:
            learning_rate = surface.learning_rates.get(name, 0.01) if name in UPDATE_RULES else 0.01
        optimizer = make_optimizer(name, learning_rate)
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError("learning_rate is only for an optimizer given by name; set it on the optimizer itself.")
        name = type(optimizer).__name__.lower()
    else:
        raise TypeError(
            f"optimizer must be a keras.optimizers.Optimizer or one of {', '.join(UPDATE_RULES)}. "
            f"Received: {type(optimizer).__name__}"
        )
    start = _as_point(surface.start if start is None else start, "start")
    var = keras.Variable(start, dtype="float32", name="xy")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = surface.fn(var[0], var[1])
        optimizer.apply_gradients([(tape.gradient(loss, var), var)])
        return var.value

    points = [start.astype(np.float64)]
    for _ in range(steps):
        point = np.asarray(step(), dtype=np.float64)
        if not np.all(np.isfinite(point)):
            break
        points.append(point)
    points = np.stack(points)
    losses = np.asarray(surface.fn(points[:, 0], points[:, 1]), dtype=np.float64)
    lr = optimizer.learning_rate
    return Trajectory(name, float(np.asarray(lr)), points, losses)


def compare_optimizers(
    surface: str | Surface,
    optimizers=("gd", "momentum", "rmsprop", "adam"),
    *,
    learning_rates: Mapping[str, float] | None = None,
    steps: int = 100,
    start=None,
) -> dict[str, Trajectory]:
    """Run several optimizers (by name) on the same surface from the same start.

    Args:
        optimizers: names from :data:`UPDATE_RULES` (default: all four).
        learning_rates: per-name learning rates; missing ones come from the surface's suggestions.
        steps: updates per optimizer (default 100).
    """
    surface = get_surface(surface)
    learning_rates = dict(learning_rates or {})
    unknown = [k for k in learning_rates if k not in optimizers]
    if unknown:
        raise ValueError(
            f"learning_rates names optimizers that are not compared: {', '.join(unknown)}. "
            f"Compared: {', '.join(optimizers)}"
        )
    return {
        name: descend(
            surface,
            name,
            start=start,
            steps=steps,
            learning_rate=learning_rates.get(name, surface.learning_rates.get(name)),
        )
        for name in optimizers
    }


def steps_to_reach(trajectory: Trajectory, loss: float) -> int | None:
    """The first step from which the trajectory's loss *stays* at or below ``loss``.

    ``None`` if the last point is still above it. An optimizer that touches the target and bounces
    out again has not reached it: this counts from its last crossing.
    """
    losses = np.asarray(trajectory.losses, dtype=np.float64)
    above = np.flatnonzero(~(losses <= loss))
    if above.size == 0:
        return 0
    if above[-1] == len(losses) - 1:
        return None
    return int(above[-1] + 1)
