from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from relrun.report.ci import write_ci_reports
from relrun.report.journal import JournalWriter, read_journal
from relrun.report.junit import junit_from_documents
from relrun.report.record import RunRecord
from relrun.report.rundocs import RunDocuments
from relrun.run.events import Event, TaskResult
from relrun.runbook.steps import StepRef


def result(
    name: str, host: str, status: str, build: dict[str, object] | None, msg: str = ""
) -> TaskResult:
    return TaskResult(
        play="Gates",
        task=StepRef.build(1, name).task,
        action="relrun.release.build",
        host=host,
        status=status,  # type: ignore[arg-type]
        result={"build": build, "msg": msg} if build else {"msg": msg},
    )


EVENTS: list[Event] = [
    result(
        "dev",
        "h1",
        "ok",
        {
            "name": "dev",
            "status": "passed",
            "rc": 0,
            "seconds": 1.25,
            "artifacts": [],
            "required": True,
        },
    ),
    result(
        "docs",
        "h1",
        "ok",
        {
            "name": "docs",
            "status": "failed",
            "rc": 2,
            "seconds": 0.5,
            "output_tail": "make: *** no rule",
            "required": False,
        },
    ),
    result(
        "all",
        "h1",
        "failed",
        {"name": "all", "status": "timeout", "rc": -9, "seconds": 5.0, "required": True},
        "build all timed out after 5s",
    ),
    result("all", "h2", "unreachable", None, "ssh: connect to host h2 port 22: Connection refused"),
]


def test_ci_json_and_junit(tmp_path: Path) -> None:
    report = write_ci_reports(tmp_path, {"runbook": {"name": "demo"}}, EVENTS)
    data = json.loads((tmp_path / "ci.json").read_text())
    assert data == report.model_dump(mode="json")
    assert not (tmp_path / "junit.xml").exists()  # one writer: the run's, once judged
    assert [(b["name"], b["host"], b["status"]) for b in data["builds"]] == [
        ("dev", "h1", "passed"),
        ("docs", "h1", "failed"),
        ("all", "h1", "timeout"),
        ("all", "h2", "unreachable"),
    ]
    assert data["summary"] == {
        "builds": 4, "builds_failed": 3, "required_failed": 2, "api_checks_failed": 0,
        "guards_breached": 0}
    record = RunRecord(kind="release", verdict="fail", state="gates_failed", exit_code=1)
    docs = RunDocuments(kind="release", run=record, ci=report, run_dir=str(tmp_path))
    root = ET.fromstring(junit_from_documents(docs))
    suite = root.find("testsuite[@name='gates']")
    assert suite is not None
    assert suite.get("failures") == "2"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["dev @ h1"].find("failure") is None
    skipped = cases["docs @ h1"].find("skipped")
    assert skipped is not None and "optional" in str(skipped.get("message"))
    failure = cases["all @ h2"].find("failure")
    assert failure is not None and "Connection refused" in str(failure.get("message"))


def test_journal_round_trip_and_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    writer = JournalWriter(path, {"runbook": {"name": "demo"}})
    for event in EVENTS:
        writer(event)
    writer.close()
    with path.open("a") as handle:
        handle.write('{"kind": "task_res')  # a writer killed mid-line
    header, events = read_journal(path)
    assert header["schema"] == 1 and header["runbook"] == {"name": "demo"}
    assert events == EVENTS
