"""Every figure the notebooks show: ``plots.<name>(...)``, one module per notebook topic.

Each function returns its ``Figure`` (end the notebook line with ``;`` to avoid a second copy) and
gives it a title and axis labels. Modules list their figures in ``__all__``; they are re-exported here.
"""

from helpers._reexport import reexport, submodules

_MODULES = submodules(__name__, __path__)
__all__ = reexport(globals(), _MODULES, "plot")
