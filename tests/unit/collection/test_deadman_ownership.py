"""Who may claim, arm, renew and disarm the dead man's switch lease on the router host.

One lease per router backend, owned by one run: this is where two releases of the same
backend meet, whichever controllers started them. The watcher process is faked (its pid
is one that is not alive), so no test leaves a process behind.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease import (
    deadman,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    LeaseFired,
    LeaseHeld,
    LeaseTaken,
    arm,
    check,
    claim,
    disarm,
    read_lease,
    renew,
    write_lease,
)

# Timing-sensitive: .ci/run runs this file with a CPU hog on every core.
pytestmark = pytest.mark.under_load

LEASE = 30.0


def no_revert() -> dict[str, Any]:
    raise AssertionError("the watcher is faked: nothing reverts in these tests")


@pytest.fixture
def lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The lease file; arming records the spawns instead of forking a watcher."""
    spawned: list[str] = []

    def fake_spawn(path: str, revert: Any) -> int:
        spawned.append(path)
        return 0  # never alive: nothing to clean up

    monkeypatch.setattr(deadman, "_spawn_watcher", fake_spawn)
    return str(tmp_path / "deadman" / "relrun-deadman-api.json")


def expire(path: str, **extra: Any) -> None:
    """Make the lease run out (as if its run stopped renewing it a while ago)."""
    write_lease(path, {**read_lease(path), "expires": time.time() - 60, **extra})


def test_a_second_run_cannot_claim_or_arm_a_held_backend(lease: str) -> None:
    claim(lease, 600, "run-a", "slow")
    with pytest.raises(LeaseHeld) as refused:
        claim(lease, 600, "run-b", "quick")
    message = str(refused.value)
    assert "run run-a of runbook slow" in message and "claimed since" in message
    assert "expires at" in message and "nothing was moved" in message

    arm(lease, LEASE, no_revert, "run-a", "slow")
    before = read_lease(lease)
    assert (before["state"], before["owner"], before["runbook"]) == ("armed", "run-a", "slow")
    for refused_action in (
        lambda: arm(lease, LEASE, no_revert, "run-b", "quick"),
        lambda: claim(lease, 600, "run-b", "quick"),
    ):
        with pytest.raises(LeaseHeld, match=r"run run-a of runbook slow \(armed since"):
            refused_action()
        assert read_lease(lease) == before, "a refused run leaves the lease as it was"


def test_the_owner_arms_over_its_claim_and_a_claim_never_weakens_its_armed_lease(
    lease: str,
) -> None:
    claim(lease, 600, "run-a", "slow")
    armed = arm(lease, LEASE, no_revert, "run-a", "slow")
    assert armed["state"] == "armed" and armed["lease"] == LEASE
    assert claim(lease, 600, "run-a", "slow")["state"] == "armed"
    assert read_lease(lease)["state"] == "armed"


def test_renewals_by_another_run_never_extend_the_lease(lease: str) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    write_lease(lease, {**read_lease(lease), "expires": time.time() + 1})
    before = read_lease(lease)
    with pytest.raises(LeaseTaken, match="belongs to another run now: run run-a"):
        renew(lease, owner="run-b")
    with pytest.raises(LeaseTaken, match=r"this run \(run-b\) lost its lease"):
        renew(lease, owner="run-b")
    assert read_lease(lease) == before
    # LeaseTaken is a LeaseFired: the traffic module refuses a shift, lets a rollback on.
    assert issubclass(LeaseTaken, LeaseFired)

    renewed = renew(lease, owner="run-a")
    assert renewed["expires"] > before["expires"] + LEASE - 5


def test_only_an_operators_rollback_disarms_another_runs_live_lease(lease: str) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    before = read_lease(lease)
    # Another release's disarm, and another run's own rollback, leave it alone: what is on
    # the backend is run-a's.
    with pytest.raises(LeaseTaken, match="belongs to another run now: run run-a"):
        disarm(lease, "run-b")
    assert disarm(lease, "run-b", force=True) == before
    with pytest.raises(LeaseHeld, match="run run-a of runbook slow"):
        check(lease, "run-b")
    assert check(lease, "") == before  # an operator's `relrun rollback` may go on
    assert read_lease(lease) == before

    rolled_back = disarm(lease, "", force=True)  # `relrun rollback` has no run id
    assert (rolled_back["state"], rolled_back["disarmed_by"]) == ("disarmed", "")
    # The run it belonged to must not move traffic again, nor re-arm.
    with pytest.raises(LeaseTaken, match=r"disarmed at .* by the rollback of run \(unnamed\)"):
        renew(lease, owner="run-a")
    with pytest.raises(LeaseTaken, match=r"by the rollback of run \(unnamed\)"):
        arm(lease, LEASE, no_revert, "run-a", "slow")
    # The backend is free again for a new release.
    assert claim(lease, 600, "run-c", "quick")["owner"] == "run-c"


def test_a_fired_switch_fails_the_promotion_and_holds_the_backend_while_reverting(
    lease: str,
) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    write_lease(
        lease, {**read_lease(lease), "state": "fired", "fired_at": time.time(), "pid": os.getpid()}
    )  # its watcher is still reverting
    with pytest.raises(LeaseFired, match="put back on stable before this run could finish"):
        disarm(lease, "run-a")
    with pytest.raises(LeaseHeld):
        claim(lease, 600, "run-b", "quick")
    write_lease(lease, {**read_lease(lease), "reverted_at": time.time()})
    assert claim(lease, 600, "run-b", "quick")["owner"] == "run-b"


def test_the_owner_disarms_and_its_renewals_then_do_nothing(lease: str) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    disarmed = disarm(lease, "run-a")
    assert (disarmed["state"], disarmed["disarmed_by"]) == ("disarmed", "run-a")
    assert renew(lease, owner="run-a") == read_lease(lease) == disarmed


def test_a_lapsed_claim_or_a_dead_runs_lease_can_be_taken_over(lease: str) -> None:
    claim(lease, 600, "run-a", "slow")
    expire(lease)
    assert claim(lease, 600, "run-b", "quick")["owner"] == "run-b"

    arm(lease, LEASE, no_revert, "run-b", "quick")
    expire(lease, pid=0)  # ran out, and no watcher is left to revert it
    taken = arm(lease, LEASE, no_revert, "run-c", "slow")
    assert (taken["owner"], taken["pid"]) == ("run-c", None), "run-b's watcher is not reused"


def test_an_expired_lease_whose_watcher_still_runs_is_held_until_it_fired(lease: str) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    expire(lease, pid=os.getpid())  # a live watcher, about to revert run-a's traffic
    with pytest.raises(LeaseHeld, match="its watcher is firing now"):
        claim(lease, 600, "run-b", "quick")


def test_after_the_switch_fired_a_new_run_may_take_the_backend(lease: str) -> None:
    arm(lease, LEASE, no_revert, "run-a", "slow")
    write_lease(lease, {**read_lease(lease), "state": "fired", "fired_at": time.time()})
    with pytest.raises(LeaseFired, match="fired"):
        renew(lease, owner="run-a")
    claim(lease, 600, "run-b", "quick")  # traffic is on stable: nothing to protect
    arm(lease, LEASE, no_revert, "run-b", "quick")
    with pytest.raises(LeaseTaken, match="belongs to another run now: run run-b"):
        renew(lease, owner="run-a")


def test_leases_without_an_owner_behave_as_before(lease: str) -> None:
    """A lease armed by an older relrun (no owner) is renewed by a run without an id."""
    write_lease(lease, {"state": "armed", "lease": LEASE, "expires": time.time() + 1})
    assert renew(lease)["expires"] > time.time() + LEASE - 5
