"""SIGINT/SIGTERM during a release: set a flag, never exit on the spot.

The run loop sees the flag, stops the running playbook and rolls back as its own run.
A second signal during the rollback does not abandon it: it is reported and ignored.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType


@dataclass
class CancelFlag:
    """Set by the first signal; counts the later ones."""

    signals: list[int] = field(default_factory=list)
    on_signal: Callable[[int, int], None] | None = None

    @property
    def cancelled(self) -> bool:
        """Whether a signal arrived."""
        return bool(self.signals)

    def __call__(self) -> bool:
        """Poll function for ansible-runner's ``cancel_callback``."""
        return self.cancelled

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: record, tell, return."""
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
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
