"""Real drills on private sandboxes: each trigger kind, and what the reports say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.agreement import assert_signals_agree
from tests.helpers import ROOT, relrun

pytestmark = pytest.mark.integration

QUICK = str(ROOT / "tests" / "data" / "quick.yml")


def drill(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, object]]:
    reports = tmp_path / "reports"
    proc = relrun("drill", QUICK, "--report-dir", str(reports), *args, cwd=tmp_path)
    report = json.loads((reports / "drill.json").read_text())
    # The private sandbox is gone: no process of it is left.
    assert not (reports / "sandbox" / "secrets").exists(), "the sandbox's keys were left"
    for pid_file in (reports / "sandbox" / "run").glob("*.json"):
        pid = json.loads(pid_file.read_text())["pid"]
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"{pid_file.name} still running"
    return proc.returncode, proc.stdout + proc.stderr, report


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def steps(report: dict[str, object]) -> dict[str, str]:
    rollback = report["rollback"]
    assert isinstance(rollback, dict)
    return {s["name"]: s["status"] for s in rollback["steps"]}


ALL_PASSED = {
    n: "passed" for n in ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")
}


def test_error_rate_fault_rolls_back_and_the_drill_passes(tmp_path: Path) -> None:
    code, output, report = drill(tmp_path)
    assert code == 0, output
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert (trigger["reason"], trigger["stage"], trigger["threshold"]) == (
        "error_rate",
        "Blue-Green 50%",
        0.05,
    )
    assert steps(report) == ALL_PASSED
    assert isinstance(report["detection_seconds"], float) and report["detection_seconds"] > 0
    assert isinstance(report["rto_seconds"], float)
    assert report["rto_seconds"] >= report["detection_seconds"]
    traffic = report["traffic"]
    assert isinstance(traffic, dict)
    assert traffic["lost"] == 0
    assert traffic["injected_failures"] > 0
    assert set(traffic["phases"]) == {"before_fault", "fault_to_switch", "after_switch"}
    after = traffic["phases"]["after_switch"]
    assert set(after["served_by"]) == {"1.0"}, "traffic left on the canary after the switch"
    stages = report["stages"]
    assert isinstance(stages, list)
    assert [(s["name"], s["status"]) for s in stages] == [
        ("Canary 10%", "passed"),
        ("Blue-Green 50%", "breached"),
    ]
    for name in (
        "drill.json",
        "ci.json",
        "junit.xml",
        "rollback-playbook.json",
        "rollback-playbook.md",
        "journal.jsonl",
        "playbook.yml",
    ):
        assert (tmp_path / "reports" / name).is_file(), name
    assert "verdict: pass" in output
    assert_signals_agree(tmp_path / "reports", code, output)


def test_no_fault_promotes_and_cannot_prove_the_rollback(tmp_path: Path) -> None:
    code, output, report = drill(tmp_path, "--fault", "none")
    assert code == 1, output
    assert report["state"] == "promoted"
    assert "could not prove the rollback" in " ".join(report["reasons"])  # type: ignore[arg-type]
    assert [s["status"] for s in report["stages"]] == ["passed"] * 3  # type: ignore[union-attr]
    assert report["rollback"]["ran"] is False  # type: ignore[index]
    assert_signals_agree(tmp_path / "reports", code, output)


def test_crash_is_caught_by_health_and_loses_no_request(tmp_path: Path) -> None:
    code, output, report = drill(tmp_path, "--fault", "crash", "--at", "Canary 10%")
    assert code == 0, output
    assert report["trigger"]["reason"] == "health_check"  # type: ignore[index]
    assert report["trigger"]["stage"] == "Canary 10%"  # type: ignore[index]
    assert steps(report) == ALL_PASSED
    assert report["traffic"]["lost"] == 0  # type: ignore[index]


def test_latency_fault_trips_the_p95_threshold(tmp_path: Path) -> None:
    code, output, report = drill(tmp_path, "--fault", "latency=2500")
    assert code == 0, output
    assert report["trigger"]["reason"] == "latency"  # type: ignore[index]
    assert report["trigger"]["threshold"] == 1000  # type: ignore[index]
    assert steps(report) == ALL_PASSED
    assert report["traffic"]["lost"] == 0  # type: ignore[index]
    record = assert_signals_agree(tmp_path / "reports", code, output)
    # The breach is the canary slower than the bound: its stage shows it, not 2 ms.
    (breached,) = [s for s in record.stages if s.status == "breached"]
    assert breached.observed.peak_p95_ms is not None
    assert breached.limits.max_p95_ms is not None
    assert breached.observed.peak_p95_ms > breached.limits.max_p95_ms


def test_bad_fault_argument_is_exit_2(tmp_path: Path) -> None:
    proc = relrun("drill", QUICK, "--fault", "meteor=1", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--fault: unknown kind 'meteor'" in proc.stderr
    proc = relrun("drill", QUICK, "--at", "Stage 9", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--at: no stage named 'Stage 9'" in proc.stderr
    inventory = str(ROOT / "inventories" / "sandbox.yml")
    proc = relrun("drill", QUICK, "-i", inventory, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--traffic-log is required with -i: a drill must count lost requests" in proc.stderr
    proc = relrun("drill", QUICK, "-i", inventory, "--traffic-log", "nowhere.jsonl", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--traffic-log nowhere.jsonl: no such file" in proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(os.environ.get("RELRUN_SKIP_FLAGSHIP") == "1", reason="asked to skip")
def test_flagship_runbook_drills_on_the_sandbox(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = relrun(
        "drill", str(ROOT / "runbooks" / "release-v2.yml"), "--report-dir", str(reports), cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "drill.json").read_text())
    assert report["trigger"]["stage"] == "Blue-Green 25%"
    assert report["verdict"] == "pass"


def test_failed_api_check_rolls_back_before_traffic_moves(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = relrun(
        "drill",
        str(ROOT / "tests" / "data" / "failing-check.yml"),
        "--report-dir",
        str(reports),
        cwd=tmp_path,
    )
    report = json.loads((reports / "drill.json").read_text())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["trigger"]["reason"] == "failed_check"
    assert report["trigger"]["stage"] is None
    assert steps(report) == ALL_PASSED
    assert report["stages"] == []
    assert "still-v1: json version equals: expected '1.0', got '2.0'" in proc.stdout
    ci = json.loads((reports / "ci.json").read_text())
    gate = next(run for run in ci["api_checks"] if run["phase"] == "gate")
    assert {c["name"]: c["passed"] for c in gate["checks"]} == {"health": True, "still-v1": False}
    assert_signals_agree(reports, proc.returncode, proc.stdout + proc.stderr)


def test_a_failed_cleanup_still_disarms_the_dead_mans_switch(tmp_path: Path) -> None:
    """Traffic is on stable, so the switch must not fire later although cleanup failed."""
    runbook = tmp_path / "quick.yml"
    text = Path(QUICK).read_text()
    failing = "      - name: archive-logs\n        shell: exit 7\n"
    runbook.write_text(
        text.replace(
            "    steps:\n      - name: stop-canary",
            "    steps:\n" + failing + "      - name: stop-canary",
        )
    )
    reports = tmp_path / "reports"
    proc = relrun("drill", str(runbook), "--report-dir", str(reports), cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = json.loads((reports / "drill.json").read_text())
    steps = {s["name"]: s["status"] for s in report["rollback"]["steps"]}
    assert steps["switch_traffic"] == "passed" and steps["cleanup"] == "failed", steps
    lease = json.loads((reports / "sandbox" / "relrun-deadman-api.json").read_text())
    assert lease["state"] == "disarmed", lease
    assert_signals_agree(reports, proc.returncode, proc.stdout + proc.stderr)


@pytest.mark.under_load  # sequential analysis on live traffic
def test_with_background_noise_a_healthy_canary_is_promoted(tmp_path: Path) -> None:
    # 2% of user requests fail on both versions and latency is heavy-tailed: the canary is
    # as good as stable, so no stage may roll it back.
    code, output, report = drill(
        tmp_path, "--fault", "none", "--noise-errors", "0.02", "--noise-latency-ms", "5"
    )
    assert code == 1, output  # promoted: a drill without a fault cannot prove the rollback
    assert report["state"] == "promoted"
    stages = report["stages"]
    assert isinstance(stages, list)
    assert [s["status"] for s in stages] == ["passed"] * 3
    assert report["traffic"]["lost"] == 0  # type: ignore[index]
    for stage in stages:
        analysis = stage["analysis"]
        assert analysis["decision"] == "pass"
        assert analysis["method"]["alpha"] == 0.01
        assert set(analysis["totals"]) >= {"canary"}
        assert all(
            e["e_value"] < e["bound"] for s in stage["samples"] for e in s["evidence"].values()
        )
    assert stages[-1]["analysis"]["method"]["compared_with_stable"] is False  # 100%: no stable


@pytest.mark.under_load  # sequential analysis on live traffic
def test_with_background_noise_a_faulty_canary_is_rolled_back_on_evidence(tmp_path: Path) -> None:
    code, output, report = drill(tmp_path, "--noise-errors", "0.02")
    assert code == 0, output
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert trigger["reason"] == "error_rate" and trigger["stage"] == "Blue-Green 50%"
    assert trigger["e_value"] >= trigger["bound"] == 1 / 0.01  # the average of 4 tests'
    assert trigger["counts"]["canary"]["errors"] > 1
    assert "e-value" in trigger["message"] and "alpha 0.01" in trigger["message"]
    # The analysis drained the canary itself, right at the breach, before the rollback ran.
    assert isinstance(report["detection_to_canary_out_seconds"], float)
    assert report["detection_to_canary_out_seconds"] >= 0
    assert steps(report) == ALL_PASSED
    assert report["traffic"]["lost"] == 0  # type: ignore[index]
