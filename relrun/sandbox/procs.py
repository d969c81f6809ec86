"""The one place that starts, identifies and stops sandbox processes.

Every process is started detached (its own session) with output to a log file, and its
pid is recorded at once, so ``down`` can find it even if the command that started it
crashed. Before signalling a recorded pid we check it still belongs to us: same start
time and a command line naming our module and our state directory. A recycled pid is
therefore never killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

import relrun
from relrun.run.procfs import START_TICKS, STATE, stat_fields
from relrun.sandbox.layout import Layout, read_json, write_json

_POLL_S = 0.02
# Popen objects of children started by this process, kept so they can be reaped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ProcessRecord(BaseModel):
    """What ``run/PROCESS.json`` says about one started process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    process: str
    pid: int
    module: str
    state_dir: str
    started_at: float
    start_ticks: int | None = None


def spawn(layout: Layout, process: str, module: str, args: list[str]) -> ProcessRecord:
    """Start ``python -m module args`` detached, logging to the state directory.

    Args:
        layout: the sandbox.
        process: record name (``router``, ``loadgen``, ``server-NAME``).
        module: the program's module, e.g. ``relrun.sandbox.api``.
        args: arguments after the module (never secrets).

    Returns:
        The pid record, already written to ``run/PROCESS.json``.
    """
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # The interpreter may be Ansible's, where relrun is importable only from its source.
    package_root = str(Path(relrun.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    with layout.log_file(process).open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=layout.root,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[popen.pid] = popen
    record = ProcessRecord(
        process=process,
        pid=popen.pid,
        module=module,
        state_dir=str(layout.root),
        started_at=time.time(),
        start_ticks=_start_ticks(popen.pid),
    )
    write_json(layout.pid_file(process), record.model_dump())
    return record


def load_record(layout: Layout, process: str) -> ProcessRecord | None:
    """Read the pid record of ``process`` (None when absent or unreadable)."""
    data = read_json(layout.pid_file(process))
    if data is None:
        return None
    try:
        return ProcessRecord.model_validate(data)
    except ValueError:
        return None


def all_records(layout: Layout) -> list[ProcessRecord]:
    """Every pid record of the sandbox."""
    if not layout.run_dir.is_dir():
        return []
    names = sorted(p.stem for p in layout.run_dir.glob("*.json"))
    return [r for r in (load_record(layout, n) for n in names) if r is not None]


def is_running(record: ProcessRecord) -> bool:
    """True when the recorded process is alive and still the one we started."""
    pid = record.pid
    popen = _CHILDREN.get(pid)
    if popen is not None and popen.poll() is not None:
        del _CHILDREN[pid]
        return False
    if popen is None:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)  # reap if it is our (unknown) child
            if done == pid:
                return False
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():  # no procfs (macOS): fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False  # someone else's process: the pid was recycled
        return True
    fields = stat_fields(pid)
    try:
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if fields is None or fields[STATE] in ("Z", "X"):
        return False
    if record.start_ticks is not None and int(fields[START_TICKS]) != record.start_ticks:
        return False  # same pid, another process: the pid was recycled
    args = [a.decode(errors="replace") for a in cmdline if a]
    if not args:
        # An exiting process has already released its command line; the start time
        # (when recorded) has proved identity, so it still counts until it is gone.
        return record.start_ticks is not None
    return record.module in args and record.state_dir in args


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if unknown."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[START_TICKS])


_start_ticks = start_ticks


def wait_gone(record: ProcessRecord, timeout: float) -> bool:
    """Poll until the process is gone; return False if it is still running."""
    deadline = time.monotonic() + timeout
    while is_running(record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def terminate(record: ProcessRecord, timeout: float = 10.0) -> bool:
    """Stop a process gracefully (SIGTERM), then by force (SIGKILL) after ``timeout``.

    Args:
        record: the process.
        timeout: seconds granted for a graceful stop (in-flight requests finish).

    Returns:
        True when a running process of ours was stopped, False when there was none.
    """
    if not is_running(record):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    if not wait_gone(record, timeout):
        kill(record)
    return True


def kill(record: ProcessRecord) -> bool:
    """Kill a process at once (SIGKILL), as a crash would.

    Returns:
        True when a running process of ours was killed.
    """
    if not is_running(record):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    wait_gone(record, 5.0)
    return True
