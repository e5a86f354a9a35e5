"""Transfer learning (``07_transfer_learning``): a cached source model, freezing, new heads, the three
strategies compared, and ``keras.applications`` builders that behave well offline.

One module per concern; every public name is re-exported here, so notebooks call ``transfer.<name>``:

* :mod:`~helpers.transfer.spec`: :class:`SourceSpec`, how the course's source CNN is built and
  pretrained (one per profile, :func:`source_spec`); its fingerprint identifies a cache entry.
* :mod:`~helpers.transfer.cache`: the ``data/pretrained/`` cache: paths, metadata, atomic saving
  (temporary file, verified by loading, then ``os.replace``), checking, stale temporary files. A
  corrupt or half-written entry, or one built by a different spec, is reported with a
  :class:`SourceCacheWarning` and rebuilt.
* :mod:`~helpers.transfer.source`: :func:`pretrain` and :func:`source_model`, which pretrains the
  source CNN on ``mnist5k`` once (seeded) and loads it from the cache afterwards.
* :mod:`~helpers.transfer.freezing`: :func:`feature_extractor`, :func:`with_new_head`,
  :func:`freeze`, :func:`unfreeze_top`, :func:`trainable_counts`: reuse the base, train a new head
  on it while it is frozen, then unfreeze the top blocks (BatchNormalization stays frozen) and
  recompile with a low rate.
* :mod:`~helpers.transfer.strategies`: :func:`reframe`, :class:`TransferPlan`, :func:`fit_small`,
  the three strategies and :func:`label_efficiency`.
* :mod:`~helpers.transfer.finetuning`: discriminative learning rates (:class:`LayerwiseAdam`,
  :func:`block_factors`) and gradual unfreezing, as variants of fine-tuning with the same budget
  (:func:`train_fine_tuning_variant`).
* :mod:`~helpers.transfer.tasks`: :func:`transfer_task`, 07's experiment on any dataset: ``mnist5k``
  (digits 0-4) adapted to scikit-learn's digits 5-9, or any other dataset split by class (the source pretrained on
  some of its classes, the target the others, with few labels).
* :mod:`~helpers.transfer.applications`: :func:`application` builds a ``keras.applications`` model
  (e.g. MobileNetV2) with the matching ``preprocess_input`` and input size; ``weights="imagenet"``
  is attempted only when asked and fails fast offline with a message that says what to do.
"""

from helpers._reexport import reexport, submodules

_MODULES = submodules(__name__, __path__)
__all__ = reexport(globals(), _MODULES, "transfer")
