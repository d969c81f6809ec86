"""Unreachable hosts in the verdict: named, and harmless when their canary carried nothing."""

from __future__ import annotations

from typing import Any

from relrun.report.facts import collect_facts
from relrun.report.verdict import release_verdict
from relrun.run.events import Event, Note, TaskResult, TaskStarted
from relrun.runbook.steps import ROLLBACK_STEPS, RollbackStep, StageAction, StepRef

STEPS = ROLLBACK_STEPS
C = RollbackStep.CLEANUP


def ok(task: str, host: str = "lb-1", **result: Any) -> list[Event]:
    return [
        TaskStarted(play="Rollout", task=task, action="x"),
        TaskResult(play="Rollout", task=task, action="x", host=host, status="ok", result=result),
    ]


def rollback(cleanup_unreachable: str | None) -> list[Event]:
    events: list[Event] = []
    for step in STEPS[:4]:
        events += ok(StepRef.rollback(step, "work").task)
    task = StepRef.rollback(C, "stop-canary").task
    if cleanup_unreachable is None:
        events += ok(task)
    else:
        events.append(TaskStarted(play="Rollout", task=task, action="relrun.release.build"))
        events.append(
            TaskResult(
                play="Rollout",
                task=task,
                action="relrun.release.build",
                host="lb-1",
                status="failed",
                result={
                    "msg": "One or more items failed",
                    "results": [
                        {"item": "app-1", "changed": True},
                        {"item": cleanup_unreachable, "unreachable": True, "msg": "timed out"},
                    ],
                },
            )
        )
        events += ok(StepRef.rollback_failure(C).task)
    return events


def stage_one(weights: dict[str, int]) -> list[Event]:
    return [
        *ok(StepRef.stage(1, 2, "Canary 10%", StageAction.SHIFT, weight=10).task, weights=weights),
        TaskResult(
            play="Rollout",
            task=StepRef.stage(1, 2, "Canary 10%", StageAction.ANALYSIS, bake=5).task,
            action="relrun.release.analysis",
            host="lb-1",
            status="failed",
            result={
                "msg": "breach",
                "breach": {
                    "reason": "error_rate",
                    "observed": 0.5,
                    "threshold": 0.05,
                    "message": "x",
                },
            },
        ),
    ]


MAPPING = Note(
    message="canary servers per host",
    data={"canary_servers": {"app-1": ["canary-1"], "app-2": ["canary-2"]}},
)


def test_unreachable_host_whose_canary_carried_traffic_is_incomplete_exit_3() -> None:
    events = [
        MAPPING,
        *stage_one({"stable-1": 9, "stable-2": 9, "canary-1": 1, "canary-2": 1}),
        *rollback("app-2"),
    ]
    verdict = release_verdict(collect_facts(events), interrupted=False)
    assert verdict.exit_code == 3
    assert verdict.state == "rollback_incomplete"
    assert any("incomplete on app-2 (unreachable)" in r for r in verdict.reasons)


def test_unreachable_host_whose_canary_never_carried_traffic_is_harmless() -> None:
    events = [
        MAPPING,
        *stage_one({"stable-1": 9, "stable-2": 9, "canary-1": 1, "canary-2": 0}),
        *rollback("app-2"),
    ]
    verdict = release_verdict(collect_facts(events), interrupted=False)
    assert verdict.exit_code == 1
    assert verdict.state == "rolled_back"
    assert any(
        "app-2 unreachable during cleanup; its canary (canary-2) never carried traffic" in r
        for r in verdict.reasons
    )


def test_without_the_inventory_mapping_an_unreachable_host_stays_incomplete() -> None:
    events = [*stage_one({"canary-1": 1, "canary-2": 0}), *rollback("app-2")]
    assert release_verdict(collect_facts(events), interrupted=False).exit_code == 3
