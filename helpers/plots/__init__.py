"""Every figure the notebooks show: ``plots.<name>(...)``, one module per notebook topic.

Each function returns its ``Figure`` (end the notebook line with ``;`` to avoid a second copy) and
gives it a title and axis labels. Modules list their figures in ``__all__``; they are re-exported here.
"""

from helpers.plots import (
    architecture,
    basics,
    data_preparation,
    monitoring,
    overfitting,
    regularization,
    training_strategies,
    transfer,
    tuning,
)

_MODULES = (basics, data_preparation, architecture, training_strategies, regularization, monitoring,
            transfer, overfitting, tuning)

for _module in _MODULES:
    for _name in _module.__all__:
        if _name in globals():
            raise ImportError(f"Two plot modules define {_name!r}; rename one.")
        globals()[_name] = getattr(_module, _name)

__all__ = [n for m in _MODULES for n in m.__all__]
