"""An operator's rollback request beside the lease: read by the renewals that may obey it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    RollbackRequested,
    clear_request,
    control_path,
    read_lease,
    read_request,
    renew,
    request_rollback,
    write_lease,
)

# Timing-sensitive: .ci/run runs this file with a CPU hog on every core.
pytestmark = pytest.mark.under_load


@pytest.fixture
def lease(tmp_path: Path) -> str:
    path = str(tmp_path / "relrun-deadman-api.json")
    write_lease(path, {"state": "armed", "owner": "run-a", "lease": 5, "expires": time.time() + 1})
    return path


def test_a_renewal_that_obeys_renews_then_raises_with_the_request(lease: str) -> None:
    by = "SIGINT to relrun (pid 1)"
    request_rollback(lease, "run-a", "signal", by, "operator interrupt", 12.5)
    before = read_lease(lease)["expires"]
    with pytest.raises(RollbackRequested) as raised:
        renew(lease, owner="run-a", obey=True)
    assert read_lease(lease)["expires"] > before, "the lease is renewed before the hand-over"
    breach = raised.value.breach()
    assert breach["reason"] == "signal" and breach["at"] == 12.5
    assert breach["by"] == "SIGINT to relrun (pid 1)"
    taken = read_lease(control_path(lease))
    assert taken["taken_at"] and taken["taken_pid"]


def test_renewals_that_do_not_obey_and_other_runs_never_see_it(lease: str) -> None:
    request_rollback(lease, "run-a", "manual", "relrun rollback", "operator rollback")
    renew(lease, owner="run-a")  # the rescue's own renewals: no raise
    assert not read_lease(control_path(lease)).get("taken_at")
    assert read_request(lease, "run-b") is None
    assert read_request(lease, "") is None


def test_the_first_request_for_a_run_is_kept_and_cleared_only_for_it(lease: str) -> None:
    first = request_rollback(lease, "run-a", "signal", "SIGTERM", "interrupt", 1.0)
    again = request_rollback(lease, "run-a", "manual", "relrun rollback", "rollback", 2.0)
    assert again == first
    clear_request(lease, "run-b")
    assert read_request(lease, "run-a") is not None
    clear_request(lease, "run-a")
    assert not Path(control_path(lease)).exists()
    renew(lease, owner="run-a", obey=True)  # nothing pending: a plain renewal
