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


def _helpers_modules() -> list[str]:
    """Every module of the package as a dotted name below ``helpers`` (``tuning.space``), no ``__init__``."""
    return sorted(
        ".".join(p.relative_to(ROOT / "helpers").with_suffix("").parts)
        for p in (ROOT / "helpers").rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    )


def test_readme_layout_lists_every_module():
    """The README's layout section names every module of helpers/ with its job, and only real ones."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Repository layout") :]
    listed = {m.replace("/", ".") for m in re.findall(r"^\|\s*`([\w/]+)\.py`\s*\|\s*\S", section, re.M)}
    modules = set(_helpers_modules())
    assert not modules - listed, f"modules missing from the README's layout section: {sorted(modules - listed)}"
    assert not listed - modules, f"the README lists modules that do not exist: {sorted(listed - modules)}"


def _test_file_for(module: str) -> str:
    parts = module.split(".")
    parts[-1] = parts[-1].lstrip("_")  # checks._core -> test_checks_core, _validate -> test_validate
    return "test_" + "_".join(parts) + ".py"


def test_every_module_has_its_test_file():
    """One test file per module, named after it: tests/test_<module>.py (packages: test_<package>_<module>.py)."""
    missing = [m for m in _helpers_modules() if not (ROOT / "tests" / _test_file_for(m)).is_file()]
    assert not missing, (
        f"modules without a test file: {', '.join(f'{m} -> tests/{_test_file_for(m)}' for m in missing)}"
    )


def test_ruff_is_configured_and_run_by_make_test():
    ruff = _pyproject()["tool"]["ruff"]
    assert ruff["line-length"] == 120 and "select" in ruff["lint"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint$", makefile, re.M), "make test must lint first, so CI fails on a violation"
    assert "ruff check" in makefile and "ruff format --check" in makefile


def test_no_public_name_is_defined_in_two_modules():
    """One home per concept: a public function, class or constant is defined in one module only
    (a package's ``__init__`` re-exports by import, which is not a definition). ``main``, the entry
    point of a ``python -m`` module, is the one name every such module has."""
    import ast
    from collections import defaultdict

    homes = defaultdict(list)
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                names = []
            for name in names:
                if not name.startswith("_") and name != "main":
                    homes[name].append(str(path.relative_to(ROOT)))
    twice = {name: paths for name, paths in homes.items() if len(paths) > 1}
    assert not twice, f"public names defined in more than one module: {twice}"
