"""Hyperparameter search with KerasTuner for the course CNN (introduced in ``09_hyperparameter_search``).

One module per concern; every public name is re-exported here, so a notebook writes ``tuning.<name>``:

* :mod:`~helpers.tuning.space` — the search space: :data:`DIMENSIONS` (``describe_space()`` shows
  them as a table), :class:`Range`, :data:`DEFAULT_SPACE`, ``validate_space``, ``model_arguments``.
* :mod:`~helpers.tuning.hypermodel` — :class:`CNNHyperModel`, a ``keras_tuner.HyperModel`` whose
  every hyperparameter is an argument of ``simple_cnn``, ``compile_classifier`` or ``fit``, and
  :func:`build_model` for one configuration.
* :mod:`~helpers.tuning.tuners` — :func:`make_tuner`: ``random``, ``hyperband``, ``bayesian`` or
  ``grid`` with a seeded oracle, a project folder under ``build/tuner`` (git-ignored), early stopping
  in every trial and a budget per profile (:data:`BUDGETS`); resuming a folder continues its search.
* :mod:`~helpers.tuning.project` — the project folder's records (which search it holds, who ran
  each trial).
* :mod:`~helpers.tuning.searching` — :func:`search` on a :class:`helpers.data.Dataset` (train to
  fit, validation to score; the test split is never touched); it fails loudly, with the trial's
  error, if a trial failed.
* :mod:`~helpers.tuning.results` — :func:`results_table`, :func:`best_values`,
  :func:`compare_searches`, :func:`hyperparameter_importance`, :func:`by_value` (draws and best score
  per value) and :func:`edge_of_space` (is the best value at the edge of its range?).
* :mod:`~helpers.tuning.retrain` — :func:`fit_train_val`, :func:`rerun_with_seeds`, :func:`fit_final`,
  :func:`evaluate_finals` and :func:`paired_tests`: retrain the winner over seeds, test once, compare.
* :mod:`~helpers.tuning.roles` and :mod:`~helpers.tuning.distributed` — KerasTuner's chief/worker
  mode: ``python -m helpers.tuning.distributed`` (``make tune-distributed``) runs a chief and N
  workers on 127.0.0.1; its docstring says how to run them across machines. (It is not imported
  here, so that ``python -m`` runs it cleanly.)

Each worker can itself use several GPUs for one trial: pass
``distribution_strategy=tf.distribute.MirroredStrategy()`` to :func:`make_tuner`. KerasTuner builds
and trains every model of that worker inside the strategy's scope, so one trial is data-parallel
over the worker's GPUs (the batch size is the *global* batch, split across them). A batch k times
larger moves the best learning rate: the linear scaling rule (rate x k, with warmup; Goyal et al.,
2017) is an SGD result; for Adam and RMSprop the usual heuristic is square-root scaling (rate x
sqrt(k); Malladi et al., 2022). Either is a starting point for re-tuning the rate, not a substitute.
Workers x GPUs-per-worker then multiply: e.g. 4 machines with 2 GPUs each run 4 trials at a time,
each on 2 GPUs.
"""

from helpers._reexport import reexport, submodules

_MODULES = submodules(__name__, __path__, skip=("distributed",))
__all__ = reexport(globals(), _MODULES, "tuning")
