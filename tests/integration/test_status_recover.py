"""A drill on its private sandbox, seen from another terminal and recovered after kill -9.

Issue 17 items 2 and 4, issue 14 item 8: ``relrun status`` finds a running private drill
(plain, ``--json`` and ``--watch``), the dead one after its relrun was killed with -9, and
``relrun recover`` (no inventory: the private drills) finishes its rollback, tells the
incident as it happened and stops every process of its sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.integration.sandbox_env import (
    INVENTORY,
    env_for,
    run_relrun,
    start_relrun,
    wait_for_journal,
)
from tests.integration.test_drill_lifecycle import processes_of, wait_for

pytestmark = pytest.mark.integration

SLOW = ROOT / "tests" / "data" / "slow.yml"  # stage 1 bakes 120 s
QUICK = str(ROOT / "tests" / "data" / "quick.yml")


def test_a_private_drill_is_seen_from_another_terminal_and_recovered_after_kill_9(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    sandbox = reports / "sandbox"
    state = tmp_path / "x"  # RELRUN_SANDBOX_DIR of the other terminal: not the drill's
    runbook = tmp_path / "slow.yml"
    # A lease the recovery comes well within: the switch has not fired when it runs.
    runbook.write_text(SLOW.read_text().replace("lease: 5s", "lease: 300s"))
    assert "lease: 300s" in runbook.read_text()
    proc = start_relrun(["drill", str(runbook), "--report-dir", str(reports)], state, tmp_path)
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)

    # Another terminal, no inventory: the drill is found, with its stage and weight.
    seen = run_relrun(["status"], state, tmp_path)
    assert seen.returncode == 0, seen.stdout + seen.stderr
    assert f"running: drill of {runbook} on its private sandbox {sandbox} (pid {proc.pid})" \
        in seen.stdout
    assert "stage 1 Canary 10%: weight 10%, running" in seen.stdout
    # Asked about the shared sandbox inventory: idle there, and the private drill is named.
    shared = run_relrun(["status", "-i", str(INVENTORY)], state, tmp_path)
    assert shared.returncode == 0
    assert shared.stdout.startswith("idle")
    assert f"also on this machine: running: drill of {runbook}" in shared.stdout
    document = json.loads(run_relrun(["status", "--json"], state, tmp_path).stdout)
    assert document["state"] == "running"
    (run,) = document["runs"]
    assert (run["kind"], run["private_sandbox"], run["pid"]) == ("drill", str(sandbox), proc.pid)
    assert run["live"]["stage"] == {"index": 1, "name": "Canary 10%", "weight": 10,
                                    "status": "running"}
    assert "envvars" not in run

    # A third terminal watches it live until it ends.
    log = tmp_path / "watch.out"
    with log.open("w") as out:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "relrun", "status", "--watch", "--interval", "0.2"],
            cwd=tmp_path, env=env_for(state), stdout=out, stderr=subprocess.STDOUT, text=True,
        )
    try:
        wait_for("the watch shows the stage",
                 lambda: "stage 1 Canary 10%: weight 10%, running" in log.read_text(), 120)
        proc.kill()
        proc.communicate(timeout=60)
        assert watcher.wait(timeout=120) == 1  # it ended on a dead run
    finally:
        watcher.kill()
        watcher.wait()
    watched = log.read_text()
    assert "stage 1 Canary 10%: weight 10%, running" in watched
    assert f"incomplete: a drill of {runbook} on its private sandbox" in watched

    dead = run_relrun(["status"], state, tmp_path)
    assert dead.returncode == 1
    assert f"incomplete: a drill of {runbook} on its private sandbox {sandbox}" in dead.stdout
    assert "finish its rollback with: relrun recover\n" in dead.stdout
    assert len(processes_of(sandbox)) >= 4  # its reaper waits out the 300 s lease

    recovered = run_relrun(["recover"], state, tmp_path)
    said = recovered.stdout + recovered.stderr
    assert recovered.returncode == 0, said
    assert "verdict: pass (exit 0)" in recovered.stdout  # printed verdict = exit code
    assert "last sign of life at" in said
    assert "the dead man's switch has not fired: traffic is where the run left it" in said
    report = json.loads((reports / "drill.json").read_text())
    assert (report["state"], report["recovered"], report["exit_code"]) == ("recovered", True, 0)
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    incident = report["incident"]
    assert incident["controller_pid"] == proc.pid
    assert incident["deadman_fired_at"] is None and incident["on_stable_by"] == "recovery"
    # The RTO runs from the controller's last sign of life, not from the recovery's start.
    last_seen = incident["controller_last_seen"]
    assert last_seen < incident["recovery_started"]
    assert report["trigger"]["at"] == last_seen
    assert report["rto_seconds"] == round(incident["on_stable_at"] - last_seen, 3)
    assert report["rto_seconds"] > incident["recovery_started"] - last_seen
    assert report["traffic"] is not None and report["traffic"]["requests"] > 0
    assert any("controller (pid" in r and "last seen at" in r for r in report["reasons"])
    wait_for("every sandbox process stopped", lambda: not processes_of(sandbox), 60)
    assert not (sandbox / "secrets").exists()
    after = run_relrun(["status"], state, tmp_path)
    assert after.returncode == 0 and after.stdout.startswith("idle"), after.stdout
    again = run_relrun(["recover"], state, tmp_path)
    assert again.returncode == 1 and "no incomplete run to recover" in again.stderr


def test_status_watch_follows_a_drill_through_its_rollback(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    state = tmp_path / "x"
    proc = start_relrun(["drill", QUICK, "--report-dir", str(reports)], state, tmp_path)
    wait_for_journal(reports, "Stage 1/", proc, timeout=300)
    watch = run_relrun(["status", "--watch", "--interval", "0.2"], state, tmp_path)
    out, err = proc.communicate(timeout=300)
    # On a loaded machine the drill may miss its RTO budget (exit 1): the watch says so.
    assert proc.returncode in {0, 1}, out + err
    assert watch.returncode == 0, watch.stdout + watch.stderr
    report = json.loads((reports / "drill.json").read_text())
    lines = watch.stdout.splitlines()
    assert any(line.startswith("  stage 2 Blue-Green 50%") for line in lines), watch.stdout
    assert any("rollback triggered by error_rate at Blue-Green 50%" in line for line in lines)
    assert any(line.startswith("  rollback: stop_deployment") for line in lines)
    final = [line for line in lines if line.startswith("  rollback: ")][-1]
    assert [part.split()[1] for part in final.removeprefix("  rollback: ").split(", ")] == [
        "passed"] * 5, final
    assert lines[-1].startswith(
        f"finished: drill of {Path(QUICK).resolve()}: verdict {report['verdict']} "
        f"(exit {proc.returncode}), rolled_back"), watch.stdout
