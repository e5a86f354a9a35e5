"""Every notebook runs on a user's own colour images (``DATASET = "folder:PATH"``), in the smoke profile.

The README promises that any dataset works in a parameters cell. The digits the course embeds are
28x28 grayscale, so a notebook that hard-codes one channel, 28x28 or 10 classes breaks on colour
photos (and so on ``cifar10`` online). This test generates 600 small RGB images of 5 classes in a
class-per-sub-folder tree and runs each notebook on it with papermill, which injects the dataset
after the notebook's ``parameters`` cell exactly as ``make course PARAMS=...`` does.

It runs the *student release* (``make student``: nbgrader removed every solution) with every exercise
stub untouched, as a learner who presses "Run All" first would: each check must report "not started"
and the notebook must still run to the end, on the course's reference answers. The nbval tests run
the solutions build on ``mnist5k``; together they cover both paths on both kinds of data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CLASSES = ("red_disc", "green_square", "blue_bar", "yellow_ring", "purple_cross")
PER_CLASS, SIZE = 120, 32


def _draw(kind: int, rng: np.random.Generator) -> np.ndarray:
    """One 32x32 RGB image of class ``kind``: a coloured shape at a random place on a noisy background."""
    img = rng.uniform(0, 90, size=(SIZE, SIZE, 3))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    cy, cx = rng.integers(10, SIZE - 10, size=2)
    r = rng.integers(5, 9)
    colours = ((220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 210, 40), (160, 50, 200))
    dist = np.hypot(yy - cy, xx - cx)
    masks = (
        dist <= r,  # disc
        (abs(yy - cy) <= r) & (abs(xx - cx) <= r),  # square
        abs(yy - cy) <= 2,  # horizontal bar through the centre row
        (dist <= r) & (dist >= r - 2),  # ring
        (abs(yy - cy) <= 1) | (abs(xx - cx) <= 1),  # cross
    )
    img[masks[kind]] = colours[kind] + rng.normal(0, 15, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory) -> Path:
    """600 PNG images (5 classes x 120, 32x32 RGB), one sub-folder per class."""
    from PIL import Image

    root = tmp_path_factory.mktemp("colour_images")
    rng = np.random.default_rng(0)
    for kind, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir()
        for i in range(PER_CLASS):
            Image.fromarray(_draw(kind, rng)).save(folder / f"{i:03d}.png")
    return root


def test_the_generated_folder_is_a_colour_dataset(colour_folder):
    from helpers import data

    ds = data.load(f"folder:{colour_folder}")
    assert ds.num_classes == len(CLASSES) and ds.input_shape[-1] == 3
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == PER_CLASS * len(CLASSES)


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> dict[str, Path]:
    """The student release of every notebook, by file name."""
    from helpers import coursework

    out = tmp_path_factory.mktemp("student")
    return {p.name: p for p in coursework.student_release(NOTEBOOKS, out)}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_student_release_runs_to_the_end_on_a_colour_folder(path, student, colour_folder, tmp_path, monkeypatch):
    import papermill

    from helpers import coursework
    from helpers.checks._core import GRADE_FILE_ENV

    grade_file = tmp_path / "checks.jsonl"
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_VERBOSE", "0")
    monkeypatch.setenv("COURSE_SOLUTIONS", "0")  # a learner's kernel
    monkeypatch.setenv(GRADE_FILE_ENV, str(grade_file))  # each check appends its result here
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))  # the kernel inherits the environment
    out = papermill.execute_notebook(
        str(student[path.name]),
        str(tmp_path / path.name),
        parameters={"DATASET": f"folder:{colour_folder}"},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
        log_output=False,
        execution_timeout=900,
    )
    statuses = {name: record["status"] for name, record in coursework.checked(grade_file).items()}
    expected = [ex.name for ex in coursework.exercises(path)]
    assert set(expected) <= set(statuses) and set(statuses.values()) <= {"not started"}, statuses
    text = "\n".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if "checks.answer(" in path.read_text():  # later cells need an answer: they say they use the reference one
        assert "the cells below use the course's reference answer" in text
