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


@pytest.mark.parametrize(("env", "expected"), [({"CI": "true"}, 0), ({}, "auto"),
                                               ({"CI": "true", "COURSE_VERBOSE": "2"}, 2)])
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
