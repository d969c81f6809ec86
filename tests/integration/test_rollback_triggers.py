"""Rollbacks that do not come from analysis: SIGTERM, `relrun rollback`, the lock, re-runs.

Each test releases into its own sandbox through inventories/sandbox.yml.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from relrun.sandbox import control
from tests.agreement import assert_signals_agree
from tests.helpers import ROOT
from tests.integration.sandbox_env import (
    INVENTORY,
    history_db,
    patient_runbook,
    run_relrun,
    start_relrun,
    wait_for_journal,
)

pytestmark = pytest.mark.integration

SLOW = str(ROOT / "tests" / "data" / "slow.yml")
QUICK = str(ROOT / "tests" / "data" / "quick.yml")
ALL_PASSED = ["passed"] * 5


def servers(state: Path) -> dict[str, tuple[int | None, str | None]]:
    return {s.name: (s.weight, s.state) for s in control.status(state).servers}


def test_sigterm_mid_stage_rolls_back_then_exits_130(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    runbook = patient_runbook(tmp_path)
    proc = start_relrun(
        ["release", runbook, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "rolling back" in err
    report = json.loads((reports / "release.json").read_text())
    assert report["trigger"]["reason"] == "signal"
    assert report["trigger"]["stage"] == "Canary 10%"
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert servers(sandbox)["canary"] == (0, "maint")
    assert servers(sandbox)["stable"][1] == "ready"
    record = assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))
    # The RTO runs from the interrupt to the moment all traffic was confirmed on stable.
    assert record.rto_seconds is not None and record.switched_at is not None
    assert record.trigger is not None and record.trigger.at is not None
    assert record.rto_seconds == round(record.switched_at - record.trigger.at, 3)
    assert [s.status for s in record.stages] == ["interrupted"]


def test_manual_rollback_from_another_terminal(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    runbook = patient_runbook(tmp_path)
    proc = start_relrun(
        ["release", runbook, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    manual = run_relrun(
        ["rollback", runbook, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "manual")],
        sandbox,
        tmp_path,
    )
    out, err = proc.communicate(timeout=300)
    assert manual.returncode == 0, manual.stdout + manual.stderr
    assert "asking it to roll back" in manual.stderr
    # Rolled back at an operator's request: the release failed, the environment is safe.
    assert proc.returncode == 1, out + err
    report = json.loads((reports / "release.json").read_text())
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert servers(sandbox)["canary"] == (0, "maint")
    # Rolling back again, with nothing running, is safe and says so.
    again = run_relrun(
        ["rollback", SLOW, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "again")],
        sandbox,
        tmp_path,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    second = json.loads((tmp_path / "again" / "rollback.json").read_text())
    assert [s["status"] for s in second["rollback"]["steps"]] == ALL_PASSED
    assert servers(sandbox)["canary"] == (0, "maint")


def test_a_second_release_is_refused_while_one_runs(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["release", SLOW, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    try:
        wait_for_journal(reports, "Deploy 1/start-canary", proc)
        second = run_relrun(
            ["release", QUICK, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "second")],
            sandbox,
            tmp_path,
        )
        assert second.returncode == 1
        assert "another release or drill is running in this environment" in second.stderr
        assert "release of slow by pid" in second.stderr
        assert not (tmp_path / "second").exists(), "a refused release leaves no run directory"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=300)
    # The first one released its lock when it ended: a new release may start.
    third = run_relrun(
        ["release", QUICK, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "third")],
        sandbox,
        tmp_path,
    )
    assert "another release" not in third.stderr


def test_release_without_fault_promotes_and_keeps_both_versions(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["release", QUICK, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "release.json").read_text())
    assert report["state"] == "promoted"
    assert report["rollback"]["ran"] is False
    status = {s.name: s for s in control.status(sandbox).servers}
    assert (status["canary"].weight, status["canary"].state, status["canary"].alive) == (
        1,
        "ready",
        True,
    )
    # The old version is kept running (weight 0) so a later rollback has somewhere to go.
    assert (status["stable"].weight, status["stable"].alive) == (0, True)


def test_a_second_signal_does_not_abandon_the_rollback(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["release", patient_runbook(tmp_path), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    proc.send_signal(signal.SIGTERM)
    # The playbook took the rollback up: its rescue is rolling back.
    wait_for_journal(reports, "Rollback 1/5 stop_deployment", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "the rollback is running and will finish first; it is not abandoned" in err
    assert "separate run" not in err, "the rescue was not stopped"
    report = json.loads((reports / "release.json").read_text())
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert servers(sandbox)["canary"] == (0, "maint")


def test_a_release_with_no_router_to_fall_back_on_never_deploys(tmp_path: Path) -> None:
    """No sandbox is up: the preflight refuses before anything is deployed (exit 1, not 3)."""
    absent = tmp_path / "no-sandbox"
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["release", QUICK, "-i", str(INVENTORY), "--report-dir", str(reports)], absent, tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"sandbox router not found in {absent} (start it with `relrun sandbox up`)" in (
        proc.stdout + proc.stderr
    )
    report = json.loads((reports / "release.json").read_text())
    assert report["rollback"]["ran"] is False
    assert "Deploy 1/start-canary" not in (reports / "journal.jsonl").read_text()
