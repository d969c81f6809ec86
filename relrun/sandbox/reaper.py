"""A private sandbox's reaper: when the relrun that owns it dies, the sandbox goes too.

``relrun drill`` without an inventory starts a sandbox of its own. If that relrun is
killed (SIGKILL, OOM) it cannot tear the sandbox down, and its router, servers and load
generator would run on indefinitely. The reaper is one more process of the sandbox: it
waits for the owner to exit, grants the dead man's switch its lease (``--grace``), then
stops every process of the sandbox — also a canary deployed after it started — and
removes the sandbox's switch leases, so no watcher retries against a router that is
gone. A normal teardown stops the reaper like any other process of the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
import time
from pathlib import Path

from relrun.run.procfs import START_TICKS, stat_fields
from relrun.sandbox.layout import Layout

REAPER_PROCESS = "reaper"
_POLL_S = 0.5


def _start_ticks(pid: int) -> int | None:
    fields = stat_fields(pid)
    return None if fields is None else int(fields[START_TICKS])


def wait_for_exit(pid: int, start_ticks: int | None) -> None:
    """Return once process ``pid`` (started at ``start_ticks``) has exited."""
    if start_ticks is not None and _start_ticks(pid) != start_ticks:
        return  # gone already; the pid may be someone else's now
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        with contextlib.closing(_Fd(fd)):
            select.select([fd], [], [])  # readable once the process exited
        return
    while _start_ticks(pid) == start_ticks and _start_ticks(pid) is not None:
        time.sleep(_POLL_S)  # no pidfd (old kernel): poll


class _Fd:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)


def reap(state_dir: Path) -> list[str]:
    """Stop the abandoned sandbox and drop its switch leases; the reaper itself excepted."""
    from relrun.sandbox import control

    layout = Layout.at(state_dir)
    layout.pid_file(REAPER_PROCESS).unlink(missing_ok=True)
    # ``down`` ends the sandbox's live switch watchers and removes their leases; it keeps
    # a switch that ended (disarmed, or fired and reverted) as a drill's record. The
    # owner of an abandoned sandbox is dead and keeps no record: drop those too.
    stopped = control.down(layout.root)
    for lease in layout.root.glob("relrun-deadman-*.json"):
        lease.unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> None:
    """``python -m relrun.sandbox.reaper --state-dir DIR --owner PID [--owner-ticks T]``."""
    parser = argparse.ArgumentParser(prog="relrun.sandbox.reaper")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--owner", type=int, required=True)
    parser.add_argument("--owner-ticks", type=int, default=None)
    parser.add_argument("--grace", type=float, default=15.0)
    args = parser.parse_args(argv)
    # A normal teardown stops the reaper with SIGTERM: then it just leaves.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    wait_for_exit(args.owner, args.owner_ticks)
    time.sleep(max(0.0, args.grace))  # the dead man's switch's lease: its turn first
    stopped = reap(Path(args.state_dir))
    print(f"owner {args.owner} is gone: stopped {', '.join(stopped) or 'nothing'}", flush=True)


if __name__ == "__main__":
    main()
