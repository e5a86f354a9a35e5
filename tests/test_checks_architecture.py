"""The self-checks of 03_architecture pass on correct answers and give the right hint otherwise."""

import keras
import numpy as np
from keras import layers

from helpers import checks, models
from helpers.checks import architecture


def _fails_with(result, text):
    assert not result, result.message
    assert text in result.message, result.message


# Exercise 1: receptive field growth


def rf_correct(specs):
    return architecture._reference_receptive_fields(specs)  # the check's own reference, as a learner's answer


def test_receptive_field_growth_passes_on_the_solution():
    assert checks.receptive_field_growth(rf_correct)
    assert checks.receptive_field_growth(lambda specs: np.array(rf_correct(specs)))


def test_receptive_field_growth_hints():
    def stub(specs):
        raise NotImplementedError

    def no_jump(specs):
        rf, out = 1, []
        for k, _ in specs:
            rf += k - 1
            out.append(rf)
        return out

    jump_first = architecture._growth_jump_updated_first  # the check's own model of that mistake

    _fails_with(checks.receptive_field_growth(stub), "Not started")
    _fails_with(checks.receptive_field_growth(no_jump), "(kernel - 1) * jump")
    _fails_with(checks.receptive_field_growth(jump_first), "grow with the old jump")
    _fails_with(checks.receptive_field_growth(lambda s: [v - 1 for v in rf_correct(s)]), "one short")
    _fails_with(checks.receptive_field_growth(lambda s: rf_correct(s)[-1]), "one receptive field per layer")
    _fails_with(checks.receptive_field_growth(lambda s: rf_correct(s)[:-1]), "return")
    _fails_with(checks.receptive_field_growth(lambda s: None), "Did you forget `return`")
    _fails_with(checks.receptive_field_growth(lambda s: [2 * v for v in rf_correct(s)]), "should be")
    _fails_with(checks.receptive_field_growth(rf_correct(((3, 1),))), "no parentheses")


# Exercise 2: head parameters


def test_head_parameters_pass_and_hints():
    assert checks.head_parameters({"flatten": (7 * 7 * 32 + 1) * 64, "gap": (32 + 1) * 64})
    _fails_with(checks.head_parameters({"flatten": ..., "gap": ...}), "replace the `...`")
    _fails_with(checks.head_parameters({"flatten": 1}), "Add your answer for gap")
    _fails_with(checks.head_parameters([1, 2]), "Pass a dict")
    _fails_with(checks.head_parameters({"flatten": 7 * 7 * 32 * 64, "gap": 2112}), "not the 64 biases")
    _fails_with(checks.head_parameters({"flatten": (7 * 7 + 1) * 64, "gap": 2112}), "1,568 inputs")
    _fails_with(checks.head_parameters({"flatten": 100_416, "gap": 100_416}), "one number per channel")
    _fails_with(checks.head_parameters({"flatten": 100_416, "gap": 2000}), "u * (n + 1)")


def test_head_parameters_agree_with_simple_cnn():
    for head, key in (("flatten", "flatten"), ("gap", "gap")):
        model = models.simple_cnn(filters=(16, 32), convs_per_block=1, head=head, dense_units=64)
        from helpers.checks.architecture import HEAD_EXPECTED

        assert model.get_layer("head_dense").count_params() == HEAD_EXPECTED[key]


# Exercise 3: conv FLOPs


def test_conv_layer_flops_pass_and_hints():
    def correct(h, w, k, c_in, c_out):
        return 2 * h * w * k * k * c_in * c_out + h * w * c_out

    assert checks.conv_layer_flops(correct)
    assert checks.conv_layer_flops(lambda *a: float(correct(*a)))
    _fails_with(checks.conv_layer_flops(lambda h, w, k, ci, co: ...), "returned nothing")
    _fails_with(checks.conv_layer_flops(lambda h, w, k, ci, co: None), "returned nothing")
    _fails_with(checks.conv_layer_flops(lambda h, w, k, ci, co: h * w * k * k * ci * co), "1 multiply-add = 2 FLOPs")
    _fails_with(checks.conv_layer_flops(lambda h, w, k, ci, co: 2 * h * w * k * k * ci * co), "Add the bias")
    _fails_with(
        checks.conv_layer_flops(lambda h, w, k, ci, co: 2 * h * w * k * k * co + h * w * co), "every* input channel"
    )
    _fails_with(
        checks.conv_layer_flops(lambda h, w, k, ci, co: 2 * h * w * k * ci * co + h * w * co), "every* input channel"
    )
    _fails_with(checks.conv_layer_flops(lambda h, w, k, ci, co: 3), "2 * h_out * w_out")


# Exercise 4: residual block


def block_correct(x, filters):
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(x)
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def test_residual_block_passes_on_the_solution_and_the_helper():
    assert checks.residual_block_shapes(block_correct)
    assert checks.residual_block_shapes(lambda x, f: models.residual_block(x, f, name="r"))


def test_residual_block_hints():
    def stub(x, filters): ...

    def plain(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        return layers.Conv2D(filters, 3, padding="same")(y)

    def adds_wrong_thing(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        z = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([z, y])

    def no_projection(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, x])

    def one_conv(x, filters):
        return layers.Add()([layers.Conv2D(filters, 3, padding="same")(x), x])

    def valid_padding(x, filters):
        y = layers.Conv2D(filters, 3)(x)
        return layers.Conv2D(filters, 3)(y)

    def scaled_shortcut(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, layers.Rescaling(2.0)(x)])

    def no_batchnorm(x, filters):
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        shortcut = x if x.shape[-1] == filters else layers.Conv2D(filters, 1)(x)
        return layers.Activation("relu")(layers.Add()([y, shortcut]))

    _fails_with(checks.residual_block_shapes(no_batchnorm), "found 0 BatchNormalization")
    _fails_with(checks.residual_block_shapes(stub), "Did you forget `return`")
    _fails_with(checks.residual_block_shapes(plain), "no Add layer")
    _fails_with(checks.residual_block_shapes(adds_wrong_thing), "outputs zeros")
    _fails_with(checks.residual_block_shapes(no_projection), "Project the shortcut")
    _fails_with(checks.residual_block_shapes(one_conv), "two 3x3 convolutions")
    _fails_with(checks.residual_block_shapes(valid_padding), "padding='same'")
    _fails_with(checks.residual_block_shapes(scaled_shortcut), "unchanged when the shape does not change")
    _fails_with(checks.residual_block_shapes(block_correct(keras.Input((8, 8, 4)), 4)), "no parentheses")


# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def receptive_field_stub(layers):
    # YOUR CODE HERE: one receptive field per layer, using the two update rules above.
    raise NotImplementedError


def conv_flops_stub(h_out, w_out, kernel, c_in, c_out):
    # YOUR CODE HERE: forward FLOPs for one image, bias included.
    ...


def residual_block_stub(x, filters):
    # YOUR CODE HERE: y = F(x); shortcut = x (or a 1x1 projection); return relu(y + shortcut).
    ...


def _fresh_kernel():
    from helpers.checks import _core

    _core.reset()
    return _core


def test_the_references_pass_and_replace_the_untouched_stubs():
    core = _fresh_kernel()
    try:
        for name, stub_answer in (
            ("receptive_field_growth", receptive_field_stub),
            ("conv_layer_flops", conv_flops_stub),
        ):
            check = getattr(checks, name)
            reference = core.answer(name, stub_answer)  # not checked yet: the reference
            assert reference is not stub_answer and check(reference), name
            core.reset()
            assert check(stub_answer).status == "not started", name
            assert core.answer(name, stub_answer) is reference, name
    finally:
        core.reset()


def test_the_references_agree_with_model_stats_on_a_colour_model():
    from helpers import model_stats

    core = _fresh_kernel()
    try:
        model = models.simple_cnn((32, 32, 3), 5, filters=(16, 32), convs_per_block=1, batch_norm=False, dense_units=64)
        rf = model_stats.receptive_fields(model)
        sizes = core.answer("receptive_field_growth", receptive_field_stub)
        assert list(rf["receptive_field"]) == sizes(list(zip(rf["kernel"], rf["stride"])))
        first = model_stats.layer_table(model).set_index("layer").loc["block1_conv1", "flops"]
        assert core.answer("conv_layer_flops", conv_flops_stub)(32, 32, 3, 3, 16) == first
    finally:
        core.reset()


def test_the_other_untouched_stubs_are_not_started():
    head_stub = {"flatten": ..., "gap": ...}
    assert checks.head_parameters(head_stub).status == "not started"
    assert checks.residual_block_shapes(residual_block_stub).status == "not started"
