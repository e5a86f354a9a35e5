"""Which role this process plays in a distributed search: the chief (oracle), a worker, or neither.

KerasTuner's chief/worker mode runs the *same* script in every process; three environment
variables (:data:`ROLE_ENV`) tell them apart:

* ``KERASTUNER_TUNER_ID``: ``chief`` for the oracle, a unique name (``tuner0``, ``tuner1``...) per worker;
* ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``: where the chief listens.

Without them a process searches alone (neither chief nor worker).
"""

from __future__ import annotations

import os

__all__ = ["ROLE_ENV", "is_chief", "is_worker"]

ROLE_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def is_worker() -> bool:
    """True in a distributed worker process (``KERASTUNER_ORACLE_IP`` set, tuner id not ``chief``)."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


def is_chief() -> bool:
    """True in the distributed chief (oracle) process."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" in os.environ.get("KERASTUNER_TUNER_ID", "")
