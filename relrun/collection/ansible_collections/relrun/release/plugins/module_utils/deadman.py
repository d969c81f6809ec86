"""The dead man's switch, standard library only: a lease on the router host.

Before traffic moves, relrun arms a lease and a detached watcher process on the router
host. Every traffic and analysis task renews the lease while the process that runs it is
still attached to its Ansible parent. If the lease runs out — relrun was killed, the
controller lost its connection — the watcher itself drains the canary and puts all
traffic back on stable, and records that it fired. A fired lease refuses renewal, so a
release that comes back cannot move traffic again by accident.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from typing import Any

POLL_S = 0.25


def read_lease(path: str) -> dict[str, Any]:
    """The lease file's content, or an empty dict."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_lease(path: str, data: dict[str, Any]) -> None:
    """Write the lease atomically (temp file + rename): the watcher never reads half."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lease.", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
    os.replace(tmp, path)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


class LeaseFired(Exception):
    """The switch already reverted traffic; the release must not move it again."""


def renew(path: str, attached: bool = True) -> dict[str, Any]:
    """Extend an armed lease by its length; refuse if it fired.

    Args:
        path: the lease file.
        attached: False when the caller lost its parent (the controller is gone): then
            the lease is left to run out.

    Returns:
        The lease state.

    Raises:
        LeaseFired: the switch fired earlier.
    """
    lease = read_lease(path)
    if lease.get("state") == "fired":
        raise LeaseFired(
            f"the dead man's switch fired at {lease.get('fired_at')}: traffic was put back "
            "on stable because relrun stopped renewing its lease"
        )
    if lease.get("state") == "armed" and attached:
        lease["expires"] = time.time() + float(lease.get("lease", 10))
        write_lease(path, lease)
    return lease


def parent_attached(original_parent: int) -> bool:
    """Whether this process still has the parent it started with (Ansible's worker)."""
    return os.getppid() == original_parent


def arm(path: str, lease: float, revert: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Arm (or re-arm) the lease and make sure a watcher runs.

    Args:
        path: the lease file.
        lease: seconds without renewal before the watcher reverts traffic.
        revert: what the watcher does when the lease runs out.

    Returns:
        The lease state, with the watcher's pid.
    """
    current = read_lease(path)
    now = time.time()
    state: dict[str, Any] = {
        "state": "armed",
        "lease": lease,
        "armed_at": now,
        "expires": now + lease,
        "pid": current.get("pid") if current.get("state") == "armed" else None,
    }
    write_lease(path, state)
    if not _alive(state["pid"]):
        state["pid"] = _spawn_watcher(path, revert)
    return read_lease(path) or state


def disarm(path: str) -> dict[str, Any]:
    """Disarm: the watcher exits without touching traffic."""
    lease = read_lease(path)
    if lease.get("state") == "armed":
        lease.update(state="disarmed", disarmed_at=time.time())
        write_lease(path, lease)
    return lease


def _spawn_watcher(path: str, revert: Callable[[], dict[str, Any]]) -> int:
    """Double-fork a detached watcher; it outlives the module process that armed it."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # first child: new session, then fork again and leave
        os.close(read_end)
        os.setsid()
        grandchild = os.fork()
        if grandchild:
            os.write(write_end, str(grandchild).encode())
            os._exit(0)
        os.close(write_end)
        _detach()
        try:
            _watch(path, revert)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        pid = int(pipe.read() or b"0")
    lease = read_lease(path)
    if lease.get("state") == "armed" and not lease.get("pid"):
        lease["pid"] = pid
        write_lease(path, lease)
    return pid


def _detach() -> None:
    # Ansible waits for the module's stdout to close: the watcher must not hold it.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, 1024)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _watch(path: str, revert: Callable[[], dict[str, Any]]) -> None:
    me = os.getpid()
    while True:
        time.sleep(POLL_S)
        lease = read_lease(path)
        if lease.get("state") != "armed" or lease.get("pid") not in (None, me):
            return  # disarmed, fired already, or another watcher owns it
        if time.time() <= float(lease.get("expires", 0)):
            continue
        lease.update(state="fired", fired_at=time.time(), pid=me)
        write_lease(path, lease)
        try:
            result = revert()
            lease.update(reverted_at=time.time(), revert=result)
        except Exception as err:  # record why; there is no one else to tell
            lease.update(revert_error=f"{type(err).__name__}: {err}")
        write_lease(path, lease)
        return
