"""The step grammar: every name the renderer emits parses back to the reference it came from."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from relrun.runbook.steps import (
    OUTCOME_IN_RESCUE,
    OUTCOME_STANDALONE,
    ROLLBACK_STEPS,
    RollbackStep,
    StageAction,
    StepKind,
    StepRef,
    parse_task,
)
from tests.helpers import ROOT

# What the schema allows in a stage name (letters, digits, spaces and ``_.%/+-``).
STAGE_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _.%/+-]{0,30}[A-Za-z0-9%]", fullmatch=True)


def test_rollback_steps_are_the_five_in_order() -> None:
    assert [str(s) for s in ROLLBACK_STEPS] == [
        "stop_deployment", "drain", "switch_traffic", "verify", "cleanup",
    ]
    assert RollbackStep.SWITCH_TRAFFIC.number == 3
    assert StepRef.rollback(RollbackStep.VERIFY).task == "Rollback 4/5 verify"
    assert StepRef.rollback_failure(RollbackStep.DRAIN).task == "Rollback 2/5 drain: record failure"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    name=STAGE_NAMES,
    index=st.integers(1, 20),
    count=st.integers(1, 20),
    action=st.sampled_from(list(StageAction)),
    weight=st.integers(0, 100),
    bake=st.sampled_from([0.5, 1.0, 3.0, 10.0, 120.0]),
)
def test_stage_names_round_trip(
    name: str, index: int, count: int, action: StageAction, weight: int, bake: float
) -> None:
    extra: dict[str, float | int] = {}
    if action is StageAction.SHIFT:
        extra["weight"] = weight
    if action is StageAction.ANALYSIS:
        extra["bake"] = bake
    ref = StepRef.stage(index, count, name, action, **extra)  # type: ignore[arg-type]
    assert parse_task(ref.task) == ref


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    step=st.sampled_from(ROLLBACK_STEPS),
    detail=st.from_regex(r"[a-z][a-z0-9 _.'-]{0,30}", fullmatch=True) | st.just(""),
)
def test_rollback_names_round_trip(step: RollbackStep, detail: str) -> None:
    ref = StepRef.rollback(step, detail)
    assert parse_task(ref.task) == ref


def test_other_names() -> None:
    assert parse_task(StepRef.build(2, "docs").task) == StepRef.build(2, "docs")
    assert parse_task("Deploy 1/start-canary") == StepRef.deploy(1, "start-canary")
    assert parse_task(StepRef.readiness().task).kind is StepKind.READINESS
    assert parse_task("API check: verify") == StepRef.api_check("verify")
    assert parse_task(OUTCOME_IN_RESCUE).kind is StepKind.ROLLBACK_OUTCOME
    assert parse_task(OUTCOME_STANDALONE).kind is StepKind.ROLLBACK_OUTCOME
    assert parse_task("Preflight: the router answers").kind is StepKind.OTHER
    assert parse_task("Rollback 9/5 nonsense").kind is StepKind.OTHER
    assert StepRef.rollback_hook(RollbackStep.DRAIN, "page").records_failure is False


def _names(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, list):
        for item in node:
            found += _names(item)
    elif isinstance(node, dict):
        if isinstance(node.get("name"), str):
            found.append(node["name"])
        for key in ("tasks", "block", "rescue", "always"):
            found += _names(node.get(key))
    return found


def test_every_committed_playbook_task_of_a_known_shape_parses() -> None:
    """A rendered name that looks like a step but does not parse would vanish from reports."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    seen: set[StepKind] = set()
    for path in sorted(Path(ROOT / "playbooks").glob("*.yml")):
        for name in _names(yaml.load(path.read_text(), Loader=Loader)):
            ref = parse_task(name)
            seen.add(ref.kind)
            if re.match(r"^((Stage|Rollback|Build|Deploy) \d|API check:)", name):
                assert ref.kind is not StepKind.OTHER, name
                assert ref.task == name or ref.kind is StepKind.ROLLBACK_OUTCOME, name
    assert {StepKind.STAGE, StepKind.ROLLBACK, StepKind.DEPLOY, StepKind.BUILD} <= seen
