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


# Exercise 3 (predict, then run): how much larger the whole Flatten model is than the GAP model


def _head_models(input_shape=(28, 28, 1), num_classes=10):
    """The four models of the notebook's head comparison (untrained: only their sizes matter)."""
    built = {}
    for blocks, filters in ((2, (16, 32)), (3, (16, 32, 64))):
        for head in ("flatten", "gap"):
            built[f"{head}, {blocks} blocks"] = models.simple_cnn(
                input_shape, num_classes, filters=filters, convs_per_block=1, head=head, batch_norm=False,
                dropout=0.0, dense_units=64,
            )  # fmt: skip
    return built


def predicted_by_counting(input_shape=(28, 28, 1), num_classes=10):
    """The notebook's solution: count both whole models by hand, before they are built."""
    image_h, image_w, image_c = input_shape
    softmax_layer = (64 + 1) * num_classes
    extractor = {2: (3 * 3 * image_c + 1) * 16 + (3 * 3 * 16 + 1) * 32}
    extractor[3] = extractor[2] + (3 * 3 * 32 + 1) * 64
    flattened = {2: (image_h // 4) * (image_w // 4) * 32, 3: (image_h // 8) * (image_w // 8) * 64}
    channels = {2: 32, 3: 64}
    return {
        f"{b} blocks": (extractor[b] + (flattened[b] + 1) * 64 + softmax_layer)
        / (extractor[b] + (channels[b] + 1) * 64 + softmax_layer)
        for b in (2, 3)
    }


def test_flatten_gap_ratio_passes_on_the_solution_and_states_the_counts():
    built = _head_models()
    counts = {name: model.count_params() for name, model in built.items()}
    assert counts == {"flatten, 2 blocks": 105_866, "gap, 2 blocks": 7_562, "flatten, 3 blocks": 60_874,
                      "gap, 3 blocks": 28_106}  # fmt: skip
    result = checks.flatten_gap_ratio(predicted_by_counting(), built)
    assert result, result.message
    assert "105,866 / 7,562 = 14.0x" in result.message and "60,874 / 28,106 = 2.2x" in result.message
    assert "H*W from 49 to 9" in result.message and "the ratio fell" in result.message
    # the measured ratios themselves, rounded, and anything within 10 % of them pass too
    assert checks.flatten_gap_ratio({"2 blocks": 14, "3 blocks": 2.2}, built)
    assert checks.flatten_gap_ratio({"2 blocks": 13.0, "3 blocks": 2.35}, built)


def test_flatten_gap_ratio_passes_on_a_colour_dataset():
    built = _head_models((32, 32, 3), 5)
    result = checks.flatten_gap_ratio(predicted_by_counting((32, 32, 3), 5), built)
    assert result, result.message
    assert "8x8x32 = 2,048" in result.message and "4x4x64 = 1,024" in result.message
    result = checks.flatten_gap_ratio(predicted_by_counting(), built)  # mnist5k's ratios on colour images
    _fails_with(result, "Count each whole model")
    assert "8x8x32 maps' 2,048 values" in result.message


def test_flatten_gap_ratio_hints():
    built = _head_models()
    good = predicted_by_counting()
    assert checks.flatten_gap_ratio({"2 blocks": ..., "3 blocks": ...}, built).status == "not started"
    _fails_with(checks.flatten_gap_ratio({"2 blocks": 14}, built), "Add your answer for 3 blocks")
    _fails_with(checks.flatten_gap_ratio({**good, "3 blocks": "2.2"}, built), "give a number")
    _fails_with(checks.flatten_gap_ratio({**good, "2 blocks": 1 / 14}, built), "a number above 1")
    # the Dense layers alone (exercise 2's counts), and the whole heads alone: the extractor is left out
    dense_only = ((7 * 7 * 32 + 1) * 64) / ((32 + 1) * 64)
    _fails_with(checks.flatten_gap_ratio({**good, "2 blocks": dense_only}, built), "Dense layers after Flatten")
    _fails_with(checks.flatten_gap_ratio({**good, "3 blocks": 8.9}, built), "same feature extractor (23,296")
    heads_only = (100_416 + 650) / (2_112 + 650)
    _fails_with(checks.flatten_gap_ratio({**good, "2 blocks": heads_only}, built), "the heads alone (101,066")
    # the third block's maps taken as 7x7, as if it did not pool
    unpooled = (23_296 + (7 * 7 * 64 + 1) * 64 + 650) / 28_106
    _fails_with(checks.flatten_gap_ratio({**good, "3 blocks": unpooled}, built), "so Flatten reads 3x3x64")
    # a deeper network taken to need a larger ratio, and a guess too low: the general hint, with the maps
    for wrong in (30, 1.5):
        result = checks.flatten_gap_ratio({**good, "3 blocks": wrong}, built)
        _fails_with(result, "Count each whole model")
        assert "3x3x64 maps' 576 values" in result.message and result.status == "not yet"
    # just outside the tolerance fails, just inside passes
    assert not checks.flatten_gap_ratio({**good, "2 blocks": 14.0 * 1.12}, built)
    assert checks.flatten_gap_ratio({**good, "2 blocks": 14.0 * 1.08}, built)


def test_flatten_gap_ratio_is_a_predict_exercise_checked_after_the_training():
    import json
    from pathlib import Path

    from helpers import coursework

    path = Path(__file__).resolve().parent.parent / "notebooks" / "03_architecture.ipynb"
    ex = next(e for e in coursework.exercises(path) if e.name == "flatten_gap_ratio")
    assert ex.kind == "predict"
    cells = json.loads(path.read_text())["cells"]
    between = "".join("".join(c["source"]) for c in cells[ex.cell + 1 : ex.check] if c["cell_type"] == "code")
    assert "train(name, cnn(filters, head=head" in between  # the models are built after the prediction
    assert "count_params" not in between and "compare_models" not in between
