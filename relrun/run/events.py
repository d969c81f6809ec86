"""Typed events made from ansible-runner's event stream, and the registry that dispatches them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class Event(BaseModel):
    """Base of every event: a kind and a wall-clock time."""

    model_config = ConfigDict(frozen=True)

    kind: str
    time: float = Field(default_factory=time.time)


class RunStarted(Event):
    """A playbook run begins."""

    kind: Literal["run_started"] = "run_started"
    label: str
    playbook: str


class TaskStarted(Event):
    """A task starts (on all hosts of its play)."""

    kind: Literal["task_started"] = "task_started"
    play: str
    task: str
    action: str


class TaskResult(Event):
    """A task finished on one host."""

    kind: Literal["task_result"] = "task_result"
    play: str
    task: str
    action: str
    host: str
    status: Literal["ok", "failed", "unreachable", "skipped"]
    ignored: bool = False
    duration: float = 0.0
    result: dict[str, Any] = Field(default_factory=dict)


class RunFinished(Event):
    """A playbook run ended."""

    kind: Literal["run_finished"] = "run_finished"
    label: str
    status: str
    rc: int | None


class Note(Event):
    """Something relrun itself wants recorded (a phase change, a decision)."""

    kind: Literal["note"] = "note"
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


AnyEvent = RunStarted | TaskStarted | TaskResult | RunFinished | Note
Handler = Callable[[Event], None]

_RESULT_STATUS: dict[str, Literal["ok", "failed", "unreachable", "skipped"]] = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def from_runner_event(raw: dict[str, Any]) -> Event | None:
    """Translate one ansible-runner event into a relrun event.

    Args:
        raw: the event dict ansible-runner hands its event handler.

    Returns:
        The typed event, or None for events relrun does not track.
    """
    kind = raw.get("event", "")
    data = raw.get("event_data", {}) or {}
    action = str(data.get("resolved_action") or data.get("task_action") or "")
    if kind == "playbook_on_task_start":
        return TaskStarted(play=data.get("play", ""), task=data.get("task", ""), action=action)
    status = _RESULT_STATUS.get(kind)
    if status is None:
        return None
    res = data.get("res") or {}
    if isinstance(res, dict):
        # Ansible echoes every module argument back; the journal records results only, so
        # arguments templated from inventory variables never reach it or the reports.
        res = {k: v for k, v in res.items() if k != "invocation"}
    return TaskResult(
        play=str(data.get("play", "")),
        task=str(data.get("task", "")),
        action=action,
        host=str(data.get("host", "")),
        status=status,
        ignored=bool(data.get("ignore_errors")),
        duration=float(data.get("duration") or 0.0),
        result=res if isinstance(res, dict) else {"value": res},
    )


class EventBus:
    """Dispatches events to handlers; a failing handler is logged, never fatal."""

    def __init__(self, handlers: list[Handler] | None = None) -> None:
        self.handlers: list[Handler] = list(handlers or [])

    def add(self, handler: Handler) -> None:
        """Register a handler."""
        self.handlers.append(handler)

    def emit(self, event: Event) -> None:
        """Send an event to every handler."""
        for handler in self.handlers:
            try:
                handler(event)
            except Exception:  # a broken display must never break a rollback
                log.exception("event handler %r failed on %s", handler, event.kind)
