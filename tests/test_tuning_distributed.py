"""helpers.tuning.distributed: KerasTuner's chief/worker mode, one chief and two workers on 127.0.0.1."""

import json
import subprocess
import sys

import psutil
import pytest

from helpers import config
from helpers.tuning import distributed as dist


def _children():
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    }


@pytest.fixture
def left_behind():
    """The processes started since the test began that are still alive: the launcher must leave none.

    Children that were already there (another test's resource trackers in the same pytest worker) are
    not the launcher's."""
    before = _children()
    return lambda: sorted(_children() - before)


@pytest.mark.slow
def test_two_workers_share_one_search(tmp_path, left_behind):
    spec = dist.SearchSpec(
        kind="random", max_trials=4, epochs=1, train_size=150, project="shared", directory=str(tmp_path)
    )
    result = dist.launch(2, spec=spec, timeout=240)  # ~30 s on an idle 2-core machine
    assert not left_behind(), "the launcher left processes behind"
    results = result.results
    assert len(results) == 4 and (results["status"] == "COMPLETED").all(), results
    runs = result.trials_per_worker
    assert set(runs) == {"tuner0", "tuner1"}
    assert runs["tuner0"] and runs["tuner1"], f"both workers must complete trials: {runs}"
    assert sorted(runs["tuner0"] + runs["tuner1"], key=int) == ["0", "1", "2", "3"]  # each trial run once
    for tuner_id, trials in runs.items():  # the shared oracle's records agree with the workers
        assert set(results.loc[results["run_by"] == tuner_id, "trial"].astype(str)) == set(trials)
    assert results["learning_rate"].nunique() == 4  # one oracle: no configuration handed out twice
    oracle = json.loads((tmp_path / "shared" / "oracle.json").read_text())
    assert sorted(oracle["end_order"], key=int) == ["0", "1", "2", "3"]
    assert "serving the oracle on 127.0.0.1" in (tmp_path / "shared.logs" / "chief.log").read_text()


@pytest.mark.slow
def test_launcher_stops_everything_on_timeout(tmp_path, left_behind):
    spec = dist.SearchSpec(max_trials=2, epochs=1, train_size=150, project="slow", directory=str(tmp_path))
    with pytest.raises(TimeoutError, match=r"(?s)within 1 s.*last lines of .*chief.log"):
        dist.launch(1, spec=spec, timeout=1)
    assert not left_behind()


def test_launcher_arguments(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        dist.launch(0)
    port = dist.free_port()
    assert 0 < port < 65536
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    spec = dist.SearchSpec.for_profile(project="p", directory=str(tmp_path), epochs=3)
    assert spec.epochs == 3 and spec.max_trials == 4
    assert "--project=p" in spec.to_args() and spec.log_dir == tmp_path / "p.logs"
    for var in dist.ROLE_ENV:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit, match="--role needs the environment variables KERASTUNER_TUNER_ID"):
        dist.run_role(spec)


@pytest.mark.slow
def test_the_module_runs_with_python_m():
    """``python -m helpers.tuning.distributed`` (what ``make tune-distributed`` runs) starts cleanly:
    the package does not import it first, which would make runpy warn."""
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "helpers.tuning.distributed", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "usage:" in out.stdout and "--workers" in out.stdout and "--role" in out.stdout
