"""Markers of runs in progress, so a run whose controller died is found and finished.

A release or drill writes a marker for its environment when it starts and removes it when
it has finished (promoted, or rolled back and reported). A marker whose process is gone
means the run was cut short: the next release, drill or status says so, and
``relrun recover`` finishes its rollback.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from relrun.fsutil import write_json
from relrun.paths import relrun_state_dir
from relrun.run.lock import environment_key
from relrun.run.procfs import pid_alive


def _path(environment: str, create: bool = False) -> Path:
    return relrun_state_dir(create) / "active" / f"{environment_key(environment)}.json"


def mark_active(environment: str, record: dict[str, Any]) -> None:
    """Record that a run of this environment is in progress.

    Args:
        environment: the environment's identity (see :func:`relrun.run.lock.environment_id`).
        record: what recovery needs: runbook path, inventory, run dir, kind, envvars, pid.
    """
    write_json(_path(environment, create=True), {"pid": os.getpid(), **record})


def clear_active(environment: str) -> None:
    """The run finished: forget it."""
    with contextlib.suppress(FileNotFoundError):
        _path(environment).unlink()


def _read(path: Path) -> dict[str, Any] | None:
    """A marker's record; None when it is unreadable or not a marker (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid", 0), int):
        return None
    return data


def _dead(record: dict[str, Any]) -> bool:
    pid = int(record.get("pid") or 0)
    return not (pid and pid_alive(pid) and "relrun" in _cmdline(pid))


def incomplete_run(environment: str) -> dict[str, Any] | None:
    """The run of this environment whose process died before it finished, if any."""
    record = _read(_path(environment))
    if record is None or not _dead(record):
        return None
    return record


def dead_runs() -> list[dict[str, Any]]:
    """Every run, of any environment, whose process died before it finished."""
    directory = relrun_state_dir() / "active"
    records = (_read(path) for path in sorted(directory.glob("*.json")))
    return [record for record in records if record is not None and _dead(record)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "relrun"  # no /proc: trust the liveness check alone


def all_runs() -> list[tuple[dict[str, Any], bool]]:
    """Every run with a marker, of any environment, and whether its relrun still runs."""
    directory = relrun_state_dir() / "active"
    records = (_read(path) for path in sorted(directory.glob("*.json")))
    return [(record, not _dead(record)) for record in records if record is not None]
