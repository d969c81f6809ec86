"""Events of a run relrun did not start: ansible-runner artifacts, AWX job events, the callback.

Every engine that runs Ansible records the same event stream relrun reads live from
ansible-runner (``event``, ``event_data``, ``created``, ``counter``): ansible-runner keeps it
as ``artifacts/IDENT/job_events/*.json``, AWX and Automation Platform serve it at
``/api/v2/jobs/N/job_events/`` (pages of ``{"results": [...]}``), and the collection's
``relrun.release.journal`` callback writes it beside a plain ``ansible-playbook`` run in
ansible-runner's layout. This module turns any of them into relrun's journal events,
through the same translation a live run uses, so the reports cannot tell them apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relrun.errors import InputError, Problem
from relrun.run.events import Event, RunFinished, RunStarted, from_runner_event


@dataclass(frozen=True)
class ArtifactRun:
    """One playbook run read back from its recorded events.

    Attributes:
        source: the directory or file(s) read.
        events: relrun's events, in the order Ansible emitted them, timed as it did.
        playbook: the playbook's name as the engine recorded it.
        status: ``successful`` or ``failed`` (ansible-runner's words).
        rc: the run's return code, when recorded (else derived from the status).
        runbook: the ``relrun_runbook`` play variables (name, version, sha256) the
            callback recorded, else empty.
    """

    source: Path
    events: list[Event]
    playbook: str
    status: str
    rc: int | None
    runbook: dict[str, str]


def read_artifacts(path: Path, label: str = "release") -> ArtifactRun:
    """Read the events of one run from ``path``.

    Args:
        path: an ansible-runner private data dir, its ``artifacts`` dir, one
            ``artifacts/IDENT`` dir, a ``job_events`` dir, or a JSON / JSON-lines file of
            AWX job events (a list, an API page ``{"results": [...]}``, or one per line).
        label: the run's label in the journal (``release`` or ``drill``).

    Returns:
        The run.

    Raises:
        InputError: nothing readable there, several runs, or a malformed record.
    """
    raws = _raw_events(path)
    if not raws:
        raise InputError([Problem(str(path), 1, 1, "no Ansible job events found here")])
    raws.sort(key=lambda raw: (_number(raw.get("counter")), _number(raw.get("start_line"))))
    events: list[Event] = []
    playbook = ""
    runbook: dict[str, str] = {}
    failed = False
    first = _created(raws[0]) or 0.0
    last = first
    for raw in raws:
        at = _created(raw)
        last = at if at is not None else last
        data = raw.get("event_data") or {}
        kind = raw.get("event", "")
        if kind == "playbook_on_start":
            playbook = str(data.get("playbook") or playbook)
        if kind == "playbook_on_play_start" and isinstance(data.get("relrun_runbook"), dict):
            runbook = {str(k): str(v) for k, v in data["relrun_runbook"].items()}
        if kind == "playbook_on_stats":
            failed = bool(data.get("failures") or data.get("dark"))
        event = from_runner_event(raw)
        if event is not None:
            events.append(event.model_copy(update={"time": last}))
    status, rc = _outcome(path, failed)
    events.insert(0, RunStarted(label=label, playbook=playbook, time=first))
    events.append(RunFinished(label=label, status=status, rc=rc, time=last))
    return ArtifactRun(path, events, playbook, status, rc, runbook)


def _raw_events(path: Path) -> list[dict[str, Any]]:
    if path.is_file():
        return _from_file(path)
    if not path.is_dir():
        raise InputError([Problem(str(path), 1, 1, "no such file or directory")])
    dirs = sorted({p.parent for p in path.rglob("job_events/*.json")})
    if len(dirs) > 1:
        shown = ", ".join(str(d.parent.relative_to(path)) for d in dirs[:5])
        raise InputError(
            [Problem(str(path), 1, 1, f"events of {len(dirs)} runs here ({shown}); name one")]
        )
    if dirs:
        return [_from_json(f) for f in sorted(dirs[0].glob("*.json"))]
    raws: list[dict[str, Any]] = []
    for name in sorted(path.glob("*.json*")):
        raws.extend(_from_file(name))
    return raws


def _from_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError([Problem(str(path), 1, 1, f"not a JSON job event: {err}")]) from None
    if not isinstance(record, dict):
        raise InputError([Problem(str(path), 1, 1, "not a JSON job event (an object)")])
    return record


def _from_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError([Problem(str(path), 1, 1, f"cannot read: {err}")]) from None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if document is None:  # JSON lines: one event per line
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as err:
                raise InputError(
                    [Problem(str(path), number, 1, f"not a JSON job event: {err}")]
                ) from None
        document = records
    if isinstance(document, dict):
        document = document.get("results", [document])
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise InputError([Problem(str(path), 1, 1, "expected job events (JSON objects)")])
    return [r for r in document if "event" in r]


def _outcome(path: Path, failed: bool) -> tuple[str, int | None]:
    """ansible-runner's ``rc`` and ``status`` files when there are, else the stats' say."""
    folder = path if path.is_dir() else path.parent
    for rc_file in [folder / "rc", *sorted(folder.rglob("rc"))]:
        try:
            rc = int(rc_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        status_file = rc_file.parent / "status"
        status = status_file.read_text(encoding="utf-8").strip() if status_file.exists() else ""
        return status or ("successful" if rc == 0 else "failed"), rc
    return ("failed", 2) if failed else ("successful", 0)


def _created(raw: dict[str, Any]) -> float | None:
    value = raw.get("created")
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:  # ansible-runner writes UTC without an offset
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0
