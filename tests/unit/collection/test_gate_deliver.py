"""The relrun.release.gate module's side: an operator's request delivered beside a lease."""

from __future__ import annotations

import json
import time
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    control_path,
    read_lease,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.gate import (
    deliver,
    held,
    read_gate,
)


def _lease(directory: Path, backend: str, owner: str, state: str = "armed",
           expires: float | None = None) -> str:
    path = directory / f"relrun-deadman-{backend}.json"
    path.write_text(json.dumps({
        "owner": owner, "state": state, "runbook": "web", "lease": 15,
        "expires": time.time() + 60 if expires is None else expires,
    }))
    return str(path)


def test_held_lists_only_live_claimed_or_armed_leases(tmp_path: Path) -> None:
    armed = _lease(tmp_path, "api", "run-1")
    claimed = _lease(tmp_path, "web", "run-2", state="claimed")
    _lease(tmp_path, "old", "run-3", expires=time.time() - 1)
    _lease(tmp_path, "done", "run-4", state="disarmed")
    assert [i["path"] for i in held(str(tmp_path))] == [armed, claimed]
    assert [i["path"] for i in held(str(tmp_path), "run-2")] == [claimed]
    assert held(str(tmp_path / "absent")) == []


def test_pause_then_promote_are_written_and_read_back(tmp_path: Path) -> None:
    path = _lease(tmp_path, "api", "run-1")
    result = deliver(str(tmp_path), "run-1", "pause", "ops@b", "db team")
    assert result["asked"] == [path] and result["refused"] == ""
    assert result["leases"][0]["gate"]["paused"]["by"] == "ops@b"
    again = deliver(str(tmp_path), "run-1", "pause", "ops@c", "")
    assert again["asked"] == [] and "already paused (by ops@b: db team)" in again["refused"]
    deliver(str(tmp_path), "run-1", "promote", "ops@b", "", "full")
    assert read_gate(path, "run-1")["promote"]["scope"] == "full"


def test_resume_of_a_run_not_paused_writes_nothing(tmp_path: Path) -> None:
    path = _lease(tmp_path, "api", "run-1")
    result = deliver(str(tmp_path), "run-1", "resume", "ops@b", "")
    assert "is not paused by an operator" in result["refused"]
    assert not Path(path + ".gate").exists()


def test_abort_asks_only_the_owners_armed_leases_to_roll_back(tmp_path: Path) -> None:
    mine = _lease(tmp_path, "api", "run-1")
    other = _lease(tmp_path, "web", "run-2")
    result = deliver(str(tmp_path), "run-1", "abort", "ops@b", "bad canary")
    assert result["asked"] == [mine]
    request = read_lease(control_path(mine))
    assert (request["action"], request["owner"]) == ("rollback", "run-1")
    assert "bad canary" in request["message"]
    assert not Path(control_path(other)).exists()
