"""One release or drill per environment at a time.

The lock is an ``flock`` on a file named after the inventory: the kernel drops it when the
holding process dies, so a lock left by a dead process is never trusted. The file also
records the holder's pid, which ``relrun rollback`` uses to ask a running release to roll
back.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from relrun.errors import InputError, LockHeld
from relrun.paths import relrun_state_dir


def lock_dir(create: bool = False) -> Path:
    """Where lock files live (``locks`` in the state directory, see :mod:`relrun.paths`)."""
    return relrun_state_dir(create) / "locks"


def environment_id(inventory: Path) -> str:
    """What identifies an environment: the inventory's real path and the sandbox it names.

    The sandbox inventory reaches a different sandbox for each ``RELRUN_SANDBOX_DIR``, so
    that variable is part of the identity.
    """
    sandbox = os.environ.get("RELRUN_SANDBOX_DIR", "")
    return f"{inventory.resolve()}|{sandbox}"


def environment_key(environment: str) -> str:
    """A short, file-name-safe key of an environment (its lock and its run marker)."""
    return hashlib.sha256(environment.encode()).hexdigest()[:16]


def lock_path(environment: str) -> Path:
    """The lock file of an environment."""
    return lock_dir() / f"{environment_key(environment)}.lock"


def holder(environment: str) -> dict[str, Any] | None:
    """Who holds the environment's lock now, or None when nobody does.

    Args:
        environment: the environment's identity (:func:`environment_id`).

    Returns:
        The holder's record (pid, kind, runbook, run_dir, since) if the lock is held.
    """
    path = lock_path(environment)
    if not path.exists():
        return None
    with path.open("r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return dict(json.loads(handle.read() or "{}"))
            except json.JSONDecodeError:
                return {}
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class HeldLock:
    """The lock file of a held lock: its holder record can be completed while held."""

    def __init__(self, handle: IO[str], record: dict[str, Any]):
        self._handle = handle
        self._record = {"pid": os.getpid(), "since": time.time(), **record}
        self._write()

    def update(self, **fields: Any) -> None:
        """Add to the holder record (e.g. the run directory, once it exists)."""
        self._record.update(fields)
        self._write()

    def _write(self) -> None:
        # The flock is the lock; the record only tells others who holds it. A full disk
        # must not stop the run (or the recovery) that holds it.
        with contextlib.suppress(OSError):
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(json.dumps(self._record))
            self._handle.flush()


@contextlib.contextmanager
def environment_lock(environment: str, record: dict[str, Any]) -> Iterator[HeldLock]:
    """Hold the environment's lock for the duration of the block.

    Args:
        environment: the environment's identity (:func:`environment_id`).
        record: what to say about this holder (kind, runbook, run_dir).

    Yields:
        The held lock, whose record can be completed.

    Raises:
        LockHeld: another live process holds it.
        InputError: the lock cannot be created (the state directory is a file, say).
    """
    path = lock_dir(create=True) / f"{environment_key(environment)}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = path.open("a+")
    except OSError as err:
        # RELRUN_STATE_DIR naming a file, a read-only or full disk: nothing has started.
        raise InputError(
            f"cannot create the lock {path} (state directory: $RELRUN_STATE_DIR, or "
            f".relrun/ in the project): {err.strerror}"
        ) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip()
            detail = ""
            with contextlib.suppress(json.JSONDecodeError):
                info = json.loads(other)
                detail = f" ({info.get('kind')} of {info.get('runbook')} by pid {info.get('pid')})"
            raise LockHeld(
                f"another release or drill is running in this environment{detail}; "
                "wait for it, or roll it back with `relrun rollback`"
            ) from None
        yield HeldLock(handle, record)
    finally:
        handle.close()  # closing releases the flock
