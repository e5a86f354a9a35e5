import importlib.metadata as md

from helpers import environment


def test_everything_installed_reports_ok():
    statuses = environment.check()
    names = {s.name for s in statuses}
    assert {"tensorflow", "keras", "keras-tuner", "mlxtend", "nbval"} <= names
    assert all(s.ok for s in statuses), environment.report(statuses)
    assert "Everything the course needs is installed" in environment.report(statuses)


def test_missing_and_wrong_versions_are_reported_with_the_fix(monkeypatch):
    real = md.version

    def fake_version(name):
        if name == "mlxtend":
            raise md.PackageNotFoundError(name)
        return "2.0.0" if name == "keras" else real(name)

    monkeypatch.setattr(environment.md, "version", fake_version)
    statuses = {s.name: s for s in environment.check()}
    assert statuses["mlxtend"].verdict == "MISSING" and statuses["keras"].verdict == "WRONG VERSION"
    report = environment.report(list(statuses.values()))
    assert "Problems with: keras, mlxtend" in report and "make setup" in report
