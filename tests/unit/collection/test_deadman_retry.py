"""The dead man's switch keeps trying until traffic is on stable.

The watcher loop runs in the test process (no fork) with its back-off shortened; the
revert is a function that fails as a router that does not answer would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease import (
    deadman,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    disarm,
    read_lease,
    write_lease,
)

# Timing-sensitive: .ci/run runs this file with a CPU hog on every core.
pytestmark = pytest.mark.under_load


@pytest.fixture
def lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An armed lease that has run out, with no watcher yet: the next watch fires it."""
    monkeypatch.setattr(deadman, "POLL_S", 0.0)
    monkeypatch.setattr(deadman, "RETRY_FIRST_S", 0.001)
    monkeypatch.setattr(deadman, "RETRY_MAX_S", 0.004)
    path = str(tmp_path / "relrun-deadman-api.json")
    write_lease(
        path,
        {"state": "armed", "owner": "run-a", "lease": 1, "expires": time.time() - 1, "pid": None},
    )
    return path


class FlakyRouter:
    """Times out ``failures`` times, then switches traffic to stable."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise TimeoutError("router admin GET /admin/servers: timed out")
        return {"confirmed_at": time.time(), "drained": True}


def test_a_revert_that_fails_is_retried_until_traffic_is_on_stable(lease: str) -> None:
    router = FlakyRouter(failures=3)
    deadman._watch(lease, router)
    state = read_lease(lease)
    assert router.calls == 4
    assert state["state"] == "fired" and state["reverted_at"] is not None
    assert "revert_error" not in state
    assert state["attempt_count"] == 4
    assert [a["ok"] for a in state["attempts"]] == [False, False, False, True]
    assert "timed out" in state["attempts"][0]["error"]
    logged = Path(lease + ".attempts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["ok"] for line in logged] == [False, False, False, True]


def test_the_back_off_is_bounded(lease: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(deadman, "RETRY_FIRST_S", 0.5)
    monkeypatch.setattr(deadman, "RETRY_MAX_S", 5.0)
    deadman._revert_until_done(
        lease,
        {**read_lease(lease), "state": "fired", "fired_at": _fire(lease)},
        FlakyRouter(failures=7),
        sleep=slept.append,
    )
    assert slept == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert read_lease(lease)["attempt_count"] == 8


def test_a_rollback_that_put_traffic_on_stable_ends_the_retries(lease: str) -> None:
    fired_at = _fire(lease)
    calls: list[int] = []

    def revert() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 2:  # meanwhile `relrun recover` rolled back and disarmed
            disarm(lease, "run-a", force=True)
        raise TimeoutError("router does not answer")

    final = deadman._revert_until_done(
        lease, {**read_lease(lease), "fired_at": fired_at}, revert, sleep=lambda _: None
    )
    assert len(calls) == 2
    assert final["state"] == "disarmed"


def test_a_watcher_still_retrying_holds_the_backend(lease: str) -> None:
    import os

    _fire(lease)
    write_lease(lease, {**read_lease(lease), "pid": os.getpid(), "revert_error": "timed out"})
    with pytest.raises(deadman.LeaseHeld):
        deadman.claim(lease, 600, "run-b", "next")


def _fire(path: str) -> float:
    fired_at = time.time()
    write_lease(path, {**read_lease(path), "state": "fired", "fired_at": fired_at})
    return fired_at


def test_a_switch_whose_router_was_stopped_is_abandoned_and_its_retries_end(
    lease: str,
) -> None:
    fired_at = _fire(lease)
    calls: list[int] = []

    def revert() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 3:  # meanwhile `relrun sandbox down` stopped the router
            deadman.abandon(lease, "the sandbox was stopped")
        raise ConnectionRefusedError("router: connection refused")

    final = deadman._revert_until_done(
        lease, {**read_lease(lease), "fired_at": fired_at}, revert, sleep=lambda _: None
    )
    assert len(calls) == 3
    assert final["state"] == "abandoned"
    assert final["abandoned_from"] == "fired"
    assert final["abandoned_reason"] == "the sandbox was stopped"
    logged = [json.loads(line) for line in Path(lease + ".attempts.jsonl").read_text().splitlines()]
    assert [entry.get("abandoned", False) for entry in logged] == [False, False, True]


def test_an_armed_watcher_leaves_an_abandoned_lease_without_reverting(lease: str) -> None:
    write_lease(lease, {**read_lease(lease), "expires": time.time() + 600})
    deadman.abandon(lease, "the sandbox was stopped")
    reverts: list[int] = []
    deadman._watch(lease, lambda: reverts.append(1) or {})
    assert reverts == []
    assert read_lease(lease)["state"] == "abandoned"


def test_a_reverted_or_disarmed_switch_is_not_abandoned(lease: str) -> None:
    disarm(lease, "run-a")
    deadman.abandon(lease, "the sandbox was stopped")
    assert read_lease(lease)["state"] == "disarmed"
    assert not Path(lease + ".attempts.jsonl").exists()
