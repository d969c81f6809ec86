"""``relrun recover`` of a run that ended itself with exit 3 says so, and finishes it.

Such a run was not cut short: relrun ran its rollback, which could not restore traffic
(no stable server answered, or relrun crashed), and ended with exit 3 — a human is
needed. Its recovery must tell that story with the run's own reasons, never "the
controller stopped before finishing", and its printed verdict must match its exit code.
The layer below (``run_playbook``) is faked; the output is the real command's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.run.events import EventBus
from relrun.run.runner import RunOutcome, RunSpec
from tests.unit.workflows.test_crash import INVENTORY, QUICK, moving_release, rescue
from tests.unit.workflows.test_exit3_status import standalone_rollback


def _exit_3_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A release breaches, and its rollback cannot drain (no stable server answers): exit 3."""
    release, rollback = moving_release("", RuntimeError("unused")), standalone_rollback("drain")

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        return (rollback if spec.label == "rollback" else release)(spec, bus, cancelled)

    monkeypatch.setattr("relrun.workflows.release.run_playbook", run)
    reports = tmp_path / "reports"
    assert run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)]) == 3
    ended = json.loads((reports / "release.json").read_text())
    assert ended["exit_code"] == 3 and ended["state"] == "rollback_incomplete"
    return reports


def _recover(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(app, ["recover", "-i", INVENTORY])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_recovering_an_exit_3_run_tells_why_it_ended_and_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = _exit_3_release(tmp_path, monkeypatch)
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback(None))

    code, text = _recover(capsys)

    assert code == 0, text
    assert "verdict: pass (exit 0)" in text
    assert "stopped before finishing" not in text
    assert "cut short" not in text
    assert "ended itself with exit 3 (rollback_incomplete)" in text, text
    assert "rollback step drain did not pass" in text  # the run's own reasons
    report = json.loads((reports / "release.json").read_text())
    assert (report["exit_code"], report["verdict"], report["state"]) == (0, "pass", "recovered")
    assert any("ended itself with exit 3" in r for r in report["reasons"])
    assert not any("controller (pid" in r for r in report["reasons"])
    assert run_cli(app, ["status", "-i", INVENTORY]) == 0  # nothing left to recover


def test_a_recovery_that_still_cannot_restore_traffic_says_so_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = _exit_3_release(tmp_path, monkeypatch)
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback("drain"))

    code, text = _recover(capsys)

    assert code == 3, text
    assert "verdict: fail (exit 3)" in text
    assert "stopped before finishing" not in text
    assert "ended itself with exit 3 (rollback_incomplete)" in text, text
    report = json.loads((reports / "release.json").read_text())
    assert (report["exit_code"], report["verdict"]) == (3, "fail")
    assert report["reasons"][0] == "recovery incomplete"
    assert not any("recovered:" in r for r in report["reasons"])
    capsys.readouterr()
    assert run_cli(app, ["status", "-i", INVENTORY]) == 1  # still needs a human
    assert "needs a human" in capsys.readouterr().out


def test_recovering_a_crashed_run_names_the_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("relrun.workflows.release.run_playbook",
                        moving_release("release", KeyError("stage")))
    monkeypatch.setattr("relrun.workflows.rescue.run_playbook", rescue(False, []))
    assert run_cli(app, ["release", QUICK, "-i", INVENTORY,
                         "--report-dir", str(tmp_path / "reports")]) == 3
    monkeypatch.setattr("relrun.workflows.rollback.run_playbook", standalone_rollback(None))

    code, text = _recover(capsys)

    assert code == 0, text
    assert "stopped before finishing" not in text
    assert "ended itself with exit 3 (crashed): relrun could not finish it" in text, text
    assert "relrun crashed: KeyError" in text
    assert "verdict: pass (exit 0)" in text
