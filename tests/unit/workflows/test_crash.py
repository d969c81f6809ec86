"""A release that relrun itself cannot finish still leaves its reports, and exits 3.

The layer below (``run_playbook``) is faked: the release moves traffic, then either its
rollback cannot start or relrun hits a bug of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.errors import RunFailed
from relrun.paths import relrun_state_dir
from relrun.run.events import EventBus, RunFinished, RunStarted, TaskResult, TaskStarted
from relrun.run.runner import RunOutcome, RunSpec
from relrun.runbook.steps import StageAction, StepRef
from tests.agreement import assert_signals_agree
from tests.helpers import ROOT

QUICK = str(ROOT / "tests" / "data" / "quick.yml")
INVENTORY = str(ROOT / "inventories" / "sandbox.yml")
SHIFT = StepRef.stage(1, 3, "Canary 10%", StageAction.SHIFT, weight=10).task
DEPLOY = StepRef.deploy(1, "start-canary").task


def moving_release(fail_in: str, error: Exception) -> Any:
    """A fake run_playbook: the release deploys and shifts traffic, then ``fail_in`` raises."""

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        if spec.label == fail_in == "rollback":
            raise error
        bus.emit(RunStarted(label=spec.label, playbook="playbook.yml"))
        for task in (DEPLOY, SHIFT):
            bus.emit(TaskStarted(play="Rollout", task=task, action="x"))
            bus.emit(TaskResult(play="Rollout", task=task, action="x", host="router", status="ok"))
        if fail_in == "release":
            raise error
        bus.emit(
            TaskResult(
                play="Rollout",
                task=StepRef.stage(1, 3, "Canary 10%", StageAction.ANALYSIS, bake=3).task,
                action="x",
                host="router",
                status="failed",
                result={"msg": "boom"},
            )
        )
        bus.emit(RunFinished(label=spec.label, status="failed", rc=2))
        return RunOutcome(spec.label, "failed", 2, spec.run_dir)

    return run


ROLLBACK_FAILED = "the rollback could not run: could not start ansible-runner: gone"
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")


def rescue(works: bool, ran: list[RunSpec]) -> Any:
    """A fake run_playbook for the rescue rollback: all five steps pass, or it cannot start."""

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        ran.append(spec)
        if not works:
            raise RunFailed("could not start ansible-runner: still gone")
        bus.emit(RunStarted(label=spec.label, playbook="playbook.yml"))
        for number, step in enumerate(STEPS, start=1):
            task = f"Rollback {number}/5 {step}: done"
            bus.emit(TaskStarted(play="Rollback", task=task, action="x"))
            bus.emit(TaskResult(play="Rollback", task=task, action="x", host="router", status="ok"))
        bus.emit(RunFinished(label=spec.label, status="successful", rc=0))
        return RunOutcome(spec.label, "successful", 0, spec.run_dir)

    return run


@pytest.mark.parametrize(
    ("fail_in", "error", "what", "said"),
    [
        (
            "rollback",
            RunFailed("could not start ansible-runner: gone"),
            ROLLBACK_FAILED,
            ROLLBACK_FAILED,
        ),
        (
            "release",
            KeyError("stage"),
            "KeyError: 'stage'",
            "the release crashed (KeyError: 'stage')",
        ),
    ],
)
def test_a_crashed_release_is_reported_and_exits_3(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fail_in: str,
    error: Exception,
    what: str,
    said: str,
) -> None:
    monkeypatch.setattr("relrun.workflows.release.run_playbook", moving_release(fail_in, error))
    rescues: list[RunSpec] = []
    monkeypatch.setattr("relrun.workflows.rescue.run_playbook", rescue(False, rescues))
    reports = tmp_path / "reports"
    code = run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)])
    assert code == 3
    assert [spec.tags for spec in rescues] == ["rollback"], "the rollback was tried first"
    out, err = capsys.readouterr()
    assert_signals_agree(reports, code, out + err)
    assert f"relrun: error: {said}; reports in {reports}" in err
    assert "relrun recover -i" in err and "Traceback" not in err
    report = json.loads((reports / "release.json").read_text())
    assert (report["state"], report["verdict"], report["exit_code"]) == ("crashed", "fail", 3)
    assert report["reasons"][0] == f"relrun crashed: {what}" and report["crash"] == what
    assert [s["name"] for s in report["stages"]] == ["Canary 10%"]
    assert (reports / "report.html").is_file() and (reports / "junit.xml").is_file()
    # The marker stays, so `relrun status` and `relrun recover` find the run once we exit.
    (marker,) = (relrun_state_dir() / "active").glob("*.json")
    assert json.loads(marker.read_text())["run_dir"] == str(reports)


def test_a_bug_in_relrun_after_traffic_moved_rolls_back_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "relrun.workflows.release.run_playbook", moving_release("release", KeyError("stage"))
    )
    rescues: list[RunSpec] = []
    monkeypatch.setattr("relrun.workflows.rescue.run_playbook", rescue(True, rescues))
    reports = tmp_path / "reports"
    code = run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)])
    assert code == 1
    (spec,) = rescues
    assert (spec.tags, spec.artifacts_dir) == ("rollback", reports)
    assert spec.extravars["relrun_run_id"], "the rollback acts as the run that owns the lease"
    err = capsys.readouterr().err
    assert "the release crashed (KeyError: 'stage') and was rolled back; reports in" in err
    report = json.loads((reports / "release.json").read_text())
    assert (report["state"], report["exit_code"]) == ("crashed", 1)
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    assert not list((relrun_state_dir() / "active").glob("*.json")), "nothing left to recover"


def test_a_crash_before_anything_moved_keeps_its_own_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        raise RunFailed("could not start ansible-runner: gone")

    monkeypatch.setattr("relrun.workflows.release.run_playbook", run)
    reports = tmp_path / "reports"
    code = run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)])
    assert code == 1
    err = capsys.readouterr().err
    assert "relrun: error: could not start ansible-runner: gone" in err
    assert "relrun recover" not in err
    report = json.loads((reports / "release.json").read_text())
    assert (report["state"], report["exit_code"]) == ("crashed", 1)
    assert report["reasons"][-1] == "nothing had moved: the environment is as it was"
    # The environment is safe: no recovery is owed.
    assert not list((relrun_state_dir() / "active").glob("*.json"))


def test_an_error_after_the_release_promoted_owes_no_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def promoted(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        bus.emit(RunStarted(label=spec.label, playbook="playbook.yml"))
        for task in (
            DEPLOY,
            StepRef.stage(1, 1, "Full 100%", StageAction.SHIFT, weight=100).task,
            StepRef.stage(1, 1, "Full 100%", StageAction.ANALYSIS, bake=2).task,
        ):
            bus.emit(TaskStarted(play="Rollout", task=task, action="x"))
            bus.emit(TaskResult(play="Rollout", task=task, action="x", host="router", status="ok"))
        bus.emit(RunFinished(label=spec.label, status="successful", rc=0))
        return RunOutcome(spec.label, "successful", 0, spec.run_dir)

    def broken_log(*args: Any) -> None:
        raise IsADirectoryError("traffic.log")

    monkeypatch.setattr("relrun.workflows.release.run_playbook", promoted)
    monkeypatch.setattr("relrun.workflows.release._traffic", broken_log)
    reports = tmp_path / "reports"
    code = run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)])
    assert code == 1
    err = capsys.readouterr().err
    assert "relrun: error: relrun failed: IsADirectoryError: traffic.log; reports in" in err
    assert "relrun recover" not in err
    report = json.loads((reports / "release.json").read_text())
    assert (report["state"], report["exit_code"]) == ("crashed", 1)
    assert (
        report["reasons"][-1] == "the run had finished (promoted or rolled back) before this error"
    )
    assert not list((relrun_state_dir() / "active").glob("*.json"))
