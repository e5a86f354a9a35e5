"""The field guide of broken runs: every fault shows its symptom (measured) and its fix trains.

The fast tests build setups and look at them without training; the ``slow`` ones train the healthy
run, every broken run and the fixes that differ from the healthy run, once, on 1,000 ``mnist5k``
images (three epochs each, a few seconds per run on two cores).
"""

import dataclasses
import math

import keras
import numpy as np
import pytest

from helpers import data, diagnostics
from helpers.diagnostics import faults
from helpers.diagnostics.leakage import duplicates

LN10 = math.log(10)
SEED = 42


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist5k")


@pytest.fixture(scope="module")
def base(mnist):
    return faults.healthy(mnist)


# ---------------------------------------------------------------- the setup and its data


def test_healthy_holds_8_bit_pixels_and_a_holdout_apart_from_train_and_val(mnist, base):
    raw = base.data
    assert raw.x_train.dtype == np.uint8 and raw.x_train.max() == 255 and raw.x_train.min() == 0
    assert (len(raw.x_train), len(raw.x_val), len(raw.x_test)) == (1000, len(mnist.x_val), len(mnist.x_val))
    assert np.bincount(raw.y_train).tolist() == [100] * 10  # stratified
    assert duplicates(raw.x_train, raw.x_test) == 0, "the holdout must be images no run trains on"
    assert duplicates(raw.x_train, raw.x_val) == 0
    assert duplicates(faults._pixels(mnist.x_test), raw.x_test) == 0, "the real test split stays out"
    x = base.prepared().x_train
    assert x.dtype == np.float32 and 0.0 == x.min() and x.max() == 1.0


def test_healthy_explains_bad_input(mnist):
    with pytest.raises(ValueError, match="scale=True"):
        faults.healthy(dataclasses.replace(mnist, x_train=mnist.x_train * 255))
    with pytest.raises(TypeError, match="helpers.data.Dataset"):
        faults.healthy(mnist.x_train)
    with pytest.raises(ValueError, match="train_size"):
        faults.healthy(mnist, train_size=0)


def test_setup_validates_its_fields(base):
    with pytest.raises(ValueError, match="output_activation"):
        dataclasses.replace(base, output_activation="tanh")
    with pytest.raises(ValueError, match="learning_rate"):
        dataclasses.replace(base, learning_rate=-1.0)
    with pytest.raises(TypeError, match="prepare step"):
        dataclasses.replace(base, prepare=(faults.scale_pixels, 3))
    with pytest.raises(TypeError, match="Dataset"):
        faults.TrainingSetup(data=np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="Unknown fault 'nan_loss'"):
        faults.make("nan_loss", base)


def test_differences_name_the_changed_fields(base):
    broken = faults.make("batchnorm_statistics", base)
    assert set(broken.differences(base)) == {"batch_norm", "bn_momentum"}
    assert set(faults.fix("batchnorm_statistics", broken).differences(broken)) == {"bn_momentum"}
    assert not base.differences(dataclasses.replace(base))


def test_small_cnn_takes_grey_and_colour_images_of_other_sizes():
    for shape in ((8, 8, 1), (32, 32, 3)):
        model = faults.small_cnn(shape, 4, batch_norm=True)
        assert model(np.zeros((2, *shape), np.float32)).shape == (2, 4)
    logits = faults.small_cnn((8, 8, 3), 4, output_activation=None)
    assert logits.get_layer("predictions").get_config()["activation"] == "linear"


def _colour(n_train=100, n_val=20, n_test=20, shape=(12, 16, 3), classes=5):
    """A 5-class colour dataset of non-square images, as data.load("folder:...") returns one."""
    rng = np.random.default_rng(0)

    def split(n):
        return rng.uniform(0, 1, size=(n, *shape)).astype(np.float32), (np.arange(n) % classes).astype(np.int32)

    names = tuple(f"c{k}" for k in range(classes))
    return data.Dataset("folder:/tmp/shapes", *split(n_train), *split(n_val), *split(n_test), names, "colour")


def test_healthy_takes_a_small_colour_dataset_and_keeps_a_holdout():
    colour = _colour()
    setup = faults.healthy(colour, train_size=len(colour.y_train) - len(colour.y_val))
    raw = setup.data
    assert (len(raw.x_train), len(raw.x_val), len(raw.x_test)) == (80, 20, 20)
    assert raw.input_shape == (12, 16, 3) and raw.num_classes == 5
    assert np.bincount(raw.y_train).tolist() == [16] * 5
    x, _ = next(iter(setup.training_pipeline()))
    assert x.shape == (32, 12, 16, 3)
    with pytest.raises(ValueError, match=r"train_size=1000 leaves no training image .* has 100 images.* e\.g\. 80"):
        faults.healthy(colour)  # the default 1,000 training images: more than this dataset has
    with pytest.raises(ValueError, match="train_size=100 leaves no training image"):
        faults.healthy(colour, train_size=100)


def test_applicable_faults_leave_out_label_changing_augmentation_off_the_digits(mnist, base):
    assert faults.applicable(mnist) == faults.applicable(base) == faults.FAULTS
    colour = faults.applicable(_colour())
    assert "label_changing_augmentation" not in colour and len(colour) == len(faults.FAULTS) - 1
    assert colour == tuple(name for name in faults.FAULTS if name in colour)  # in the field guide's order
    with pytest.raises(TypeError, match="Dataset or a TrainingSetup"):
        faults.applicable("mnist5k")


def test_the_pipeline_delivers_what_the_model_sees(base):
    x, y = next(iter(base.training_pipeline()))
    assert x.shape == (32, 28, 28, 1) and float(np.max(x)) <= 1.0
    x, _ = next(iter(faults.make("unnormalized_inputs", base).training_pipeline()))
    assert float(np.max(x)) > 100


# ---------------------------------------------------------------- the field guide


def test_field_guide_has_a_symptom_diagnostic_and_fix_for_at_least_eight_faults():
    guide = faults.field_guide()
    assert len(guide) >= 8 and list(guide.index) == list(faults.FAULTS)
    assert list(guide.columns) == ["mistake", "symptom", "diagnostic", "fix"]
    assert guide.map(lambda text: isinstance(text, str) and len(text) > 20).all().all()
    assert guide["diagnostic"].str.contains("diagnostics.").sum() >= 7


@pytest.mark.parametrize("name", faults.FAULTS)
def test_each_fault_changes_the_healthy_setup_and_its_fix_changes_it_back_only_where_broken(base, name):
    broken = faults.make(name, base)
    changed = broken.differences(base)
    assert changed and set(changed) <= faults._fault(name).fields, changed
    repaired = faults.fix(name, broken)
    assert set(repaired.differences(broken)) <= faults._fault(name).fields
    assert repaired.data is base.data


@pytest.mark.parametrize("name", faults.FAULTS)
def test_code_shows_the_faulty_and_the_fixed_functions(name):
    pair = faults.code(name)
    assert f"def {name}(" in pair.faulty and f"def fix_{name}(" in pair.fixed
    assert pair.faulty != pair.fixed and "<pre>" in pair._repr_html_() and "faulty" in str(pair)


def test_step_docstrings_do_not_give_the_faults_away():
    steps = (
        faults.to_float32,
        faults.shuffle_images_and_labels,
        faults.use_all_labelled_images,
        faults.standard_augmentation,
        faults.unfreeze_base,
    )
    for step in steps:
        text = f"{step.__name__} {step.__doc__}".lower()
        assert not any(word in text for word in ("wrong", "bug", "fault", "leak", "mismatch", "recompile"))
        assert not any(name in text for name in faults.FAULTS)


@pytest.mark.slow
def test_the_answer_key_finds_each_fault_only_where_it_is(base):
    assert faults._findings(base) == {}
    for name in faults.FAULTS:
        broken = faults.make(name, base)
        assert set(faults._findings(broken)) == {name}, name
        assert faults._findings(faults.fix(name, broken)) == {}, name


def test_the_answer_key_accepts_other_correct_fixes(base):
    def rescale(data):
        return faults._map_images(data, lambda x: (x / 255.0).astype("float32"))

    assert "unnormalized_inputs" not in faults._findings(
        dataclasses.replace(faults.make("unnormalized_inputs", base), prepare=(rescale,)), ("unnormalized_inputs",)
    )
    frozen = faults.make("frozen_base", base)
    assert not faults._findings(dataclasses.replace(frozen, frozen_epochs=0), ("frozen_base",))
    assert faults._findings(dataclasses.replace(frozen, frozen_epochs=3), ("frozen_base",))
    bn = faults.make("batchnorm_statistics", base)
    assert not faults._findings(dataclasses.replace(bn, batch_norm=False), ("batchnorm_statistics",))
    assert faults._findings(dataclasses.replace(bn, bn_momentum=0.9, batch_size=2), ("batchnorm_statistics",))
    logits = faults.make("from_logits_mismatch", base)
    assert not faults._findings(dataclasses.replace(logits, from_logits=True), ("from_logits_mismatch",))
    assert faults._findings(dataclasses.replace(base, from_logits=True), ("from_logits_mismatch",))


# ---------------------------------------------------------------- measured symptoms and fixes


@pytest.fixture(scope="module")
def reference(base):
    return base.train(seed=SEED, verbose=0)


@pytest.fixture(scope="module")
def demos(base, reference):
    return {name: faults.demonstrate(name, base, seed=SEED, reference=reference) for name in faults.FAULTS}


@pytest.mark.slow
def test_the_healthy_run_trains_and_its_loss_starts_at_ln_k(reference, demos):
    assert reference.val_accuracy >= 0.85 and reference.final_loss < 0.5
    assert abs(demos["validation_leak"].figures["init_loss_fixed"] - LN10) < 0.15
    table = faults.demonstration_table(demos.values())
    assert list(table.index) == list(faults.FAULTS) and {"val_accuracy", "val_accuracy_fixed"} <= set(table.columns)
    assert (table["val_accuracy_fixed"] >= faults.DEFAULT_TARGET).all(), table["val_accuracy_fixed"]
    # The fixes that restore the healthy setup reuse its run; the others trained their own.
    assert demos["dead_relus"].fixed is reference and demos["frozen_base"].fixed is not reference


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "symptom"),
    [
        ("unnormalized_inputs", lambda f: f["init_loss"] > 5 * LN10 and f["init_loss_fixed"] < 1.5 * LN10),
        (
            "shuffled_labels",
            lambda f: f["val_accuracy"] < 0.2 and f["train_accuracy"] < 0.3 and f["labels_mismatched"] > 0.8,
        ),
        (
            "validation_leak",
            lambda f: (
                f["duplicates"] == 500
                and f["duplicates_fixed"] == 0
                and f["val_accuracy"] > f["holdout_accuracy"] + 0.02
                and f["val_accuracy"] > f["val_accuracy_fixed"] + 0.04
            ),
        ),
        (
            "label_changing_augmentation",
            lambda f: f["val_accuracy"] < 0.75 and f["top_confusion_share"] > f["top_confusion_share_fixed"] + 0.1,
        ),
        (
            "from_logits_mismatch",
            lambda f: (
                abs(f["final_loss"] - LN10) < 0.1
                and f["val_accuracy"] < f["val_accuracy_fixed"] - 0.5
                and f["init_loss"] > 1.5 * LN10
            ),
        ),
        (
            "dead_relus",
            lambda f: (
                f["dead_at_init"] > 0.99
                and abs(f["first_epoch_loss"] - LN10) < 0.01
                and abs(f["final_loss"] - LN10) < 0.01
                and f["dead_at_init_fixed"] < 0.5
            ),
        ),
        (
            "learning_rate_too_high",
            lambda f: (
                f["first_epoch_loss"] > 3 * LN10
                and f["dead_at_init"] < 0.5
                and f["dead_after"] > 0.9
                and math.isfinite(f["final_loss"])
                and f["val_accuracy"] < 0.2
            ),
        ),
        ("frozen_base", lambda f: f["base_change"] == 0 and f["base_change_fixed"] > 0.05 and f["val_accuracy"] < 0.7),
        (
            "batchnorm_statistics",
            lambda f: f["history_train_accuracy"] > 0.9 and f["train_accuracy"] < 0.3 and f["val_accuracy"] < 0.3,
        ),
    ],
)
def test_each_fault_shows_its_symptom_and_its_fix_trains(demos, name, symptom):
    demo = demos[name]
    assert symptom(demo.figures), demo.figures
    assert demo.figures["val_accuracy_fixed"] >= faults.DEFAULT_TARGET, demo.figures
    assert demo.evidence != "not found in this setup" and name in repr(demo)


@pytest.mark.slow
def test_what_the_module_says_about_this_stack(base):
    """Keras on TensorFlow rescues a softmax trained with from_logits=True (the same steps as the
    healthy model); clipping does not rescue a learning rate 100x too high, and the loss stays
    finite, so TerminateOnNaN never fires."""
    x, y = next(iter(base.training_pipeline()))
    double = dataclasses.replace(base, from_logits=True).build_model(seed=SEED)
    plain = base.build_model(seed=SEED)
    with pytest.warns(UserWarning, match="received `from_logits=True`, but the `output` argument was produced by"):
        for _ in range(3):
            assert np.isclose(double.train_on_batch(x, y)[0], plain.train_on_batch(x, y)[0], rtol=1e-5)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(double.get_weights(), plain.get_weights()))

    clipped = dataclasses.replace(faults.make("learning_rate_too_high", base), clipnorm=1.0, epochs=1)
    result = clipped.train(seed=SEED, callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0)
    assert result.epochs_run == 1 and math.isfinite(result.final_loss) and result.val_accuracy < 0.2
    assert diagnostics.dead_units(result.model, clipped.prepared().x_train[:256]).max() > 0.9


# ---------------------------------------------------------------- mysteries


@pytest.mark.parametrize("spec", faults.MYSTERIES, ids=lambda m: f"mystery{m.number}")
def test_the_mystery_draw_depends_on_the_seed_and_covers_the_pool(spec):
    drawn = [faults._draw(spec.number, seed) for seed in range(40)]
    assert set(drawn) == set(spec.pool) and len(spec.pool) >= 2
    assert set(spec.clues) == set(spec.pool) and set(spec.pool) <= set(faults.FAULTS)


def test_there_are_four_mysteries_and_each_fault_is_in_one(base):
    assert len(faults.MYSTERIES) >= 4 and [m.number for m in faults.MYSTERIES] == [1, 2, 3, 4]
    assert set().union(*(m.pool for m in faults.MYSTERIES)) == set(faults.FAULTS)


def test_a_mystery_case_hides_its_fault(base):
    cases = [faults.mystery(2, base, seed=seed) for seed in range(3)]
    assert len({case.reveal() for case in cases}) == 3
    for case in cases:
        assert case.setup.differences(faults.make(case.reveal(), base)) == {}
        text = repr(case)  # what a notebook cell shows: the same for every draw, the seed aside
        assert text.replace(f"seed {case.seed}", "") == repr(cases[0]).replace(f"seed {cases[0].seed}", "")
        assert repr(case.setup) not in text  # its fields would give some faults away (learning_rate=...)
        assert case.target == faults.DEFAULT_TARGET and "80%" in text


def test_mystery_explains_bad_input(base):
    with pytest.raises(ValueError, match="from 1 to 4"):
        faults.mystery(5, base, seed=0)
    with pytest.raises(ValueError, match="seed"):
        faults.mystery(1, base, seed=-1)
    with pytest.raises(TypeError, match="faults.healthy"):
        faults.mystery(1, base, seed=0, train_size=10)
    short = dataclasses.replace(base, epochs=1)
    with pytest.raises(ValueError, match="at least 2 epochs"):
        faults.mystery(1, short, seed=0)
    with pytest.raises(ValueError, match="at least 2 epochs"):
        faults.make("frozen_base", short)
