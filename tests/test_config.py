import numpy as np
import pytest

from helpers import config


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert config.profile().name == "full"
    assert config.profile().pick(smoke=1, full=12) == 12


def test_smoke_profile_picks_smoke_values(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", " Smoke ")
    assert config.profile().is_smoke
    assert config.profile().pick(smoke=1, full=12) == 1


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"COURSE_PROFILE must be one of smoke, full.*'fast'"):
        config.profile()


@pytest.mark.parametrize(
    ("env", "expected"), [({"CI": "true"}, 0), ({}, "auto"), ({"CI": "true", "COURSE_VERBOSE": "2"}, 2)]
)
def test_fit_verbose_is_quiet_in_ci(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("COURSE_VERBOSE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert config.fit_verbose() == expected


def test_bad_verbose_setting(monkeypatch):
    monkeypatch.setenv("COURSE_VERBOSE", "loud")
    with pytest.raises(ValueError, match="COURSE_VERBOSE must be"):
        config.fit_verbose()


def test_same_seed_same_numbers_different_seed_different():
    import keras

    def draw(seed):
        config.seed_everything(seed)
        layer = keras.layers.Dense(4)
        layer.build((None, 2))
        return np.random.rand(3), np.asarray(keras.random.normal((3,))), np.asarray(layer.kernel)

    a, b, c = draw(1), draw(1), draw(2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        config.seed_everything(seed)


def test_setup_reports_profile_versions_and_dataset(capsys):
    info = config.setup(seed=3, dataset="digits")
    out = capsys.readouterr().out
    assert "profile=smoke" in out and "seed=3" in out and "dataset=digits" in out
    assert info.versions["keras"].startswith("3.")
    assert "tensorflow" in out


def test_paths_live_in_the_repository():
    assert (config.ROOT / "helpers").is_dir()
    assert config.CACHE_DIR.parent == config.DATA_DIR
    assert config.PRETRAINED_DIR.name == "pretrained"
    assert config.BUILD_DIR == config.ROOT / "build"


def test_build_dir_follows_course_build_dir(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COURSE_BUILD_DIR": str(tmp_path / "elsewhere")}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from helpers import config, persistence; "
            "print(config.BUILD_DIR); print(config.LOG_DIR); print(persistence.MODELS_DIR)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=config.ROOT,
    )
    build = tmp_path.resolve() / "elsewhere"
    assert out.stdout.split() == [str(build), str(build / "logs"), str(build / "models")]


def test_each_notebook_kernel_gets_its_own_empty_build_dir(monkeypatch):
    import os

    import conftest

    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    item = type("Item", (), {"path": config.ROOT / "notebooks" / "zz_probe.ipynb"})()
    folder = conftest.notebook_build_dir(item.path)
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints" / "left_by_another_run.keras").write_text("stale")
    conftest._emptied.discard(folder)
    try:
        hook = conftest.pytest_runtest_setup(item)
        next(hook)  # what the kernel of zz_probe.ipynb would start with
        assert os.environ["COURSE_BUILD_DIR"] == str(folder) and not folder.exists()
        with pytest.raises(StopIteration):
            next(hook)
        assert "COURSE_BUILD_DIR" not in os.environ  # the other tests keep the normal build folder
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_display_path_is_relative_inside_the_repository_and_absolute_outside(tmp_path):
    # COURSE_BUILD_DIR may point outside the repository; notebooks that print where a file went
    # must not crash then (they once called Path.relative_to(ROOT) directly).
    assert config.display_path(config.ROOT / "build" / "logs" / "run") == "build/logs/run"
    assert config.display_path(tmp_path / "logs") == (tmp_path / "logs").resolve().as_posix()
    assert config.display_path(config.ROOT) == "."


def test_outcome_thresholds_are_calibrated_on_the_default_dataset_only():
    assert config.calibrated(config.DEFAULT_DATASET)
    assert not config.calibrated("folder:/some/photos") and not config.calibrated("cifar10")


def test_startup_noise_is_removed_and_other_lines_kept():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.2 9918 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
        "I0000 00:00:1.3 9918 cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow ...\n"
        "E0000 something that really went wrong\n"
    )
    assert config.startup_noise_removed(text) == "E0000 something that really went wrong\n"


def test_a_notebook_kernel_imports_tensorflow_without_its_startup_lines():
    """In a kernel (ipykernel loaded) helpers.config imports TensorFlow quietly; without the filter the
    same import prints absl's and the CUDA probe's lines (so this test can fail)."""
    import subprocess
    import sys

    kernel = "import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel'); "
    code = "from helpers import config; import keras; print('imported')"
    quiet = subprocess.run([sys.executable, "-c", kernel + code], capture_output=True, text=True, check=True)
    assert quiet.stdout.strip() == "imported"
    assert config.startup_noise_removed(quiet.stderr) == quiet.stderr == ""
    loud = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, check=True)
    assert loud.stderr and config.startup_noise_removed(loud.stderr) == ""  # every line it printed is known noise
