"""The progress display: what an operator sees on a terminal and in plain logs."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from relrun.run.console import LiveProgress, PlainProgress
from relrun.run.events import TaskResult, TaskStarted
from relrun.runbook.steps import StepRef


def build_result(required: bool, status: str, rc: int) -> TaskResult:
    build: dict[str, Any] = {"name": "docs", "status": status, "rc": rc, "seconds": 1.5}
    build["required"] = required
    return TaskResult(
        play="Gates",
        task=StepRef.build(2, "docs").task,
        action="relrun.release.build",
        host="build1",
        status="ok",  # an optional build's task does not fail
        duration=1.5,
        result={"changed": True, "build": build},
    )


def plain_lines(*events: TaskResult) -> str:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    for event in events:
        progress(event)
    return stream.getvalue()


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None), out


def test_a_failed_optional_build_is_shown_failed_not_ok() -> None:
    line = plain_lines(build_result(required=False, status="failed", rc=2))
    assert "Build 2/docs @ build1: FAILED (optional) [1.5s]: build docs exit code 2" in line
    assert ": ok" not in line
    timed_out = plain_lines(build_result(required=False, status="timeout", rc=-9))
    assert "FAILED (optional) [1.5s]: build docs timed out after 1.5s" in timed_out
    passed = plain_lines(build_result(required=False, status="passed", rc=0))
    assert "Build 2/docs @ build1: ok [1.5s]" in passed


def test_the_live_view_shows_a_failed_optional_build_too() -> None:
    console, out = terminal()
    progress = LiveProgress(console)
    try:
        progress(build_result(required=False, status="failed", rc=1))
    finally:
        progress.close()
    assert "Build 2/docs @ build1: FAILED (optional)" in out.getvalue()


def test_the_elapsed_time_advances_without_events() -> None:
    now = [100.0]
    console, out = terminal()
    progress = LiveProgress(console, clock=lambda: now[0])
    try:
        progress(TaskStarted(play="Rollout", task="Stage 1/25%: bake", action="pause"))
        assert "Stage 1/25%: bake    0.0s" in out.getvalue()
        now[0] = 112.5  # no event arrives while the bake runs; the view refreshes
        progress.live.refresh()
        assert "Stage 1/25%: bake   12.5s" in out.getvalue()
    finally:
        progress.close()


def test_a_failed_step_prints_the_tail_of_its_output() -> None:
    out = io.StringIO()
    build: dict[str, Any] = {"name": "start-canary", "status": "failed", "rc": 3,
                             "required": True, "output_tail": "\n".join(
                                 f"line {i}" for i in range(1, 9)) + "\nport 8081 in use"}
    PlainProgress(out)(
        TaskResult(play="Deploy canary", task=StepRef.deploy(1, "start-canary").task,
                   action="relrun.release.build", host="app-1", status="failed",
                   result={"msg": "build start-canary exit code 3", "build": build})
    )
    text = out.getvalue()
    assert "Deploy 1/start-canary @ app-1: FAILED: build start-canary exit code 3" in text
    assert "last 5 line(s) of output:" in text
    assert "    | port 8081 in use" in text and "| line 5" in text and "| line 4" not in text


def test_the_rollback_outcome_is_not_a_failure_when_the_rollback_worked() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    for task, status, msg in (
        ("Rollback: release failed", "failed", "rolled back"),
        ("Rollback: outcome", "skipped", ""),
        ("Rollback: outcome", "failed", "rollback incomplete: drain"),
    ):
        progress(TaskResult(play="Rollback", task=task, action="ansible.builtin.fail",
                            host="lb", status=status, result={"msg": msg}))  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("rollback outcome @ lb: rolled back")
    assert lines[1].endswith("rollback outcome @ lb: every step passed")
    assert lines[2].endswith("rollback outcome @ lb: FAILED: rollback incomplete: drain")
