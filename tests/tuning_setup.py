"""The tiny search spaces the tuning tests share (their fixtures ``ds``, ``hm`` and ``random_search``
are in conftest.py)."""

from helpers.tuning import Range

SMALL = {
    "learning_rate": Range(1e-3, 1e-2, log=True),
    "filters": [8, 16],
    "blocks": 1,
    "convs_per_block": 1,
    "batch_norm": False,
    "head": "flatten",
    "dense_units": 0,
}
"""A space with two searched dimensions and every other one fixed: builds in milliseconds."""

SPACE = {**SMALL, "learning_rate": Range(2e-3, 1e-2, log=True), "filters": [4, 8], "dropout": 0.0}
"""SMALL with narrower filters and no dropout: trains in a second on 150 images."""
