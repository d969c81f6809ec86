"""The step grammar: the only code that names the playbook's tasks or parses those names.

The renderer names every task it emits through :class:`StepRef`; the reports read the
journal's task names back through :func:`parse_task`; the tests build events through the
same constructors. A task renamed here is renamed for all three at once, so a report cannot
silently stop finding a step.

Names as they appear in a playbook (and in the journal):

- ``Build 2/docs``, ``Deploy 1/start-canary``
- ``Readiness: canary servers answer their health check``
- ``API check: gate`` (``verify`` in the rollback, ``check`` in ``relrun check``)
- ``Stage 2/4 Blue-Green 25%: shift 25% to canary`` (also ``app hosts reachable``,
  ``stable is healthy``, ``drill fault``, ``analysis for 10s``)
- ``Rollback 3/5 switch_traffic: all traffic to stable`` (the step's block has no detail;
  ``record failure`` and ``hook NAME`` are details too)
- ``Rollback: release failed``, ``Rollback: outcome`` (the rollback's outcome task)
- ``Rollback 5/5 cleanup: revert the drill fault``, ``Promote: revert the drill fault``

This module sits in the runbook layer, below both render and report, and imports nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class RollbackStep(StrEnum):
    """The five rollback steps, in the order they run."""

    STOP_DEPLOYMENT = "stop_deployment"
    DRAIN = "drain"
    SWITCH_TRAFFIC = "switch_traffic"
    VERIFY = "verify"
    CLEANUP = "cleanup"

    @property
    def number(self) -> int:
        """1-based position: ``switch_traffic`` is step 3 of 5."""
        return ROLLBACK_STEPS.index(self) + 1


ROLLBACK_STEPS: tuple[RollbackStep, ...] = tuple(RollbackStep)


class StepKind(StrEnum):
    """What a task is, as far as the reports care."""

    BUILD = "build"
    DEPLOY = "deploy"
    READINESS = "readiness"
    API_CHECK = "api_check"
    STAGE = "stage"
    ROLLBACK = "rollback"
    ROLLBACK_OUTCOME = "rollback_outcome"
    OTHER = "other"


class StageAction(StrEnum):
    """The tasks of one stage, in the order they run."""

    REACHABLE = "reachable"  # on every app host at once
    REACHED = "reached"  # on the router: every app host answered
    STABLE_CHECK = "stable_check"
    SHIFT = "shift"
    FAULT = "fault"  # on the router, or on every canary host at once
    FAULTED = "faulted"  # on the router: the fault is on every canary host
    ANALYSIS = "analysis"


RECORD_FAILURE = "record failure"
HOOK = "hook "
READINESS_TASK = "Readiness: canary servers answer their health check"
# The rollback's last task: it fails the play (so ansible-playbook's status says the
# release did not go through) and its message is the rollback's outcome.
OUTCOME_IN_RESCUE = "Rollback: release failed"
OUTCOME_STANDALONE = "Rollback: outcome"
# The play in which every canary host cleans up at once: its tasks run on the app hosts
# themselves (a host lost there is an app host, not the router).
APP_CLEANUP_PLAY = "Rollback cleanup on the canary hosts"
ROLLED_BACK = "rolled back"
# A drill's fault is reverted first in the rollback's cleanup, and after the last stage
# when the release promotes.
REVERT_FAULT = "revert the drill fault"
PROMOTE_REVERT_TASK = "Promote: revert the drill fault"

_STAGE_TEXT = {
    StageAction.REACHABLE: "app hosts reachable",
    StageAction.REACHED: "every app host answered",
    StageAction.FAULTED: "drill fault on every canary host",
    StageAction.STABLE_CHECK: "stable is healthy",
    StageAction.FAULT: "drill fault",
}
_STAGE = re.compile(r"^Stage (\d+)/(\d+) (.+?): (.+)$")
_SHIFT = re.compile(r"^shift (\d+)% to canary$")
_ANALYSIS = re.compile(r"^analysis for (.+)s$")
_ROLLBACK = re.compile(r"^Rollback (\d)/5 ([a-z_]+)(?:: (.*))?$")
_NUMBERED = re.compile(r"^(Build|Deploy) (\d+)/(.+)$")
_API_CHECK = re.compile(r"^API check: ([a-z][a-z0-9_]*)$")


@dataclass(frozen=True)
class StepRef:
    """One task of a rendered playbook, by what it does.

    Attributes:
        kind: what the task is.
        name: the build's or deploy step's name, the stage's name, or the API checks' phase.
        index: 1-based position of a build, deploy step or stage.
        count: how many stages the rollout has.
        action: which task of a stage.
        weight: a shift's canary weight in percent.
        bake: an analysis's bake in seconds.
        step: which rollback step.
        detail: the text after a rollback step's number and name (empty for its block).
    """

    kind: StepKind
    name: str = ""
    index: int | None = None
    count: int | None = None
    action: StageAction | None = None
    weight: int | None = None
    bake: float | None = None
    step: RollbackStep | None = None
    detail: str = ""

    @classmethod
    def build(cls, index: int, name: str) -> StepRef:
        """The ``index``-th build (1-based) of the gates."""
        return cls(StepKind.BUILD, name=name, index=index)

    @classmethod
    def deploy(cls, index: int, name: str) -> StepRef:
        """The ``index``-th deploy step (1-based)."""
        return cls(StepKind.DEPLOY, name=name, index=index)

    @classmethod
    def readiness(cls) -> StepRef:
        """The wait for the canary servers' health checks."""
        return cls(StepKind.READINESS)

    @classmethod
    def api_check(cls, phase: str) -> StepRef:
        """The API checks of one phase (``gate``, ``verify``, ``check``)."""
        return cls(StepKind.API_CHECK, name=phase)

    @classmethod
    def stage(
        cls,
        index: int,
        count: int,
        name: str,
        action: StageAction,
        *,
        weight: int | None = None,
        bake: float | None = None,
    ) -> StepRef:
        """One task of stage ``index`` of ``count`` (1-based)."""
        return cls(
            StepKind.STAGE, name=name, index=index, count=count, action=action,
            weight=weight, bake=bake,
        )

    @classmethod
    def rollback(cls, step: RollbackStep, detail: str = "") -> StepRef:
        """A rollback step's block (no detail) or one of its tasks."""
        return cls(StepKind.ROLLBACK, step=step, detail=detail)

    @classmethod
    def rollback_hook(cls, step: RollbackStep, hook: str) -> StepRef:
        """A runbook hook run before or after a rollback step."""
        return cls.rollback(step, HOOK + hook)

    @classmethod
    def rollback_failure(cls, step: RollbackStep) -> StepRef:
        """The task that records a rollback step as failed (its block's rescue)."""
        return cls.rollback(step, RECORD_FAILURE)

    @property
    def records_failure(self) -> bool:
        """The rescue task marking a rollback step failed."""
        return self.kind is StepKind.ROLLBACK and self.detail == RECORD_FAILURE

    @property
    def task(self) -> str:
        """The task name, as rendered into the playbook.

        Raises:
            ValueError: the reference cannot be named (an ``OTHER`` task, or a stage
                reference without its weight or bake).
        """
        if self.kind in {StepKind.BUILD, StepKind.DEPLOY}:
            return f"{self.kind.value.capitalize()} {self.index}/{self.name}"
        if self.kind is StepKind.READINESS:
            return READINESS_TASK
        if self.kind is StepKind.API_CHECK:
            return f"API check: {self.name}"
        if self.kind is StepKind.STAGE:
            return f"Stage {self.index}/{self.count} {self.name}: {self._stage_text()}"
        if self.kind is StepKind.ROLLBACK and self.step is not None:
            head = f"Rollback {self.step.number}/5 {self.step.value}"
            return f"{head}: {self.detail}" if self.detail else head
        raise ValueError(f"{self} has no task name")

    def _stage_text(self) -> str:
        if self.action is StageAction.SHIFT:
            if self.weight is None:
                raise ValueError("a shift needs its weight")
            return f"shift {self.weight}% to canary"
        if self.action is StageAction.ANALYSIS:
            if self.bake is None:
                raise ValueError("an analysis needs its bake")
            return f"analysis for {self.bake:g}s"
        assert self.action is not None
        return _STAGE_TEXT[self.action]


def parse_task(task: str) -> StepRef:
    """What a journal's task name refers to.

    Args:
        task: the task name, as Ansible reported it.

    Returns:
        The reference; ``StepKind.OTHER`` for a task the reports do not single out.
    """
    stage = _STAGE.match(task)
    if stage:
        return _parse_stage(stage)
    rollback = _ROLLBACK.match(task)
    if rollback and rollback.group(2) in RollbackStep.__members__.values():
        return StepRef.rollback(RollbackStep(rollback.group(2)), rollback.group(3) or "")
    if task in {OUTCOME_IN_RESCUE, OUTCOME_STANDALONE}:
        return StepRef(StepKind.ROLLBACK_OUTCOME)
    numbered = _NUMBERED.match(task)
    if numbered:
        kind = StepKind.BUILD if numbered.group(1) == "Build" else StepKind.DEPLOY
        return StepRef(kind, name=numbered.group(3), index=int(numbered.group(2)))
    if task == READINESS_TASK:
        return StepRef.readiness()
    check = _API_CHECK.match(task)
    if check:
        return StepRef.api_check(check.group(1))
    return StepRef(StepKind.OTHER, name=task)


def _parse_stage(match: re.Match[str]) -> StepRef:
    index, count, name, what = int(match[1]), int(match[2]), match[3], match[4]
    for action, text in _STAGE_TEXT.items():
        if what == text:
            return StepRef.stage(index, count, name, action)
    shift = _SHIFT.match(what)
    if shift:
        return StepRef.stage(index, count, name, StageAction.SHIFT, weight=int(shift[1]))
    analysis = _ANALYSIS.match(what)
    if analysis:
        try:
            bake = float(analysis[1])
        except ValueError:
            bake = None
        return StepRef.stage(index, count, name, StageAction.ANALYSIS, bake=bake)
    return StepRef(StepKind.OTHER, name=f"Stage {index}/{count} {name}: {what}")
