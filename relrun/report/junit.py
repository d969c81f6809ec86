"""``junit.xml`` for CI systems: one testsuite per phase, built from the run's JSON reports.

The common schema Jenkins, GitLab and GitHub test reporters read: a ``testsuites`` root
with ``tests``/``failures``/``errors``/``skipped``/``time``; suites ``gates`` (scan,
builds, API checks), ``stages`` (one case per stage) and ``rollback`` (one case per step).
A ``relrun check`` run has only the ``gates`` suite: one case per API check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from relrun.report.checks import junit_cases
from relrun.report.files import write_atomic
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.report.view import RunView, run_view, seconds_text


@dataclass
class _Case:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None
    failure_type: str = "failed"
    skipped: str | None = None
    output: str = ""


@dataclass
class _Suite:
    name: str
    cases: list[_Case] = field(default_factory=list)


def _gates(view: RunView) -> _Suite:
    suite = _Suite("gates")
    if view.scan is not None:
        failure = None
        if view.scan.failing:
            failure = (f"{view.scan.failing} finding(s) at or above {view.scan.fail_on}: "
                       + "; ".join(f"{r.where} {r.rule}" for r in view.scan.rows[:10]))
        suite.cases.append(_Case("security scan", "gates.scan", failure=failure,
                                 failure_type="findings"))
    for build in view.builds:
        case = _Case(f"{build.name} @ {build.host}", "gates.builds", build.seconds or 0.0)
        if not build.passed:
            text = build.message or f"build {build.status}"
            if build.required:
                case.failure, case.failure_type = text, build.status
            else:
                case.skipped = f"optional: {text}"
        case.output = "\n".join(f"{a.path} sha256:{a.sha256}" for a in build.artifacts)
        suite.cases.append(case)
    for row in view.checks:
        (check,) = junit_cases([row.result], classname=f"gates.api_checks.{row.phase}")
        suite.cases.append(_Case(f"{check.name} @ {row.host}", check.classname, check.seconds,
                                 check.failure, "assertion", check.skipped))
    return suite


def _stages(view: RunView) -> _Suite:
    suite = _Suite("stages")
    for stage in view.stages:
        case = _Case(f"{stage.index}. {stage.name} ({stage.weight}%)", "stages",
                     stage.seconds or 0.0, output=stage.observed_text())
        if stage.failed:
            case.failure, case.failure_type = f"{stage.status}: {stage.observed_text()}", "breach"
        elif stage.status != "passed":
            case.skipped = stage.status
        suite.cases.append(case)
    return suite


def _rollback(view: RunView) -> _Suite:
    suite = _Suite("rollback")
    for step in view.steps:
        case = _Case(f"{step.number}. {step.name}", "rollback", step.seconds or 0.0,
                     output=step.detail)
        if step.status != "passed":
            case.failure = f"rollback step {step.name} {step.status}"
            case.failure_type = step.status
        suite.cases.append(case)
    if view.steps and view.rto_seconds is not None and view.rto_budget_seconds is not None:
        case = _Case("RTO within budget", "rollback", view.rto_seconds,
                     output=f"RTO {seconds_text(view.rto_seconds)} of "
                     f"{seconds_text(view.rto_budget_seconds)}")
        if view.rto_seconds > view.rto_budget_seconds:
            case.failure, case.failure_type = case.output, "rto_budget"
        suite.cases.append(case)
    return suite


def _suite_element(root: ET.Element, suite: _Suite) -> tuple[int, int, int, float]:
    failures = sum(1 for c in suite.cases if c.failure is not None)
    skipped = sum(1 for c in suite.cases if c.skipped is not None and c.failure is None)
    seconds = sum(c.seconds for c in suite.cases)
    element = ET.SubElement(root, "testsuite", name=suite.name, tests=str(len(suite.cases)),
                            failures=str(failures), errors="0", skipped=str(skipped),
                            time=f"{seconds:.3f}")
    for case in suite.cases:
        item = ET.SubElement(element, "testcase", name=case.name, classname=case.classname,
                             time=f"{case.seconds:.3f}")
        if case.failure is not None:
            ET.SubElement(item, "failure", message=case.failure, type=case.failure_type)
        elif case.skipped is not None:
            ET.SubElement(item, "skipped", message=case.skipped)
        if case.output:
            ET.SubElement(item, "system-out").text = case.output
    return len(suite.cases), failures, skipped, seconds


def junit_from_documents(docs: RunDocuments) -> str:
    """The JUnit XML of a run.

    Args:
        docs: the run's JSON documents.

    Returns:
        The XML text (UTF-8 declaration, indented).
    """
    view = run_view(docs)
    root = ET.Element("testsuites", name=f"relrun {view.kind} {view.runbook}")
    totals = [0, 0, 0, 0.0]
    suites = [_gates(view)] if view.checks_only else [_gates(view), _stages(view), _rollback(view)]
    for suite in suites:
        for i, value in enumerate(_suite_element(root, suite)):
            totals[i] += value
    root.set("tests", str(int(totals[0])))
    root.set("failures", str(int(totals[1])))
    root.set("errors", "0")
    root.set("skipped", str(int(totals[2])))
    root.set("time", f"{totals[3]:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def junit_document(run_dir: Path) -> str:
    """The JUnit XML of the run in a directory, from its JSON reports.

    Args:
        run_dir: the run directory.

    Returns:
        The XML text.

    Raises:
        RunDirError: the directory holds no run report.
    """
    return junit_from_documents(load_run_documents(run_dir))


def write_junit(run_dir: Path) -> Path:
    """Rewrite ``junit.xml`` in a run directory, atomically.

    Args:
        run_dir: the run directory.

    Returns:
        The path written.
    """
    path = run_dir / "junit.xml"
    write_atomic(path, junit_document(run_dir))
    return path
