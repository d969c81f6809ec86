"""The run record: validated once, upgraded from older documents, read by JUnit readers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from relrun.report.junit import write_junit
from relrun.report.rundocs import RunDirError, RunDocuments, load_run_documents
from tests.unit.report.reportdata import ERROR_RATE, REPORTS, run_dir

LEGACY = REPORTS / "legacy-drill-error-rate.json"


def test_stages_carry_their_limits_beside_the_peaks(tmp_path: Path) -> None:
    run = load_run_documents(run_dir(tmp_path)).run
    breached = run.stages[1]
    assert breached.status == "breached"
    assert (breached.limits.max_error_rate, breached.limits.max_p95_ms) == (0.05, 1000.0)
    assert breached.observed.peak_error_rate == pytest.approx(0.142857)
    saved = json.loads((ERROR_RATE / "drill.json").read_text())
    assert saved["schema_version"] == 1
    assert "max_error_rate" not in saved["stages"][1]["observed"]


def test_a_document_from_before_the_schema_version_is_upgraded(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    shutil.copy(LEGACY, directory / "drill.json")
    old = load_run_documents(directory)
    new = load_run_documents(run_dir(tmp_path, name="new"))
    assert old.run == new.run  # limits from the playbook, peaks renamed
    stored = json.loads(LEGACY.read_text())
    from_history = RunDocuments.from_json(
        {"kind": "drill", "run": stored, "thresholds": {
            "Blue-Green 50%": {"max_error_rate": 0.05, "max_p95_ms": 1000.0}}}
    )
    assert from_history.run.stages[1].limits.max_error_rate == 0.05


def test_a_record_that_does_not_validate_is_refused(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run["trigger"]["reason"] = "<b>x</b>"  # not a reason relrun knows
    (directory / "drill.json").write_text(json.dumps(run))
    with pytest.raises(RunDirError, match="not a relrun run record"):
        load_run_documents(directory)


def test_junit_reads_with_a_junit_reader(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run["run_id"] = "20261202T000000Z-drill-quick-abcd1234"
    run["controller"] = "ci-runner-7"
    (directory / "drill.json").write_text(json.dumps(run))
    ci = json.loads((directory / "ci.json").read_text())
    verify = json.loads(json.dumps(ci["api_checks"][0]))
    verify["phase"] = "verify"
    ci["api_checks"].append(verify)
    (directory / "ci.json").write_text(json.dumps(ci))
    xml = JUnitXml.fromfile(str(write_junit(directory)))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["gates", "stages", "rollback", "verdict"]
    for suite in suites.values():
        props = {p.name: p.value for p in suite.properties()}
        assert props["relrun.runbook"] == "quick 2.0.0"
        assert props["relrun.runbook_sha256"] == run["runbook"]["sha256"]
        assert props["relrun.run_id"] == run["run_id"]
        assert props["relrun.fault"] == "error_rate=0.5 at stage Blue-Green 50%"
        assert props["relrun.verdict"] == "pass"
        assert suite.hostname == "ci-runner-7"
        assert suite.timestamp is not None and suite.timestamp.startswith("2026-11-26T")
    # The rollback's verify checks are in the rollback's suite, not among the gates.
    rollback = [case.classname for case in suites["rollback"]]
    assert rollback.count("rollback.verify.api_checks") == 2
    assert all(case.classname != "gates.api_checks.verify" for case in suites["gates"])
    failures = [case for suite in xml for case in suite
                if any(isinstance(r, Failure) for r in case.result)]
    assert failures == [] and xml.failures == 0
