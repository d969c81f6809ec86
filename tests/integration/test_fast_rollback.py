"""One fast rollback path: an operator's rollback during a bake is the playbook's own.

SIGINT to relrun, or `relrun rollback` from another process, is handed to the running
playbook through its lease's control file: the analysis takes it up at its next sample
and the rollout's rescue runs the five steps in the same ansible-runner run, as for a
breach. No second (standalone) rollback run starts.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from relrun.sandbox import control
from relrun.sandbox.traffic import summarize
from tests.agreement import assert_signals_agree
from tests.integration.sandbox_env import (
    INVENTORY,
    history_db,
    patient_runbook,
    run_relrun,
    start_relrun,
    wait_for_journal,
)

pytestmark = [pytest.mark.integration, pytest.mark.under_load]

ALL_PASSED = ["passed"] * 5
BAKING = "Stage 1/3 Canary 10%: analysis"


def journal_events(reports: Path) -> list[dict[str, object]]:
    lines = (reports / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def run_labels(reports: Path) -> list[object]:
    return [e.get("label") for e in journal_events(reports) if e.get("kind") == "run_started"]


def on_stable(state: Path) -> bool:
    servers = {s.name: (s.weight, s.state) for s in control.status(state).servers}
    return servers["canary"] == (0, "maint") and servers["stable"][1] == "ready"


def test_sigint_during_a_bake_rolls_back_inside_the_playbook(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    log = sandbox / "loadgen.jsonl"
    proc = start_relrun(
        [
            "drill", patient_runbook(tmp_path), "-i", str(INVENTORY), "--report-dir",
            str(reports), "--traffic-log", str(log),
        ],
        sandbox,
        tmp_path,
    )
    wait_for_journal(reports, BAKING, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "rolling back" in err and "separate run" not in err
    report = json.loads((reports / "drill.json").read_text())
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["path"], trigger["stage"]) == (
        "signal", "in_playbook", "Canary 10%",
    )
    assert trigger["by"].startswith("SIGINT to relrun (pid ")
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert report["traffic"]["lost"] == 0, report["traffic"]
    # One ansible-runner run: the rescue rolled back, no standalone rollback run.
    assert run_labels(reports) == ["drill"]
    assert on_stable(sandbox)
    record = assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))
    assert [s.status for s in record.stages] == ["interrupted"]
    assert record.trigger is not None and record.trigger.at is not None
    assert record.rto_seconds == round(record.switched_at - record.trigger.at, 3)
    # The request does not outlive the run.
    assert not list(sandbox.glob("relrun-deadman-*.control"))


def test_relrun_rollback_from_another_process_rolls_back_inside_the_playbook(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    runbook = patient_runbook(tmp_path)
    proc = start_relrun(
        ["release", runbook, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )
    wait_for_journal(reports, BAKING, proc)
    started = journal_events(reports)[1]["time"]
    manual = run_relrun(
        ["rollback", runbook, "-i", str(INVENTORY), "--report-dir", str(tmp_path / "manual")],
        sandbox,
        tmp_path,
    )
    out, err = proc.communicate(timeout=300)
    assert manual.returncode == 0, manual.stdout + manual.stderr
    assert "asked its playbook to roll back" in manual.stderr
    assert not (tmp_path / "manual").exists(), "the release rolled back, not a run of its own"
    # An operator's rollback: the release failed and the environment is safe (exit 1).
    assert proc.returncode == 1, out + err
    report = json.loads((reports / "release.json").read_text())
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["path"], trigger["stage"]) == (
        "manual", "in_playbook", "Canary 10%",
    )
    assert trigger["by"].startswith("relrun rollback (pid ")
    assert report["reasons"][0].startswith("rollback triggered by manual at stage Canary 10%")
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert run_labels(reports) == ["release"]
    assert on_stable(sandbox)
    record = assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))
    assert [s.status for s in record.stages] == ["interrupted"]
    traffic = summarize(sandbox / "loadgen.jsonl", since=float(started))  # type: ignore[arg-type]
    assert traffic.lost == 0


def test_a_signal_before_the_bakes_stops_the_playbook_and_rolls_back_in_a_second_run(
    sandbox: Path, tmp_path: Path
) -> None:
    """During the deploy nothing reads the request (no armed lease): the former path."""
    text = Path(patient_runbook(tmp_path)).read_text(encoding="utf-8")
    start = "$RELRUN_SERVICE_CTL start canary --version 2.0"
    assert start in text
    # The deploy blocks until relrun stops it: the signal is certain to come during it.
    runbook = tmp_path / "blocking.yml"
    runbook.write_text(text.replace(start, start + " && sleep 600"), encoding="utf-8")
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["release", str(runbook), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    wait_for_journal(reports, "Deploy 1/start-canary", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "roll back in a separate run: the run holds no armed lease here" in err
    report = json.loads((reports / "release.json").read_text())
    assert (report["trigger"]["reason"], report["trigger"]["path"]) == ("signal", "standalone")
    assert report["trigger"]["by"].startswith("SIGTERM to relrun (pid ")
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert run_labels(reports) == ["release", "rollback"]
    assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))
