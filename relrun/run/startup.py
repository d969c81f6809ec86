"""Signals while the relrun process starts: recorded, obeyed once main() can answer.

Importing relrun's commands takes seconds on a loaded machine, and a SIGINT then would end
it with a traceback, a SIGTERM with a bare 143. The entry points (the ``relrun`` console
script and ``python -m relrun``, both :mod:`relrun.__main__`) record them from their first
line, through every import, until ``main()`` installs its own handlers and obeys one
recorded meanwhile (exit 130, nothing was done).

Only the standard library's ``signal``: this module is imported before anything else, so
its own import is the only window left open.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

# Signals received while recorded and not yet acted on.
PENDING: list[int] = []

# What signal.getsignal() returns: a function, SIG_DFL / SIG_IGN, or None.
Handlers = dict[int, Callable[[int, FrameType | None], Any] | int | None]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def record(signum: int, frame: FrameType | None) -> None:
    """Signal handler: remember the signal, nothing else."""
    PENDING.append(signum)


def record_signals() -> Handlers:
    """Start recording SIGINT and SIGTERM until :func:`restore_signals`.

    Returns:
        The handlers to give back; empty outside the main thread, where Python allows no
        handler.
    """
    try:
        previous: Handlers = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            signal.signal(sig, record)
    except ValueError:  # not the main thread
        return {}
    return previous


def restore_signals(previous: Handlers) -> None:
    """Put back the handlers :func:`record_signals` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)
