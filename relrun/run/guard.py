"""Run ansible-playbook so that it dies with relrun.

ansible-runner starts ansible-playbook on a pseudo-terminal and ignores SIGHUP, so when
relrun is killed (``kill -9``, an OOM kill, a lost SSH session) the playbook used to go
on by itself, moving traffic with no one watching. This guard sits between the two: it
asks the kernel for a signal when relrun dies (``PR_SET_PDEATHSIG``) and then takes the
whole process group down — the playbook, its workers and the modules they run. The dead
man's switch on the router then puts traffic back on stable.

Usage (written by :func:`relrun.run.runner.execute` as ansible-runner's ``binary``)::

    python -m relrun.run.guard PARENT_PID PIDFILE ansible-playbook ARGS...

Ansible's workers start sessions of their own, so the guard kills by descent (every
process whose parent chain leads back to it), not by process group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from relrun.run.procfs import PPID, stat_fields

PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, their children, …), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is not None:
            parents[int(entry.name)] = int(fields[PPID])
    found: list[int] = []
    frontier = [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def _take_tree_down(signum: int, frame: FrameType | None) -> None:
    # relrun is gone (or cancelled the run): nothing it started may go on alone.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        # Freeze first, kill after: a process killed at once could have forked a child a
        # moment before, which would be re-parented away from us and escape. A stopped
        # parent keeps its children, so look again until nothing new appears.
        frozen: set[int] = set()
        while True:
            fresh = [pid for pid in descendants(os.getpid()) if pid not in frozen]
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                frozen.add(pid)
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        os._exit(143)


def main(argv: list[str]) -> int:
    """Start the command in this process group and watch the parent.

    Args:
        argv: the parent's pid, then the command.

    Returns:
        The command's exit status.
    """
    parent, pidfile, command = int(argv[0]), argv[1], argv[2:]
    if not pidfile.endswith(".pid"):
        # Never write a pid over something else (an argument shifted by a caller's bug).
        print(f"relrun.run.guard: refusing pid file {pidfile!r}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _take_tree_down)
    Path(pidfile).write_text(str(os.getpid()), encoding="utf-8")
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return 1  # relrun died before the guard was in place
    child = subprocess.Popen(command)
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            # The death signal is the fast path; this check catches a parent that died
            # without it being delivered (it is tied to the thread that forked us).
            if os.getppid() != parent:
                _take_tree_down(signal.SIGTERM, None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
