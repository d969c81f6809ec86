"""Signals outside the run loop are recorded and obeyed after the work in hand (exit 130)."""

from __future__ import annotations

import os
import signal

import pytest

from relrun.errors import EXIT_INTERRUPTED, Interrupted
from relrun.run.signals import (
    CancelFlag,
    cancel_on_signals,
    deferred_signals,
    raise_if_signalled,
    take_pending,
)


@pytest.fixture(autouse=True)
def nothing_pending() -> None:
    take_pending()


def test_a_signal_during_teardown_is_obeyed_after_it() -> None:
    done: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped, deferred_signals():
        os.kill(os.getpid(), signal.SIGTERM)  # would end the test run with 143
        done.append("teardown finished")
        raise_if_signalled("the teardown")
    assert done == ["teardown finished"]
    assert stopped.value.exit_code == EXIT_INTERRUPTED
    assert "signal 15 received: stopped after the teardown" in stopped.value.message
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_before_the_run_loop_cancels_it_at_once() -> None:
    with deferred_signals():
        os.kill(os.getpid(), signal.SIGINT)
        seen: list[tuple[int, int]] = []
        flag = CancelFlag(on_signal=lambda signum, count: seen.append((signum, count)))
        with cancel_on_signals(flag):
            assert flag.cancelled
        assert seen == [(signal.SIGINT, 1)]
        raise_if_signalled("nothing: the run loop took it")  # already acted on


def test_no_signal_no_interruption() -> None:
    with deferred_signals():
        raise_if_signalled("anything")
