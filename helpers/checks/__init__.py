"""Self-checks for the exercises: ``checks.<name>(answer)`` prints what is right or what to change.

Each notebook's checks live in their own module (listing them in its ``__all__``) and are
re-exported here, so a notebook calls ``checks.conv2d(my_conv2d)`` without knowing where a check is
defined. The mechanism itself is in :mod:`helpers.checks._core`.
"""

from helpers._reexport import reexport
from helpers.checks import (
    architecture,
    data_preparation,
    foundations,
    monitoring,
    overfitting,
    regularization,
    training_strategies,
    transfer,
    tuning,
)
from helpers.checks._core import CheckResult, Hint, exercise

_MODULES = (
    foundations,
    data_preparation,
    architecture,
    training_strategies,
    regularization,
    monitoring,
    transfer,
    overfitting,
    tuning,
)

__all__ = ["CheckResult", "Hint", "exercise", *reexport(globals(), _MODULES, "check")]
