"""After an exit-3 run, ``relrun status`` says a human is needed, never "idle" (issue 14 item 11).

Exit 3: the rollback could not finish, the environment may be half-moved. The layer below
(``run_playbook``) is faked; the status is the real command's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.run.events import EventBus, RunFinished, RunStarted, TaskResult, TaskStarted
from relrun.run.runner import RunOutcome, RunSpec
from tests.helpers import ROOT
from tests.unit.workflows.test_crash import INVENTORY, QUICK, STEPS, moving_release, rescue

RUNBOOK = str((ROOT / "tests" / "data" / "quick.yml").resolve())


def standalone_rollback(failing: str | None) -> Any:
    """A fake run_playbook for ``relrun rollback``: every step passes but ``failing``."""

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        bus.emit(RunStarted(label=spec.label, playbook="playbook.yml"))
        for number, step in enumerate(STEPS, start=1):
            task = f"Rollback {number}/5 {step}: done"
            status = "failed" if step == failing else "ok"
            result = {"msg": "no stable server answers its health check"} if failing else {}
            bus.emit(TaskStarted(play="Rollback", task=task, action="x"))
            bus.emit(TaskResult(play="Rollback", task=task, action="x", host="router",
                                status=status, result=result))
        rc = 2 if failing else 0
        bus.emit(RunFinished(label=spec.label, status="failed" if rc else "successful", rc=rc))
        return RunOutcome(spec.label, "failed" if rc else "successful", rc, spec.run_dir)

    return run


def status(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, Any]]:
    capsys.readouterr()
    code = run_cli(app, ["status", "-i", INVENTORY])
    text = capsys.readouterr().out
    assert run_cli(app, ["status", "--json", "-i", INVENTORY]) == code
    return code, text, json.loads(capsys.readouterr().out)


def test_a_rollback_that_ends_in_exit_3_is_shown_until_one_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback("drain"))
    failed = tmp_path / "failed"
    assert run_cli(app, ["rollback", QUICK, "-i", INVENTORY, "--report-dir", str(failed)]) == 3

    code, text, doc = status(capsys)
    assert code == 1, text
    assert text.startswith(
        f"needs a human: a rollback of {RUNBOOK} on {INVENTORY}"), text
    assert "ended with exit 3, rollback_incomplete" in text
    assert "why: rollback step drain did not pass" in text and f"reports in {failed}" in text
    assert f"finish its rollback with: relrun recover -i {INVENTORY}" in text
    assert doc["state"] == "incomplete"
    assert doc["run"]["ended"]["exit_code"] == 3 and doc["run"]["run_dir"] == str(failed)
    # The next release is refused, saying why, as after a release's own exit 3.
    capsys.readouterr()
    assert run_cli(app, ["release", QUICK, "-i", INVENTORY]) == 1
    assert "ended with exit 3 (the environment may be half-moved)" in capsys.readouterr().err

    # Once the cause is fixed, a rollback that completes ends the incident.
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback(None))
    assert run_cli(app, ["rollback", QUICK, "-i", INVENTORY,
                         "--report-dir", str(tmp_path / "fixed")]) == 0
    code, text, doc = status(capsys)
    assert (code, doc["state"]) == (0, "idle"), text
    assert text.startswith("idle:")


def test_a_crashed_release_is_shown_as_needing_a_human(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("relrun.workflows.release.run_playbook",
                        moving_release("release", KeyError("stage")))
    monkeypatch.setattr("relrun.workflows.rescue.run_playbook", rescue(False, []))
    reports = tmp_path / "reports"
    assert run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)]) == 3

    code, text, doc = status(capsys)
    assert code == 1
    assert text.startswith(f"needs a human: a release of {RUNBOOK} on {INVENTORY}"), text
    assert "ended with exit 3, crashed" in text and "why: relrun crashed: KeyError" in text
    assert doc["run"]["ended"]["state"] == "crashed"
    # An operator's rollback that completes puts everything on stable: the incident ends
    # (the crashed run had written its report and scrubbed its artifacts itself).
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback(None))
    assert run_cli(app, ["rollback", QUICK, "-i", INVENTORY,
                         "--report-dir", str(tmp_path / "op")]) == 0
    assert status(capsys)[:1] == (0,)
