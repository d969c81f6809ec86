"""``ci.json`` and ``junit.xml``: the gates' results (builds, API checks) as data and as JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from relrun.report.files import write_atomic, write_json
from relrun.run.events import Event, TaskResult

BUILD_ACTION = "relrun.release.build"


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
        if not event.task.startswith("Build "):
            continue  # deploy, cleanup and hook steps use the same module
        if event.status == "skipped":
            continue
        record = dict(event.result.get("build") or {})
        if event.status == "unreachable":
            record.update(
                name=event.task.split("/", 1)[-1],
                status="unreachable",
                message=str(event.result.get("msg", "host unreachable")),
            )
        elif not record:
            record = {
                "name": event.task.split("/", 1)[-1],
                "status": "failed",
                "message": str(event.result.get("msg", "")),
            }
        record["host"] = event.host
        builds.append(record)
    return builds


def ci_report(header: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    """The content of ``ci.json``.

    Args:
        header: the journal header (runbook identity, tool versions, …).
        events: the journal's events.

    Returns:
        JSON-ready data.
    """
    builds = build_results(events)
    failed = [b for b in builds if b.get("status") != "passed" and b.get("required", True)]
    return {
        "runbook": header.get("runbook", {}),
        "builds": builds,
        "summary": {
            "builds": len(builds),
            "builds_failed": len([b for b in builds if b.get("status") != "passed"]),
            "required_failed": len(failed),
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
    write_json(report_dir / "ci.json", report)
    write_atomic(report_dir / "junit.xml", junit_xml(report))
    return report
