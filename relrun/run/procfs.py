"""Reading processes from /proc, once for everyone who needs it.

``/proc/PID/stat`` starts with ``PID (COMMAND) STATE PPID …``; the command name may hold
spaces and parentheses, so the fields are taken after the last ``)``.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE, PPID, START_TICKS = 0, 1, 19  # indexes into stat_fields()


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None if unreadable."""
    try:
        # errors="replace": a command name is any bytes, and a reader must not crash on it.
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = stat_fields(pid)
    return fields is None or fields[STATE] != "Z"
