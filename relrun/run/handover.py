"""One fast rollback path: an operator's rollback is handed to the running playbook.

A rollback asked for while a release bakes — SIGINT/SIGTERM to its relrun, or
``relrun rollback`` from another terminal — is written as a request beside the run's dead
man's switch lease (``LEASE.control``, see the collection's ``lease/deadman.py``). The
analysis module reads it at its next sample (a traffic shift before it moves anything),
fails as at a breach, and the rollout's own rescue runs the five rollback steps in the same
playbook run: as fast as a rollback the analysis started, with no second Ansible run and
no gap in the lease's renewals.

The controller stops the playbook and rolls back in a second run (the former path) only
when the playbook cannot take the request up: the run holds no armed lease on a host
relrun can write to (before the switch is armed, or a remote router host), nothing took
the request within :data:`TAKE_UP_S`, or a second signal came before it was taken.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    clear_request,
    read_lease,
    read_request,
    request_rollback,
)

# How long a request may wait for the playbook to take it up: the next analysis sample or
# traffic shift. A task took 5-16 s to start on a 2-core controller at a load of 20, and a
# stage's fault task runs between its shift and its analysis. A run past its last bake
# disarms its lease, which ends the wait at once.
TAKE_UP_S = 20.0
# How often the cancel callback (polled by ansible-runner) looks at the request files.
POLL_S = 0.2


def run_leases(directories: list[Path], owner: str) -> list[Path]:
    """The lease files in ``directories`` that run ``owner`` holds armed right now."""
    found = []
    for directory in directories:
        for path in sorted(directory.glob("relrun-deadman-*.json")):
            lease = read_lease(str(path))
            if owner and lease.get("owner") == owner and lease.get("state") == "armed":
                found.append(path)
    return found


def ask(
    directories: list[Path], owner: str, reason: str, by: str, message: str, at: float
) -> list[Path]:
    """Ask run ``owner`` to roll back in its playbook, through every lease it holds armed.

    Returns:
        The leases the request was written beside (none: the run cannot take it up).
    """
    leases = run_leases(directories, owner)
    for path in leases:
        request_rollback(str(path), owner, reason, by, message, at)
    return leases


def request_of(directories: list[Path], owner: str) -> dict[str, Any] | None:
    """The rollback request for run ``owner`` on any of its leases (taken ones first)."""
    found = [
        request
        for directory in directories
        for path in sorted(directory.glob("relrun-deadman-*.json.control"))
        if (request := _read_control(path, owner)) is not None
    ]
    found.sort(key=lambda r: not r.get("taken_at"))
    return found[0] if found else None


def _read_control(path: Path, owner: str) -> dict[str, Any] | None:
    return read_request(str(path.with_suffix("")), owner)


@dataclass
class Handover:
    """The cancel callback of a release run: hand a rollback over, or stop the playbook.

    Attributes:
        directories: the lease directories relrun can read and write (local hosts).
        owner: the run's id (it owns the leases).
        signals: the signals received so far (the run's :class:`CancelFlag`).
        first_signal_at: when the first one came (epoch seconds).
        take_up: how long a request may wait to be taken up.
        say: tells the operator what happens.
    """

    directories: list[Path]
    owner: str
    signals: Callable[[], list[int]]
    first_signal_at: Callable[[], float | None]
    take_up: float = TAKE_UP_S
    say: Callable[[str], None] = lambda text: None
    clock: Callable[[], float] = time.monotonic
    request: dict[str, Any] | None = None
    # Why the playbook was stopped (None: it was not): relrun then rolls back in a second run.
    stopped: str | None = None
    _asked_for: int = 0
    _seen_at: float | None = None
    _polled_at: float = field(default=-1e9)

    @property
    def taken(self) -> bool:
        """Whether the playbook took the request up (its rescue is rolling back)."""
        return bool(self.request and self.request.get("taken_at"))

    def __call__(self) -> bool:
        """Polled by ansible-runner: True stops the playbook."""
        if self.stopped is not None:
            return True
        signals = self.signals()
        if signals and not self._asked_for:
            self._asked_for = len(signals)
            self._ask_for_signal(signals[0])
            if self.stopped is not None:
                return True
        now = self.clock()
        if now - self._polled_at >= POLL_S or (signals and len(signals) > self._asked_for):
            self._polled_at = now
            self._refresh()
        if self.request is None:
            return False
        if self.taken:
            return False  # the rescue is rolling back: a later signal never abandons it
        self._seen_at = self._seen_at if self._seen_at is not None else now
        if len(signals) > 1:
            return self._stop("a second signal came before the playbook took the rollback up")
        if not run_leases(self.directories, self.owner):
            return self._stop("the run no longer holds its lease armed (it is past its bakes)")
        if now - self._seen_at > self.take_up:
            return self._stop(f"the playbook did not take the rollback up within {self.take_up:g}s")
        return False

    def on_signal(self, signum: int, count: int) -> None:
        """From the signal handler: ask at once, or stop at a second signal before the take-up.

        At once: ansible-runner polls its cancel callback only every few seconds while a
        bake prints nothing, and that wait would count in the rollback's time.
        """
        if self.stopped is not None:
            return
        if count == 1 or not self._asked_for:
            self._asked_for = count
            self._ask_for_signal(signum)
            return
        self._refresh()
        if not self.taken:
            self._stop("a second signal came before the playbook took the rollback up")

    def _ask_for_signal(self, signum: int) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        at = self.first_signal_at() or time.time()
        by = f"{name} to relrun (pid {os.getpid()})"
        message = f"operator interrupt ({name})"
        if not ask(self.directories, self.owner, "signal", by, message, at):
            self.request = {"reason": "signal", "by": by, "message": message, "at": at}
            self._stop("the run holds no armed lease here (it is not baking)")
            return
        self._refresh()

    def _refresh(self) -> None:
        latest = request_of(self.directories, self.owner)
        if latest is not None:
            self.request = latest

    def _stop(self, why: str) -> bool:
        self.stopped = why
        self.say(f"stopping the playbook to roll back in a separate run: {why}")
        return True

    def trigger(self, stage: str | None) -> dict[str, Any] | None:
        """The trigger of a rollback relrun runs itself after stopping the playbook."""
        if self.request is None:
            return None
        return {
            "reason": self.request.get("reason") or "signal",
            "message": str(self.request.get("message") or ""),
            "by": str(self.request.get("by") or ""),
            "at": self.request.get("at") or time.time(),
            "stage": stage,
            "path": "standalone",
        }

    def clear(self) -> None:
        """Remove this run's requests: they must not outlive it (never raises)."""
        for directory in self.directories:
            for path in directory.glob("relrun-deadman-*.json.control"):
                with contextlib.suppress(OSError):
                    clear_request(str(path.with_suffix("")), self.owner)

