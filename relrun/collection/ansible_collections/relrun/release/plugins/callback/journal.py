"""Callback relrun.release.journal: a plain ansible-playbook run's events, as ansible-runner keeps them."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: journal
type: notification
short_description: Records a run's job events for C(relrun report --from-artifacts)
description:
  - Writes every play, task and host result of the run as one JSON file per event under
    C(OUTPUT_DIR/job_events/), in the layout and format of ansible-runner's artifacts
    (C(event), C(event_data), C(counter), C(uuid), C(created)), so that
    C(relrun report --from-artifacts DIR --runbook RUNBOOK) builds the same reports
    (C(report.html), C(drill.json), C(ci.json), C(junit.xml)) as a run through relrun.
  - Module arguments (C(invocation)) are not recorded, only results, as relrun records
    them; results of C(no_log) tasks are censored by Ansible before they get here.
  - Also records the C(relrun_runbook) play variables of rendered playbooks (runbook name,
    version and sha256), so the report can check that it is given the runbook that ran.
  - Needs enabling, for example C(ANSIBLE_CALLBACKS_ENABLED=relrun.release.journal).
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
requirements:
  - enable in configuration (C(callbacks_enabled))
options:
  output_dir:
    description: The directory the events go to (created if missing; a second run into it is refused by the report).
    type: path
    default: relrun-artifacts
    env:
      - name: RELRUN_ARTIFACTS_DIR
    ini:
      - section: callback_relrun_journal
        key: output_dir
"""

import json
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from ansible.plugins.callback import CallbackBase

_RESULT_EVENTS = {
    "ok": "runner_on_ok",
    "failed": "runner_on_failed",
    "skipped": "runner_on_skipped",
    "unreachable": "runner_on_unreachable",
}


class CallbackModule(CallbackBase):  # type: ignore[misc]  # ansible ships no stubs
    """Write ansible-runner style job events for relrun's reports."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "relrun.release.journal"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dir: str | None = None
        self._counter = 0
        self._play = ""
        self._task_started: dict[tuple[str, str], float] = {}

    def set_options(self, task_keys: Any = None, var_options: Any = None, direct: Any = None) -> None:
        """Read I(output_dir)."""
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._dir = os.path.join(os.path.abspath(self.get_option("output_dir")), "job_events")

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        if self._dir is None:
            return
        os.makedirs(self._dir, exist_ok=True)
        self._counter += 1
        event_uuid = str(uuid.uuid4())
        record = {
            "event": event,
            "uuid": event_uuid,
            "counter": self._counter,
            # ansible-runner's form: UTC, no offset. timezone.utc: datetime.UTC is 3.11+.
            "created": datetime.now(timezone.utc).replace(tzinfo=None).isoformat(),  # noqa: UP017
            "event_data": data,
        }
        path = os.path.join(self._dir, f"{self._counter}-{event_uuid}.json")
        partial = path + ".partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(record, handle, sort_keys=True, default=str)
        os.replace(partial, path)

    def v2_playbook_on_start(self, playbook: Any) -> None:
        """The playbook's file name."""
        self._emit("playbook_on_start", {"playbook": os.path.basename(playbook._file_name)})

    def v2_playbook_on_play_start(self, play: Any) -> None:
        """The play, with a rendered playbook's runbook identity."""
        self._play = play.get_name()
        data: dict[str, Any] = {"play": self._play}
        runbook = (play.vars or {}).get("relrun_runbook")
        if isinstance(runbook, dict):
            data["relrun_runbook"] = {str(k): str(v) for k, v in runbook.items()}
        self._emit("playbook_on_play_start", data)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        """A task starts."""
        self._emit("playbook_on_task_start", self._task_data(task))

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        """A handler starts."""
        self._emit("playbook_on_task_start", self._task_data(task))

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        """A task starts on one host: the start of its duration."""
        self._task_started[(host.get_name(), task._uuid)] = time.time()

    def v2_runner_on_ok(self, result: Any) -> None:
        """A host's result."""
        self._result("ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        """A host's failure (maybe ignored)."""
        self._result("failed", result, ignore_errors)

    def v2_runner_on_skipped(self, result: Any) -> None:
        """A host skipped the task."""
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        """A host could not be reached."""
        self._result("unreachable", result)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        """Per-host totals: the report reads failures and unreachable hosts from them."""
        data: dict[str, Any] = {}
        for name in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
            data[name] = dict(getattr(stats, name, {}) or {})
        self._emit("playbook_on_stats", data)

    def _task_data(self, task: Any) -> dict[str, Any]:
        return {
            "play": self._play,
            "task": task.get_name(),
            "task_action": task.action,
            "resolved_action": getattr(task, "resolved_action", None) or task.action,
            "task_uuid": task._uuid,
        }

    def _result(self, status: str, result: Any, ignore_errors: bool = False) -> None:
        host = result._host.get_name()
        task = result._task
        started = self._task_started.pop((host, task._uuid), None)
        res = json.loads(self._dump_results(dict(result._result), indent=None))
        res.pop("invocation", None)
        data = self._task_data(task)
        data.update(
            host=host,
            res=res,
            ignore_errors=bool(ignore_errors),
            duration=round(time.time() - started, 6) if started is not None else 0.0,
        )
        self._emit(_RESULT_EVENTS[status], data)
