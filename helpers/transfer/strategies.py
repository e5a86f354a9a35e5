"""The three ways to learn a small target task, compared on equal budgets: from scratch, feature
extraction (a new head on the frozen source base) and fine-tuning (then the top blocks too).

:func:`reframe` gives the target images the source's framing, :class:`TransferPlan` holds the
budgets, :func:`fit_small` trains on a training set smaller than a batch, and
:func:`tune_learning_rates` picks each strategy's learning rate on validation (a fair comparison
tunes every contender alike), and :func:`label_efficiency` runs the three strategies for several
numbers of labelled examples.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from helpers import _validate, config, pipelines, runs, schedules, training
from helpers.data import Dataset, resize_images, validate_images
from helpers.transfer.freezing import copy_model, feature_extractor, unfreeze_top, with_new_head
from helpers.transfer.spec import SourceSpec, source_spec

__all__ = [
    "STRATEGIES",
    "TransferPlan",
    "fit_small",
    "label_efficiency",
    "reframe",
    "train_feature_extraction",
    "train_fine_tuning",
    "train_from_scratch",
    "tune_learning_rates",
]

STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")
_PLAN_FIELD = {"from scratch": "scratch_lr", "feature extraction": "head_lr", "fine-tuning": "fine_lr"}
DEFAULT_RATES = {
    "from scratch": (1e-3, 3e-3, 1e-2),
    "feature extraction": (3e-3, 1e-2, 3e-2),
    "fine-tuning": (3e-4, 1e-3),
}


def reframe(data, *, box: int = 20, canvas: int = 28):
    """Shrink images into a ``box`` x ``box`` square centred on a black ``canvas`` x ``canvas`` one.

    MNIST digits were size-normalized to 20x20 and centred in 28x28 (LeCun et al., 1998), while
    scikit-learn's 8x8 digits fill their frame. Giving the target the source's framing is the
    grayscale version of ``preprocess_input``: show a pretrained model inputs like the ones it
    learned from. Accepts a :class:`helpers.data.Dataset` (every split is reframed) or an image batch.
    """
    box = _validate.positive_int(box, "box")
    canvas = _validate.positive_int(canvas, "canvas")
    if box > canvas:
        raise ValueError(f"box must fit in the canvas (box <= canvas). Received: box={box}, canvas={canvas}")
    if isinstance(data, Dataset):
        return dataclasses.replace(
            data,
            x_train=reframe(data.x_train, box=box, canvas=canvas),
            x_val=reframe(data.x_val, box=box, canvas=canvas),
            x_test=reframe(data.x_test, box=box, canvas=canvas),
            description=f"{data.description}, reframed: {box}x{box} digit centred in {canvas}x{canvas}",
        )
    x = resize_images(validate_images(data), (box, box), method="area")
    before = (canvas - box) // 2
    after = canvas - box - before
    return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0))).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class TransferPlan:
    """Training budgets for the three strategies, in epochs of ``steps_per_epoch`` batches.

    Few-label training sets are smaller than a batch, so an epoch here is a fixed number of steps
    (the training set repeats): every strategy and every label count gets the same number of
    updates. Fine-tuning continues from the feature-extraction model, so from scratch gets
    ``head_epochs + fine_epochs`` epochs by default: the same budget.
    """

    steps_per_epoch: int = 10
    batch_size: int = 32
    head_epochs: int = 10
    head_lr: float = 1e-2
    fine_epochs: int = 15
    fine_lr: float = 1e-3
    fine_blocks: int = 2
    head_dropout: float = 0.2
    scratch_epochs: int | None = None
    scratch_lr: float = 3e-3

    def __post_init__(self) -> None:
        for field in ("steps_per_epoch", "batch_size", "head_epochs", "fine_epochs"):
            _validate.positive_int(getattr(self, field), field)
        _validate.positive_int(self.scratch_epochs, "scratch_epochs", allow_none=True)
        _validate.non_negative_int(self.fine_blocks, "fine_blocks")
        _validate.fraction(self.head_dropout, "head_dropout")
        for field in ("head_lr", "fine_lr", "scratch_lr"):
            _validate.positive_number(getattr(self, field), field)
        if self.scratch_epochs is None:
            object.__setattr__(self, "scratch_epochs", self.head_epochs + self.fine_epochs)
        if self.fine_lr >= self.head_lr:
            raise ValueError(
                f"fine_lr must be lower than head_lr (fine-tuning takes small steps). "
                f"Received: fine_lr={self.fine_lr}, head_lr={self.head_lr}"
            )

    def schedule(self, peak_lr: float, epochs: int):
        """Warmup + cosine decay over ``epochs`` epochs of this plan."""
        return schedules.warmup_cosine(peak_lr, epochs * self.steps_per_epoch)


def fit_small(
    model: keras.Model,
    data,
    *,
    epochs: int,
    steps_per_epoch: int = 10,
    batch_size: int = 32,
    validate: bool = True,
    seed: int = config.DEFAULT_SEED,
    verbose=None,
):
    """Train a compiled ``model`` on a small training split for ``epochs`` x ``steps_per_epoch`` steps.

    The training set is shuffled and repeated, so 20 images train as long as 500 do; validation
    (if ``validate``) runs after every epoch. Returns the Keras ``History``.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model, learning_rate=...).")
    epochs = _validate.positive_int(epochs, "epochs")
    steps_per_epoch = _validate.positive_int(steps_per_epoch, "steps_per_epoch")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but the "
            f"images have shape {data.input_shape}."
        )
    train = pipelines.to_tf_dataset(
        data.x_train, data.y_train, batch_size=batch_size, shuffle=True, repeat=True, seed=seed, cache=False
    )
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        validation_data=(data.x_val, data.y_val) if validate else None,
        verbose=config.fit_verbose() if verbose is None else verbose,
    )


def _compile_and_fit(
    model, target, plan: TransferPlan, learning_rate, epochs, *, seed: int, validate: bool, verbose, optimizer=None
):
    """Compile ``model`` afresh (a new optimizer: needed after freezing or unfreezing) with the plan's
    schedule, and train it with :func:`fit_small`; ``(model, history)``. ``optimizer(schedule)`` builds
    another optimizer than Adam on that schedule (default None: Adam)."""
    schedule = plan.schedule(learning_rate, epochs)
    if optimizer is None:
        training.compile_classifier(model, learning_rate=schedule)
    else:
        training.compile_classifier(model, optimizer=optimizer(schedule))
    history = fit_small(
        model, target, epochs=epochs, steps_per_epoch=plan.steps_per_epoch, batch_size=plan.batch_size,
        validate=validate, seed=seed, verbose=verbose,
    )  # fmt: skip
    return model, history


def train_from_scratch(
    spec: SourceSpec,
    target,
    plan: TransferPlan,
    *,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
    verbose=None,
):
    """The source architecture, randomly initialized, trained on ``target`` alone: ``(model, history)``."""
    config.seed_everything(seed)
    model = spec.build(target.input_shape, target.num_classes)
    return _compile_and_fit(
        model, target, plan, plan.scratch_lr, plan.scratch_epochs, seed=seed, validate=validate, verbose=verbose
    )


def train_feature_extraction(
    source: keras.Model,
    target,
    plan: TransferPlan,
    *,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
    verbose=None,
):
    """A new head on the frozen base of ``source``, trained on ``target``: ``(model, history)``."""
    config.seed_everything(seed)
    model = with_new_head(feature_extractor(source), target.num_classes, dropout=plan.head_dropout)
    return _compile_and_fit(
        model, target, plan, plan.head_lr, plan.head_epochs, seed=seed, validate=validate, verbose=verbose
    )


def train_fine_tuning(
    head_model: keras.Model,
    target,
    plan: TransferPlan,
    *,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
    verbose=None,
):
    """Continue a copy of a trained feature-extraction model with the top ``plan.fine_blocks`` blocks
    unfrozen (BatchNorm stays frozen) at the low ``plan.fine_lr``: ``(model, history)``."""
    config.seed_everything(seed)
    model = unfreeze_top(copy_model(head_model), plan.fine_blocks)
    return _compile_and_fit(
        model, target, plan, plan.fine_lr, plan.fine_epochs, seed=seed, validate=validate, verbose=verbose
    )


def tune_learning_rates(
    source: keras.Model,
    target,
    plan: TransferPlan,
    *,
    rates: dict[str, Sequence[float]] | None = None,
    spec: SourceSpec | None = None,
    seed: int = config.DEFAULT_SEED,
):
    """Each strategy's peak learning rate, picked on the validation split: ``(tuned_plan, table)``.

    A comparison is fair only if every contender is tuned alike: a from-scratch baseline at an
    untuned rate loses to transfer for the wrong reason. Candidates are trained with the plan's
    budgets and the same seed; feature extraction is tuned first, and fine-tuning continues from the
    head trained at its picked rate, with candidates below that rate (fine-tuning takes smaller steps).

    Args:
        rates: ``{strategy: candidate rates}`` for some or all of :data:`STRATEGIES` (default
            :data:`DEFAULT_RATES`); a strategy left out keeps the plan's rate.
        spec: the architecture "from scratch" trains (default: :func:`source_spec`).

    Returns:
        The plan with the picked rates, and a :func:`helpers.runs.table` with one row per candidate
        (``name`` is the strategy, ``learning_rate`` the candidate), measured on validation.
    """
    rates = DEFAULT_RATES if rates is None else rates
    unknown = [k for k in rates if k not in STRATEGIES]
    if unknown:
        raise ValueError(f"rates has unknown strategies {unknown}; use some of {list(STRATEGIES)}.")
    candidates = {}
    for strategy, values in rates.items():
        values = list(values)
        if not values or not all(_validate.is_number(v) and v > 0 for v in values):
            raise ValueError(f"rates[{strategy!r}] must be a non-empty list of positive numbers. Received: {values}")
        candidates[strategy] = sorted(set(map(float, values)))
    head_rates = candidates.get("feature extraction", [plan.head_lr])
    if "fine-tuning" in candidates and min(candidates["fine-tuning"]) >= max(head_rates):
        raise ValueError(
            f"No fine-tuning rate is below the head's rate {max(head_rates):g}; fine-tuning takes smaller steps. "
            f"Received: rates['fine-tuning']={candidates['fine-tuning']}"
        )
    spec = spec or source_spec()
    rows, best = [], {}

    def record(strategy, rate, train, *args):
        start = time.perf_counter()
        model, history = train(*args, seed=seed, validate=False, verbose=0)
        row = runs.measure(strategy, model, target, history=history, seed=seed, seconds=time.perf_counter() - start).row
        rows.append({**row, "learning_rate": rate})
        if strategy not in best or row["val_accuracy"] > best[strategy][0]:  # ties keep the lower rate
            best[strategy] = (row["val_accuracy"], rate)
        return model

    for rate in candidates.get("from scratch", ()):
        record("from scratch", rate, train_from_scratch, spec, target, _with_rate(plan, scratch_lr=rate))
    heads = {}
    for rate in candidates.get("feature extraction", ()):
        heads[rate] = record(
            "feature extraction", rate, train_feature_extraction, source, target, _with_rate(plan, head_lr=rate)
        )
    head_lr = best.get("feature extraction", (None, plan.head_lr))[1]
    fine_rates = [r for r in candidates.get("fine-tuning", ()) if r < head_lr]
    if "fine-tuning" in candidates and not fine_rates:
        raise ValueError(
            f"No fine-tuning rate is below the head's rate {head_lr:g}; fine-tuning takes smaller steps. "
            f"Received: rates['fine-tuning']={candidates['fine-tuning']}"
        )
    if fine_rates:
        head = heads.get(head_lr)
        if head is None:
            head, _ = train_feature_extraction(source, target, plan, seed=seed, validate=False, verbose=0)
        for rate in fine_rates:
            record(
                "fine-tuning", rate, train_fine_tuning, head, target, _with_rate(plan, head_lr=head_lr, fine_lr=rate)
            )
    tuned = _with_rate(plan, **{_PLAN_FIELD[k]: rate for k, (_, rate) in best.items()})
    return tuned, runs.table(rows)


def _with_rate(plan: TransferPlan, **rates) -> TransferPlan:
    """``plan`` with new learning rates; the fine-tuning rate is lowered if the head's drops below it."""
    head_lr = rates.get("head_lr", plan.head_lr)
    rates.setdefault("fine_lr", plan.fine_lr if plan.fine_lr < head_lr else head_lr / 2)
    return dataclasses.replace(plan, **rates)


def label_efficiency(
    source: keras.Model,
    load_target: Callable[..., object],
    sizes: Sequence[int],
    plan: TransferPlan,
    *,
    spec: SourceSpec | None = None,
    seed: int = config.DEFAULT_SEED,
    draws: Sequence[int] | None = None,
    known: dict | None = None,
    verbose: bool = True,
):
    """The three strategies for each number of labelled target examples, as a :func:`helpers.runs.table`.

    One row per (strategy, number of labels, draw): ``name`` is the strategy, ``train_size`` the
    number of labelled examples, ``seed`` the draw, and accuracies are measured as every run is (in
    inference mode, on the validation split; the test split is kept for the end). A draw is a seed
    that picks *which* examples are labelled and seeds the three trainings: with few labels, which
    ones you got moves the accuracy as much as the strategy does, so a curve rests on several draws.

    Args:
        load_target: ``(n, seed=...) -> Dataset`` with ``n`` training examples drawn with ``seed``
            (the same validation/test sets for all), e.g. ``TransferTask.load_target``.
        sizes: the numbers of labelled examples to try.
        spec: the source architecture that "from scratch" trains (default: :func:`source_spec`).
        seed: the one draw when ``draws`` is None.
        draws: the seeds of several draws (e.g. ``(42, 43, 44)``); default ``(seed,)``.
        known: validation accuracies you already have for the draw ``seed``, ``{n: {strategy:
            accuracy}}``; those are not retrained (their rows hold only the accuracy).
    """
    sizes = sorted(set(_validate.int_sequence(list(sizes), "sizes")))
    draws = _validate.seeds((seed,) if draws is None else draws, "draws")
    spec = spec or source_spec()
    rows = []
    for n in sizes:
        for draw in draws:
            if draw == seed and n in (known or {}):
                rows += [
                    {"name": s, "seed": draw, "train_size": n, "val_accuracy": float(known[n][s])} for s in STRATEGIES
                ]
                continue
            target = load_target(n, seed=draw)
            start = time.perf_counter()
            scratch, h_scratch = train_from_scratch(spec, target, plan, seed=draw, validate=False, verbose=0)
            head, h_head = train_feature_extraction(source, target, plan, seed=draw, validate=False, verbose=0)
            fine, h_fine = train_fine_tuning(head, target, plan, seed=draw, validate=False, verbose=0)
            seconds = time.perf_counter() - start
            for strategy, model, history in zip(STRATEGIES, (scratch, head, fine), (h_scratch, h_head, h_fine)):
                rows.append(runs.measure(strategy, model, target, history=history, seed=draw, seconds=seconds / 3).row)
            if verbose:
                print(
                    f"{n:>5} labelled, draw {draw}: "
                    + ", ".join(f"{r['name']} {r['val_accuracy']:.1%}" for r in rows[-3:])
                )
    return runs.table(rows)
