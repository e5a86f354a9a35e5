"""Checks for ``10_debugging_training``: the mystery runs, a bug in a model-and-compile function and a
prediction about shuffled labels.

Each mystery is a :class:`helpers.diagnostics.faults.MysteryCase`, a run with a fault drawn by a
seed. The learner diagnoses it with :mod:`helpers.diagnostics`, then answers twice:

* :func:`mystery_diagnosis` ``(case, name)``: the fault's name, one of ``case.pool``. A wrong name
  gets a hint that says which diagnostic would show the named fault, and which one exposes this
  run's fault, never the answer itself.
* :func:`mystery_fix` ``(case, fix)``: a function ``fix(setup) -> setup`` (written with
  ``dataclasses.replace``). It passes when the fixed setup keeps the data, changes only what is
  broken, no longer has the fault (nor another one of the field guide), and its run, trained with
  the case's seed, reaches ``case.target`` validation accuracy. It trains once: a few seconds.

Two exercises come before the mysteries, in the notebook's order:

* :func:`output_loss_pairing` (find the bug): the learner fixes a model-and-compile function whose
  softmax output is paired with ``from_logits=True``. The check builds the learner's model on small
  synthetic images (two sizes), reads its output layer and its loss (``diagnostics.loss_at_init``'s
  inspection), compares its loss at init with ``ln K`` and trains it 32 steps: about 3 s.
* :func:`shuffled_labels_prediction` (predict, then run): before the overfit test and the field
  guide's run with shuffled labels, the learner predicts that run's validation accuracy (a range)
  and whether the overfit test memorizes 16 images whose labels were shuffled; the check compares
  both with the measurements and explains them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from helpers.checks._core import Hint, exercise, predicted_range, require, require_callable

__all__ = ["output_loss_pairing", "shuffled_labels_prediction", "mystery_diagnosis", "mystery_fix"]


def _faults():
    from helpers.diagnostics import faults

    return faults


# ---------------------------------------------------------------- find the bug: the output layer and the loss

_BUG_CASES = (((12, 12, 1), 4), ((10, 10, 3), 6))  # (input_shape, num_classes): the first one also trains
_TRAIN_STEPS = 32  # 8 epochs of 4 batches of 16
_MIN_DROP = 0.1  # the loss must fall by at least this share of its value at init in those steps
_OK_ACTIVATIONS = ("linear", "softmax", "pass")


def _bug_images(input_shape, num_classes: int, n: int = 64, seed: int = 0):
    """``n`` small images whose class ``c`` is a bright 3x3 square at a position of its own, on faint noise:
    a task a few steps of Adam start to learn, with inputs in [0, 1] that keep an untrained model's logits small."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    x = rng.uniform(0, 0.1, (n, *input_shape)).astype("float32")
    for i, c in enumerate(y):
        row, col = divmod(int(c), 2)
        x[i, 3 * row : 3 * row + 3, 3 * col : 3 * col + 3, :] = 1.0
    return x, y


def _build(fn, input_shape, num_classes: int):
    import keras

    model = fn(input_shape, num_classes)
    if model is Ellipsis:
        raise NotImplementedError
    require(model is not None, "Your function returned None. Did you forget `return model`?")
    require(
        isinstance(model, keras.Model),
        f"Return the compiled Keras model, as build_classifier does. Received {type(model).__name__}.",
    )
    require(
        getattr(model, "compiled", False) and getattr(model, "loss", None) is not None,
        "Your model is not compiled: compile it inside the function (optimizer, loss and metrics as in "
        "build_classifier). The bug is in how the output layer and the loss fit together, so both belong in it.",
    )
    x, y = _bug_images(input_shape, num_classes, n=8)
    try:
        out = model(x, training=False)
    except Exception as exc:  # noqa: BLE001 - a model built for another image size fails here
        raise Hint(
            f"Your model cannot take images of shape {input_shape}: {type(exc).__name__}. Build it from the "
            "function's input_shape argument (keras.Input(shape=input_shape)), not from the notebook's dataset."
        ) from exc
    units = int(out.shape[-1])
    require(
        units == num_classes,
        f"With num_classes={num_classes} your model has {units} outputs: use the num_classes argument for the "
        "output layer, not a fixed number.",
    )
    return model


def _loss_kind(model):
    from helpers.diagnostics import sanity

    loss, _ = sanity.model_loss(model)
    return sanity._loss_info(loss)


@exercise("Find the bug: the output layer and the loss")
def output_loss_pairing(fixed_classifier) -> str:
    """``fixed_classifier(input_shape, num_classes)`` returns the compiled model of ``build_classifier``
    with one softmax: a linear output with ``from_logits=True``, or a softmax with ``from_logits=False``.

    It is built for two image sizes and class counts; its output layer and loss are read (the inspection
    of ``diagnostics.loss_at_init``), its loss at init must be near ``ln K`` and 32 training steps on
    small synthetic images must lower its loss by at least ``_MIN_DROP`` of it.
    """
    import keras

    from helpers import diagnostics
    from helpers.diagnostics import sanity

    require(
        not isinstance(fixed_classifier, keras.Model),
        "Pass your function `fixed_classifier` itself (no parentheses), not a model it built: the check calls it "
        "for images of its own.",
    )
    require_callable(fixed_classifier, "fixed_classifier")
    keras.utils.set_random_seed(0)  # the same weights, and the same verdict, on every run of the check
    (shape, k), (shape_b, k_b) = _BUG_CASES
    model = _build(fixed_classifier, shape, k)
    _build(fixed_classifier, shape_b, k_b)  # its own input size and class count, not fixed ones

    info = _loss_kind(model)
    require(
        info.kind == "sparse",
        f"Your model is compiled with {info.name}; keep build_classifier's loss, the sparse categorical "
        "cross-entropy (the labels are class ids). The bug is in how the loss fits the output layer, not in "
        "which loss it is.",
    )
    activations = [a for _, a in sanity.output_chain(model) if a != "pass"]
    if "sigmoid" in activations:
        raise Hint(
            "The double softmax is gone, but a sigmoid output gives each class its own yes/no probability: "
            "the outputs do not sum to 1 over the classes, so they are no distribution over the classes (and "
            "model.predict returns them). One label per image needs the one function that turns K scores into "
            "K probabilities that sum to 1, applied once."
        )
    odd = [a for a in activations if a not in _OK_ACTIVATIONS]
    if odd:
        raise Hint(
            f"The output layer's activation is {odd[0]}: a classifier's scores must be free to take any value "
            "(logits) before one softmax turns them into probabilities. Keep one softmax, in the layer or in "
            "the loss."
        )
    x, y = _bug_images(shape, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's own warning about the double softmax: the check says it
        init = diagnostics.loss_at_init(model, x, y)
    for problem in init.problems:
        if "softmax twice" in problem or problem.startswith("Double softmax"):
            raise Hint(
                "Still two softmaxes: the output layer applies a softmax, and from_logits=True tells the loss "
                "to apply its own to what it receives. Keras on TensorFlow quietly repairs this exact case (the "
                "run trains), but a layer after the softmax or another backend makes it real. Decide which of "
                "the two turns the scores into probabilities, and make the other one leave them alone."
            )
        if problem.startswith("The output layer is linear"):
            raise Hint(
                "Now no softmax is left: the output layer returns logits (linear) and the loss expects "
                "probabilities (from_logits=False, also the default of a loss given by name), so it takes raw "
                f"scores for probabilities (loss at init {init.measured:.3g}, ln {k} = "
                f"{init.expected:.3g}). You changed both sides of the pair; change one."
            )
    if init.problems:
        raise Hint(f"diagnostics.loss_at_init finds a problem with your model: {init.problems[0]}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=_TRAIN_STEPS // 4, batch_size=len(x) // 4, shuffle=False, verbose=0)
    last = float(history.history["loss"][-1])
    require(
        math.isfinite(last) and last <= (1 - _MIN_DROP) * init.measured,
        f"The pairing is right, but {_TRAIN_STEPS} training steps hardly lower the loss ({init.measured:.3f} at "
        f"init, {last:.3g} after): change only the bug, and keep build_classifier's optimizer (Adam, 1e-3) and "
        "layers.",
    )
    if "softmax" in activations:
        how = (
            "Your model ends with the softmax and the loss takes its probabilities (from_logits=False): one "
            "softmax. The other fix, logits with from_logits=True, is often preferred: the loss then computes the "
            "log-softmax in one numerically stable step."
        )
    else:
        how = (
            "Your model returns logits and the loss applies the softmax (from_logits=True): one softmax, inside "
            "the loss, where the log-softmax is computed in one numerically stable step. Remember that "
            "model.predict now returns logits: keras.ops.softmax turns them into probabilities."
        )
    return (
        f"{how} Loss at init {init.measured:.3f} (ln {k} = {init.expected:.3f}); {_TRAIN_STEPS} steps bring it to "
        f"{last:.3f}."
    )


# ---------------------------------------------------------------- predict, then run: shuffled labels

_MAX_WIDTH = 0.3  # a range of validation accuracies wider than this commits to nothing
_TOLERANCE_SE = 2  # a measurement this many binomial standard errors outside the range still agrees with it


def _parse_range(value) -> tuple[float, float]:
    return predicted_range(value, "val_accuracy", _MAX_WIDTH)


def _parse_memorized(value) -> bool:
    if value is Ellipsis or value is None:
        raise Hint("memorized: replace the `...` with True or False.")
    require(
        isinstance(value, (bool, np.bool_)),
        f"memorized: answer True (the overfit test reaches its target loss) or False. Received {value!r}.",
    )
    return bool(value)


def _parse_prediction(prediction) -> tuple[tuple[float, float], bool]:
    untouched = isinstance(prediction, dict) and bool(prediction) and all(v is Ellipsis for v in prediction.values())
    if prediction is Ellipsis or prediction is None or untouched:
        raise NotImplementedError
    require(
        isinstance(prediction, dict),
        'Predict with a dict: {"val_accuracy": (low, high), "memorized": True or False}. '
        f"Received {type(prediction).__name__}.",
    )
    missing = [k for k in ("val_accuracy", "memorized") if k not in prediction]
    require(not missing, f"Add your prediction for {', '.join(missing)}.")
    return _parse_range(prediction["val_accuracy"]), _parse_memorized(prediction["memorized"])


def _lowest_accuracy(n: int, mean_loss: float) -> int:
    """The fewest of ``n`` images a model with this mean cross-entropy classifies right: a wrong image has
    a probability of at most 1/2 for its label, so it costs at least ln 2."""
    return max(0, n - math.floor(n * mean_loss / math.log(2)))


@exercise("Predict, then run: training on shuffled labels")
def shuffled_labels_prediction(prediction, shuffled_run, overfit_result) -> str:
    """Compare the learner's ``prediction`` with what the runs measured.

    Args:
        prediction: ``{"val_accuracy": (low, high), "memorized": bool}``: the validation accuracy of
            the healthy run trained on shuffled labels (at most ``_MAX_WIDTH`` wide), and whether the
            overfit test memorizes the small batch with shuffled labels (reaches its target loss).
        shuffled_run: the ``TrainingResult`` of ``faults.make("shuffled_labels", base)`` (the
            field guide's ``demos["shuffled_labels"].broken``).
        overfit_result: the ``OverfitResult`` of ``diagnostics.overfit_batch`` on shuffled labels.

    The range passes when it holds the measured validation accuracy, or misses it by less than
    ``_TOLERANCE_SE`` binomial standard errors (noise on the validation images).
    """
    from helpers import significance
    from helpers.diagnostics import OverfitResult

    faults = _faults()
    (low, high), memorized = _parse_prediction(prediction)
    require(
        isinstance(shuffled_run, faults.TrainingResult)
        and faults.shuffle_images_and_labels in shuffled_run.setup.prepare,
        "Pass the run trained with shuffled labels: faults.make('shuffled_labels', base).train(...), or "
        "demos['shuffled_labels'].broken of the field guide.",
    )
    require(
        isinstance(overfit_result, OverfitResult),
        "Pass the overfit test on shuffled labels too: overfit['healthy, labels shuffled'].",
    )
    data = shuffled_run.setup.data
    k, n_val, n_train = data.num_classes, len(data.y_val), len(data.y_train)
    chance = 1 / k
    val, train = shuffled_run.val_accuracy, shuffled_run.train_accuracy
    se = significance.binomial_se(val, n_val)
    val_right = low - _TOLERANCE_SE * se <= val <= high + _TOLERANCE_SE * se
    memorized_right = memorized == overfit_result.passed

    val_text = (
        f"Validation accuracy on shuffled labels: {val:.1%} (± {se:.1%} on {n_val} images; chance, 1/{k}, is "
        f"{chance:.1%}; your range ({low:g}, {high:g}))."
    )
    if abs(val - chance) <= max(2 * se, 0.05):
        val_meaning = (
            "That is chance: once every image carries another image's label, the labels say nothing about the "
            "images, so nothing the network learns from them can predict a validation image's true label."
        )
    else:
        val_meaning = (
            f"It is not at chance ({chance:.1%}) in this run: look at how many training labels the shuffle left "
            "in place, and at the validation labels (shuffled too?)."
        )
    n = overfit_result.n
    if overfit_result.passed:
        right = _lowest_accuracy(n, overfit_result.final_loss)
        memory_text = (
            f"The overfit test memorized the {n} images with shuffled labels in {overfit_result.steps_to_target} "
            f"steps (loss {overfit_result.final_loss:.3g}: at least {right} of {n} classified as their shuffled "
            f"label). A network of {shuffled_run.model.count_params():,} weights can fit any labels of {n} images, "
            "meaningful or not, so passing that test says nothing about whether the labels fit the images."
        )
    else:
        memory_text = (
            f"The overfit test did not memorize the {n} images with shuffled labels (loss "
            f"{overfit_result.final_loss:.3g} after {len(overfit_result.losses)} steps, target "
            f"{overfit_result.target_loss:g}): in this run it needed more steps than the test allows."
        )
    epochs = shuffled_run.epochs_run
    if train < 0.5:
        train_text = (
            f"The whole run, though, did not memorize its {n_train} random labels in {epochs} epochs: training "
            f"accuracy {train:.1%}. Memorizing is possible (Zhang et al., 2017, fit random labels of all of "
            "CIFAR-10), it only takes far longer than learning labels that fit."
        )
    else:
        train_text = (
            f"The whole run memorized much of its {n_train} random labels in {epochs} epochs: training accuracy "
            f"{train:.1%}, with validation at chance: a large gap between the two is what memorizing looks like."
        )
    if val_right and memorized_right:
        return f"Both predictions hold. {val_text} {val_meaning} {memory_text} {train_text}"
    wrong = []
    if not val_right:
        side = "above" if val > high else "below"
        wrong.append(f"The validation accuracy is {side} your range. {val_text} {val_meaning}")
    if not memorized_right:
        said = "would memorize" if memorized else "would not memorize"
        wrong.append(f"You predicted the overfit test {said} the shuffled labels. {memory_text}")
    other = " (Your other prediction holds.)" if len(wrong) == 1 else ""
    raise Hint(f"{' '.join(wrong)}{other} {train_text} Keep the surprise in mind: it is the point of the exercise.")


# ---------------------------------------------------------------- the mysteries


def _require_case(case):
    faults = _faults()
    require(
        isinstance(case, faults.MysteryCase),
        "Pass the case itself, as faults.mystery(...) returned it, e.g. checks.mystery_diagnosis(case, 'name'). "
        f"Received: {type(case).__name__}",
    )
    return case


def _normalize(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _case_number(case, *args, **kwargs) -> int:
    return case.number


@exercise("Mystery: name the fault", instance=_case_number)
def mystery_diagnosis(case, name) -> str:
    """``name`` is the fault hidden in ``case``: one of ``case.pool`` (``faults.FAULTS`` spells them)."""
    faults = _faults()
    case = _require_case(case)
    if name is Ellipsis or name is None:
        raise NotImplementedError
    require(
        isinstance(name, str),
        f"Answer with the fault's name as a string, e.g. {case.pool[0]!r}. Received: {type(name).__name__}",
    )
    answer = _normalize(name)
    candidates = ", ".join(case.pool)
    require(answer in faults.FAULTS, f"{name!r} is not the name of a fault. This case is one of: {candidates}.")
    require(answer in case.pool, f"{answer} is not among this case's candidates: {candidates}.")
    truth = case.reveal()
    clues = faults.MYSTERIES[case.number - 1].clues
    if answer != truth:
        raise Hint(
            f"Not {answer}. That fault would show in {clues[answer]}: run it on this case and see that it does not. "
            f"What exposes this run's fault: {clues[truth]}."
        )
    return (
        f"Right: mystery {case.number} is {truth}. What shows it: {clues[truth]}. Now repair the run: "
        "checks.mystery_fix(case, fix)."
    )


def _fingerprint(data) -> tuple:
    return tuple(
        (a.shape, float(np.sum(a, dtype=np.float64)))
        for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    )


@exercise("Mystery: fix the run", instance=_case_number)
def mystery_fix(case, fix) -> str:
    """``fix(case.setup)`` returns the repaired setup; its run reaches ``case.target`` validation accuracy."""
    faults = _faults()
    case = _require_case(case)
    require_callable(fix, "fix")
    before = _fingerprint(case.setup.data)
    fixed = fix(case.setup)
    if fixed is Ellipsis:
        raise NotImplementedError
    require(
        fixed is not None,
        "Your fix returned None. Did you forget `return`? Return the repaired setup, e.g. "
        "`return dataclasses.replace(setup, field=value)`.",
    )
    require(
        isinstance(fixed, faults.TrainingSetup),
        "Return a TrainingSetup: `dataclasses.replace(setup, field=value)` makes a copy with one field changed. "
        f"Received: {type(fixed).__name__}",
    )
    require(
        _fingerprint(case.setup.data) == before,
        "Your fix changed the data's arrays in place. Leave case.setup.data alone (reload the case with "
        "faults.mystery) and repair the steps or settings that use it.",
    )
    changed = fixed.differences(case.setup)
    require(changed, "Your fix returns the setup unchanged. Change the field that your diagnosis points to.")
    require(
        "data" not in changed,
        "Keep `data` as it is (the same Dataset object): the fault is in what the run does with the data. Repair "
        "that instead (the prepare steps, the augmentation, the model, the loss or the optimizer).",
    )
    truth = case.reveal()
    allowed = faults._fault(truth).fields
    clue = faults.MYSTERIES[case.number - 1].clues[truth]
    require(
        set(changed) & allowed,
        f"Your fix changes {', '.join(sorted(changed))}, but this run's fault is elsewhere. To see where, use: {clue}.",
    )
    extra = sorted(set(changed) - allowed)
    require(
        not extra,
        f"Your fix also changes {', '.join(extra)}. Undo that: a fix changes only what is broken, so that you know "
        "what repaired the run.",
    )
    found = faults._findings(fixed)
    if truth in found:
        raise Hint(f"The run still has its fault: {found[truth]}.")
    if found:
        raise Hint(f"Your fix brings in another problem: {next(iter(found.values()))}.")
    result = fixed.train(seed=case.seed, verbose=0)
    require(
        result.val_accuracy >= case.target,
        f"The fixed run reaches {result.val_accuracy:.1%} validation accuracy (training accuracy "
        f"{result.train_accuracy:.1%}); the target is {case.target:.0%}. The fault is gone, but the new setting "
        "does not train well: compare it with faults.healthy(...).",
    )
    return (
        f"Fixed: the run reaches {result.val_accuracy:.1%} validation accuracy (target {case.target:.0%}), "
        f"changing only {', '.join(sorted(changed))}."
    )
