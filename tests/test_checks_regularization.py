"""The self-checks of 05_regularization pass on correct answers and explain typical mistakes."""

import keras
import numpy as np
import pytest

from helpers import checks, experiments, regularization
from helpers.checks import _core
from helpers.checks import regularization as regularization_checks


def stub(*args):
    raise NotImplementedError


def ellipsis(*args): ...


# -- penalty_terms_prediction -----------------------------------------------------------------------


def penalty_model():
    """05's model: L2 on two conv kernels (the first conv without bias) and the hidden dense kernel, BatchNorm
    after each conv, an output layer without regularizer."""
    l2 = keras.regularizers.L2(1e-3)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, padding="same", use_bias=False, kernel_regularizer=l2, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", kernel_regularizer=l2, name="conv2"),
            keras.layers.BatchNormalization(name="bn2"),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=l2, name="dense"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="penalties",
    )


@pytest.fixture(scope="module")
def penalties():
    return penalty_model()


def test_keras_keeps_one_term_per_regularized_trainable_tensor(penalties):
    """What the check teaches is Keras 3's rule (``Layer._get_regularization_losses``): kernels with a
    regularizer only; biases and BatchNorm only with their own regularizer; a frozen layer drops out."""
    assert len(penalties.losses) == 3
    assert regularization.penalized_variables(penalties) == [
        "penalties/conv1/kernel",
        "penalties/conv2/kernel",
        "penalties/dense/kernel",
    ]
    assert (len(penalties.trainable_weights), len(penalties.weights)) == (11, 15)
    l2 = keras.regularizers.L2(1e-3)
    with_bias = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_regularizer=l2, bias_regularizer=l2)])
    assert len(with_bias.losses) == 2
    frozen = penalty_model()
    frozen.get_layer("conv2").trainable = False
    assert len(frozen.losses) == 2


def test_penalty_terms_prediction_passes_and_explains(penalties):
    result = checks.penalty_terms_prediction(3, penalties)
    assert result and "one per trainable weight tensor that has a regularizer" in result.message
    assert "penalties/dense/kernel" in result.message
    assert checks.penalty_terms_prediction(np.int64(3), penalties)
    assert checks.penalty_terms_prediction(3.0, penalties)


@pytest.mark.parametrize(
    ("predicted", "hint"),
    [
        (15, "every weight tensor"),
        (11, "every trainable tensor"),
        (7, "BatchNorm's gamma and beta"),
        (5, "regularized layers' biases"),
        (6, "layers that have weights"),
        (4, "every kernel"),
        (1, "fit adds them up"),
        (0, "as soon as the model is built"),
        (2, "Count the tensors that have a regularizer"),
        (3.5, "whole number"),
        ("3", "whole number"),
    ],
)
def test_penalty_terms_prediction_fails_with_a_hint(penalties, predicted, hint):
    result = checks.penalty_terms_prediction(predicted, penalties)
    assert not result and result.status == "not yet" and hint in result.message, result.message
    if isinstance(predicted, int):
        assert "model.losses holds 3 terms" in result.message


def test_the_untouched_prediction_is_not_started(penalties):
    predicted_penalties = ...  # the notebook's stub
    assert checks.penalty_terms_prediction(predicted_penalties, penalties).status == "not started"


def test_penalty_terms_prediction_reads_the_model_it_is_given():
    l2 = keras.regularizers.L2(1e-3)
    dense = keras.layers.Dense(4, use_bias=False, kernel_regularizer=l2)
    model = keras.Sequential([keras.Input((8,)), dense, keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    result = checks.penalty_terms_prediction(1, model)
    assert result and result.message.startswith("Right: 1 term, one per")
    assert "every kernel" in checks.penalty_terms_prediction(2, model).message


# -- near_zero_weight_fraction ----------------------------------------------------------------------


def good_fraction(w, threshold):
    return np.mean(np.abs(w) < threshold)


def test_near_zero_weight_fraction_passes():
    assert checks.near_zero_weight_fraction(good_fraction)
    assert checks.near_zero_weight_fraction(lambda w, t: float(np.count_nonzero(np.abs(w) < t) / w.size))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (ellipsis, "forget to `return`"),
        (lambda w, t: np.sum(np.abs(w) < t), "a count"),
        (lambda w, t: 100 * np.mean(np.abs(w) < t), "not a percentage"),
        (lambda w, t: np.mean(w < t), "absolute value"),
        (lambda w, t: np.mean(w == 0), "Exact zeros are rare"),
        (lambda w, t: np.mean(np.abs(w) > t), "counted the large weights"),
        (lambda w, t: np.abs(w) < t, "sum everything into one number"),
        (lambda w, t: np.mean(np.abs(w) < t / 2), "expected"),
    ],
)
def test_near_zero_weight_fraction_fails_with_a_hint(answer, hint):
    result = checks.near_zero_weight_fraction(answer)
    assert not result and hint in result.message


# -- dropout_fix ------------------------------------------------------------------------------------


def buggy_dropout(x, rate, training, rng):
    """The notebook's buggy version: drops in training, but does not rescale."""
    if not training:
        return x
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x, 0.0)


def good_dropout(x, rate, training, rng):
    if not training:
        return x
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0)


def scaled_at_inference(x, rate, training, rng):
    """The original (non-inverted) convention: unscaled in training, x * (1 - rate) at inference."""
    if not training:
        return x * (1 - rate)
    return np.where(rng.random(x.shape) >= rate, x, 0.0)


def drops_one_minus_rate(x, rate, training, rng):
    if not training:
        return x
    return np.where(rng.random(x.shape) < rate, x / (1 - rate), 0.0)


def test_dropout_fix_passes():
    assert checks.dropout_fix(good_dropout)
    # multiplying by a 0/1 mask, or drawing it with binomial, is the same thing
    assert checks.dropout_fix(lambda x, r, t, rng: x * (rng.random(x.shape) > r) / (1 - r) if t else x)
    assert checks.dropout_fix(lambda x, r, t, rng: x * rng.binomial(1, 1 - r, x.shape) / (1 - r) if t else x)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (ellipsis, "forget to `return`"),
        ("dropout", "Pass your function"),
        (lambda x, r, t, rng: None, "forget to `return`"),
        (buggy_dropout, "expected value equal the input's"),
        (scaled_at_inference, "valid: training and inference then agree on average"),
        (lambda x, r, t, rng: good_dropout(x, r, t, rng) if t else x * (1 - r), "not what Keras does"),
        (drops_one_minus_rate, "drop with probability 1 - rate"),
        (lambda x, r, t, rng: np.where(rng.random(x.shape) >= r, x * (1 - r), 0.0) if t else x, "shrinking"),
        (lambda x, r, t, rng: good_dropout(x, r, True, rng), "Dropout is off at inference"),
        (lambda x, r, t, rng: x / (1 - r) if t else x, "should be zero"),
        (lambda x, r, t, rng: good_dropout(x, r, t, rng)[:10], "keep the input's shape"),
        (lambda x, r, t, rng: np.where(rng.random(x.shape) >= r, x / (1 - r) ** 2, 0.0) if t else x, "should match"),
        (lambda x, r, t, rng: good_dropout(x, max(r, 0.2), t, rng), "rate=0.0"),
        (lambda x, r, t, rng: good_dropout(x, r, t, np.random.default_rng()), "rng.random"),
        (lambda x, r, t, rng: good_dropout(x, r, t, np.random.default_rng(0)), "new random mask"),
    ],
)
def test_dropout_fix_fails_with_a_hint(answer, hint):
    result = checks.dropout_fix(answer)
    assert not result and hint in result.message, result.message
    assert result.status == ("not started" if answer in (stub, ellipsis) else "not yet")


def test_kept_entries_scaled_by_the_wrong_but_mean_preserving_factor_are_caught():
    def noisy_scale(x, r, t, rng):  # right mean on average, but each kept entry scaled at random
        if not t:
            return x
        keep = rng.random(x.shape) >= r
        return np.where(keep, x * rng.uniform(0, 2, x.shape) / (1 - r), 0.0)

    result = checks.dropout_fix(noisy_scale)
    assert not result and "by the same number" in result.message, result.message


def test_keras_dropout_is_inverted_dropout():
    """What the check teaches is what Keras does: zeros, survivors scaled by 1/(1 - rate), identity at inference."""
    x = np.ones((100, 100), np.float32)
    out = np.asarray(keras.layers.Dropout(0.25, seed=1)(x, training=True))
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(np.mean(out == 0) - 0.25) < 0.03
    np.testing.assert_array_equal(np.asarray(keras.layers.Dropout(0.25)(x, training=False)), x)


# -- dropout_design ---------------------------------------------------------------------------------

MODEL = {**regularization.OVERFITTING_CNN, "filters": (8,), "dense_units": 32}  # 05's DESIGN_MODEL in smoke
EPOCHS, SEEDS = 2, (42, 43, 44)
BUDGET = {"model": MODEL, "epochs": EPOCHS, "learning_rate": 1e-3, "batch_size": 32}
DROPOUT = {**BUDGET, "model": {**MODEL, "dropout": 0.5}}
SCHEDULE = keras.optimizers.schedules.CosineDecay(1e-3, 100)  # like 05's LR: one schedule, sized for other runs


def design(arms=None, seeds=SEEDS, metric="val_accuracy"):
    arms = {"baseline": BUDGET, "dropout": DROPOUT} if arms is None else arms
    return experiments.Design(arms=arms, seeds=seeds, metric=metric)


def test_dropout_design_passes_on_a_fair_design():
    result = checks.dropout_design(design(), MODEL, EPOCHS, SEEDS)
    assert result and "only in its dropout (0.5)" in result.message and "3 seeds" in result.message
    plain = {"model": MODEL, "epochs": EPOCHS}
    other = design({"none": plain, "0.3": {**plain, "model": {**MODEL, "dropout": 0.3}}}, seeds=(1, 2, 3))
    assert checks.dropout_design(other, MODEL, EPOCHS, SEEDS)  # any rate, any three seeds, default lr and batch
    assert checks.dropout_design(design(metric="val_loss"), MODEL, EPOCHS, SEEDS)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (design({"baseline": BUDGET, "dropout": {**DROPOUT, "epochs": 4}}), "budget (epochs)"),
        (
            design({"baseline": BUDGET, "both": {**DROPOUT, "model": {**MODEL, "dropout": 0.5, "l2": 1e-3}}}),
            "also changes",
        ),  # fmt: skip
        (design({"baseline": BUDGET, "dropout": {**DROPOUT, "batch_size": 64}}), "also changes batch_size"),
        (design({"baseline": {**BUDGET, "seed": 1}, "dropout": DROPOUT}), "own seed"),
        (design(seeds=(42,)), "1 seed(s): use at least 3"),
        (design(metric="test_accuracy"), "test split is touched once"),
        (design(metric="gap"), "a smaller gap is not a better model"),
        (design({"baseline": BUDGET, "dropout": BUDGET}), "is the same as 'baseline'"),
        (
            design({"baseline": BUDGET, "l2": {**BUDGET, "model": {**MODEL, "l2": 1e-3}}}),
            "does not change model.dropout",
        ),  # fmt: skip
        (design({"dropout": DROPOUT, "baseline": BUDGET}), "put the arm without dropout first"),
        (design({"baseline": BUDGET, "dropout": {**DROPOUT, "model": {**MODEL, "dropout": 1.5}}}), "between 0 and 1"),
        (design({"baseline": BUDGET, "dropout": {**DROPOUT, "model": {**MODEL, "dropout": "0.5"}}}), "between 0 and 1"),
        (
            design({"a": BUDGET, "b": DROPOUT, "c": {**BUDGET, "model": {**MODEL, "dropout": 0.3}}}),
            "Two answer the question",
        ),
        (
            design(
                {
                    "baseline": {**BUDGET, "model": regularization.OVERFITTING_CNN},
                    "dropout": {**BUDGET, "model": {**regularization.OVERFITTING_CNN, "dropout": 0.5}},
                }
            ),
            "trains another model",
        ),
        (
            design({"baseline": {"epochs": EPOCHS}, "dropout": {"epochs": EPOCHS, "model": {"dropout": 0.5}}}),
            "has no model",
        ),  # fmt: skip
        (design({"baseline": {**BUDGET, "epochs": 5}, "dropout": {**DROPOUT, "epochs": 5}}), "DESIGN_EPOCHS = 2"),
        (
            design(
                {"baseline": {**BUDGET, "learning_rate": SCHEDULE}, "dropout": {**DROPOUT, "learning_rate": SCHEDULE}}
            ),
            "Give the peak rate as a number",
        ),
        (design(seeds=(1, 2, 3, 4)), "budget is 3 seeds"),
        (design({"baseline": BUDGET, "dropout": {**DROPOUT, "patience": 3}}), "budget (patience)"),
        ("design", "experiments.Design"),
    ],
)
def test_dropout_design_fails_with_a_hint(answer, hint):
    result = checks.dropout_design(answer, MODEL, EPOCHS, SEEDS)
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_a_shared_optimizer_instance_is_refused():
    adam = keras.optimizers.Adam(1e-3)
    arms = {"baseline": {**BUDGET, "optimizer": adam}, "dropout": {**DROPOUT, "optimizer": adam}}
    result = checks.dropout_design(design(arms), MODEL, EPOCHS, SEEDS)
    assert not result and "optimizer by name" in result.message


def test_the_design_reference_is_fair_and_uses_the_notebooks_budget():
    reference = regularization_checks._dropout_design_reference(MODEL, EPOCHS, SEEDS, 1e-3, 32)
    assert reference == design({"baseline": BUDGET, "dropout 0.5": DROPOUT})
    assert experiments.problems(reference, change="model.dropout") == []
    bare = regularization_checks._dropout_design_reference(MODEL, 1, (1, 2, 3))
    assert set(bare.arms["baseline"]) == {"model", "epochs"}
    with pytest.raises(ValueError, match="rate"):
        regularization_checks._dropout_design_reference(MODEL, 1, SEEDS, rate=1.0)


@pytest.mark.slow
def test_compare_runs_the_reference_design_on_a_tiny_dataset(fresh_kernel):
    from helpers.data import Dataset

    rng = np.random.default_rng(0)

    def split(n):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.2, (n, 8, 8, 1)).astype(np.float32)
        x[y == 0, :, :4] += 0.8
        return x, y.astype(np.int32)

    tiny = Dataset("tiny", *split(20), *split(10), *split(10), ("left", "right"), "two easy classes")
    model = {**MODEL, "filters": (4,), "dense_units": 8}
    reference = fresh_kernel.answer("dropout_design", ..., model, 1, SEEDS, 1e-3, 8)
    comparison = experiments.compare(reference, tiny, change="model.dropout")
    assert list(comparison.paired.columns) == ["dropout 0.5"] and len(comparison.paired) == 3
    assert comparison.verdict("dropout 0.5").startswith("dropout 0.5 vs baseline:")


# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def fraction_stub(w, threshold):
    # YOUR CODE HERE
    raise NotImplementedError


def dropout_stub(x, rate, training, rng):
    # YOUR CODE HERE: the dropout above without its bug (same arguments).
    raise NotImplementedError


@pytest.mark.parametrize(
    ("name", "stub_answer"), [("near_zero_weight_fraction", fraction_stub), ("dropout_fix", dropout_stub)]
)
def test_the_reference_passes_and_replaces_the_untouched_stub(assert_reference_replaces_stub, name, stub_answer):
    assert_reference_replaces_stub(name, stub_answer)


def test_the_design_reference_replaces_the_untouched_stub(fresh_kernel):
    context = (MODEL, EPOCHS, SEEDS, 1e-3, 32)  # what 05 passes to checks.answer
    design_stub = ...
    assert checks.dropout_design(design_stub, MODEL, EPOCHS, SEEDS).status == "not started"
    reference = _core.answer("dropout_design", design_stub, *context)
    assert reference == design({"baseline": BUDGET, "dropout 0.5": DROPOUT})
    assert checks.dropout_design(reference, MODEL, EPOCHS, SEEDS)  # the reference passes its check
    mine = design(seeds=(7, 8, 9))
    assert checks.dropout_design(mine, MODEL, EPOCHS, SEEDS)
    assert _core.answer("dropout_design", mine, *context) is mine  # a passing answer is the learner's own


def test_the_references_agree_with_keras(fresh_kernel):
    fraction = fresh_kernel.answer("near_zero_weight_fraction", fraction_stub)
    assert fraction(np.array([1e-4, -1e-4, 0.5, -0.5]), 1e-3) == 0.5
    ones = np.ones((1, 10_000), dtype="float32")
    dropout = fresh_kernel.answer("dropout_fix", dropout_stub)
    out = dropout(ones, 0.3, True, np.random.default_rng(0))
    keras_out = np.asarray(keras.layers.Dropout(0.3, seed=0)(ones, training=True))
    for y in (out, keras_out):
        assert abs(np.mean(y == 0) - 0.3) < 0.02 and np.allclose(np.unique(y[y > 0]), 1 / 0.7)
    np.testing.assert_array_equal(dropout(ones, 0.3, False, None), ones)


def test_the_penalty_is_the_formula_over_the_kernels():
    """05 checks this in a cell: the sum of model.losses is l1 * sum|w| + l2 * sum(w**2) over the kernels."""
    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L1L2(l1=1e-4, l2=1e-3)
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3, kernel_regularizer=reg), keras.layers.Flatten()]
        + [keras.layers.Dense(5, kernel_regularizer=reg)]
    )
    by_hand = sum(regularization.l1_l2_penalty(w, 1e-4, 1e-3) for w in regularization.kernel_weights(model).values())
    np.testing.assert_allclose(by_hand, float(sum(model.losses)), rtol=1e-4)
