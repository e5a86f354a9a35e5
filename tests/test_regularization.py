"""helpers.regularization: the overfitting CNN, weight statistics, pruning, dropout passes, cross-entropy."""

import keras
import numpy as np
import pytest

from helpers import data, models, regularization


def small_cnn(**overrides):
    return regularization.overfitting_cnn((8, 8, 1), 3, filters=(4,), dense_units=8, **overrides)


# -- the model -------------------------------------------------------------------------------------


def test_overfitting_cnn_has_the_documented_layout():
    model = regularization.overfitting_cnn()
    names = [layer.name for layer in model.layers]
    assert not any("bn" in n or "dropout" in n for n in names)  # no BatchNorm, no dropout
    assert model.get_layer("head_dense").units == 256 and "head_flatten" in names
    dense_share = model.get_layer("head_dense").count_params() / model.count_params()
    assert dense_share > 0.9  # the wide head holds the capacity to memorize


def test_overfitting_cnn_switches_on_regularizers():
    model = small_cnn(l2=1e-3, dropout=0.5, spatial_dropout=0.2)
    assert model.get_layer("head_dense").kernel_regularizer.l2 == pytest.approx(1e-3)
    assert model.get_layer("head_dropout").rate == 0.5
    assert model.get_layer("block1_spatial_dropout").rate == 0.2


def test_overfitting_cnn_rejects_unknown_options():
    with pytest.raises(TypeError, match="Unknown model option.*weight_decay.*Choose from"):
        regularization.overfitting_cnn(weight_decay=0.1)


# -- weights ---------------------------------------------------------------------------------------


def test_kernel_weights_are_conv_and_dense_kernels_only():
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), convs_per_block=1, dense_units=5, batch_norm=True)
    kernels = regularization.kernel_weights(model)
    assert list(kernels) == ["block1_conv1", "head_dense", "predictions"]
    assert kernels["block1_conv1"].shape == (3, 3, 1, 4) and kernels["predictions"].shape == (5, 3)
    flat = regularization.flat_kernel_weights(model)
    assert flat.shape == (36 + 4 * 5 + 15,)


def test_kernel_norms_per_layer():
    model = small_cnn()
    norms = regularization.kernel_norms(model)
    kernels = regularization.kernel_weights(model)
    assert list(norms) == list(kernels)
    for name, k in kernels.items():
        assert norms[name] == pytest.approx(float(np.sqrt(np.sum(k.astype(np.float64) ** 2))))
    model.get_layer("head_dense").kernel.assign(np.zeros(model.get_layer("head_dense").kernel.shape))
    assert regularization.kernel_norms(model)["head_dense"] == 0.0
    with pytest.raises(TypeError, match="Keras model"):
        regularization.kernel_norms({"a": np.ones(3)})


def test_kernel_weights_look_inside_nested_models():
    inner = small_cnn()
    outer = keras.Sequential([keras.Input((8, 8, 1)), inner])
    assert list(regularization.kernel_weights(outer)) == list(regularization.kernel_weights(inner))


def test_kernel_weights_explain_bad_input():
    with pytest.raises(TypeError, match="Keras model"):
        regularization.kernel_weights(np.zeros(3))
    no_kernels = keras.Sequential([keras.Input((4,)), keras.layers.Activation("relu")])
    with pytest.raises(ValueError, match="no Conv or Dense layer"):
        regularization.kernel_weights(no_kernels)


def test_near_zero_fraction_counts_absolute_values_below_threshold():
    w = np.array([-0.5, -5e-4, 0.0, 2e-4, 0.3, -0.02, 0.01, 8e-4])
    assert regularization.near_zero_fraction(w) == pytest.approx(4 / 8)
    assert regularization.near_zero_fraction(w, 0.05) == pytest.approx(6 / 8)
    assert regularization.near_zero_fraction(w, 0) == pytest.approx(1 / 8)  # exactly zero only
    assert regularization.near_zero_fraction({"a": w[:4], "b": w[4:]}) == pytest.approx(0.5)
    assert regularization.near_zero_fraction([w.reshape(2, 4)]) == pytest.approx(0.5)


def test_near_zero_fraction_of_a_model_uses_its_kernels():
    model = small_cnn()
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            layer.kernel.assign(np.zeros(layer.kernel.shape))
    assert regularization.near_zero_fraction(model, 0) == 1.0  # biases are ignored


@pytest.mark.parametrize(
    ("weights", "threshold", "error", "match"),
    [
        (np.ones(3), -1e-3, ValueError, "threshold must be a finite number >= 0"),
        (np.ones(3), float("nan"), ValueError, "threshold must be a finite number >= 0"),
        (np.ones(3), True, ValueError, "threshold must be"),
        (np.array([]), 1e-3, ValueError, "array is empty"),
        ([], 1e-3, ValueError, "list \\(or dict\\) is empty"),
        (np.array([1.0, np.nan]), 1e-3, ValueError, "NaN or infinite"),
        ("abc", 1e-3, TypeError, "weights must be numbers"),
    ],
)
def test_near_zero_fraction_rejects_bad_input(weights, threshold, error, match):
    with pytest.raises(error, match=match):
        regularization.near_zero_fraction(weights, threshold)


def test_l1_l2_penalty_matches_keras():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, (3, 3, 2, 4)).astype(np.float32)
    for l1, l2 in [(1e-3, 0.0), (0.0, 1e-2), (0.05, 0.2)]:
        keras_value = float(keras.regularizers.L1L2(l1=l1, l2=l2)(w))
        assert regularization.l1_l2_penalty(w, l1, l2) == pytest.approx(keras_value, rel=1e-5)


def test_l1_l2_penalty_of_a_model_equals_its_regularization_losses():
    model = small_cnn(l1=1e-3, l2=1e-2)
    expected = float(sum(float(loss) for loss in model.losses))
    assert len(model.losses) == 3  # conv, dense and output kernels
    assert regularization.l1_l2_penalty(model, 1e-3, 1e-2) == pytest.approx(expected, rel=1e-5)


def test_l1_l2_penalty_rejects_negative_strengths():
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0. Received: l1=-1"):
        regularization.l1_l2_penalty(np.ones(3), l1=-1)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        regularization.l1_l2_penalty(np.ones(3), l2="big")


def test_prune_small_weights_zeroes_a_copy():
    model = small_cnn()
    before = regularization.flat_kernel_weights(model)
    pruned = regularization.prune_small_weights(model, 0.05)
    after = regularization.flat_kernel_weights(pruned)
    np.testing.assert_array_equal(regularization.flat_kernel_weights(model), before)  # original untouched
    small = np.abs(before) < 0.05
    assert small.any() and np.all(after[small] == 0.0)
    np.testing.assert_array_equal(after[~small], before[~small])
    assert regularization.near_zero_fraction(pruned, 0) == pytest.approx(small.mean())
    x = np.zeros((2, 8, 8, 1), np.float32)
    assert pruned.predict(x, verbose=0).shape == (2, 3)


def test_prune_small_weights_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold must be a number > 0"):
        regularization.prune_small_weights(small_cnn(), 0)


def test_forward_passes_differ_only_in_training_mode(seeded):
    model = small_cnn(dropout=0.5)
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype(np.float32)
    train_mode = regularization.forward_passes(model, x, n=4, training=True)
    infer_mode = regularization.forward_passes(model, x, n=4, training=False)
    assert train_mode.shape == infer_mode.shape == (4, 6, 3)
    assert np.ptp(train_mode, axis=0).max() > 1e-4
    assert np.ptp(infer_mode, axis=0).max() == 0.0
    np.testing.assert_allclose(infer_mode[0], model.predict(x, verbose=0), atol=1e-6)


def test_forward_passes_explain_bad_input():
    model = small_cnn()
    x = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        regularization.forward_passes(model, x, n=0)
    with pytest.raises(TypeError, match="training must be True or False"):
        regularization.forward_passes(model, x, training="yes")
    with pytest.raises(ValueError, match="channel axis"):
        regularization.forward_passes(model, np.zeros((2, 8, 8)))


def test_real_mnist_shapes_fit_the_overfitting_cnn():
    ds = data.load("mnist5k", train_size=100)
    model = regularization.overfitting_cnn(ds.input_shape, ds.num_classes)
    assert model.output_shape == (None, 10)


# -- what a penalty and a weight decay act on -------------------------------------------------------


def _adamw(weight_decay, exclude=("bias",), learning_rate=1e-3):
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if exclude:
        optimizer.exclude_from_weight_decay(var_names=list(exclude))
    return optimizer


def _bn_cnn(**overrides):
    return models.simple_cnn((8, 8, 1), 3, filters=(4,), convs_per_block=1, dense_units=5, batch_norm=True, **overrides)


def test_penalized_variables_are_the_regularized_kernels():
    assert regularization.penalized_variables(small_cnn(l2=1e-3)) == [
        "block1_conv1/kernel", "head_dense/kernel", "predictions/kernel",
    ]  # fmt: skip
    assert regularization.penalized_variables(_bn_cnn(l1=1e-4)) == [
        "block1_conv1/kernel", "head_dense/kernel", "predictions/kernel",
    ]  # fmt: skip  # BatchNorm's gamma and beta are not penalized
    assert regularization.penalized_variables(small_cnn()) == []
    with pytest.raises(TypeError, match="Keras model"):
        regularization.penalized_variables(np.ones(3))


def test_decayed_variables_follow_keras_exclusions():
    model = small_cnn()
    everything = [v.path for v in model.trainable_variables]
    # Keras decays every trainable variable, biases included, unless told otherwise.
    assert regularization.decayed_variables(keras.optimizers.AdamW(1e-3, weight_decay=1.0), model) == everything
    kernels = [p for p in everything if p.endswith("kernel")]
    assert regularization.decayed_variables(_adamw(1.0), model) == kernels
    # With BatchNorm, excluding "bias" is not enough: gamma and beta are still decayed.
    bn = _bn_cnn(l2=1e-3)
    assert "block1_bn1/gamma" in regularization.decayed_variables(_adamw(1.0), bn)
    assert regularization.decayed_variables(_adamw(1.0, ("bias", "gamma", "beta")), bn) == (
        regularization.penalized_variables(bn)
    )
    assert regularization.decayed_variables(keras.optimizers.Adam(1e-3), model) == []  # no decay at all


def test_decayed_variables_leave_the_model_alone_and_wait_out_a_warmup():
    model = small_cnn()
    before = [np.asarray(v).copy() for v in model.trainable_variables]
    warmup = keras.optimizers.schedules.CosineDecay(0.0, 100, warmup_target=1e-3, warmup_steps=10)
    assert regularization.decayed_variables(_adamw(1.0, learning_rate=warmup), model)  # lr is 0 at step 0
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(np.asarray(v), b)


def test_decayed_variables_explain_bad_input():
    model = small_cnn()
    used = _adamw(1.0)
    regularization.decayed_variables(used, model)
    with pytest.raises(ValueError, match="fresh optimizer"):
        regularization.decayed_variables(used, model)
    with pytest.raises(ValueError, match="No variable moved in 3 steps"):
        regularization.decayed_variables(_adamw(1.0, ("kernel", "bias")), model, max_steps=3)
    with pytest.raises(TypeError, match="Keras optimizer"):
        regularization.decayed_variables("adamw", model)
    with pytest.raises(TypeError, match="Keras model"):
        regularization.decayed_variables(_adamw(1.0), "model")


def test_decay_shrink_is_the_product_of_the_per_step_factors():
    assert regularization.decay_shrink(3.0, 1e-3, 100) == pytest.approx((1 - 3e-3) ** 100)
    assert regularization.decay_shrink(0.0, 1e-3, 100) == 1.0
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, 400, alpha=0.01)
    rates = np.array([float(schedule(s)) for s in range(400)])
    assert regularization.decay_shrink(1.0, schedule, 400) == pytest.approx(np.prod(1 - rates))
    assert regularization.decay_shrink(1.0, schedule, 400) == pytest.approx(np.exp(-rates.sum()), rel=1e-3)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        regularization.decay_shrink(-1, 1e-3, 10)


def test_decay_shrink_matches_a_keras_adamw_run_on_an_unused_weight():
    variable = keras.Variable(np.ones(3, dtype="float32"))
    optimizer = keras.optimizers.AdamW(1e-2, weight_decay=2.0)
    for _ in range(20):
        optimizer.apply_gradients([(np.zeros(3, dtype="float32"), variable)])
    np.testing.assert_allclose(np.asarray(variable), regularization.decay_shrink(2.0, 1e-2, 20), rtol=1e-5)


# -- reading a comparison ---------------------------------------------------------------------------


def _with_history(run, val_losses):
    from helpers import runs

    history = {"loss": [0.1] * len(val_losses), "val_loss": list(val_losses)}
    return runs.Run(name=run.name, row=run.row, history=history, model=run.model)


def test_val_loss_trend_reads_the_lowest_and_last_epoch(make_run):
    rising = _with_history(make_run("rising", 1.0, 0.9), [1.0, 0.5, 0.4, 0.6, 0.7])
    falling = _with_history(make_run("falling", 1.0, 0.9), [1.0, 0.5, 0.4])
    trend = regularization.val_loss_trend({"rising": rising, "falling": falling})
    assert list(trend.index) == ["rising", "falling"]
    assert trend.loc["rising", "best_epoch"] == 3 and trend.loc["rising", "epochs"] == 5
    assert trend.loc["rising", "rise"] == pytest.approx(0.3)
    assert trend.loc["falling", "best_epoch"] == 3 and trend.loc["falling", "rise"] == 0.0
    assert not trend["penalty_in_loss"].any()
    with pytest.raises(ValueError, match="no val_loss"):
        regularization.val_loss_trend([make_run("empty", 1.0, 0.9)])
    with pytest.raises(TypeError, match="Runs from runs.train"):
        regularization.val_loss_trend([{"name": "row"}])


def test_val_loss_trend_flags_penalized_models(make_run):
    from helpers import runs

    run = make_run("plain", 1.0, 0.9)
    penalized = runs.Run(name="L2", row=run.row, history={"val_loss": [0.5]}, model=small_cnn(l2=1e-3))
    assert regularization.val_loss_trend([penalized]).loc["L2", "penalty_in_loss"]


def test_compare_with_baseline_pairs_each_run_with_the_baseline(tiny):
    from helpers import evaluation, runs

    spec = {"filters": (4,), "dense_units": 8, "batch_norm": False}
    base = runs.train("base", tiny, spec, epochs=1, batch_size=16, verbose=0)
    other = runs.train("other", tiny, spec, epochs=3, batch_size=16, seed=7, verbose=0)
    frame = regularization.compare_with_baseline({"base": base, "other": other}, base, tiny)
    assert list(frame.index) == ["base", "other"]
    assert frame.loc["base", "difference"] == 0 and frame.loc["base", "p_value"] == 1.0
    assert frame.loc["other", "accuracy"] == pytest.approx(other.val_accuracy)
    assert frame.loc["other", "difference"] == pytest.approx(other.val_accuracy - base.val_accuracy)
    n = len(tiny.y_val)
    assert frame.loc["other", "se"] == pytest.approx(np.sqrt(other.val_accuracy * (1 - other.val_accuracy) / n))
    assert frame.loc["other", "only_run"] - frame.loc["other", "only_baseline"] == round(
        frame.loc["other", "difference"] * n
    )
    assert frame.loc["other", "gap_change"] == pytest.approx(other.gap - base.gap)
    assert frame.loc["other", "val_loss_ratio"] == pytest.approx(other.val_loss / base.val_loss)
    on_test = regularization.compare_with_baseline([other], base, tiny, split="test")
    assert on_test.loc["other", "accuracy"] == pytest.approx(evaluation.evaluate(other.model, tiny, "test"))
    with pytest.raises(ValueError, match="split must be one of"):
        regularization.compare_with_baseline([other], base, tiny, split="holdout")
    with pytest.raises(TypeError, match="baseline must be a Run"):
        regularization.compare_with_baseline([other], base.model, tiny)


def test_largest_unit_norms_are_what_max_norm_caps():
    model = regularization.overfitting_cnn((8, 8, 1), 3, filters=(4,), dense_units=5)
    conv = model.get_layer("block1_conv1").kernel
    filters = np.zeros(conv.shape, dtype="float32")
    filters[..., 2] = 0.5  # one filter of 9 weights of 0.5: norm 1.5
    conv.assign(filters)
    dense = model.get_layer("head_dense").kernel
    column = np.zeros(dense.shape, dtype="float32")
    column[:4, 1] = 2.0  # one unit's incoming weights: norm 4
    dense.assign(column)
    norms = regularization.largest_unit_norms(model)
    assert norms["block1_conv1"] == pytest.approx(1.5) and norms["head_dense"] == pytest.approx(4.0)
    assert set(norms) == set(regularization.kernel_weights(model))
