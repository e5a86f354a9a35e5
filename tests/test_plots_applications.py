"""The figure of 01's "Applications of CNNs": one panel per task, titled, drawn without downloads."""

import pytest
from matplotlib.figure import Figure

from helpers import plots
from helpers.plots.applications import TaskHead


def test_one_titled_panel_per_task():
    fig = plots.plot_task_heads()
    assert isinstance(fig, Figure)
    tasks = [t.task for t in plots.TASK_HEADS]
    assert [ax.get_title(loc="left") for ax in fig.axes] == tasks
    assert fig._suptitle.get_text() == "Same convolutional backbone, a different head per task"


def test_the_commissioned_applications_are_all_there():
    tasks = " ".join(t.task for t in plots.TASK_HEADS).lower()
    for name in ("classification", "detection", "segmentation", "medical", "video", "audio", "text"):
        assert name in tasks


def test_each_panel_names_its_backbone_head_and_output():
    fig = plots.plot_task_heads()
    for ax, task in zip(fig.axes, plots.TASK_HEADS, strict=True):
        texts = [t.get_text() for t in ax.texts]
        assert f"backbone\n{task.backbone}" in texts and f"head\n{task.head}" in texts
        assert task.input in texts and task.output in texts


def test_a_subset_of_tasks_and_a_title():
    fig = plots.plot_task_heads(plots.TASK_HEADS[:3], title="three")
    assert len(fig.axes) == 3 and fig._suptitle.get_text() == "three"


def test_bad_tasks_are_explained():
    with pytest.raises(ValueError, match="non-empty sequence of TaskHead"):
        plots.plot_task_heads(())
    with pytest.raises(ValueError, match="non-empty sequence of TaskHead"):
        plots.plot_task_heads(("classification",))
    with pytest.raises(ValueError, match="No drawing for input 'sound'"):
        plots.plot_task_heads((TaskHead("Audio", "sound", "conv", "dense", "class"),))
