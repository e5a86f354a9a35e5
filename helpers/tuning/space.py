"""The search space of the course CNN: its dimensions, how a space is written, checked and applied.

A space is a dict from a dimension's name (one of :data:`DIMENSIONS`) to

* a list of values, e.g. ``"filters": [8, 16, 32]`` — a choice (``[True, False]`` a boolean);
* ``Range(low, high, step=None, log=False)`` — a numeric range, e.g.
  ``"learning_rate": Range(1e-4, 1e-2, log=True)`` (sampled uniformly in log space);
* a single value, e.g. ``"head": "gap"`` — fixed, not searched.

Dimensions left out keep their default. ``blocks`` and ``filters`` together give
``simple_cnn(filters=(f, 2f, 4f, ...))`` (``blocks`` entries, doubling per block, the course's
convention); ``optimizer`` and ``learning_rate`` go to ``compile_classifier``; ``batch_size`` to
``fit``; every other name is the ``simple_cnn`` argument of the same name
(:func:`model_arguments` does that split).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers import _validate, models, training

__all__ = [
    "Range",
    "Dimension",
    "DIMENSIONS",
    "DIMENSION_BY_NAME",
    "DEFAULTS",
    "DEFAULT_SPACE",
    "describe_space",
    "validate_space",
    "grid_size",
    "model_arguments",
    "outside_space",
]


@dataclasses.dataclass(frozen=True)
class Range:
    """A numeric range ``[low, high]`` for one hyperparameter.

    Args:
        low, high: the bounds (inclusive). Two integers give an integer range.
        step: spacing of the values (default None: continuous floats, every integer for ints).
            With ``log=True`` the step multiplies, e.g. ``Range(8, 64, step=2, log=True)`` is
            8, 16, 32, 64.
        log: sample uniformly in log space (default False): right for learning rates and
            regularization strengths, whose effect scales with the order of magnitude.
    """

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self):
        for name in ("low", "high") + (("step",) if self.step is not None else ()):
            value = getattr(self, name)
            if not _validate.is_number(value) or not math.isfinite(value):
                raise ValueError(f"Range {name} must be a finite number. Received: {name}={value!r}")
        if not self.low < self.high:
            raise ValueError(
                f"Range needs low < high. Received: Range({self.low!r}, {self.high!r}). "
                "For a single value, write the value itself (a fixed hyperparameter)."
            )
        if self.log and self.low <= 0:
            raise ValueError(f"A log-scale Range needs low > 0. Received: low={self.low!r}")
        if self.step is not None:
            if self.log and self.step <= 1:
                raise ValueError(f"With log=True, step multiplies and must be > 1. Received: step={self.step!r}")
            if not self.log and not 0 < self.step <= self.high - self.low:
                raise ValueError(
                    f"step must be in (0, high - low]. Received: step={self.step!r} for "
                    f"Range({self.low!r}, {self.high!r})"
                )

    @property
    def is_int(self) -> bool:
        """True when the bounds (and the step, if any) are integers: an integer range."""
        return (
            _validate.is_int(self.low)
            and _validate.is_int(self.high)
            and (self.step is None or _validate.is_int(self.step))
        )

    def grid_values(self) -> list | None:
        """The values a grid search tries, or None for a continuous range."""
        if self.step is None and not self.is_int:
            return None
        if self.step is None and self.log:
            return None  # KerasTuner would pick 10 values itself: not exhaustive
        step = self.step if self.step is not None else 1
        values, v = [], self.low
        while v <= self.high * (1 + 1e-9):
            values.append(v)
            v = v * step if self.log else v + step
        return values

    def __repr__(self) -> str:
        extra = (f", step={self.step!r}" if self.step is not None else "") + (", log=True" if self.log else "")
        return f"Range({self.low!r}, {self.high!r}{extra})"


_TYPE_CHECKS: dict[type, Callable[[Any], bool]] = {
    int: _validate.is_int,
    float: _validate.is_number,
    bool: lambda v: isinstance(v, (bool, np.bool_)),
    str: lambda v: isinstance(v, str),
}


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One hyperparameter the course CNN can search: its default and where it goes."""

    name: str
    kind: type  # int, float, bool or str
    default: Any
    suggested: Any  # a sensible search range (list or Range)
    maps_to: str
    rule: str  # the allowed values, in words
    valid: Callable[[Any], bool]

    def check_value(self, value, where: str) -> Any:
        """Return ``value`` as this dimension's type, or raise a ValueError that names the rule."""
        if not _TYPE_CHECKS[self.kind](value) or not self.valid(value):
            raise ValueError(f"{self.name} must be {self.rule}. Received: {where}={value!r}")
        return self.kind(value)


# One row per hyperparameter: name, type, default, suggested range, where it goes, the rule.
# fmt: off
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("blocks", int, 2, [1, 2, 3], "simple_cnn: number of conv blocks = len(filters)",
              "an integer >= 1", lambda v: v >= 1),
    Dimension("filters", int, 32, [8, 16, 32], "simple_cnn(filters=(f, 2f, ...)): first block's filters, x2 per block",
              "an integer >= 1", lambda v: v >= 1),
    Dimension("kernel_size", int, 3, [3, 5], "simple_cnn(kernel_size=...)",
              "a positive odd integer", lambda v: v >= 1 and v % 2 == 1),
    Dimension("convs_per_block", int, 2, [1, 2], "simple_cnn(convs_per_block=...)",
              "an integer >= 1", lambda v: v >= 1),
    Dimension("batch_norm", bool, True, [True, False], "simple_cnn(batch_norm=...)",
              "True or False", lambda v: True),
    Dimension("dropout", float, 0.3, Range(0.0, 0.5, step=0.1), "simple_cnn(dropout=...)",
              "in [0, 1)", lambda v: 0 <= v < 1),
    Dimension("spatial_dropout", float, 0.0, Range(0.0, 0.3, step=0.1), "simple_cnn(spatial_dropout=...)",
              "in [0, 1)", lambda v: 0 <= v < 1),
    Dimension("l2", float, 0.0, Range(1e-6, 1e-3, log=True), "simple_cnn(l2=...)",
              ">= 0", lambda v: v >= 0),
    Dimension("l1", float, 0.0, Range(1e-7, 1e-4, log=True), "simple_cnn(l1=...)",
              ">= 0", lambda v: v >= 0),
    Dimension("head", str, "gap", list(models.HEADS), "simple_cnn(head=...)",
              f"one of {list(models.HEADS)}", lambda v: v in models.HEADS),
    Dimension("dense_units", int, 128, [0, 64, 128], "simple_cnn(dense_units=...)",
              "an integer >= 0", lambda v: v >= 0),
    Dimension("optimizer", str, "adam", ["adam", "momentum", "rmsprop"], "compile_classifier(optimizer=...)",
              f"one of {list(training.OPTIMIZERS)}", lambda v: v in training.OPTIMIZERS),
    Dimension("learning_rate", float, 1e-3, Range(1e-4, 1e-2, log=True), "compile_classifier(learning_rate=...)",
              "in (0, 1]", lambda v: 0 < v <= 1),
    Dimension("batch_size", int, 64, [32, 64, 128], "fit(batch_size=...)",
              "an integer >= 1", lambda v: v >= 1),
)
# fmt: on
DIMENSION_BY_NAME = {d.name: d for d in DIMENSIONS}
DEFAULTS: dict[str, Any] = {d.name: d.default for d in DIMENSIONS}

#: The dimensions passed to ``simple_cnn`` under their own name (``filters`` is built from
#: ``blocks`` and ``filters``, see :func:`model_arguments`).
_SIMPLE_CNN_DIMENSIONS = tuple(
    d.name for d in DIMENSIONS if d.name in models.SIMPLE_CNN_OPTIONS and d.name != "filters"
)

#: What to search first (notebooks 03-05): the learning rate, then capacity, BatchNorm, head, dropout.
DEFAULT_SPACE: dict[str, Any] = {
    "learning_rate": Range(1e-4, 1e-2, log=True),
    "filters": [8, 16, 32],
    "blocks": [1, 2],
    "batch_norm": [True, False],
    "head": ["flatten", "gap"],
    "dropout": Range(0.0, 0.5, step=0.1),
}


def describe_space(space: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The dimensions as a table: default, suggested range, what it maps to (and ``space``'s choice)."""
    rows = []
    for d in DIMENSIONS:
        row = {"hyperparameter": d.name, "default": d.default, "suggested": repr(d.suggested), "maps to": d.maps_to}
        if space is not None:
            row["this search"] = repr(space[d.name]) if d.name in space else f"fixed at {d.default!r}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("hyperparameter")


def _check_spec(name: str, spec) -> Any:
    """One space entry, normalized: a Range, a list of two or more values, or a fixed value."""
    if name not in DIMENSION_BY_NAME:
        close = difflib.get_close_matches(str(name), DIMENSION_BY_NAME, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown hyperparameter {name!r}.{hint} Known: {', '.join(DIMENSION_BY_NAME)}.")
    dim = DIMENSION_BY_NAME[name]
    if isinstance(spec, tuple):
        raise ValueError(
            f"{name}: a tuple is ambiguous. Write a list for a choice, e.g. [8, 16, 32], or "
            f"tuning.Range(low, high) for a range. Received: {name}={spec!r}"
        )
    if isinstance(spec, Range):
        if dim.kind in (bool, str):
            raise ValueError(f"{name} takes {dim.rule}, not a numeric Range. Use a list of values.")
        if dim.kind is int and not spec.is_int:
            raise ValueError(f"{name} takes integers: give Range integer bounds. Received: {name}={spec!r}")
        dim.check_value(spec.low, f"{name} low")
        dim.check_value(spec.high, f"{name} high")
        return spec
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"{name}: the list of values is empty, so there is nothing to choose from.")
        values = [dim.check_value(v, name) for v in spec]
        if len(set(values)) != len(values):
            raise ValueError(f"{name} lists the same value twice: {spec!r}. List each value once.")
        return values if len(values) > 1 else values[0]
    return dim.check_value(spec, name)


def validate_space(space: Mapping[str, Any], input_shape: Sequence[int] = (28, 28, 1)) -> dict[str, Any]:
    """Check a search space and return it normalized (types coerced, one-value lists made fixed).

    Raises ``ValueError`` for an unknown name (with the closest known one), an empty or impossible
    choice, a range on a non-numeric dimension, values a ``simple_cnn`` argument refuses, a space
    with nothing to search, and contradictions with the images (more pooling blocks than the image
    can take).
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of hyperparameter name -> values. Received: {type(space).__name__}")
    out = {name: _check_spec(name, spec) for name, spec in space.items()}
    if not any(isinstance(v, (list, Range)) for v in out.values()):
        raise ValueError(
            "The search space is empty: no hyperparameter has more than one value to try "
            f"(received {dict(space)!r}). Give at least one a list or a tuning.Range, e.g. "
            "{'learning_rate': tuning.Range(1e-4, 1e-2, log=True)}."
        )
    shape = tuple(input_shape)
    most_blocks = _largest(out.get("blocks", DEFAULTS["blocks"]))
    if 2**most_blocks > min(shape[:2]):
        raise ValueError(
            f"blocks={out.get('blocks', DEFAULTS['blocks'])!r} contradicts the images: {most_blocks} pooling blocks "
            f"halve a {shape[0]}x{shape[1]} image {most_blocks} times, below 1 pixel. "
            f"Use at most {int(math.log2(min(shape[:2])))} blocks."
        )
    return out


def _largest(spec) -> Any:
    if isinstance(spec, Range):
        return spec.high
    if isinstance(spec, list):
        return max(spec)
    return spec


def grid_size(space: Mapping[str, Any]) -> int:
    """How many combinations a grid search over ``space`` has; ValueError for continuous ranges."""
    size = 1
    for name, spec in space.items():
        if isinstance(spec, Range):
            values = spec.grid_values()
            if values is None:
                raise ValueError(
                    f"A grid search needs discrete values, but {name}={spec!r} is continuous. Give it a "
                    f"step, e.g. Range({spec.low!r}, {spec.high!r}, step=...), or a list of values."
                )
            size *= len(values)
        elif isinstance(spec, list):
            size *= len(spec)
    return size


def space_to_json(space: Mapping[str, Any]) -> dict:
    """``space`` as JSON-ready data (a Range becomes its fields plus ``"type": "Range"``): how a
    project folder records which search it holds."""
    return {k: (dataclasses.asdict(v) | {"type": "Range"}) if isinstance(v, Range) else v for k, v in space.items()}


def model_arguments(values: Mapping[str, Any]) -> tuple[dict, dict, int]:
    """Split one configuration into ``(simple_cnn kwargs, compile_classifier kwargs, batch_size)``.

    ``values`` may omit dimensions (their defaults are used); unknown names are an error (names
    starting with ``tuner/`` are KerasTuner's bookkeeping and are ignored).
    """
    unknown = [k for k in values if k not in DIMENSION_BY_NAME and not str(k).startswith("tuner/")]
    if unknown:
        raise ValueError(f"Unknown hyperparameter(s) {unknown}. Known: {', '.join(DIMENSION_BY_NAME)}.")
    v = {**DEFAULTS, **{k: val for k, val in values.items() if k in DIMENSION_BY_NAME}}
    cnn = {
        "filters": tuple(int(v["filters"]) * 2**i for i in range(int(v["blocks"]))),
        **{k: v[k] for k in _SIMPLE_CNN_DIMENSIONS},
    }
    cnn = {k: (val.item() if isinstance(val, np.generic) else val) for k, val in cnn.items()}
    compile_kwargs = {"optimizer": str(v["optimizer"]), "learning_rate": float(v["learning_rate"])}
    return models.check_simple_cnn_options(cnn), compile_kwargs, int(v["batch_size"])


def outside_space(values: Mapping[str, Any], space: Mapping[str, Any]) -> list[str]:
    """The names whose value in ``values`` the search ``space`` cannot produce (empty: it can).

    A comparison with a search is like with like only when the other configuration is a point of
    the same space: same fixed values, searched values inside their lists or ranges. Dimensions
    that ``space`` leaves out are fixed at their default. Unknown names are an error.
    """
    unknown = [k for k in values if k not in DIMENSION_BY_NAME and not str(k).startswith("tuner/")]
    if unknown:
        raise ValueError(f"Unknown hyperparameter(s) {unknown}. Known: {', '.join(DIMENSION_BY_NAME)}.")
    normalized = {name: _check_spec(name, spec) for name, spec in space.items()}
    outside = []
    for d in DIMENSIONS:
        spec = normalized.get(d.name, d.default)
        value = values.get(d.name, d.default)
        if isinstance(spec, Range):
            inside = _validate.is_number(value) and spec.low - 1e-12 <= value <= spec.high * (1 + 1e-9)
            if inside and spec.grid_values() is not None and spec.step is not None:
                inside = any(math.isclose(value, v, rel_tol=1e-9, abs_tol=1e-12) for v in spec.grid_values())
        elif isinstance(spec, list):
            inside = any(_same(value, v) for v in spec)
        else:
            inside = _same(value, spec)
        if not inside:
            outside.append(d.name)
    return outside


def _same(a, b) -> bool:
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and bool(a) == bool(b)
    if _validate.is_number(a) and _validate.is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b
