"""A `relrun check` run's human reports: API checks and audit, no timeline, stages or rollback."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from relrun.report.drill import build_record, write_run_report
from relrun.report.facts import Facts
from relrun.report.finish import finish_run
from relrun.report.history import list_runs, trend
from relrun.report.markdown import markdown_document
from relrun.report.rundocs import load_run_documents
from relrun.report.verdict import Verdict
from tests.unit.report.reportdata import ERROR_RATE, drill_doc, write_drill
from tests.unit.report.test_junit import check_structure


def check_run(tmp_path: Path, name: str = "check") -> Path:
    """A check run's directory as `relrun check` writes it: check.json and ci.json."""
    drill = drill_doc()
    header = {
        key: drill[key]
        for key in (
            "runbook",
            "playbook_sha256",
            "tools",
            "operator",
            "inventory",
            "started",
            "ended",
        )
    }
    header["run_kind"] = "check"
    verdict = Verdict("pass", 0, ["every required check passed"], "checks_passed")
    directory = tmp_path / name
    directory.mkdir()
    ci = json.loads((ERROR_RATE / "ci.json").read_text())
    ci["builds"] = []
    for run in ci["api_checks"]:
        run["phase"] = "check"
    (directory / "ci.json").write_text(json.dumps(ci))
    write_run_report(
        directory, build_record(header, Facts(), verdict, runbook=None, target="canary")
    )
    return directory


def test_finish_run_writes_the_reports_of_a_check_run(tmp_path: Path) -> None:
    directory = check_run(tmp_path)
    db = tmp_path / "history.db"
    result = finish_run(directory, None, history_db=db)
    assert result.errors == []
    html = (directory / "report.html").read_text()
    assert 'class="verdict pass"' in html and "relrun check:" in html
    assert "<td>send message</td>" in html and "list messages (v1 format)" in html
    assert "11.9 ms" in html and "18.2 ms" in html  # the check's p50 / p95
    assert "<b>canary</b>" in html and "<b>1/2</b>" in html
    run = json.loads((directory / "check.json").read_text())
    assert run["runbook"]["sha256"] in html and run["playbook_sha256"] in html
    # Nothing moved: no chart (nor its legend and toggles), no stage or rollback tables.
    for absent in (
        'id="timeline',
        'data-toggle="',
        'id="stages"',
        'id="rollback"',
        "RTO",
        "Security scan",
        "No builds",
    ):
        assert absent not in html
    assert "http://" not in html and "https://" not in html
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", html)

    root = ET.fromstring((directory / "junit.xml").read_text())
    check_structure(root)
    assert [s.get("name") for s in root] == ["gates", "verdict"]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == [
        "send message @ sandbox-build",
        "list messages (v1 format) @ sandbox-build",
        "relrun check verdict",
    ]
    assert {c.get("classname") for c in list(cases.values())[:2]} == {"gates.api_checks.check"}
    assert cases["list messages (v1 format) @ sandbox-build"].find("skipped") is not None

    (recorded,) = list_runs(db)
    assert (recorded.id, recorded.kind, recorded.verdict) == (result.run_id, "check", "pass")
    assert recorded.rto_seconds is None and recorded.checks_failed == 1


def test_check_runs_stay_out_of_the_drill_trend(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    drill = write_drill(tmp_path, "drill", drill_doc())
    finish_run(drill, None, history_db=db)
    finish_run(check_run(tmp_path), None, history_db=db)
    assert sorted(r.kind for r in list_runs(db)) == ["check", "drill"]
    assert [p.run.kind for p in trend(db)] == ["drill"]


def test_markdown_of_a_check_run(tmp_path: Path) -> None:
    text = markdown_document(load_run_documents(check_run(tmp_path)))
    assert text.startswith("# relrun check: ")
    assert "API check send message (check @ sandbox-build): passed" in text
    # A check run has no rollout: no RTO table, no empty stage or rollback sections.
    assert "## Stages" not in text and "## Rollback" not in text and "| RTO |" not in text
