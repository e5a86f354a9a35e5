"""Debugging a training run (``10_debugging_training``), after Karpathy's "A Recipe for Training
Neural Networks" (2019) and CS231n's sanity checks. One module per concern; the public names are
re-exported here, so notebooks call ``diagnostics.<name>``:

* :mod:`~helpers.diagnostics.sanity`: checks before training. :func:`loss_at_init` (is the loss
  ``ln K``, and do the output layer, the loss and the labels fit together?),
  :func:`expected_init_loss`, :func:`output_bias_for` / :func:`set_output_bias` (log priors for
  imbalanced classes), :func:`first_batch` (the batch exactly as it enters ``model(x)``).
* :mod:`~helpers.diagnostics.baselines`: :func:`baselines`, the dumb baselines (majority class,
  input-independent, logistic regression, k-NN) on the validation split.
* :mod:`~helpers.diagnostics.overfit`: :func:`overfit_batch`, memorize one small batch; failing
  means a systematic fault, passing proves little (random labels pass too).
* :mod:`~helpers.diagnostics.stats`: :class:`TrainingStats`, a callback recording per-layer
  gradient norms, activations, dead ReLUs and update/weight ratios; :func:`dead_units`.
* :mod:`~helpers.diagnostics.leakage`: :func:`duplicates` and :func:`split_overlaps`, the same
  image in two splits.

The field guide of broken runs lives in :mod:`helpers.diagnostics.faults`; it is imported on its
own (``from helpers.diagnostics import faults``), not from here. Figures are in
:mod:`helpers.plots.debugging`.
"""

from helpers.diagnostics.baselines import baselines
from helpers.diagnostics.leakage import duplicates, split_overlaps
from helpers.diagnostics.overfit import OverfitResult, overfit_batch
from helpers.diagnostics.sanity import (
    InitLoss,
    expected_init_loss,
    first_batch,
    loss_at_init,
    output_bias_for,
    set_output_bias,
)
from helpers.diagnostics.stats import HEALTHY_UPDATE_RATIO, STATISTICS, TrainingStats, dead_units

__all__ = [
    "InitLoss",
    "expected_init_loss",
    "loss_at_init",
    "output_bias_for",
    "set_output_bias",
    "first_batch",
    "baselines",
    "OverfitResult",
    "overfit_batch",
    "TrainingStats",
    "dead_units",
    "STATISTICS",
    "HEALTHY_UPDATE_RATIO",
    "duplicates",
    "split_overlaps",
]
