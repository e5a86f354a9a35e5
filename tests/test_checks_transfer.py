"""The exercise checks of 07_transfer_learning: pass on the solution, explain the typical mistakes."""

import keras
import numpy as np
import pytest

from helpers import checks, training, transfer
from helpers.checks import _core
from helpers.checks import transfer as transfer_checks


def _run(check, answer, capsys):
    result = check(answer)
    return result, capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- exercise 1


def good_head(source, num_classes):
    return transfer.with_new_head(transfer.feature_extractor(source), num_classes, dropout=0.2)


def by_hand(source, num_classes):
    base = transfer.feature_extractor(source)
    base.trainable = False
    inputs = keras.Input(base.input_shape[1:])
    outputs = keras.layers.Dense(num_classes, activation="softmax")(base(inputs))
    return keras.Model(inputs, outputs)


def not_frozen(source, num_classes):
    return transfer.with_new_head(transfer.feature_extractor(source), num_classes, freeze_base=False)


def all_frozen(source, num_classes):
    model = good_head(source, num_classes)
    model.trainable = False
    return model


def shares_source(source, num_classes):
    base = keras.Model(source.input, source.get_layer("head_gap").output)
    base.trainable = False
    return keras.Sequential([base, keras.layers.Dense(num_classes, activation="softmax")])


def old_head(source, num_classes):
    return transfer.copy_model(source)


def no_softmax(source, num_classes):
    base = transfer.feature_extractor(source)
    base.trainable = False
    inputs = keras.Input(base.input_shape[1:])
    return keras.Model(inputs, keras.layers.Dense(num_classes)(base(inputs)))


def no_return(source, num_classes):
    good_head(source, num_classes)


def stub(source, num_classes):
    raise NotImplementedError


@pytest.mark.parametrize("fn", [good_head, by_hand])
def test_feature_extraction_model_passes(fn, capsys):
    result, out = _run(checks.feature_extraction_model, fn, capsys)
    assert result and "passed" in out


@pytest.mark.parametrize(
    "fn, hint",
    [
        (stub, "Not started yet"),
        (no_return, "forget to `return`"),
        (not_frozen, "the base is not frozen"),
        (all_frozen, "Nothing in your model is trainable"),
        (shares_source, "reuses the source model's own layers"),
        (old_head, "still ends in the source's 10-class head"),
        (no_softmax, "activation='softmax'"),
        (lambda s, n: "model", "must return a keras.Model"),
    ],
)
def test_feature_extraction_model_hints(fn, hint, capsys):
    result, out = _run(checks.feature_extraction_model, fn, capsys)
    assert not result and hint in out


# ---------------------------------------------------------------------------------------------- exercise 2
# predict, then run: the share of the feature-extraction model that trains


@pytest.fixture(scope="module")
def head_model():
    """07's feature-extraction model for the ten digits (the course's source architecture, untrained)."""
    source = transfer.source_spec("full").build()
    return source, transfer.with_new_head(transfer.feature_extractor(source), 10, dropout=0.2)


def test_the_trainable_share_is_the_head_over_everything(head_model):
    _, model = head_model
    parts = transfer_checks._parameter_parts(model)
    assert parts["trainable"] == 1290 and parts["total"] == 94_634  # 1.36 %
    assert parts["moving"] == parts["affine"] == 2 * (32 + 64 + 128)  # moving mean/variance; gamma/beta


def test_trainable_fraction_passes_on_a_range_that_holds_it(head_model, capsys):
    source, model = head_model
    result, out = _run(lambda p: checks.trainable_fraction(p, model), (0.01, 0.02), capsys)
    assert result and "1,290 of 94,634 parameters train, 1.36%" in out and "448 moving means and variances" in out
    # the notebook's solution, reasoned from the source before the model is built
    share = (128 + 1) * 10 / (source.count_params() - source.get_layer("predictions").count_params() + 1290)
    assert checks.trainable_fraction((share - 0.005, share + 0.005), model)


@pytest.mark.parametrize(
    "prediction, hint",
    [
        (..., "replace the `...`"),
        (0.0136, "give a range (low, high) around your guess"),
        ((1, 2), "as fractions between 0 and 1"),
        ((0.02, 0.01), "reversed"),
        ((0.0, 0.05), "at most 2 points wide"),
        (("low", "high"), "give a range of two numbers"),
        ((0.0175, 0.0195), "BatchNorm's gamma and beta"),
        ((0.0225, 0.0235), "every BatchNorm parameter trained"),
        ((0.3, 0.31), "far too high: only the new head trains"),
        ((0.025, 0.035), "The measured share is below your range"),
        ((0.0, 0.01), "The measured share is above your range"),
    ],
)
def test_trainable_fraction_hints(head_model, prediction, hint, capsys):
    _, model = head_model
    result, out = _run(lambda p: checks.trainable_fraction(p, model), prediction, capsys)
    assert not result and hint in out, out


def test_an_untouched_trainable_share_is_not_started(head_model):
    assert checks.trainable_fraction(..., head_model[1]).status == "not started"


# ---------------------------------------------------------------------------------------------- exercise 3


def test_fine_tune_count_matches_keras():
    spec = transfer.source_spec("full")
    model = transfer.with_new_head(transfer.feature_extractor(spec.build()), 10, dropout=0.2)
    transfer.unfreeze_top(model, 2)
    assert transfer.trainable_counts(model)["trainable"] == transfer_checks.FINE_TUNE_TRAINABLE == 93_450
    smoke = transfer.source_spec("smoke")
    assert (smoke.filters, smoke.convs_per_block) == (spec.filters, spec.convs_per_block)  # same answer


def test_fine_tune_trainable_params_passes(capsys):
    result, out = _run(checks.fine_tune_trainable_params, 3 * 3 * 32 * 64 + 3 * 3 * 64 * 128 + 1290, capsys)
    assert result and "93,450" in out


def test_fine_tune_count_matches_keras_on_a_colour_target_with_two_classes():
    """07 on a colour folder: the target is 2 of its classes, 32x32 RGB images."""
    model = transfer.with_new_head(transfer.feature_extractor(transfer.source_spec().build((32, 32, 3), 3)), 2)
    transfer.unfreeze_top(model, 2)
    expected = transfer_checks.fine_tune_trainable(num_classes=2, channels=3)
    assert transfer.trainable_counts(model)["trainable"] == expected == 73_728 + 18_432 + 258


def test_fine_tune_trainable_params_on_a_colour_target(capsys):
    right = 3 * 3 * 32 * 64 + 3 * 3 * 64 * 128 + 128 * 2 + 2
    result, out = _run(lambda a: checks.fine_tune_trainable_params(a, num_classes=2, channels=3), right, capsys)
    assert result and f"{right:,}" in out and "864 weights in block 1" in out
    result, out = _run(lambda a: checks.fine_tune_trainable_params(a, num_classes=2, channels=3), 93_450, capsys)
    assert not result and "10-class head; this target has 2 classes" in out
    result, out = _run(lambda a: checks.fine_tune_trainable_params(a, num_classes=2, channels=3), right + 864, capsys)
    assert not result and "Block 1 stays frozen" in out
    result, out = _run(lambda a: checks.fine_tune_trainable_params(a, num_classes=2, channels=3), right - 258, capsys)
    assert not result and "Dense(2)" in out


@pytest.mark.parametrize(
    "answer, hint",
    [
        (..., "Replace the `...`"),
        (93_450 + 384, "BatchNormalization's gamma and beta"),
        (93_450 + 192, "no bias"),
        (93_450 + 576, "Two things to drop"),
        (93_450 + 288, "Block 1 stays frozen"),
        (73_728 + 1290, "not only the top one"),
        (93_450 - 1290, "Add the new head"),
        (12345, "not right"),
        (93450.5, "whole number"),
    ],
)
def test_fine_tune_trainable_params_hints(answer, hint, capsys):
    result, out = _run(checks.fine_tune_trainable_params, answer, capsys)
    assert not result and hint in out


# ---------------------------------------------------------------------------------------------- exercise 4
# find the bug: a base frozen variable by variable, so its BatchNorm layers still run in training mode


def _with_head(base, num_classes, *, training=False, softmax=True):
    inputs = keras.Input(base.input_shape[1:])
    features = base(inputs, training=training)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax" if softmax else None)(features))


def frozen_by_variables(source, num_classes):  # the notebook's buggy builder
    base = transfer.feature_extractor(source)
    for weight in base.weights:
        weight.trainable = False
    return _with_head(base, num_classes)


def frozen_layer(source, num_classes):  # the notebook's solution
    base = transfer.feature_extractor(source)
    base.trainable = False
    return _with_head(base, num_classes)


def frozen_layer_called_in_training_mode(source, num_classes):
    base = transfer.feature_extractor(source)
    base.trainable = False
    return _with_head(base, num_classes, training=True)


def convolutions_frozen(source, num_classes):  # BatchNorm layers left trainable
    base = transfer.feature_extractor(source)
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.trainable = False
    return _with_head(base, num_classes)


def unfrozen(source, num_classes):
    return _with_head(transfer.feature_extractor(source), num_classes)


def everything_frozen(source, num_classes):
    model = frozen_layer(source, num_classes)
    model.trainable = False
    return model


def frozen_head(source, num_classes):  # the head is frozen; only a branch with zero gradient is trainable
    base = transfer.feature_extractor(source)
    base.trainable = False
    inputs = keras.Input(base.input_shape[1:])
    features = base(inputs)
    head = keras.layers.Dense(num_classes, trainable=False)
    unused = keras.layers.Dense(num_classes)
    logits = head(features) + 0.0 * unused(features)  # a zero gradient: the trainable layer never moves
    return keras.Model(inputs, keras.layers.Softmax()(logits))


def shared_with_source(source, num_classes):
    base = keras.Model(source.input, source.get_layer("head_gap").output)
    base.trainable = False
    return _with_head(base, num_classes)


@pytest.mark.parametrize("fn", [frozen_layer, frozen_layer_called_in_training_mode, good_head])
def test_frozen_base_builder_passes(fn, capsys):
    """In Keras 3 a frozen BatchNorm layer stays in inference mode even when called with training=True."""
    result, out = _run(checks.frozen_base_builder, fn, capsys)
    assert result and "passed" in out


def test_the_check_model_has_batchnorm_and_the_bug_shows_on_it():
    source = transfer_checks._tiny_source()
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in source.layers)
    buggy = frozen_by_variables(source, 3)
    assert transfer.trainable_counts(buggy)["trainable"] == 8 * 3 + 3  # looks frozen ...
    batch = np.random.default_rng(0).random((8, 16, 16, 1), dtype=np.float32)
    assert transfer.batchnorm_drift(buggy, batch) > 0  # ... and is not


@pytest.mark.parametrize(
    "fn, hint",
    [
        (stub, "Not started yet"),
        (no_return, "forget to `return`"),
        (frozen_by_variables, "Still the training-mode bug: only 27 parameters are trainable"),
        (convolutions_frozen, "gamma and beta of the base's BatchNorm layers"),
        (unfrozen, "changed the base's convolution kernels"),
        (everything_frozen, "Nothing in build_frozen_model(source, 3) is trainable"),
        (frozen_head, "did not change in a training step"),
        (shared_with_source, "reuses the source model's own layers"),
        (old_head, "expected (None, 3)"),
        (lambda s, n: frozen_layer(s, n) if n == 3 else frozen_layer(s, 3), "expected (None, 5)"),
        (lambda s, n: _with_head(frozen_layer(s, n).layers[1], n, softmax=False), "activation='softmax'"),
    ],
)
def test_frozen_base_builder_hints(fn, hint, capsys):
    result, out = _run(checks.frozen_base_builder, fn, capsys)
    assert not result and hint in out, out


# ---------------------------------------------------------------------------------------------- exercise 5


def good_start(model, n_blocks, learning_rate):
    transfer.unfreeze_top(model, n_blocks)
    return training.compile_classifier(model, learning_rate=learning_rate)


def no_recompile(model, n_blocks, learning_rate):
    return transfer.unfreeze_top(model, n_blocks)


def bn_trainable(model, n_blocks, learning_rate):
    transfer.unfreeze_top(model, n_blocks, train_batchnorm=True)
    return training.compile_classifier(model, learning_rate=learning_rate)


def everything(model, n_blocks, learning_rate):
    transfer.unfreeze_top(model, 3)
    return training.compile_classifier(model, learning_rate=learning_rate)


def fixed_two(model, n_blocks, learning_rate):
    return good_start(model, 2, learning_rate)


def inner_only(model, n_blocks, learning_rate):
    base = model.get_layer("base")
    base.trainable = False  # frozen the classic way ...
    for layer in base.layers:
        if layer.name.startswith(("block2", "block3")) and "_bn" not in layer.name:
            layer.trainable = True  # ... then only the inner layers unfrozen
    return training.compile_classifier(model, learning_rate=learning_rate)


def high_lr(model, n_blocks, learning_rate):
    transfer.unfreeze_top(model, n_blocks)
    return training.compile_classifier(model, learning_rate=1e-2)


def forgot_return(model, n_blocks, learning_rate):
    good_start(model, n_blocks, learning_rate)


def stub3(model, n_blocks, learning_rate):
    raise NotImplementedError


def test_start_fine_tuning_passes(capsys):
    result, out = _run(checks.start_fine_tuning, good_start, capsys)
    assert result and "passed" in out


@pytest.mark.parametrize(
    "fn, hint",
    [
        (stub3, "Not started yet"),
        (forgot_return, "forget to `return`"),
        (no_recompile, "did not compile again"),
        (bn_trainable, "BatchNormalization layer is trainable"),
        (everything, "must stay frozen"),
        (fixed_two, "must stay frozen"),
        (inner_only, "still `trainable = False`"),
        (high_lr, "learning_rate=1e-4 was passed"),
    ],
)
def test_start_fine_tuning_hints(fn, hint, capsys):
    result, out = _run(checks.start_fine_tuning, fn, capsys)
    assert not result and hint in out


def test_checks_are_exported_once():
    for name in transfer_checks.__all__:
        assert getattr(checks, name) is getattr(transfer_checks, name)
        assert getattr(checks, name).is_exercise_check


# ---------------------------------------------------------------------------------------------- reference answers
# The stubs exactly as the notebook's exercise cells hold them; the references stand in for the cells after them.


def nb_build_feature_extraction_model(source, num_classes):
    # YOUR CODE HERE: copy the base, freeze it, add a new softmax head; return the model.
    raise NotImplementedError


def nb_build_frozen_model(source, num_classes):
    # YOUR CODE HERE: the builder above, fixed, so that training leaves the whole base as it was.
    raise NotImplementedError


def test_the_untouched_find_the_bug_stub_is_not_started(fresh_kernel, capsys):
    result, _ = _run(checks.frozen_base_builder, nb_build_frozen_model, capsys)
    assert result.status == "not started"


def nb_start_fine_tuning(model, n_blocks, learning_rate):
    # YOUR CODE HERE: unfreeze the top blocks (BatchNorm stays frozen), then recompile.
    raise NotImplementedError


def test_the_feature_extraction_reference_uses_the_plan_and_passes_its_check(fresh_kernel, capsys):
    plan = transfer.TransferPlan(head_dropout=0.3)
    result, _ = _run(checks.feature_extraction_model, nb_build_feature_extraction_model, capsys)
    assert result.status == "not started"
    build = _core.answer("feature_extraction_model", nb_build_feature_extraction_model, plan)
    assert build is not nb_build_feature_extraction_model and checks.feature_extraction_model(build)
    model = build(transfer_checks._tiny_source(), 4)
    assert model.get_layer("new_head_dropout").rate == 0.3 and model.output_shape == (None, 4)
    with pytest.raises(TypeError, match="TransferPlan"):
        transfer_checks._feature_extraction_model_reference({"head_dropout": 0.2})


def test_the_fine_tuning_reference_passes_its_check_and_takes_a_schedule(fresh_kernel, capsys):
    result, _ = _run(checks.start_fine_tuning, nb_start_fine_tuning, capsys)
    assert result.status == "not started"
    start = _core.answer("start_fine_tuning", nb_start_fine_tuning)
    assert start is not nb_start_fine_tuning and checks.start_fine_tuning(start)
    plan = transfer.TransferPlan()
    model = transfer.with_new_head(transfer.feature_extractor(transfer_checks._tiny_source()), 3)
    schedule = plan.schedule(plan.fine_lr, 2)
    assert start(model, 1, schedule) is model  # the notebook passes the plan's schedule
    assert model.optimizer._learning_rate is schedule  # recompiled with it
    assert transfer.trainable_layers(model)["block3_conv1"] and not transfer.trainable_layers(model)["block2_conv1"]


def test_the_untouched_count_is_not_started(capsys):
    result = checks.fine_tune_trainable_params(..., 10, 1)
    assert result.status == "not started"
