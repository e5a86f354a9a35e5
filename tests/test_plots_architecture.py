"""helpers.plots.architecture: every figure has a title and labels, and bad input is refused."""

import numpy as np
import pandas as pd
import pytest

from helpers import model_stats, models, plots


@pytest.fixture(scope="module")
def cnn():
    return models.simple_cnn(filters=(8, 16), convs_per_block=1, head="gap", dense_units=16)


def _titled(fig):
    assert fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
    return fig


def test_plot_architecture_draws_both_parts(cnn):
    fig = _titled(plots.plot_architecture(cnn))
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.patches) == 7  # conv, pool, conv, pool, GAP, dense, dense
    assert "parameters" in ax.get_title()
    resnet = models.small_resnet(filters=(8, 16))
    fig = plots.plot_architecture(resnet, title="resnet")
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "stage1_block1_add" in labels and "stage2_block1_proj" in labels
    assert fig.axes[0].get_title() == "resnet"
    arcs = [t for t in fig.axes[0].texts if t.get_text() == "" and hasattr(t, "arrow_patch")]
    assert len(arcs) == 3  # stem -> stage 1 add, stage 1 -> stage 2 projection, conv2 -> stage 2 add
    plain = plots.plot_architecture(models.small_resnet(filters=(8, 16), skip=False))
    assert not [t for t in plain.axes[0].texts if hasattr(t, "arrow_patch")]


def test_plot_architecture_refuses_models_without_drawable_layers():
    import keras

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Activation("relu")(inputs), name="bare")
    with pytest.raises(ValueError, match="no conv, pooling or dense layers"):
        plots.plot_architecture(model)


def test_plot_receptive_fields_with_and_without_image(cnn):
    table = model_stats.receptive_fields(cnn)
    fig = _titled(plots.plot_receptive_fields(table, image_size=28))
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel()
    fig = plots.plot_receptive_fields(table, np.zeros((28, 28, 1)))
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) == 2  # one square per pooling layer
    with pytest.raises(ValueError, match="non-empty DataFrame"):
        plots.plot_receptive_fields(pd.DataFrame())
    with pytest.raises(ValueError, match="one grayscale image"):
        plots.plot_receptive_fields(table, np.zeros((2, 28, 28)))


def test_plot_receptive_fields_on_a_colour_image_of_another_size():
    colour = models.simple_cnn((32, 24, 3), 5, filters=(8, 16), convs_per_block=1, head="gap", dense_units=16)
    table = model_stats.receptive_fields(colour)
    image = np.random.default_rng(0).random((32, 24, 3))
    fig = plots.plot_receptive_fields(table, image)
    shown = fig.axes[1].get_images()[0].get_array()
    assert shown.shape == (32, 24, 3) and 0 <= shown.min() and shown.max() <= 1  # drawn in colour
    assert len(fig.axes[1].patches) == 2
    assert "image: 32 px" in [t.get_text() for t in fig.axes[0].texts]  # the larger side
    with pytest.raises(ValueError, match="one colour image"):
        plots.plot_receptive_fields(table, np.zeros((32, 24, 4)))


def test_plot_tradeoff_and_parameter_split(cnn):
    flat = models.simple_cnn(filters=(8, 16), convs_per_block=1, head="flatten", dense_units=16)
    table = model_stats.compare_models(
        {"gap": cnn, "flatten": flat}, {"gap": {"val_accuracy": 0.9}, "flatten": {"val_accuracy": 0.95}}
    )
    fig = _titled(plots.plot_tradeoff(table))
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_xlabel()
    fig = _titled(plots.plot_parameter_split(table))
    assert len(fig.axes[0].patches) == 4
    with pytest.raises(ValueError, match="missing \\['val_loss'\\]"):
        plots.plot_tradeoff(table, metric="val_loss")
    with pytest.raises(ValueError, match="feature_params and head_params"):
        plots.plot_parameter_split(table[["params"]])


def test_plot_gradients_by_depth_and_sensitivity():
    norms = {
        "plain": pd.Series({"conv1": 1e-6, "conv2": 1e-3, "out": 0.1}),
        "residual": pd.Series({"conv1": 0.1, "conv2": 0.2, "proj": 0.05, "out": 0.3}),
    }
    fig = _titled(plots.plot_gradients_by_depth(norms))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "proj", "out"]
    assert list(ax.lines[0].get_xdata()) == [0, 1, 3]  # aligned by layer name, not by position
    with pytest.raises(ValueError, match="norms is empty"):
        plots.plot_gradients_by_depth({})
    with pytest.raises(ValueError, match="is empty"):
        plots.plot_gradients_by_depth({"a": pd.Series([], dtype=float)})
    fig = _titled(plots.plot_sensitivity({"head": 0.02, "depth": 0.3, "width": 0.01}))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["depth", "head", "width"]
    with pytest.raises(ValueError, match="effects is empty"):
        plots.plot_sensitivity({})


def test_plot_signal_by_depth_draws_forward_and_backward_panels():
    acts = {"plain": pd.Series({"relu1": 1.0, "relu2": 0.1}), "residual": pd.Series({"relu1": 1.0, "relu2": 0.9})}
    grads = {"plain": pd.Series({"conv1": 1e-5, "out": 0.1}), "residual": pd.Series({"conv1": 0.1, "out": 0.2})}
    fig = _titled(plots.plot_signal_by_depth(acts, grads, title="signal"))
    assert fig._suptitle.get_text() == "signal"
    left, right = fig.axes
    assert left.get_yscale() == right.get_yscale() == "log"
    assert len(left.lines) == len(right.lines) == 2
    assert "activation" in left.get_ylabel() and "gradient" in right.get_ylabel()
    assert [t.get_text() for t in left.get_xticklabels()] == ["relu1", "relu2"]
    with pytest.raises(ValueError, match="same models in the same order"):
        plots.plot_signal_by_depth(acts, {"plain": grads["plain"]})
    with pytest.raises(ValueError, match="activations is empty"):
        plots.plot_signal_by_depth({}, grads)
