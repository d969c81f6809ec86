"""The journal: every event of a run, appended as JSON lines and flushed as it happens.

Reports are derived from the journal only, so a run that was killed still leaves its
evidence, and a report can be rebuilt later from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter

from relrun.run.events import AnyEvent, Event

JOURNAL_SCHEMA = 1
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class JournalWriter:
    """An event handler that appends each event to ``journal.jsonl``."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.events: list[Event] = []
        self._handle: IO[str] = path.open("a", encoding="utf-8")
        self._write({"kind": "journal", "schema": JOURNAL_SCHEMA, **header})

    def __call__(self, event: Event) -> None:
        """Record one event."""
        self.events.append(event)
        self._write(event.model_dump(mode="json"))

    def _write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def read_journal(path: Path) -> tuple[dict[str, Any], list[Event]]:
    """Read a journal back.

    Args:
        path: a ``journal.jsonl`` file.

    Returns:
        The header record and the events, in order. A torn last line (a killed writer) is
        skipped.
    """
    header: dict[str, Any] = {}
    events: list[Event] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("kind") == "journal":
                header = record
            else:
                events.append(_ADAPTER.validate_python(record))
    return header, events
