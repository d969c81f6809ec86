"""An operator's rollback taken up by the playbook: one verdict, whatever the trigger."""

from __future__ import annotations

from typing import Any

from relrun.errors import EXIT_FAILED, EXIT_INTERRUPTED
from relrun.report.drill import rto_seconds
from relrun.report.facts import collect_facts
from relrun.report.verdict import release_verdict
from relrun.run.events import Event, TaskResult, TaskStarted
from relrun.runbook.steps import ROLLBACK_STEPS, StageAction, StepRef


def ok(task: str, **result: Any) -> list[Event]:
    return [
        TaskStarted(play="Rollout", task=task, action="x"),
        TaskResult(play="Rollout", task=task, action="x", host="lb", status="ok", result=result),
    ]


def asked(reason: str, by: str) -> list[Event]:
    analysis = StepRef.stage(1, 2, "Canary 10%", StageAction.ANALYSIS, bake=120).task
    events = [
        *ok(StepRef.stage(1, 2, "Canary 10%", StageAction.SHIFT, weight=10).task,
            weights={"canary": 1}),
        TaskStarted(play="Rollout", task=analysis, action="relrun.release.analysis"),
        TaskResult(
            play="Rollout", task=analysis, action="relrun.release.analysis", host="lb",
            status="failed",
            result={
                "msg": "rollback requested at stage Canary 10%",
                "samples": [],
                "breach": {"reason": reason, "observed": None, "threshold": None,
                           "message": "operator interrupt (SIGINT)", "by": by, "at": 100.0},
            },
        ),
    ]
    for step in ROLLBACK_STEPS:
        events += ok(StepRef.rollback(step, "work").task, confirmed_at=103.5)
    return events


def test_a_signal_taken_up_by_the_playbook_is_an_interrupt_not_a_breach() -> None:
    facts = collect_facts(asked("signal", "SIGINT to relrun (pid 7)"))
    assert facts.trigger is not None
    assert facts.trigger["reason"] == "signal"
    assert facts.trigger["path"] == "in_playbook"
    assert facts.trigger["by"] == "SIGINT to relrun (pid 7)"
    assert facts.trigger["at"] == 100.0 and facts.switched_at == 103.5
    assert [s.status for s in facts.stages] == ["interrupted"]
    verdict = release_verdict(facts, interrupted=True)
    assert (verdict.exit_code, verdict.state) == (EXIT_INTERRUPTED, "rolled_back")


def test_relrun_rollback_taken_up_by_the_playbook_fails_the_release_safely() -> None:
    facts = collect_facts(asked("manual", "relrun rollback (pid 8, user ops)"))
    verdict = release_verdict(facts, interrupted=False)
    assert (verdict.exit_code, verdict.state) == (EXIT_FAILED, "rolled_back")
    assert verdict.reasons[0].startswith("rollback triggered by manual at stage Canary 10%")


def test_a_second_rollback_run_does_not_move_the_rto_past_the_first_switch() -> None:
    """Issue 14 item 11: an interrupt during the in-playbook verify reported RTO 23.5 s
    where traffic had been on stable after 5.7 s: the second run's switch replaced the
    first's time."""
    events = asked("signal", "SIGINT to relrun (pid 7)")
    for step in ROLLBACK_STEPS:  # the standalone rollback after the playbook was stopped
        events += ok(StepRef.rollback(step, "again").task, confirmed_at=123.5)
    facts = collect_facts(events)
    assert facts.switched_at == 103.5
    assert rto_seconds(facts) == 3.5
