"""A fault that cannot be injected says why, in the trigger and in the drill's verdict."""

from __future__ import annotations

from relrun.report.facts import collect_facts
from relrun.report.verdict import drill_verdict
from relrun.run.events import Event, TaskResult, TaskStarted
from relrun.runbook.loader import load_runbook
from relrun.runbook.steps import ROLLBACK_STEPS, StageAction, StepRef
from tests.helpers import ROOT

QUICK = ROOT / "tests" / "data" / "quick.yml"


def ok(task: str, **result: object) -> list[Event]:
    return [
        TaskStarted(play="Rollout", task=task, action="x"),
        TaskResult(play="Rollout", task=task, action="x", host="router", status="ok",
                   result=result),
    ]


def test_a_fault_that_cannot_be_injected_is_named_as_the_reason() -> None:
    stage = "Blue-Green 50%"
    fault = StepRef.stage(2, 3, stage, StageAction.FAULT).task
    events: list[Event] = [
        *ok(StepRef.stage(2, 3, stage, StageAction.SHIFT, weight=50).task, weights={"c": 50}),
        TaskResult(
            play="Rollout", task=fault, action="relrun.release.fault", host="router",
            status="failed",
            result={"msg": "One or more items failed", "results": [
                {"item": "app-2", "failed": True,
                 "msg": "none of canary runs on this host"}]},
        ),
    ]
    for step in ROLLBACK_STEPS:
        events += ok(StepRef.rollback(step, "work").task)
    facts = collect_facts(events)
    assert facts.trigger is not None and facts.trigger["reason"] == "fault_not_injected"
    assert facts.trigger["message"] == "app-2: none of canary runs on this host"
    runbook = load_runbook(QUICK).runbook
    verdict = drill_verdict(facts, runbook, "error_rate", False, 1.0, 0)
    assert (verdict.verdict, verdict.exit_code) == ("fail", 1)
    assert verdict.reasons[0] == (
        "the error_rate fault could not be injected: app-2: none of canary runs on this host"
    )
