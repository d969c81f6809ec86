from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from relrun.report.finish import finish_run
from relrun.report.junit import junit_document
from tests.unit.report.reportdata import NO_FAULT, run_dir


def check_structure(root: ET.Element) -> None:
    """The common JUnit schema: counts on every level add up, every case is named and timed."""
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    seconds = 0.0
    for suite in root:
        assert suite.tag == "testsuite"
        cases = list(suite.iter("testcase"))
        assert int(suite.get("tests", "-1")) == len(cases)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        skipped = sum(1 for c in cases if c.find("skipped") is not None)
        assert int(suite.get("failures", "-1")) == failures
        assert int(suite.get("skipped", "-1")) == skipped
        assert suite.get("errors") == "0"
        for case in cases:
            assert case.get("name") and case.get("classname")
            float(case.get("time", "x"))
            failure = case.find("failure")
            if failure is not None:
                assert failure.get("message") and failure.get("type")
            assert set(child.tag for child in case) <= {"failure", "skipped", "system-out"}
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
        seconds += float(suite.get("time", "x"))
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value
    assert abs(float(root.get("time", "x")) - seconds) < 0.01


def test_one_suite_per_phase(tmp_path: Path) -> None:
    root = ET.fromstring(junit_document(run_dir(tmp_path)))
    check_structure(root)
    assert [s.get("name") for s in root] == ["gates", "stages", "rollback", "verdict"]
    gates, stages, rollback, verdict = list(root)
    assert [c.get("classname") for c in gates.findall("testcase")] == [
        "gates.scan", "gates.builds", "gates.builds", "gates.api_checks.gate",
        "gates.api_checks.gate"]
    # A passing drill: its breach is what the drill asked for, not a failure.
    breached = stages.findall("testcase")[1]
    assert breached.find("failure") is None
    assert breached.findtext("system-out") == (
        "breached, as the drill asked: error rate 14.3% (limit 5.0%), p95 4.6 ms (limit 1000 ms)")
    assert [c.get("name") for c in rollback.findall("testcase")] == [
        "1. stop_deployment", "2. drain", "3. switch_traffic", "4. verify", "5. cleanup",
        "RTO within budget"]
    assert rollback.findall("testcase")[1].get("time") == "0.303"
    (case,) = verdict.findall("testcase")
    assert case.get("name") == "relrun drill verdict" and case.find("failure") is None
    assert root.get("failures") == "0"  # verdict pass: no failure anywhere


def test_a_release_breach_is_a_failure(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run.update(kind="release", verdict="fail", exit_code=1, state="rolled_back")
    (directory / "release.json").write_text(json.dumps(run))
    (directory / "drill.json").unlink()
    root = ET.fromstring(junit_document(directory))
    check_structure(root)
    breached = root.findall("testsuite[@name='stages']/testcase")[1]
    failure = breached.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "breached: error rate 14.3% (limit 5.0%), p95 4.6 ms (limit 1000 ms)")
    verdict = root.find("testsuite[@name='verdict']/testcase/failure")
    assert verdict is not None and verdict.get("type") == "rolled_back"
    assert root.get("failures") == "2"


def test_failed_rollback_step_and_scan_gate(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run["rollback"]["steps"][3]["status"] = "failed"
    run["rto_seconds"] = 25.0
    run.update(verdict="fail", exit_code=3, state="rollback_incomplete")
    (directory / "drill.json").write_text(json.dumps(run))
    scan = json.loads((directory / "scan.json").read_text())
    scan["failing"] = 2
    (directory / "scan.json").write_text(json.dumps(scan))
    root = ET.fromstring(junit_document(directory))
    check_structure(root)
    failed = {c.get("name"): c.find("failure") for c in root.iter("testcase")}
    assert failed["4. verify"] is not None
    assert failed["RTO within budget"] is not None
    assert failed["security scan"] is not None
    assert "imports_positive.py:2:1" in (failed["security scan"].get("message") or "")
    assert failed["relrun drill verdict"] is not None
    assert root.get("failures") == "4"


def test_finish_run_rewrites_junit(tmp_path: Path) -> None:
    directory = run_dir(tmp_path, NO_FAULT)
    before = (directory / "junit.xml").read_text()
    result = finish_run(directory, None, history_db=tmp_path / "h.db")
    assert result.junit == directory / "junit.xml"
    after = (directory / "junit.xml").read_text()
    assert after != before
    root = ET.fromstring(after)
    check_structure(root)
    assert [c.get("name") for c in root.iter("testcase")] == [
        "1. Canary 10% (10%)", "2. Blue-Green 50% (50%)", "3. Full 100% (100%)",
        "relrun drill verdict"]
    # --fault none promoted: nothing failed on its way, but the drill proved nothing.
    assert root.get("failures") == "1"
    assert root.find("testsuite[@name='rollback']").get("tests") == "0"  # type: ignore[union-attr]
