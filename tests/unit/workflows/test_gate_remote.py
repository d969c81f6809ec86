"""relrun's side of a gate verb on a router host over SSH: what each task result becomes.

The Ansible run is faked here (run_playbook); tests/integration/test_gates_ssh.py runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from relrun.errors import InputError
from relrun.run.events import EventBus, TaskResult
from relrun.run.runner import RunOutcome, RunSpec
from relrun.workflows import gate_remote

ACTION = "relrun.release.gate"


def fake(monkeypatch: pytest.MonkeyPatch, *results: TaskResult) -> list[RunSpec]:
    seen: list[RunSpec] = []

    def run(spec: RunSpec, bus: EventBus, cancelled: Any = None) -> RunOutcome:
        seen.append(spec)
        for result in results:
            bus.emit(result)
        ok = all(r.status == "ok" for r in results)
        return RunOutcome("gate", "successful" if ok else "failed", 0 if ok else 2, spec.run_dir)

    monkeypatch.setattr(gate_remote, "run_playbook", run)
    return seen


def result(status: Any, **res: Any) -> TaskResult:
    return TaskResult(play="relrun gate", task="t", action=ACTION, host="lb-1", status=status,
                      result=res)


def test_the_play_runs_the_module_with_the_hosts_lease_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lease = {"path": "/d/relrun-deadman-api.json", "lease": {"owner": "r1"}, "gate": {"x": 1}}
    seen = fake(monkeypatch, result("ok", leases=[lease], asked=[]))
    found = gate_remote.run_gate(tmp_path / "inv.yml", ["lb-1"], "pause", "r1", "me@c", "why")
    assert [(f.host, f.owner, f.gate) for f in found] == [("lb-1", "r1", {"x": 1})]
    [play] = yaml.safe_load(seen[0].playbook_text)
    assert play["hosts"] == "lb-1"
    args = play["tasks"][0][ACTION]
    assert (args["action"], args["owner"], args["reason"]) == ("pause", "r1", "why")
    assert "relrun_deadman_dir" in args["dir"]


def test_an_unreachable_router_host_is_bad_input_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake(monkeypatch, result("unreachable", msg="ssh: connect to host 10.0.0.1: timed out"))
    with pytest.raises(InputError, match="router host lb-1 is unreachable: ssh: connect"):
        gate_remote.run_gate(tmp_path / "inv.yml", ["lb-1"], "status")


def test_a_refused_request_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake(monkeypatch, result("failed", msg="x", refused="is not paused by an operator"))
    with pytest.raises(InputError, match="on router host lb-1, run r1 is not paused"):
        gate_remote.run_gate(tmp_path / "inv.yml", ["lb-1"], "resume", "r1")


def test_a_play_that_reached_no_router_host_is_not_taken_for_no_lease(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake(monkeypatch)
    with pytest.raises(InputError, match=r"did not reach router host\(s\) lb-1"):
        gate_remote.run_gate(tmp_path / "inv.yml", ["lb-1"], "status")
