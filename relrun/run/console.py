"""Live progress: a rich display on a terminal, plain timestamped lines elsewhere.

Both are event handlers; they write to standard error so that standard output stays
for results (``--json``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from relrun.errors import printable
from relrun.run.events import Event, Note, RunFinished, RunStarted, TaskResult, TaskStarted
from relrun.run.samples import parse_samples, peaks
from relrun.runbook.steps import ROLLED_BACK, StepKind, parse_task

_MARK = {"ok": "ok", "failed": "FAILED", "unreachable": "UNREACHABLE", "skipped": "skipped"}


class _Describer:
    """Turns events into lines, remembering what changes their meaning.

    The rollback's last task fails on purpose, so that ansible-playbook's own status says
    the release did not go through; when its message is "rolled back" the rollback did
    its job, so neither that task nor the run's ``failed`` status is shown as a failure.
    The verdict, printed last, is the only word on whether the run passed.
    """

    def __init__(self) -> None:
        self.rolled_back: set[str] = set()
        self.label = ""

    def __call__(self, event: Event) -> str | None:
        if isinstance(event, RunStarted):
            self.label = event.label
            return f"run {event.label}: started"
        outcome = isinstance(event, TaskResult) and (
            parse_task(event.task).kind is StepKind.ROLLBACK_OUTCOME
        )
        if isinstance(event, TaskResult) and outcome:
            message = str(event.result.get("msg", "")).strip()
            if event.status == "skipped":
                # The standalone rollback's outcome task runs only when a step failed.
                return f"rollback outcome @ {event.host}: every step passed"
            if event.status == "failed" and message == ROLLED_BACK:
                self.rolled_back.add(self.label)
                return f"rollback outcome @ {event.host}: {ROLLED_BACK}"
            return f"rollback outcome @ {event.host}: FAILED: {message}"
        if isinstance(event, RunFinished):
            if event.status == "successful":
                return f"run {event.label}: playbook finished"
            if event.label in self.rolled_back:
                return f"run {event.label}: playbook finished after the rollback"
            return f"run {event.label}: playbook stopped ({event.status}, rc {event.rc})"
        return _describe(event)


def _describe(event: Event) -> str | None:
    if isinstance(event, TaskStarted):
        return f"{event.task} ..."
    if isinstance(event, TaskResult):
        mark, detail = _MARK[event.status], ""
        optional = _optional_failure(event)
        if optional is not None:
            mark, detail = "FAILED (optional)", f": {optional}"
        elif event.status in {"failed", "unreachable"}:
            detail = f": {str(event.result.get('msg', '')).strip()}" + _output_tail(event)
        elif event.status == "ok":
            detail = _numbers(event)
        ignored = " (ignored)" if event.ignored else ""
        took = f" [{event.duration:.1f}s]" if event.duration else ""
        return f"{event.task} @ {event.host}: {mark}{ignored}{took}{detail}"
    if isinstance(event, Note):
        return event.message
    return None


def _optional_failure(event: TaskResult) -> str | None:
    """Why an optional build failed, or None: its task ends ok, the build did not pass."""
    build = event.result.get("build")
    if event.status != "ok" or not isinstance(build, dict):
        return None
    if build.get("required", True) or build.get("status") in {None, "passed"}:
        return None
    if build.get("status") == "timeout":
        return f"build {build.get('name', '')} timed out after {build.get('seconds', 0):g}s"
    if build.get("rc") not in {None, 0}:
        return f"build {build.get('name', '')} exit code {build['rc']}"
    missing = ", ".join(map(str, build.get("missing_artifacts") or []))
    return f"build {build.get('name', '')} missing artifacts: {missing}".rstrip(": ")


TAIL_LINES = 5


def _output_tail(event: TaskResult) -> str:
    """The last lines of a failed command's output (build, deploy, cleanup, hook steps).

    The event is already redacted (see ``run/redact.py``), so is its output. A step run on
    every canary host reports per host.
    """
    builds: list[tuple[str, dict[str, object]]] = []
    if isinstance(event.result.get("build"), dict):
        builds.append(("", event.result["build"]))
    for item in event.result.get("results") or []:
        if isinstance(item, dict) and isinstance(item.get("build"), dict) and item.get("failed"):
            host = item.get("_ansible_item_label") or item.get("item")
            builds.append((f"{host}: ", item["build"]))
    lines: list[str] = []
    for where, build in builds:
        tail = str(build.get("output_tail") or "").rstrip().splitlines()[-TAIL_LINES:]
        if build.get("status") != "passed" and tail:
            lines.append(f"\n  {where}last {len(tail)} line(s) of output:")
            lines += [f"\n    | {line}" for line in tail]
    return "".join(lines)


def _failed_style(event: Event, text: str) -> str:
    if not isinstance(event, TaskResult) or text.endswith(f": {ROLLED_BACK}"):
        return ""
    if event.status in {"failed", "unreachable"}:
        return "red"
    return "yellow" if _optional_failure(event) is not None else ""


def _numbers(event: TaskResult) -> str:
    """The figures an operator watches: weights after a shift, canary metrics after a bake."""
    result = event.result
    if event.action == "relrun.release.traffic" and result.get("weights"):
        weights = ", ".join(f"{k}={v}" for k, v in sorted(result["weights"].items()))
        return f" (weights {weights})"
    if event.action == "relrun.release.analysis" and result.get("samples"):
        peak = peaks(parse_samples(result["samples"]))
        parts = [f"{peak.samples} samples"]
        if peak.peak_error_rate is not None:
            parts.append(f"peak error rate {peak.peak_error_rate:.1%}")
        if peak.peak_p95_ms is not None:
            parts.append(f"peak p95 {peak.peak_p95_ms:.0f} ms")
        return f" ({', '.join(parts)})"
    if event.action == "relrun.release.traffic" and "drained" in result:
        return " (drained)" if result["drained"] else " (drain timeout: requests still in flight)"
    return ""


class PlainProgress:
    """Timestamped lines, one per event worth telling; for logs, cron and CI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.describe = _Describer()

    def __call__(self, event: Event) -> None:
        """Print the event, if it is one a person would want to see."""
        text = self.describe(event)
        if text is None or isinstance(event, TaskStarted):
            return
        text = printable(text, keep_newlines=True)  # a command's output may hold escapes
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        print(f"{stamp} {text}", file=self.stream, flush=True)


class _Status:
    """The live view's bottom line, rendered afresh on every refresh (elapsed time ticks)."""

    def __init__(self, progress: LiveProgress) -> None:
        self.progress = progress

    def __rich__(self) -> Text:
        progress = self.progress
        elapsed = progress.clock() - progress.started
        return Text.assemble(("▶ ", "bold cyan"), progress.current, (f"  {elapsed:5.1f}s", "dim"))


class LiveProgress:
    """A rich live view: finished steps scroll above, the current step and elapsed time below.

    Args:
        console: where to draw (standard error by default).
        clock: monotonic seconds, for the elapsed time.
    """

    def __init__(
        self, console: Console | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console or Console(stderr=True)
        self.clock = clock
        self.started = clock()
        self.current = "starting"
        self.describe = _Describer()
        self.live = Live(_Status(self), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def __call__(self, event: Event) -> None:
        """Update the view."""
        text = self.describe(event)
        if text is None:
            return
        text = printable(text, keep_newlines=True)  # a command's output may hold escapes
        if isinstance(event, TaskStarted):
            self.current = printable(event.task)
        else:
            self.console.print(Text(text, style=_failed_style(event, text)))
        self.live.refresh()

    def close(self) -> None:
        """Stop the live view."""
        self.live.stop()


def make_progress(interactive: bool | None = None) -> PlainProgress | LiveProgress:
    """Choose the display: live on a terminal, plain otherwise.

    Args:
        interactive: force one or the other; None decides by ``isatty``.

    Returns:
        The handler.
    """
    if interactive is None:
        interactive = sys.stderr.isatty()
    return LiveProgress() if interactive else PlainProgress()
