"""The project's own wiring: versions in one place, the README's commands, what git ignores."""

import re
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalized(reqs):
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def test_environment_yml_mirrors_pyproject():
    project = _pyproject()["project"]
    wanted = _normalized(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _normalized(conda + [p for p in pip if not p.startswith("-e")])
    assert listed == wanted, (
        f"environment.yml and pyproject.toml drifted apart: {set(listed.items()) ^ set(wanted.items())}"
    )
    assert "-e ." in pip


def test_pins_match_the_verified_stack():
    deps = _normalized(_pyproject()["project"]["dependencies"])
    assert deps["tensorflow"] == "<2.22,>=2.21" and deps["keras"] == "<3.16,>=3.15"
    assert deps["keras-tuner"] == "<1.5,>=1.4.8"
    assert "tensorboard" in deps, "KerasTuner needs tensorboard on the TF backend"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make course" in readme and "make lab" in readme
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"


def test_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("course", "lab", "test", "bench", "clean", "setup"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_generated_things_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in (".venv/", "build/", "data/cache/", "data/pretrained/", ".ipynb_checkpoints/"):
        assert entry in ignored, entry


def test_every_notebook_has_a_test_home():
    """nbval collects notebooks/ through pytest's testpaths: a new notebook needs no setup edit."""
    ini = _pyproject()["tool"]["pytest"]["ini_options"]
    assert "notebooks" in ini["testpaths"] and "--nbval-lax" in ini["addopts"]
