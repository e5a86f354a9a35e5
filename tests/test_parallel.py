"""helpers.parallel.map_seeds: seeded calls, in seed order, the same numbers per seed, models carried back."""

import dataclasses

import numpy as np
import psutil
import pytest

from helpers import parallel


def worker_processes():
    """This process's live children, less the resource trackers multiprocessing and loky keep for its life."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE
        and not any("resource_tracker" in part for part in p.cmdline())
    ]


def _draw(seed):
    """What a seeded experiment sees: the NumPy and Keras random streams right after seeding."""
    import keras

    return seed, float(np.random.rand()), float(keras.random.uniform(()).numpy())


@dataclasses.dataclass(frozen=True)
class _Result:
    name: str
    model: object


def _train_tiny(seed):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.rand(32, 4).astype("float32")
    y = np.arange(32) % 3
    model.fit(x, y, epochs=2, verbose=0)
    return [_Result(f"seed {seed}", model), {"seed": seed, "loss": float(model.evaluate(x, y, verbose=0))}]


def test_serial_calls_are_seeded_like_a_fresh_run():
    first = parallel.map_seeds(_draw, [3, 4])
    assert [r[0] for r in first] == [3, 4] and first[0] != first[1]
    assert parallel.map_seeds(_draw, [4]) == [first[1]]  # seed 4 gives the same draws alone or after seed 3


@pytest.mark.slow
def test_workers_return_results_in_seed_order_with_models_and_are_deterministic():
    seeds = [7, 5, 6]
    a = parallel.map_seeds(_train_tiny, seeds, workers=2)
    b = parallel.map_seeds(_train_tiny, seeds, workers=2)
    assert [r[1]["seed"] for r in a] == seeds
    assert [r[1]["loss"] for r in a] == [r[1]["loss"] for r in b]  # same seed, same numbers
    import keras

    probe = np.linspace(0, 1, 8, dtype="float32").reshape(2, 4)
    for (ra, _), (rb, _) in zip(a, b):
        assert isinstance(ra.model, keras.Model) and ra.name == rb.name
        np.testing.assert_array_equal(ra.model.predict(probe, verbose=0), rb.model.predict(probe, verbose=0))
    assert a[0][1]["loss"] != a[1][1]["loss"]  # different seeds, different runs
    assert not worker_processes(), "map_seeds left its worker processes running"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="workers"):
        parallel.map_seeds(_draw, [1], workers=0)
    with pytest.raises(ValueError, match="must not repeat"):
        parallel.map_seeds(_draw, [1, 1])
    assert parallel.default_threads(2) >= 1


def test_a_workers_model_with_course_objects_unpacks_in_a_process_that_never_imported_them(tmp_path, tiny):
    """A Run trained with label smoothing in a worker comes back as a .keras archive; the parent may never
    have imported helpers.losses, and must still load it."""
    import subprocess
    import sys

    from helpers import models, training

    model = models.simple_cnn(tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=0)
    training.compile_classifier(model, label_smoothing=0.1)
    (tmp_path / "packed.bin").write_bytes(parallel._model_to_bytes(model).archive)
    code = (
        "from pathlib import Path; from helpers import parallel; "
        f"m = parallel._model_from_bytes(parallel._PackedModel(Path(r'{tmp_path / 'packed.bin'}').read_bytes())); "
        "print(type(m.loss).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "CrossEntropy"
