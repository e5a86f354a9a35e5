import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import models, plots

HISTORY = {
    "loss": [1.0, 0.5, 0.3],
    "val_loss": [1.1, 0.7, 0.6],
    "accuracy": [0.6, 0.8, 0.9],
    "val_accuracy": [0.55, 0.75, 0.8],
}


def _titles(fig):
    return [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_show_images_with_labels_and_predictions():
    x = np.random.default_rng(0).random((10, 28, 28, 1))
    fig = plots.show_images(x, np.arange(10), [str(i) for i in range(10)], predictions=[0] * 10, n=10, cols=5)
    assert isinstance(fig, Figure)
    titles = _titles(fig)
    assert "0 (0)" in titles and "0 (1)" in titles
    wrong = [ax for ax in fig.axes if ax.get_title() == "0 (1)"][0]
    assert wrong.title.get_color() == "red"


def test_show_images_titles_stay_clear_of_the_row_above():
    """The 00 screenshot showed each second-row label half under the first row's images."""
    x = np.random.default_rng(0).random((16, 28, 28, 1))
    fig = plots.show_images(x, np.arange(16) % 10, n=16, cols=8)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    first_row, second_row = fig.axes[:8], fig.axes[8:]
    lowest_image = min(ax.get_window_extent(renderer).y0 for ax in first_row)
    assert all(ax.title.get_window_extent(renderer).y1 <= lowest_image for ax in second_row)


def test_show_images_rejects_non_images():
    with pytest.raises(ValueError, match="non-empty batch of images"):
        plots.show_images(np.zeros(5))


def test_learning_curves_train_solid_val_dashed():
    fig = plots.plot_histories({"a": HISTORY, "b": HISTORY}, metric="accuracy")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    styles = {line.get_label(): line.get_linestyle() for line in acc_ax.get_lines()}
    assert styles == {"a train": "-", "a val": "--", "b train": "-", "b val": "--"}
    assert isinstance(plots.plot_history(HISTORY), Figure)


def test_learning_curves_missing_metric_is_explained():
    with pytest.raises(ValueError, match="no 'auc'.*Available: loss"):
        plots.plot_history(HISTORY, metric="auc")
    with pytest.raises(TypeError, match="Keras History"):
        plots.plot_history([1, 2])


def test_feature_maps_and_filters():
    model = models.lenet5()
    image = np.zeros((28, 28, 1), np.float32)
    fig = plots.plot_feature_maps(model, "C1", image)
    assert "Feature maps of C1 (28x28, 6 maps)" in _titles(fig)
    fig = plots.plot_filters(model, "C3")
    assert "Filters of C3 (5x5)" in _titles(fig)
    with pytest.raises(ValueError, match="No layer 'C9'.*C1"):
        plots.plot_feature_maps(model, "C9", image)
    with pytest.raises(ValueError, match="input shape"):
        plots.plot_feature_maps(model, "C1", np.zeros((28, 28)))
    with pytest.raises(ValueError, match="not a Conv2D"):
        plots.plot_filters(model, "S2")


def test_colour_images_and_their_first_layer_filters_are_drawn_in_colour():
    x = np.random.default_rng(0).random((5, 12, 10, 3))  # non-square colour images, 5 classes
    fig = plots.show_images(x, np.arange(5), list("abcde"), n=5)
    shown = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(shown) == 5 and all(img.shape == (12, 10, 3) for img in shown)
    model = models.simple_cnn((32, 32, 3), 5, filters=(4,), convs_per_block=1)
    fig = plots.plot_filters(model, "block1_conv1")
    assert "Filters of block1_conv1 (3x3, RGB: grey is 0)" in _titles(fig)
    images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(images) == 4 and images[0].shape == (3, 3, 3)
    assert all(0.0 <= img.min() and img.max() <= 1.0 for img in images)


def test_kernels_applied_and_class_balance_and_save(tmp_path):
    img = np.eye(8)
    fig = plots.plot_kernels_applied(img, {"vertical": img[1:-1, 1:-1]})
    assert "vertical" in _titles(fig)
    fig = plots.plot_class_balance({"train": np.array([0, 1, 1]), "test": np.array([1])}, ["a", "b"])
    assert fig.axes[0].get_ylabel() == "examples"
    path = plots.save_fig(fig, "balance", folder=tmp_path)
    assert path.exists() and path.stat().st_size > 0
