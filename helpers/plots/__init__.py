"""Every figure the notebooks show: ``plots.<name>(...)``, one module per notebook topic.

Each function returns its ``Figure`` (end the notebook line with ``;`` to avoid a second copy) and
gives it a title and axis labels. Modules list their figures in ``__all__``; they are re-exported here.
"""

from helpers._reexport import reexport
from helpers.plots import (
    architecture,
    basics,
    data_preparation,
    monitoring,
    overfitting,
    regularization,
    runs,
    training_strategies,
    transfer,
    tuning,
)

_MODULES = (
    basics,
    data_preparation,
    architecture,
    training_strategies,
    regularization,
    monitoring,
    transfer,
    overfitting,
    runs,
    tuning,
)

__all__ = reexport(globals(), _MODULES, "plot")
