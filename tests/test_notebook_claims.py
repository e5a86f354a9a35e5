"""Prose never states a result that no cell computed.

A figure in a notebook's markdown (a percentage, a multiplier such as ``4x``, a decimal, a number
with thousands separators, a number in scientific notation) is either printed by a code cell from
the run, and so absent from the markdown, or it is not a result at all: a target, a setting the
code uses, a definition, arithmetic that follows from the text, or a citation. Those are listed,
with their reason, in the notebook's metadata::

    "metadata": {"course": {"stated_figures": {"97.5 %": "target", "0.9": "setting"}}}

(JupyterLab: Property Inspector > Notebook metadata). A new measured figure typed into markdown
fails here with the way out: print it from the cell that measures it.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REASONS = {"target", "setting", "definition", "arithmetic", "citation"}

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_FIGURE = re.compile(
    rf"(?<![\w.])(?:"
    rf"(?:{_NUMBER})\s?%"  # 97.5 %, 10%
    rf"|(?:{_NUMBER})x(?![\w])"  # 4x, 1.5x
    rf"|\d+(?:\.\d+)?e[-+]?\d+"  # 1e-4, 3e-3
    rf"|\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?"  # 3,500 and 61,706
    rf"|\d+\.\d+"  # 0.03, 2.3
    rf")(?![\w.]*\d)"
)
_IGNORED = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"`[^`\n]*`"),  # inline code: names and settings as the code spells them
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags and their attributes
    re.compile(r"https?://\S+"),
]


def figures(markdown: str) -> set[str]:
    """The figures a markdown text states, whitespace normalized (``"97.5 %"``, ``"4x"``, ``"0.03"``)."""
    for pattern in _IGNORED:
        markdown = pattern.sub(" ", markdown)
    return {re.sub(r"\s+", " ", m.group(0)) for m in _FIGURE.finditer(markdown)}


def _notebook(path):
    nb = json.loads(path.read_text())
    markdown = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    listed = nb.get("metadata", {}).get("course", {}).get("stated_figures", {})
    return markdown, listed


def test_the_extractor_finds_what_a_result_looks_like():
    text = (
        "Standardizing gave 97.3 % and 96.8% (a 4x smaller gap, loss 2.3) on 3,500 images with lr 1e-3; "
        "`Dropout(0.5)` and [paper](https://arxiv.org/abs/1512.03385) are not figures, nor are 10 epochs, "
        "notebook 05, the year 2015 or version 3.15.1."
    )
    assert figures(text) == {"97.3 %", "96.8%", "4x", "2.3", "3,500", "1e-3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_states_no_unlisted_figure(path):
    markdown, listed = _notebook(path)
    unlisted = sorted(figures(markdown) - set(listed))
    assert not unlisted, (
        f"{path.name} states {unlisted} in markdown. A measured figure must be printed by the code cell that "
        "computes it (f-string from the run) instead; a figure that is not a result (a target, a setting the code "
        "uses, a definition, arithmetic, a citation) goes in the notebook metadata "
        '"course": {"stated_figures": {"<figure>": "<reason>"}}'
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stated_figures_are_current_and_have_a_reason(path):
    markdown, listed = _notebook(path)
    stale = sorted(set(listed) - figures(markdown))
    assert not stale, f"{path.name}: metadata lists {stale}, which the markdown no longer states: remove them"
    bad = {figure: reason for figure, reason in listed.items() if reason not in REASONS}
    assert not bad, f"{path.name}: reasons must be one of {sorted(REASONS)}. Received: {bad}"
