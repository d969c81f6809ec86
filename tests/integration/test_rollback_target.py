"""A rollback never makes things worse (issue 14 items 1 and 10, issue 15 item 6).

Each test releases a variant of tests/data/quick.yml into its own sandbox.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from relrun.sandbox import control
from tests.helpers import ROOT, relrun
from tests.integration.sandbox_env import INVENTORY, run_relrun, start_relrun, wait_for_journal

pytestmark = pytest.mark.integration

QUICK = ROOT / "tests" / "data" / "quick.yml"


def runbook(tmp_path: Path, name: str, **changes: Any) -> str:
    """quick.yml with top-level sections replaced, written next to the test."""
    data = yaml.safe_load(QUICK.read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def servers(state: Path) -> dict[str, tuple[int | None, str | None, bool]]:
    return {s.name: (s.weight, s.state, s.alive) for s in control.status(state).servers}


def lease_of(state: Path) -> dict[str, Any]:
    (path,) = state.glob("relrun-deadman-*.json")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def wait_until(what: str, predicate: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def test_stable_dead_mid_release_keeps_traffic_on_the_serving_canary(
    sandbox: Path, tmp_path: Path
) -> None:
    """Stable killed during stage 1: the rollback must not move users onto it."""
    data = yaml.safe_load(QUICK.read_text(encoding="utf-8"))
    rollout = data["rollout"]
    rollout["stages"][0]["bake"] = "6s"
    rollback = {**data["rollback"], "lease": "15s"}
    path = runbook(tmp_path, "stable-dies", rollout=rollout, rollback=rollback)
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["release", path, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    assert control.crash_server("stable", sandbox)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, out + err
    said = "no stable server answers its health check"
    assert said in out + err
    report = json.loads((reports / "release.json").read_text())
    steps = {s["name"]: s for s in report["rollback"]["steps"]}
    assert steps["drain"]["status"] == "failed"
    assert "traffic stays on the canary" in json.dumps(steps["drain"])
    for name in ("switch_traffic", "verify", "cleanup"):
        assert steps[name]["status"] == "failed", name
    assert any(said in reason for reason in report["reasons"]), report["reasons"]
    weight, state, alive = servers(sandbox)["canary"]
    assert weight and state == "ready" and alive, "the serving canary was left as it was"

    # Issue 14 item 11: `status` said idle (later: "stopped before finishing") after this
    # exit 3; it names the run's incident and what is left to do.
    shown = run_relrun(["status", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert shown.stdout.startswith(f"needs a human: a release of {path} on {INVENTORY}"), (
        shown.stdout)
    assert f"ended with exit 3, {report['state']}" in shown.stdout
    assert f"reports in {reports}" in shown.stdout and said in shown.stdout
    assert f"finish its rollback with: relrun recover -i {INVENTORY}" in shown.stdout
    assert "idle" not in shown.stdout and "stopped before finishing" not in shown.stdout
    doc = json.loads(run_relrun(["status", "--json", "-i", str(INVENTORY)], sandbox,
                                tmp_path).stdout)
    assert doc["state"] == "incomplete" and doc["run"]["ended"]["exit_code"] == 3

    # The dead man's switch fires when the lease runs out, finds stable still dead and
    # keeps trying; once stable is back, traffic goes to it.
    wait_until("the switch fired and its revert failed", lambda: lease_of(sandbox).get(
        "revert_error"))
    assert "no stable server answers" in lease_of(sandbox)["revert_error"]
    assert servers(sandbox)["canary"][0], "a failed revert moved nothing"
    status = run_relrun(["status", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert status.returncode == 1, status.stdout + status.stderr
    assert "incident: the dead man's switch of backend api" in status.stdout
    assert "keeps trying" in status.stdout
    control.start_server("stable", "1.0", sandbox)
    wait_until("the switch reverted", lambda: lease_of(sandbox).get("reverted_at"))
    lease = lease_of(sandbox)
    assert lease["attempt_count"] >= 2 and lease["attempts"][-1]["ok"] is True
    assert lease["attempts"][0]["ok"] is False
    now = servers(sandbox)
    assert (now["stable"][0], now["canary"][0]) == (1, 0)
    after = run_relrun(["status", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert "incident" not in after.stdout, after.stdout


def _health_check(version: str, **extra: Any) -> dict[str, Any]:
    return {"checks": [{"name": f"health-{version}", "kind": "health", "version": version,
                        **extra}]}


def test_a_failed_gate_rolls_back_without_turning_into_exit_3(
    sandbox: Path, tmp_path: Path
) -> None:
    """A check no version passes fails the gate; the verify must not re-fail it."""
    path = runbook(tmp_path, "bad-gate", api_checks=_health_check("9.9"))
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["release", path, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((reports / "release.json").read_text())
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    ci = json.loads((reports / "ci.json").read_text())
    assert [run["phase"] for run in ci["api_checks"]] == ["gate"]
    assert servers(sandbox)["canary"][:2] == (0, "maint")


def test_a_check_only_the_new_version_passes_runs_only_at_the_gate(tmp_path: Path) -> None:
    """`run_in: [gate]`: the drill's rollback does not check stable for v2."""
    path = runbook(tmp_path, "v2-only", api_checks=_health_check("2.0", run_in=["gate"]))
    reports = tmp_path / "reports"
    proc = relrun("drill", path, "--report-dir", str(reports), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ci = json.loads((reports / "ci.json").read_text())
    assert [run["phase"] for run in ci["api_checks"]] == ["gate"]
    report = json.loads((reports / "drill.json").read_text())
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5


def test_an_unreachable_router_at_preflight_deploys_nothing(
    sandbox: Path, tmp_path: Path
) -> None:
    """Ansible goes on with the next play's hosts after an UNREACHABLE: the deploy must not."""
    import socket

    inventory = yaml.safe_load(INVENTORY.read_text(encoding="utf-8"))
    with socket.socket() as sock:  # a port nothing listens on: the router host is gone
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inventory["all"]["children"]["router"]["hosts"]["sandbox-router"] = {
        "ansible_connection": "ssh",
        "ansible_port": port,
    }
    lost = tmp_path / "router-lost.yml"
    lost.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["release", str(QUICK), "-i", str(lost), "--report-dir", str(reports)], sandbox, tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the preflight did not pass on router host(s) sandbox-router" in proc.stdout
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    assert "Deploy 1/start-canary" not in journal
    report = json.loads((reports / "release.json").read_text())
    assert report["rollback"]["ran"] is False
    assert "canary" not in servers(sandbox) or not servers(sandbox)["canary"][2]
