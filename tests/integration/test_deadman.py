"""kill -9 relrun mid-stage: the dead man's switch, then `relrun recover`."""

from __future__ import annotations

import json
import secrets
import signal
import time
from pathlib import Path

import pytest

from relrun.sandbox import control
from tests.agreement import assert_signals_agree
from tests.helpers import ROOT
from tests.integration.sandbox_env import (
    INVENTORY,
    history_db,
    run_relrun,
    start_relrun,
    wait_for_journal,
)

pytestmark = [pytest.mark.integration, pytest.mark.under_load]

SLOW = str(ROOT / "tests" / "data" / "slow.yml")
QUICK = str(ROOT / "tests" / "data" / "quick.yml")
LEASE = 20.0  # slow.yml's 5 s runs out between two renewals on a loaded machine


def on_stable(state: Path) -> bool:
    servers = {s.name: s for s in control.status(state).servers}
    canary, stable = servers["canary"], servers["stable"]
    return canary.weight == 0 and canary.state in {"drain", "maint"} and bool(stable.weight)


def test_killed_release_is_reverted_by_the_router_host_then_recovered(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    runbook = tmp_path / "slow.yml"
    # The deploy step prints a secret of relrun's environment (named like a secret).
    planted = f"KILLED-SECRET-{secrets.token_hex(12)}"
    start = "$RELRUN_SERVICE_CTL start canary"
    text = Path(SLOW).read_text()
    assert f"shell: {start}" in text
    runbook.write_text(
        text.replace(f"shell: {start}", f'shell: echo "$RELRUN_T_DEADMAN_TOKEN"; {start}')
        .replace("lease: 5s", f"lease: {LEASE:g}s")
    )
    monkeypatch.setenv("RELRUN_T_DEADMAN_TOKEN", planted)
    proc = start_relrun(
        ["release", str(runbook), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    # Only the killed run knows the secret: recover must learn it from what that run left.
    monkeypatch.delenv("RELRUN_T_DEADMAN_TOKEN")
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    assert not on_stable(sandbox), "the canary should be taking traffic mid-stage"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    killed_at = time.monotonic()
    # No human action: within the lease (plus the watcher's poll), traffic is back on stable.
    deadline = killed_at + LEASE + 10
    while not on_stable(sandbox):
        assert time.monotonic() < deadline, "the dead man's switch did not revert the traffic"
        time.sleep(0.2)
    # The watcher records its revert in the lease just after the switch: wait for that too.
    lease_path = sandbox / "relrun-deadman-api.json"
    while "reverted_at" not in json.loads(lease_path.read_text()):
        assert time.monotonic() < deadline + 30, "the switch's revert was never recorded"
        time.sleep(0.2)
    lease = json.loads(lease_path.read_text())
    # The watcher drained the canary (its short requests finish at once), then switched.
    assert lease["state"] == "fired" and lease["revert"]["drained"] is True

    # The dead run is detected by status and by the next release...
    status = run_relrun(["status", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert status.returncode == 1
    assert "incomplete: a release of" in status.stdout and str(reports) in status.stdout
    refused = run_relrun(
        ["release", QUICK, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "refused")],
        sandbox,
        tmp_path,
    )
    assert refused.returncode == 1
    assert "Finish its rollback first: relrun recover -i" in refused.stderr
    assert not (tmp_path / "refused").exists(), "a refused release leaves no run directory"

    # ...and recover finishes the rollback into the dead run's directory, with the playbook
    # the dead run rendered: someone broke the runbook in the meantime.
    runbook.write_text("apiVersion: relrun/v1\nkind: Runbook\n")
    recovered = run_relrun(["recover", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert f"the runbook {runbook} no longer loads" in recovered.stdout + recovered.stderr
    report = json.loads((reports / "release.json").read_text())
    assert report["state"] == "recovered" and report["recovered"] is True
    assert report["trigger"]["reason"] == "controller_lost"
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    assert [s["name"] for s in report["stages"]] == ["Canary 10%"]
    # The incident as it happened: the switch reverted traffic, not the recovery, and the
    # RTO runs from the controller's last sign of life to that revert.
    incident = report["incident"]
    assert (incident["deadman_fired_at"], incident["deadman_reverted_at"]) == (
        lease["fired_at"], lease["reverted_at"])
    assert incident["on_stable_by"] == "dead man's switch"
    assert incident["controller_last_seen"] <= lease["fired_at"]
    last_seen = incident["controller_last_seen"]
    assert report["rto_seconds"] == round(lease["reverted_at"] - last_seen, 3)
    assert "the dead man's switch fired at" in recovered.stdout + recovered.stderr
    assert "put traffic back on stable at" in recovered.stdout + recovered.stderr
    assert f"verdict: pass (exit {recovered.returncode})" in recovered.stdout
    assert_signals_agree(reports, 0, recovered.stdout + recovered.stderr, history_db(sandbox))
    servers = {s.name: s for s in control.status(sandbox).servers}
    assert (servers["canary"].weight, servers["canary"].state) == (0, "maint")
    after = run_relrun(["status", "-i", str(INVENTORY)], sandbox, tmp_path)
    assert after.returncode == 0 and after.stdout.startswith("idle")
    # The killed run's ansible-runner artifacts (its `command` file records relrun's whole
    # environment) were scrubbed by the recovery: the secret is in no file of the run.
    files = sorted(p for p in reports.rglob("*") if p.is_file())
    assert any(p.name == "command" for p in files)
    assert [str(p) for p in files if planted.encode() in p.read_bytes()] == []
