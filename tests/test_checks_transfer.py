"""The exercise checks of 07_transfer_learning: pass on the solution, explain the typical mistakes."""

import keras
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


# ---------------------------------------------------------------------------------------------- exercise 3


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
