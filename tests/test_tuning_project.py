"""helpers.tuning.project: project names, the search fingerprint and the per-trial records."""

import pytest

from helpers.tuning import project


@pytest.mark.parametrize("name", ["p", "search_1", "lr-sweep.v2"])
def test_plain_folder_names_are_accepted(name):
    assert project.check_project_name(name) == name


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", 3, None])
def test_names_that_leave_the_directory_are_refused(name):
    with pytest.raises(ValueError, match="project_name must be a folder name"):
        project.check_project_name(name)


def test_fingerprint_round_trip_and_mismatch(tmp_path):
    folder = tmp_path / "p"
    fingerprint = {"kind": "random", "space": {"filters": [8, 16]}, "oracle_seed": 42}
    assert project.check_project(folder, fingerprint) == 0  # nothing there yet
    assert project.read_fingerprint(folder) is None
    project.write_fingerprint(folder, fingerprint)
    assert project.read_fingerprint(folder) == fingerprint
    assert sorted(p.name for p in folder.iterdir()) == [project.FINGERPRINT_FILE]  # no temporary file left
    (folder / "trial_0").mkdir()
    (folder / "trial_1").mkdir()
    assert project.check_project(folder, fingerprint) == 2
    with pytest.raises(ValueError, match=r"holds a different search \(oracle_seed: saved 42, now 7\)"):
        project.check_project(folder, {**fingerprint, "oracle_seed": 7})


def test_trial_records(tmp_path):
    assert project.read_trial_record(tmp_path) == {}
    project.write_trial_record(tmp_path, {"tuner_id": "tuner1", "status": "COMPLETED"})
    assert project.read_trial_record(tmp_path) == {"tuner_id": "tuner1", "status": "COMPLETED"}
    assert (tmp_path / project.TRIAL_RECORD_FILE).exists()
