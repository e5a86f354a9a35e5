"""helpers.tuning.roles: the chief/worker role comes from KerasTuner's environment variables."""

import sys

from helpers import tuning
from helpers.tuning import roles


def test_roles_follow_the_environment(monkeypatch):
    for var in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert not tuning.is_chief() and not tuning.is_worker()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert tuning.is_chief() and not tuning.is_worker()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner3")
    assert tuning.is_worker() and not tuning.is_chief()
    assert "helpers.tuning" in sys.modules


def test_role_env_names_keras_tuners_variables(monkeypatch):
    assert roles.ROLE_ENV == ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    for var in roles.ROLE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")  # no oracle address: searching alone
    assert not roles.is_chief() and not roles.is_worker()
