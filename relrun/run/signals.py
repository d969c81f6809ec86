"""SIGINT/SIGTERM during a release: set a flag, never exit on the spot.

The run loop sees the flag and hands the rollback to the running playbook (see
:mod:`relrun.run.handover`), or stops the playbook and rolls back as its own run. A second
signal during the rollback does not abandon it: it is reported and ignored.

Outside the run loop — a drill's sandbox starting, reports being written, the sandbox
torn down — a signal is recorded (:func:`deferred_signals`) and obeyed once that work is
done: a signal before the run loop cancels it at once, one after it ends the command with
exit 130 after the cleanup (:func:`raise_if_signalled`). Python's default, exit 143 in
the middle of it with processes left running, never happens.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from relrun.errors import Interrupted
from relrun.run import startup
from relrun.run.startup import Handlers as Handlers
from relrun.run.startup import restore_signals as restore_signals

# Signals received inside deferred_signals(), or while relrun started, not yet acted on.
_PENDING = startup.PENDING


@dataclass
class CancelFlag:
    """Set by the first signal; counts the later ones."""

    signals: list[int] = field(default_factory=list)
    on_signal: Callable[[int, int], None] | None = None
    first_at: float | None = None  # epoch seconds of the first signal

    @property
    def cancelled(self) -> bool:
        """Whether a signal arrived."""
        return bool(self.signals)

    def __call__(self) -> bool:
        """Poll function for ansible-runner's ``cancel_callback``."""
        return self.cancelled

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: record, tell, return."""
        if not self.signals:
            self.first_at = time.time()
        self.signals.append(signum)
        if self.on_signal is not None:
            self.on_signal(signum, len(self.signals))


@contextlib.contextmanager
def cancel_on_signals(flag: CancelFlag) -> Iterator[CancelFlag]:
    """Route SIGINT and SIGTERM to ``flag`` inside the block; restore the old handlers after.

    Args:
        flag: the flag to set.

    Yields:
        The same flag.
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, flag.handle)
    # A signal that came while the run was being prepared cancels it before it starts.
    for signum in take_pending():
        flag.handle(signum, None)
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_record = startup.record


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Record SIGINT and SIGTERM inside the block instead of dying; restore the handlers after.

    Nested run loops (:func:`cancel_on_signals`) take over while they run and take the
    signals recorded before them.
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _record)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def take_pending() -> list[int]:
    """The signals recorded and not acted on yet; they count as acted on from now."""
    taken = list(_PENDING)
    _PENDING.clear()
    return taken


def raise_if_signalled(what: str) -> None:
    """Obey a signal recorded while relrun finished ``what`` (it is finished now).

    Raises:
        Interrupted: a signal was recorded (exit 130).
    """
    taken = take_pending()
    if taken:
        raise Interrupted(f"signal {taken[0]} received: stopped after {what}")


def record_signals() -> Handlers:
    """Start recording SIGINT and SIGTERM, as :func:`deferred_signals` does, until restored.

    For the process's start-up (see :mod:`relrun.run.startup`): a signal recorded then is
    obeyed once the command line can answer (exit 130, nothing was started).

    Returns:
        The handlers to give back to :func:`restore_signals`; empty outside the main
        thread, where Python allows no handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return startup.record_signals()


# The signal that raised KeyboardInterrupt through interrupt_on_signals(), if one did.
_INTERRUPTED: list[int] = []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _INTERRUPTED.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def interrupted_by() -> int | None:
    """The signal that interrupted the process through :func:`interrupt_on_signals`."""
    return _INTERRUPTED[0] if _INTERRUPTED else None


def interrupt_on_signals() -> None:
    """SIGTERM interrupts the way SIGINT does (``KeyboardInterrupt``), for the relrun process.

    Then a service manager's or a scheduler's stop ends a command outside its run loop
    with the same cleanup and exit 130 as Ctrl-C, never with Python's default 143.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
