"""``ci.json`` and ``junit.xml``: the gates' results (builds, API checks) as data and as JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from relrun.report.checks import CheckResult, junit_cases, latency_summary, parse_check_results
from relrun.report.files import write_atomic, write_json
from relrun.run.events import Event, TaskResult
from relrun.runbook.steps import StepKind, parse_task

BUILD_ACTION = "relrun.release.build"
SCAN_ACTION = "relrun.release.scan"
CHECK_ACTIONS = {"relrun.release.api_check", "relrun.release.newman"}


def check_runs(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every run of the API checks: its phase (gate, verify), host, checks and latencies."""
    runs: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, TaskResult) or event.action not in CHECK_ACTIONS:
            continue
        if event.status == "skipped":
            continue
        results = parse_check_results(event.result)
        if event.status == "unreachable" and not results:
            message = str(event.result.get("msg", "host unreachable"))
            results = parse_check_results({"failed": True, "msg": message})
        ref = parse_task(event.task)
        runs.append(
            {
                "phase": ref.name if ref.kind is StepKind.API_CHECK else event.task,
                "host": event.host,
                "passed": event.status == "ok",
                "checks": [r.model_dump(mode="json") for r in results],
                "latency": latency_summary(results).model_dump(mode="json"),
            }
        )
    return runs


def build_results(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every build's outcome, per host, in the order they finished.

    Args:
        events: the journal's events.

    Returns:
        One record per build and host: name, host, status, rc, seconds, output tail, artifacts.
    """
    builds: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, TaskResult) or event.action != BUILD_ACTION:
            continue
        ref = parse_task(event.task)
        if ref.kind is not StepKind.BUILD:
            continue  # deploy, cleanup and hook steps use the same module
        if event.status == "skipped":
            continue
        record = dict(event.result.get("build") or {})
        if event.status == "unreachable":
            record.update(
                name=ref.name,
                status="unreachable",
                message=str(event.result.get("msg", "host unreachable")),
            )
        elif not record:
            record = {
                "name": ref.name,
                "status": "failed",
                "message": str(event.result.get("msg", "")),
            }
        record["host"] = event.host
        builds.append(record)
    return builds


def scan_result(events: Iterable[Event]) -> dict[str, Any] | None:
    """The scan module's result (the last one, when several build hosts scanned)."""
    found = None
    for event in events:
        if (
            isinstance(event, TaskResult)
            and event.action == SCAN_ACTION
            and event.status in {"ok", "failed"}
            and "findings" in event.result
        ):
            found = event.result
    return found


def ci_report(header: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    """The content of ``ci.json``.

    Args:
        header: the journal header (runbook identity, tool versions, …).
        events: the journal's events.

    Returns:
        JSON-ready data.
    """
    builds = build_results(events)
    checks = check_runs(events)
    failed = [b for b in builds if b.get("status") != "passed" and b.get("required", True)]
    return {
        "runbook": header.get("runbook", {}),
        "builds": builds,
        "api_checks": checks,
        "summary": {
            "builds": len(builds),
            "builds_failed": len([b for b in builds if b.get("status") != "passed"]),
            "required_failed": len(failed),
            "api_checks_failed": sum(
                1 for run in checks for c in run["checks"] if not c["passed"] and c["required"]
            ),
        },
    }


def _case(suite: ET.Element, name: str, classname: str, seconds: float) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", name=name, classname=classname, time=f"{float(seconds):.3f}"
    )


def junit_xml(report: dict[str, Any]) -> str:
    """Render the CI report as JUnit XML (one testsuite per phase, one testcase per item).

    Args:
        report: from :func:`ci_report`.

    Returns:
        The XML text.
    """
    root = ET.Element("testsuites", name=f"relrun {report['runbook'].get('name', '')}")
    builds = report["builds"]
    suite = ET.SubElement(root, "testsuite", name="gates.builds", tests=str(len(builds)))
    failures = 0
    for build in builds:
        case = _case(
            suite, f"{build.get('name')} @ {build.get('host')}", "builds", build.get("seconds", 0.0)
        )
        status = build.get("status")
        if status == "passed":
            continue
        message = build.get("message") or f"build {status} (exit code {build.get('rc')})"
        if build.get("missing_artifacts"):
            message += "; missing artifacts: " + ", ".join(build["missing_artifacts"])
        if build.get("required", True):
            failures += 1
            element = ET.SubElement(case, "failure", message=message, type=str(status))
        else:
            element = ET.SubElement(case, "skipped", message=f"optional: {message}")
        element.text = str(build.get("output_tail", ""))
    suite.set("failures", str(failures))
    for run in report.get("api_checks", []):
        results = [CheckResult.model_validate(c) for c in run["checks"]]
        classname = f"api_checks.{run['phase']}"
        cases = junit_cases(results, classname=classname)
        check_suite = ET.SubElement(root, "testsuite", name=classname, tests=str(len(cases)))
        check_failures = 0
        for check in cases:
            element = _case(check_suite, f"{check.name} @ {run['host']}", classname, check.seconds)
            if check.failure is not None:
                check_failures += 1
                ET.SubElement(element, "failure", message=check.failure)
            elif check.skipped is not None:
                ET.SubElement(element, "skipped", message=check.skipped)
        check_suite.set("failures", str(check_failures))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_ci_reports(
    report_dir: Path, header: dict[str, Any], events: list[Event]
) -> dict[str, Any]:
    """Write ``ci.json`` and ``junit.xml`` atomically.

    Args:
        report_dir: the run's report directory.
        header: the journal header.
        events: the journal's events.

    Returns:
        The CI report data.
    """
    report = ci_report(header, events)
    scan = scan_result(events)
    if scan is not None:
        from relrun.scan.reports import write_scan_reports

        write_scan_reports(scan, report_dir)
        stats = scan.get("stats") or {}
        report["scan"] = {
            "failing": scan.get("failing", 0),
            "findings": len(scan.get("findings") or []),
            "fail_on": scan.get("fail_on"),
            "files": stats.get("files"),
            "seconds": stats.get("seconds"),
        }
    write_json(report_dir / "ci.json", report)
    write_atomic(report_dir / "junit.xml", junit_xml(report))
    return report
