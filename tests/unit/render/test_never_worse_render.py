"""The rendered rollback checks its target, and the checks run where they say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from relrun.errors import InputError
from relrun.runbook.loader import load_runbook
from tests.helpers import ROOT
from tests.unit.render.test_lease_render import module_args, plays_of, walk

QUICK = ROOT / "tests" / "data" / "quick.yml"

CHECKS = {
    "checks": [
        {"name": "login", "kind": "http", "request": {"path": "/auth"},
         "capture": {"token": {"json": "token"}}},
        {"name": "v2-endpoint", "kind": "http", "request": {"path": "/v2/thing"},
         "run_in": ["gate"]},
        {"name": "health", "kind": "health"},
        {"name": "stable-only", "kind": "health", "run_in": ["verify"]},
    ]
}


def runbook(tmp_path: Path, **changes: Any) -> Path:
    data = yaml.safe_load(QUICK.read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "runbook.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def by_name(plays: list[dict[str, Any]], play: str) -> dict[str, dict[str, Any]]:
    """The tasks of one play; ``Rollout``: of all the rollout's plays and its rollback."""
    if play == "Rollout":
        found = [p for p in plays if p["name"].startswith(("Rollout", "Promote"))
                 or p["name"] == "Rollback (the rollout failed)"]
    else:
        found = [p for p in plays if p["name"] == play]
        assert len(found) == 1
    return {task["name"]: task for p in found for task in walk(p["tasks"])}


def checked_names(task: dict[str, Any]) -> list[str]:
    return [check["name"] for check in module_args(task)["checks"]]


def test_each_check_runs_where_its_run_in_says(tmp_path: Path) -> None:
    plays = plays_of(runbook(tmp_path, api_checks=CHECKS))
    rollout = by_name(plays, "Rollout")
    assert checked_names(rollout["API check: gate"]) == ["login", "v2-endpoint", "health"]
    assert checked_names(rollout["API check: verify"]) == ["login", "health", "stable-only"]
    assert "run_in" not in module_args(rollout["API check: gate"])["checks"][0]
    standalone = by_name(plays, "Rollback")
    assert checked_names(standalone["API check: verify"]) == ["login", "health", "stable-only"]


def test_no_verify_task_when_no_check_runs_in_verify(tmp_path: Path) -> None:
    checks = {"run_in": ["gate"], "checks": [{"name": "health", "kind": "health"}]}
    plays = plays_of(runbook(tmp_path, api_checks=checks))
    assert "API check: verify" not in by_name(plays, "Rollout")
    assert "API check: gate" in by_name(plays, "Rollout")


def test_a_capture_used_in_verify_must_be_captured_in_verify(tmp_path: Path) -> None:
    checks = {
        "checks": [
            {"name": "login", "kind": "http", "request": {"path": "/auth"},
             "capture": {"token": {"json": "token"}}, "run_in": ["gate"]},
            {"name": "use", "kind": "http",
             "request": {"path": "/me", "headers": {"Authorization": "${captures.token}"}}},
        ]
    }
    with pytest.raises(InputError) as refused:
        load_runbook(runbook(tmp_path, api_checks=checks))
    text = str(refused.value.problems[0])
    assert "${captures.token} is not captured by an earlier check that runs in verify" in text
    assert "runbook.yml:" in text


def test_the_verify_checks_run_in_the_rescue_only_once_traffic_moved(tmp_path: Path) -> None:
    """A gate failure before the first shift must not re-fail against stable (exit 3)."""
    plays = plays_of(runbook(tmp_path, api_checks=CHECKS))
    rollout = by_name(plays, "Rollout")
    assert rollout["API check: verify"]["when"] == "relrun_shifted is defined"
    shifts = [t for name, t in rollout.items() if ": shift " in name]
    assert shifts and all(t["register"] == "relrun_shifted" for t in shifts)
    assert "when" not in by_name(plays, "Rollback")["API check: verify"]


def test_the_rollback_gives_traffic_only_to_healthy_stable_servers(tmp_path: Path) -> None:
    data = yaml.safe_load(QUICK.read_text(encoding="utf-8"))
    data["deploy"]["readiness"] = {"path": "/healthz", "status": 204, "timeout": "30s"}
    plays = plays_of(runbook(tmp_path, deploy=data["deploy"]))
    for play in ("Rollout", "Rollback"):
        tasks = by_name(plays, play)
        for name in (
            "Rollback 2/5 drain: canary takes no new requests, in-flight ones finish",
            "Rollback 3/5 switch_traffic: all traffic to stable",
        ):
            args = module_args(tasks[name])
            assert (args["health_path"], args["health_status"]) == ("/healthz", 204)
        verify = module_args(tasks["Rollback 4/5 verify: stable alone is healthy"])
        assert verify["carrying_only"] is True and verify["health_path"] == "/healthz"
        stop = tasks["Rollback 5/5 cleanup: stop here if no stable server is healthy"]
        assert stop["when"] == "relrun_stable_down | default(false)"
    arm = module_args(by_name(plays, "Rollout")["Dead man's switch: arm (lease 15s)"])
    assert arm["health_path"] == "/healthz"


def test_the_deploy_waits_for_every_router_hosts_preflight(tmp_path: Path) -> None:
    plays = plays_of(runbook(tmp_path))
    names = [p["name"] for p in plays]
    assert names.index("Preflight") < names.index("Deploy canary")
    preflight = by_name(plays, "Preflight")
    assert preflight["Preflight: passed"]["ansible.builtin.set_fact"] == {
        "relrun_preflight_passed": True
    }
    deploy = next(p for p in plays if p["name"] == "Deploy canary")
    first = deploy["tasks"][0]
    assert first["name"].startswith("Preflight: every router host passed it")
    assert 'groups["router"]' in first["vars"]["relrun_preflight_missing"]
    assert first["ansible.builtin.assert"]["that"] == ["relrun_preflight_missing | length == 0"]
