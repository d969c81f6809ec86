"""Ending the dead man's switch watchers of a sandbox whose router is being stopped.

The sandbox is its own switch directory (its inventory's ``relrun_deadman_dir``). A
watcher that fired and cannot revert (no stable server answers) retries for as long as
its lease says traffic is not back, and a stopped router never answers: left alone it
would outlive the sandbox for ever. The teardown therefore abandons each lease (the
watcher leaves at its next look, the attempt log keeps the reason), stops its watcher
— only after checking by start time that the pid is still that watcher's — and removes
the lease: with the router gone there is no traffic left to put back. A lease whose
switch had already ended (disarmed by its release, or fired and reverted) is left as it
is: nothing watches it, and it is the record that the switch ended well.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    abandon,
    is_live,
    start_ticks,
)
from relrun.run.procfs import pid_alive

_POLL_S = 0.02
REASON = "the sandbox was stopped (relrun sandbox down): its router is gone"


def _is_watcher(pid: int, ticks: int | None) -> bool:
    return ticks is not None and pid_alive(pid) and start_ticks(pid) == ticks


def _wait_gone(pid: int, ticks: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_watcher(pid, ticks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def end_watchers(root: Path, timeout: float = 5.0) -> list[str]:
    """Abandon every live switch lease in ``root``, stop its watcher, remove the lease.

    Returns:
        ``watcher-BACKEND`` for each watcher that was running and is now stopped.
    """
    stopped: list[str] = []
    for path in sorted(root.glob("relrun-deadman-*.json")):
        lease = abandon(str(path), REASON)
        if not is_live(lease):
            continue  # disarmed or reverted: no watcher to stop, and the file is the record
        pid, ticks = int(lease.get("pid") or 0), lease.get("pid_ticks")
        if pid and _is_watcher(pid, ticks):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # it holds nothing a signal can spoil
            if not _wait_gone(pid, ticks, timeout) and _is_watcher(pid, ticks):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            backend = path.name.removeprefix("relrun-deadman-").removesuffix(".json")
            stopped.append(f"watcher-{backend}")
        # The attempt log stays, as the record of what the switch tried and why it ended.
        for leftover in (path, Path(f"{path}.control")):
            leftover.unlink(missing_ok=True)
    return stopped
