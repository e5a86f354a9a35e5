"""Two refinements of fine-tuning (07): discriminative learning rates and gradual unfreezing.

* **Discriminative learning rates** (Howard & Ruder, 2018, ULMFiT): lower rates for earlier blocks,
  whose general features (strokes, edges) need the least change. :class:`LayerwiseAdam` is Adam with
  a factor on the learning rate per layer; :func:`block_factors` gives each unfrozen block its
  factor, ``decay`` times smaller per block below the top one.
* **Gradual unfreezing** (same paper): unfreeze one block at a time from the top, training a stage
  after each, instead of all blocks at once.

:func:`train_fine_tuning_variant` runs either (or neither) from a trained feature-extraction model,
with the same budget as :func:`helpers.transfer.train_fine_tuning`, so they compare fairly.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras

from helpers import _validate, config
from helpers.transfer.freezing import base_of, blocks, copy_model, unfreeze_top
from helpers.transfer.strategies import TransferPlan, _compile_and_fit

__all__ = ["FINE_TUNING_VARIANTS", "LayerwiseAdam", "block_factors", "train_fine_tuning_variant"]

FINE_TUNING_VARIANTS = ("all at once", "discriminative", "gradual", "BatchNorm trainable")
"""The ways :func:`train_fine_tuning_variant` fine-tunes: the course's default first."""


@keras.saving.register_keras_serializable(package="cnn_course")
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam whose learning rate is multiplied, for each variable, by the factor of its layer.

    Keras optimizers take one learning rate for every variable; discriminative fine-tuning needs one
    per block. ``factors`` maps layer names to multipliers (a variable whose path has no listed layer
    gets 1.0). Scaling the gradients instead would not work with Adam: its step is invariant to the
    gradient's scale.

    Args:
        learning_rate: the rate (or schedule) of the layers with factor 1, e.g. the new head.
        factors: ``{layer name: multiplier}``, multipliers > 0.
        **kwargs: anything ``keras.optimizers.Adam`` takes.
    """

    def __init__(self, learning_rate=1e-3, factors: Mapping[str, float] | None = None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        factors = dict(factors or {})
        for name, factor in factors.items():
            if not isinstance(name, str) or not _validate.is_number(factor) or factor <= 0:
                raise ValueError(f"factors maps layer names to positive multipliers. Received: {name!r}: {factor!r}")
        self.factors = {name: float(f) for name, f in factors.items()}

    def build(self, variables):
        super().build(variables)
        self._variable_factors = [self.factor_of(v) for v in variables]

    def factor_of(self, variable) -> float:
        """The multiplier of ``variable``: the factor of the layer named in its path, else 1.0."""
        for part in variable.path.split("/"):
            if part in self.factors:
                return self.factors[part]
        return 1.0

    def update_step(self, gradient, variable, learning_rate):
        factor = self._variable_factors[self._get_variable_index(variable)]
        return super().update_step(gradient, variable, learning_rate * factor if factor != 1.0 else learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "factors": dict(self.factors)}


def block_factors(model: keras.Model, n_blocks: int, decay: float) -> dict[str, float]:
    """``{layer name: factor}`` for the top ``n_blocks`` blocks of ``model``'s base: 1 for the top block,
    ``1 / decay`` for the one below, ``1 / decay**2`` below that, ... (ULMFiT used ``decay=2.6``)."""
    n_blocks = _validate.positive_int(n_blocks, "n_blocks")
    decay = _validate.number_above(decay, "decay", 1)
    names = blocks(model)
    if n_blocks > len(names):
        raise ValueError(f"The base has {len(names)} blocks ({', '.join(names)}); n_blocks={n_blocks} is too many.")
    factors = {}
    for depth, block in enumerate(reversed(names[-n_blocks:])):
        for layer in base_of(model).layers:
            if layer.name.startswith(f"{block}_") and layer.weights:
                factors[layer.name] = decay**-depth
    return factors


def train_fine_tuning_variant(
    head_model: keras.Model,
    target,
    plan: TransferPlan,
    variant: str = "all at once",
    *,
    decay: float = 2.6,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
    verbose=None,
):
    """Fine-tune a copy of a trained feature-extraction model one of :data:`FINE_TUNING_VARIANTS` ways.

    Every variant unfreezes the top ``plan.fine_blocks`` blocks by the end and trains
    ``plan.fine_epochs`` epochs in all, peaking at ``plan.fine_lr``:

    * ``"all at once"``: every block at once, one rate (what ``train_fine_tuning`` does);
    * ``"discriminative"``: every block at once, each block's rate ``decay`` times lower than the one above;
    * ``"gradual"``: one more block per stage, ``plan.fine_blocks`` stages splitting the epochs, a
      fresh optimizer and schedule per stage (changing what trains needs a recompile);
    * ``"BatchNorm trainable"``: as "all at once", but the unfrozen blocks' BatchNorm layers train
      too, and so re-estimate their statistics from the target's few images: the mistake 07 warns of.

    Returns ``(model, history)``; the history is the last stage's.
    """
    _validate.one_of(variant, "variant", FINE_TUNING_VARIANTS)
    n = plan.fine_blocks
    if n < 1:
        raise ValueError("plan.fine_blocks is 0: there is nothing to fine-tune. Unfreeze at least one block.")
    config.seed_everything(seed)
    model = copy_model(head_model)
    run = dict(seed=seed, validate=validate, verbose=verbose)
    if variant == "gradual":
        if plan.fine_epochs < n:
            raise ValueError(
                f"Gradual unfreezing of {n} blocks needs fine_epochs >= {n}; the plan has {plan.fine_epochs}."
            )
        stages = [plan.fine_epochs // n + (1 if k < plan.fine_epochs % n else 0) for k in range(n)]
        for k, epochs in enumerate(stages, start=1):
            model, history = _compile_and_fit(unfreeze_top(model, k), target, plan, plan.fine_lr, epochs, **run)
        return model, history
    unfreeze_top(model, n, train_batchnorm=variant == "BatchNorm trainable")
    optimizer = None
    if variant == "discriminative":
        factors = block_factors(model, n, decay)
        optimizer = lambda schedule: LayerwiseAdam(schedule, factors=factors)  # noqa: E731
    return _compile_and_fit(model, target, plan, plan.fine_lr, plan.fine_epochs, optimizer=optimizer, **run)
