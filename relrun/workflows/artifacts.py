"""Reports of a run relrun did not start: plain ansible-playbook, AWX, Automation Platform.

The run's recorded job events (see :mod:`relrun.run.artifacts`) become a journal, and the
journal the usual reports, through the same facts, verdicts and record a ``relrun release``
or ``relrun drill`` uses: an auditor gets the same ``report.html``, ``drill.json``,
``ci.json`` and ``junit.xml`` whichever engine ran the playbook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relrun.errors import InputError, Problem
from relrun.report.drill import rto_seconds
from relrun.report.facts import Facts, collect_facts
from relrun.report.journal import JournalWriter
from relrun.report.record import Fault
from relrun.report.verdict import drill_verdict, release_verdict, with_optional_failures
from relrun.run.artifacts import read_artifacts
from relrun.run.events import TaskResult
from relrun.runbook.loader import LoadedRunbook, load_runbook
from relrun.workflows.context import new_run_dir, operator, tool_versions
from relrun.workflows.handbook import write_handbook
from relrun.workflows.lifecycle import ReleaseResult, conclude
from relrun.workflows.release import _optional_failures, _traffic


def report_from_artifacts(
    artifacts: Path,
    runbook_path: Path,
    report_dir: Path | None = None,
    traffic_log: Path | None = None,
    run_id: str | None = None,
) -> ReleaseResult:
    """Build every report of a recorded run.

    Args:
        artifacts: where the run's job events are (see :func:`read_artifacts`).
        runbook_path: the runbook the playbook was rendered from.
        report_dir: where the reports go (default a new ``runs/…`` directory).
        traffic_log: the sandbox load generator's log, to count what users saw.
        run_id: the engine's id of the run (an AWX job id), recorded as the run id.

    Returns:
        The result, with the verdict and exit code the run earned.

    Raises:
        InputError: no events, several runs, or a runbook other than the one that ran.
    """
    loaded = load_runbook(runbook_path)
    probe = read_artifacts(artifacts)
    _check_runbook(loaded, probe.runbook)
    facts = collect_facts(probe.events)
    kind = "drill" if facts.fault_injected_at is not None else "release"
    run = read_artifacts(artifacts, label=kind)
    run_dir = new_run_dir(report_dir, kind, loaded.runbook.metadata.name)
    header = _header(kind, loaded, run.events, artifacts, run_id)
    journal = JournalWriter(run_dir / "journal.jsonl", header)
    for event in run.events:
        journal(event)
    journal.close()
    write_handbook(run_dir, loaded)
    facts = collect_facts(run.events)
    started, ended = run.events[0].time, run.events[-1].time
    header["ended"] = ended
    fault = _fault(loaded, facts)
    traffic = _traffic(traffic_log, started, ended, facts, fault.kind if fault else None)
    if kind == "drill":
        lost = traffic["lost"] if traffic else None
        verdict = drill_verdict(
            facts, loaded.runbook, fault.kind if fault else "none", False, rto_seconds(facts),
            lost,
        )
    else:
        verdict = release_verdict(
            facts, False, has_rollout=loaded.runbook.rollout is not None
        )
    verdict = with_optional_failures(verdict, _optional_failures(run.events))
    record, ci, _ = conclude(
        run_dir, header, run.events, facts, verdict, runbook=loaded.runbook,
        traffic=traffic, fault=fault,
    )
    return ReleaseResult.of(run_dir, record, ci)


def _check_runbook(loaded: LoadedRunbook, recorded: dict[str, str]) -> None:
    """Refuse a runbook other than the one the playbook was rendered from (when recorded)."""
    sha = recorded.get("sha256")
    if sha and sha != loaded.sha256:
        raise InputError(
            [
                Problem(
                    loaded.shown, 1, 1,
                    f"the run's playbook was rendered from runbook {recorded.get('name')} "
                    f"{recorded.get('version')} (sha256 {sha}), not from this file "
                    f"(sha256 {loaded.sha256})",
                )
            ]
        )


def _header(
    kind: str, loaded: LoadedRunbook, events: list[Any], artifacts: Path, run_id: str | None
) -> dict[str, Any]:
    runbook = loaded.runbook
    hosts = sorted({e.host for e in events if isinstance(e, TaskResult) and e.host})
    return {
        "run_kind": kind,
        "run_id": run_id or f"artifacts-{artifacts.resolve().name}",
        "runbook": {
            "name": runbook.metadata.name,
            "version": runbook.metadata.version,
            "file": loaded.shown,
            "sha256": loaded.sha256,
        },
        "source": {"artifacts": str(artifacts.resolve())},
        "tools": tool_versions(),
        "operator": operator(),
        "controller": "",
        "inventory": {"file": "", "hosts": hosts},
        "started": events[0].time if events else None,
    }


def _fault(loaded: LoadedRunbook, facts: Facts) -> Fault | None:
    """The runbook's drill fault (what its playbook injects), at the stage it was injected in."""
    drill = loaded.runbook.drill
    if drill is None or facts.fault_injected_at is None:
        return None
    at = float(facts.fault_injected_at)
    started = [s for s in facts.stages if s.started is not None and s.started <= at]
    stage = started[-1].name if started else (drill.fault.stage or "")
    return Fault(kind=drill.fault.kind, value=drill.fault.value, stage=stage)
