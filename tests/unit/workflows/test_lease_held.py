"""A release refused by the router's lease stops as it is: no rollback of another run.

The layer below (``run_playbook``) is faked. The release deployed (its preflight claim had
lapsed, another run claimed and armed the backend since) and its own arm was refused:
what the backend carries is that other run's traffic, so relrun must not run its
standalone rollback, which would move it.
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
from relrun.runbook.steps import StepRef
from tests.helpers import ROOT

QUICK = str(ROOT / "tests" / "data" / "quick.yml")
INVENTORY = str(ROOT / "inventories" / "sandbox.yml")
HELD = (
    "another release holds this router backend: run r-other of runbook slow (armed since "
    "…). Two releases must not move the same backend's traffic at once; nothing was moved."
)


def test_a_refused_arm_ends_the_release_without_any_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[RunSpec] = []

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        runs.append(spec)
        bus.emit(RunStarted(label=spec.label, playbook="playbook.yml"))
        done = {"play": "Rollout", "action": "x", "host": "router"}
        deploy = StepRef.deploy(1, "start-canary").task
        bus.emit(TaskStarted(play="Deploy canary", task=deploy, action="x"))
        bus.emit(TaskResult(**{**done, "play": "Deploy canary"}, task=deploy, status="ok"))
        arm = "Dead man's switch: arm (lease 15s)"
        bus.emit(TaskStarted(play="Rollout", task=arm, action="x"))
        result = {"msg": HELD, "lease_held": True}
        bus.emit(TaskResult(**done, task=arm, status="failed", result=result))
        stop = "Dead man's switch: another run holds the backend, stop without rolling back"
        bus.emit(TaskResult(**done, task=stop, status="failed", result={"msg": "stopped"}))
        bus.emit(RunFinished(label=spec.label, status="failed", rc=2))
        return RunOutcome(spec.label, "failed", 2, spec.run_dir)

    monkeypatch.setattr("relrun.workflows.release.run_playbook", run)
    reports = tmp_path / "reports"
    code = run_cli(app, ["release", QUICK, "-i", INVENTORY, "--report-dir", str(reports)])
    assert code == 1
    assert [spec.label for spec in runs] == ["release"], "no rollback run may follow"
    run_id = runs[0].extravars["relrun_run_id"]
    assert run_id.startswith("reports-") and len(run_id) == len("reports-") + 8
    report = json.loads((reports / "release.json").read_text())
    assert report["exit_code"] == 1 and report["rollback"]["ran"] is False
    assert any("another release holds this router backend" in r for r in report["reasons"])
    journal = (reports / "journal.jsonl").read_text().splitlines()
    assert json.loads(journal[0])["run_id"] == run_id
