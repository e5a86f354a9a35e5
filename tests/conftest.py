"""Test settings: the smoke profile and quiet training unless the caller chose otherwise.

Notebook kernels started by nbval inherit this environment, so they run in the smoke profile too.
"""

import os

os.environ.setdefault("COURSE_PROFILE", "smoke")
os.environ.setdefault("COURSE_VERBOSE", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture
def seeded():
    """Seed everything through the course's one seeding helper."""
    from helpers import config

    config.seed_everything(config.DEFAULT_SEED)
    return config.DEFAULT_SEED


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
