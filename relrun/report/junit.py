"""``junit.xml`` for CI systems: one testsuite per phase, a view of the run record.

The common schema Jenkins, GitLab and GitHub test reporters read: a ``testsuites`` root
with ``tests``/``failures``/``errors``/``skipped``/``time``; suites ``gates`` (scan,
builds, API checks), ``stages`` (one case per stage), ``rollback`` (one case per step, the
rollback's verify API checks, the RTO budget) and ``verdict`` (one case: the run's
verdict, failed with its reasons when the run failed). A ``relrun check`` run has the
``gates`` suite (one case per API check) and the verdict. Every suite carries the run's
identity as ``<properties>`` (runbook, its sha256, run id, fault, verdict), a
``timestamp`` and the controller's ``hostname``.

So the file's failure count is never zero for a failed run, and never above zero for a
passing one: in a drill the breach is what was asked for, so a breached stage is a
failure only in a release.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from relrun.fsutil import write_atomic
from relrun.report.checks import junit_cases
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.report.view import CheckRow, RunView, run_view, seconds_text

# The API checks the rollback's verify step runs (``render_check_tasks(phase="verify")``).
ROLLBACK_CHECKS = "verify"


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
    """Scan, builds, and the API checks that gate the release (not the rollback's)."""
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
        if row.phase != ROLLBACK_CHECKS:
            suite.cases.append(_check_case(row, f"gates.api_checks.{row.phase}"))
    return suite


def _check_case(row: CheckRow, classname: str) -> _Case:
    (check,) = junit_cases([row.result], classname=classname)
    return _Case(f"{check.name} @ {row.host}", check.classname, check.seconds,
                 check.failure, "assertion", check.skipped)


def _stages(view: RunView) -> _Suite:
    suite = _Suite("stages")
    for stage in view.stages:
        case = _Case(f"{stage.index}. {stage.name} ({stage.weight}%)", "stages",
                     stage.seconds or 0.0, output=stage.observed_text())
        if stage.failed and not (view.kind == "drill" and stage.status == "breached"):
            case.failure, case.failure_type = f"{stage.status}: {stage.observed_text()}", "breach"
        elif stage.status == "breached":
            case.output = f"breached, as the drill asked: {stage.observed_text()}"
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
    for row in view.checks:
        if row.phase == ROLLBACK_CHECKS:
            suite.cases.append(_check_case(row, "rollback.verify.api_checks"))
    if view.steps and view.rto_seconds is not None and view.rto_budget_seconds is not None:
        case = _Case("RTO within budget", "rollback", view.rto_seconds,
                     output=f"RTO {seconds_text(view.rto_seconds)} of "
                     f"{seconds_text(view.rto_budget_seconds)}")
        if view.rto_seconds > view.rto_budget_seconds:
            case.failure, case.failure_type = case.output, "rto_budget"
        suite.cases.append(case)
    return suite


def _verdict(view: RunView) -> _Suite:
    case = _Case(f"relrun {view.kind} verdict", "verdict",
                 output="\n".join([f"{view.verdict} (exit {view.exit_code}, {view.state})",
                                    *view.reasons]))
    if view.verdict != "pass":
        case.failure = "; ".join(view.reasons) or f"{view.kind} failed"
        case.failure_type = view.state or "fail"
    return _Suite("verdict", [case])


def _properties(view: RunView) -> dict[str, str]:
    return {
        "relrun.kind": view.kind,
        "relrun.runbook": f"{view.runbook} {view.version}".strip(),
        "relrun.runbook_file": view.audit.runbook_file,
        "relrun.runbook_sha256": view.audit.runbook_sha256,
        "relrun.playbook_sha256": view.audit.playbook_sha256,
        "relrun.run_id": view.run_id,
        "relrun.fault": view.fault,
        "relrun.verdict": view.verdict,
        "relrun.exit_code": str(view.exit_code),
        "relrun.state": view.state,
    }


def _suite_element(
    root: ET.Element, suite: _Suite, view: RunView
) -> tuple[int, int, int, float]:
    failures = sum(1 for c in suite.cases if c.failure is not None)
    skipped = sum(1 for c in suite.cases if c.skipped is not None and c.failure is None)
    seconds = sum(c.seconds for c in suite.cases)
    element = ET.SubElement(root, "testsuite", name=suite.name, tests=str(len(suite.cases)),
                            failures=str(failures), errors="0", skipped=str(skipped),
                            time=f"{seconds:.3f}", timestamp=view.started_iso,
                            hostname=view.controller or "localhost")
    properties = ET.SubElement(element, "properties")
    for name, value in _properties(view).items():
        ET.SubElement(properties, "property", name=name, value=value)
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
    for suite in [*suites, _verdict(view)]:
        for i, value in enumerate(_suite_element(root, suite, view)):
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
