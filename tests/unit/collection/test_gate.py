"""The analysis' side of the manual gates: what a bake does with each operator's request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.gate import (
    Gate,
    ask,
    gate_path,
    read_gate,
)

OWNER = "run-1"


@pytest.fixture
def lease(tmp_path: Path) -> str:
    return str(tmp_path / "relrun-deadman-api.json")


def test_no_request_and_no_pause_leaves_the_bake_alone(lease: str) -> None:
    gate = Gate(lease, OWNER, "Canary 5%", None)
    assert gate(False) is None and gate(True) is None
    assert gate.events == [] and not Path(gate_path(lease)).exists()


def test_an_operator_pause_holds_at_the_end_of_the_bake_until_resumed(lease: str) -> None:
    gate = Gate(lease, OWNER, "Canary 5%", None)
    ask(lease, OWNER, "pause", "ops@ctl", "dashboards")
    assert gate(False) is None, "the bake runs to its end"
    assert gate(True) == "hold"
    waiting = read_gate(lease, OWNER)["waiting"]
    assert (waiting["kind"], waiting["stage"], waiting["by"]) == (
        "operator", "Canary 5%", "ops@ctl"
    )
    ask(lease, OWNER, "resume", "ops@ctl", "fine")
    assert gate(True) is None
    assert [e["action"] for e in gate.events] == ["pause", "resume"]
    assert gate.events[1]["reason"] == "fine" and "waiting" not in read_gate(lease, OWNER)


def test_promote_ends_the_bake_once_and_full_skips_the_rest(lease: str) -> None:
    gate = Gate(lease, OWNER, "Blue-Green 25%", {"why": "approval"})
    assert gate(True) == "hold"
    assert read_gate(lease, OWNER)["waiting"]["kind"] == "approval"
    ask(lease, OWNER, "promote", "ops@ctl", "CAB-1", scope="full")
    assert gate(False) == "end" and gate.full
    [event] = gate.events
    assert (event["action"], event["scope"], event["stage"]) == (
        "promote", "full", "Blue-Green 25%"
    )
    # Taken: the next stage's bake does not take it again.
    later = Gate(lease, OWNER, "Full 100%", None)
    assert later(True) is None and later.events == []


def test_a_promote_asked_during_a_bake_is_taken_once(lease: str) -> None:
    ask(lease, OWNER, "promote", "ops@ctl", "early")
    assert Gate(lease, OWNER, "Canary 5%", None)(False) == "end"
    later = Gate(lease, OWNER, "Blue-Green 25%", None)
    assert later(False) is None and later.events == []
    assert read_gate(lease, OWNER)["promote"]["taken_at"]


def test_a_request_for_another_run_is_not_ours(lease: str) -> None:
    ask(lease, "run-2", "promote", "ops@ctl", "other")
    gate = Gate(lease, OWNER, "Canary 5%", None)
    assert gate(True) is None and gate.events == []
    assert json.loads(Path(gate_path(lease)).read_text())["owner"] == "run-2"


@pytest.mark.parametrize("default", ["promote", "rollback"])
def test_a_pause_timeout_takes_its_default(lease: str, default: str) -> None:
    gate = Gate(lease, OWNER, "Canary 5%", {"timeout": 1e-6, "default": default, "why": "pause"})
    first = gate(True)
    decision = first if first != "hold" else gate(True)
    if default == "promote":
        assert decision == "end"
    else:
        assert isinstance(decision, dict) and decision["reason"] == "pause_timeout"
    [event] = gate.events
    assert (event["action"], event["default"], event["by"]) == ("timeout", default, "runbook")


def test_unknown_requests_are_refused(lease: str) -> None:
    with pytest.raises(ValueError, match="unknown gate request"):
        ask(lease, OWNER, "approve", "ops@ctl", "")
