"""helpers.tuning.space: ranges, the dimensions, checking a space and splitting a configuration."""

import pytest
from tuning_setup import SMALL

from helpers import models, tuning
from helpers.tuning import Range, space

# ---------------------------------------------------------------------------------------------- Range


def test_range_validates_its_arguments():
    with pytest.raises(ValueError, match=r"low < high. Received: Range\(0.01, 0.0001\)"):
        Range(1e-2, 1e-4)
    with pytest.raises(ValueError, match="low < high.*single value"):
        Range(3, 3)
    with pytest.raises(ValueError, match="log-scale Range needs low > 0"):
        Range(0.0, 1e-2, log=True)
    with pytest.raises(ValueError, match=r"step must be in \(0, high - low\]"):
        Range(0.0, 0.5, step=0.7)
    with pytest.raises(ValueError, match="step multiplies and must be > 1"):
        Range(8, 64, step=1, log=True)
    with pytest.raises(ValueError, match="must be a finite number"):
        Range(0.0, float("inf"))
    with pytest.raises(ValueError, match="must be a finite number"):
        Range("a", 2)


def test_range_grid_values():
    assert Range(0.0, 0.5, step=0.1).grid_values() == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert Range(8, 64, step=2, log=True).grid_values() == [8, 16, 32, 64]
    assert Range(1, 3).grid_values() == [1, 2, 3]
    assert Range(1e-4, 1e-2, log=True).grid_values() is None
    assert Range(0.0, 1.0).grid_values() is None
    assert repr(Range(1e-4, 1e-2, log=True)) == "Range(0.0001, 0.01, log=True)"


# ---------------------------------------------------------------------------------------------- spaces


def test_validate_space_normalizes():
    space = tuning.validate_space({"dropout": [0, 0.5], "filters": [16], "head": "gap", "batch_norm": [True, False]})
    assert space["dropout"] == [0.0, 0.5] and all(isinstance(v, float) for v in space["dropout"])
    assert space["filters"] == 16  # one value: fixed
    assert space["head"] == "gap"


@pytest.mark.parametrize(
    "space, message",
    [
        ({"learning_rte": [1e-3, 1e-2]}, r"Unknown hyperparameter 'learning_rte'. Did you mean 'learning_rate'\?"),
        ({"filters": (8, 32)}, "a tuple is ambiguous"),
        ({"filters": []}, "filters: the list of values is empty"),
        ({"dropout": [0.1, 0.1]}, "lists the same value twice"),
        ({"head": Range(0, 1)}, r"head takes one of \['flatten', 'gap'\], not a numeric Range"),
        ({"filters": Range(8.0, 32.0)}, "filters takes integers"),
        ({"dropout": Range(0.0, 1.5)}, r"dropout must be in \[0, 1\). Received: dropout high=1.5"),
        ({"kernel_size": [3, 4]}, "kernel_size must be a positive odd integer. Received: kernel_size=4"),
        ({"optimizer": ["adam", "adamax"]}, "optimizer must be one of"),
        ({"batch_norm": ["yes", "no"]}, "batch_norm must be True or False"),
        ({"filters": [8, True]}, "filters must be an integer >= 1. Received: filters=True"),
        (
            {"blocks": [2, 3, 5]},
            r"contradicts the images: 5 pooling blocks halve a 28x28 image 5 times.*at most 4 blocks",
        ),
        ({"head": "gap", "filters": 16}, "The search space is empty: no hyperparameter has more than one value"),
        ({}, "The search space is empty"),
        ({"learning_rate": [1e-3]}, "The search space is empty"),
    ],
)
def test_validate_space_explains_mistakes(space, message):
    with pytest.raises(ValueError, match=message):
        tuning.validate_space(space)


def test_validate_space_uses_the_image_size():
    tuning.validate_space({"blocks": [1, 2, 3]}, (8, 8, 1))
    with pytest.raises(ValueError, match="8x8 image"):
        tuning.validate_space({"blocks": [1, 4]}, (8, 8, 1))
    with pytest.raises(TypeError, match="space must be a dict"):
        tuning.validate_space([("filters", [8, 16])])


def test_grid_size():
    assert tuning.grid_size({"filters": [8, 16, 32], "dropout": Range(0.0, 0.2, step=0.1), "head": "gap"}) == 9
    with pytest.raises(ValueError, match=r"grid search needs discrete values, but learning_rate=Range.* is continuous"):
        tuning.grid_size({"learning_rate": Range(1e-4, 1e-2, log=True)})


def test_describe_space_lists_every_dimension_once():
    table = tuning.describe_space(SMALL)
    assert list(table.index) == [d.name for d in tuning.DIMENSIONS]
    assert table.loc["learning_rate", "maps to"] == "compile_classifier(learning_rate=...)"
    assert table.loc["kernel_size", "this search"] == "fixed at 3"
    assert "this search" not in tuning.describe_space().columns


def test_every_dimension_maps_to_a_real_argument():
    import inspect

    from helpers import models, training

    cnn_args = set(inspect.signature(models.simple_cnn).parameters)
    compile_args = set(inspect.signature(training.compile_classifier).parameters)
    cnn, compile_kwargs, batch = tuning.model_arguments({})
    assert set(cnn) <= cnn_args and set(compile_kwargs) <= compile_args and batch == 64
    for d in tuning.DIMENSIONS:  # every suggested range is itself a valid space entry
        tuning.validate_space({d.name: d.suggested})


def test_model_arguments_maps_blocks_and_filters():
    cnn, comp, batch = tuning.model_arguments(
        {"blocks": 3, "filters": 8, "head": "flatten", "optimizer": "rmsprop", "learning_rate": 0.02, "batch_size": 32}
    )
    assert cnn["filters"] == (8, 16, 32) and cnn["head"] == "flatten"
    assert comp == {"optimizer": "rmsprop", "learning_rate": 0.02} and batch == 32
    with pytest.raises(ValueError, match=r"Unknown hyperparameter\(s\) \['width'\]"):
        tuning.model_arguments({"width": 3})
    # Hyperband's bookkeeping values are ignored
    assert tuning.model_arguments({"tuner/epochs": 3})[2] == 64


def test_model_arguments_passes_every_simple_cnn_dimension_under_its_name():
    """The simple_cnn arguments come from models.SIMPLE_CNN_OPTIONS, not from a copied list."""
    cnn, _, _ = space.model_arguments({})
    simple_cnn_dims = {d.name for d in space.DIMENSIONS if d.name in models.SIMPLE_CNN_OPTIONS}
    assert set(cnn) == simple_cnn_dims  # filters included (built from blocks and filters)
    assert cnn["filters"] == (32, 64) and cnn["kernel_size"] == 3
    others = {d.name for d in space.DIMENSIONS} - simple_cnn_dims
    assert others == {"blocks", "optimizer", "learning_rate", "batch_size"}


def test_space_to_json_records_ranges():
    recorded = space.space_to_json({"learning_rate": Range(1e-4, 1e-2, log=True), "filters": [8, 16], "head": "gap"})
    assert recorded["learning_rate"] == {"low": 1e-4, "high": 1e-2, "step": None, "log": True, "type": "Range"}
    assert recorded["filters"] == [8, 16] and recorded["head"] == "gap"


def test_outside_space_lists_what_the_space_cannot_produce():
    """A baseline for a search must be a point of the searched space (like with like)."""
    grid = {
        "learning_rate": Range(1e-4, 3e-2, log=True),
        "filters": [8, 16, 32],
        "batch_norm": [True, False],
        "dropout": Range(0.0, 0.5, step=0.1),
        "convs_per_block": 1,
        "batch_size": 32,
    }
    inside = {"learning_rate": 1e-3, "filters": 16, "batch_norm": True, "dropout": 0.3, "convs_per_block": 1}
    assert tuning.outside_space({**inside, "batch_size": 32}, grid) == []
    # the batch size defaults to 64, which the space fixes at 32; kernel_size is left at its default
    assert tuning.outside_space(inside, grid) == ["batch_size"]
    wrong = {**inside, "batch_size": 32, "learning_rate": 0.1, "filters": 64, "dropout": 0.25, "convs_per_block": 2}
    assert tuning.outside_space(wrong, grid) == ["filters", "convs_per_block", "dropout", "learning_rate"]
    assert tuning.outside_space({**inside, "batch_size": 32, "batch_norm": 1}, grid) == ["batch_norm"]
    assert tuning.outside_space({**inside, "batch_size": 32, "kernel_size": 5}, grid) == ["kernel_size"]
    with pytest.raises(ValueError, match=r"Unknown hyperparameter\(s\) \['width'\]"):
        tuning.outside_space({"width": 3}, grid)
