"""The run's cancel callback hands an operator's rollback to the playbook, or stops it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    RollbackRequested,
    read_request,
    renew,
    write_lease,
)
from relrun.run.handover import Handover, ask

# Timing-sensitive: .ci/run runs this file with a CPU hog on every core.
pytestmark = pytest.mark.under_load


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lease(tmp_path: Path) -> str:
    path = str(tmp_path / "relrun-deadman-api.json")
    write_lease(path, {"state": "armed", "owner": "run-a", "lease": 5, "expires": time.time() + 60})
    return path


def handover(tmp_path: Path, signals: list[int], clock: Clock) -> Handover:
    return Handover(
        directories=[tmp_path],
        owner="run-a",
        signals=lambda: signals,
        first_signal_at=lambda: 42.0 if signals else None,
        clock=clock,
    )


def take_up(lease: str) -> None:
    """What the analysis module does at its next sample."""
    with pytest.raises(RollbackRequested):
        renew(lease, owner="run-a", obey=True)


def test_a_signal_is_handed_to_the_playbook_and_a_second_one_never_abandons_it(
    tmp_path: Path, lease: str
) -> None:
    signals: list[int] = []
    clock = Clock()
    cancel = handover(tmp_path, signals, clock)
    assert cancel() is False  # nothing asked
    signals.append(2)
    assert cancel() is False, "the playbook is asked, not stopped"
    request = read_request(lease, "run-a")
    assert request is not None
    assert (request["reason"], request["at"]) == ("signal", 42.0)
    assert request["by"].startswith("SIGINT to relrun (pid ")
    take_up(lease)
    clock.now += 1
    assert cancel() is False and cancel.taken
    signals.append(15)
    clock.now += 100
    assert cancel() is False, "the rescue is rolling back: it finishes"
    assert cancel.stopped is None
    cancel.clear()
    assert read_request(lease, "run-a") is None


def test_a_signal_with_no_armed_lease_stops_the_playbook_at_once(tmp_path: Path) -> None:
    write_lease(str(tmp_path / "relrun-deadman-api.json"), {"state": "claimed", "owner": "run-a"})
    cancel = handover(tmp_path, [15], Clock())
    assert cancel() is True
    assert cancel.stopped and "no armed lease" in cancel.stopped
    trigger = cancel.trigger("Canary 10%")
    assert trigger is not None
    assert (trigger["reason"], trigger["path"], trigger["at"]) == ("signal", "standalone", 42.0)


def test_a_request_not_taken_in_time_or_a_second_signal_stops_the_playbook(
    tmp_path: Path, lease: str
) -> None:
    clock = Clock()
    late = handover(tmp_path, [2], clock)
    assert late() is False
    clock.now += late.take_up + 1
    assert late() is True and late.stopped and "did not take the rollback up" in late.stopped

    impatient = handover(tmp_path, [2, 2], Clock())
    assert impatient() is True and impatient.stopped and "second signal" in impatient.stopped


def test_a_request_from_relrun_rollback_is_watched_without_any_signal(
    tmp_path: Path, lease: str
) -> None:
    clock = Clock()
    cancel = handover(tmp_path, [], clock)
    assert ask([tmp_path], "run-a", "manual", "relrun rollback (pid 9)", "operator rollback", 7.0)
    assert ask([tmp_path], "run-b", "manual", "x", "y", 7.0) == [], "only the run's own leases"
    assert cancel() is False
    clock.now += cancel.take_up + 1
    assert cancel() is True
    trigger = cancel.trigger(None)
    assert trigger is not None
    assert (trigger["reason"], trigger["at"]) == ("manual", 7.0)
    assert trigger["by"] == "relrun rollback (pid 9)"


def test_the_signal_handler_asks_at_once_and_a_second_signal_after_the_take_up_is_ignored(
    tmp_path: Path, lease: str
) -> None:
    signals = [15]
    cancel = handover(tmp_path, signals, Clock())
    cancel.on_signal(15, 1)  # before any poll of ansible-runner's
    assert read_request(lease, "run-a") is not None
    take_up(lease)
    signals.append(2)
    cancel.on_signal(2, 2)
    assert cancel.taken and cancel.stopped is None
    assert cancel() is False


def test_a_second_signal_before_the_take_up_stops_the_playbook(tmp_path: Path, lease: str) -> None:
    signals = [15, 2]
    cancel = handover(tmp_path, signals, Clock())
    cancel.on_signal(15, 1)
    cancel.on_signal(2, 2)
    assert cancel.stopped and "second signal" in cancel.stopped
    assert cancel() is True
