"""helpers.tuning (the package): every public name of its modules is re-exported, once."""

import ast
import json
import re

from helpers import config, tuning

NOTEBOOK = config.ROOT / "notebooks" / "09_hyperparameter_search.ipynb"


def test_every_module_name_is_exported():
    for module in tuning._MODULES:
        for name in module.__all__:
            assert getattr(tuning, name) is getattr(module, name), name
            assert name in tuning.__all__
    assert len(tuning.__all__) == len(set(tuning.__all__))


def test_every_name_notebook_09_uses_exists():
    nb = json.loads(NOTEBOOK.read_text())
    used = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()  # an IPython magic (%pip) becomes a `pass` at its indent
        tree = ast.parse("\n".join(re.sub(r"^(\s*)%.*", r"\1pass", line) for line in lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tuning":
                used.add(node.attr)
    assert {
        "CNNHyperModel", "make_tuner", "search", "best_values", "rerun_with_seeds", "fit_final", "evaluate_finals",
        "paired_tests", "edge_of_space", "by_value", "outside_space",
    } <= used  # fmt: skip
    assert not [name for name in used if not hasattr(tuning, name)]


#: The public names of the single ``helpers/tuning.py`` this package replaced.
FORMER_NAMES = """TUNER_KINDS FINGERPRINT_FILE TRIAL_RECORD_FILE TuningError Range Dimension DIMENSIONS
DIMENSION_BY_NAME
DEFAULTS DEFAULT_SPACE describe_space validate_space grid_size model_arguments build_model CNNHyperModel Budget
BUDGETS default_budget hyperband_schedule epoch_budget RandomSearch Hyperband BayesianOptimization GridSearch
is_worker is_chief require_tensorboard make_tuner search results_table best_values compare_searches
hyperparameter_importance fit_train_val rerun_with_seeds""".split()


def test_the_names_of_the_single_module_remain():
    assert not [name for name in FORMER_NAMES if name not in tuning.__all__]


def test_the_launcher_is_not_imported_by_the_package():
    """So that ``python -m helpers.tuning.distributed`` runs it as __main__ without a runpy warning
    (tests/test_tuning_distributed.py runs it that way)."""
    tree = ast.parse((config.ROOT / "helpers" / "tuning" / "__init__.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert "helpers.tuning.distributed" not in imported
