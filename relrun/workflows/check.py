"""``relrun check``: run just the runbook's API checks against one side of the environment."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from relrun.errors import EXIT_FAILED, EXIT_OK, InputError
from relrun.render.check_tasks import render_check_tasks
from relrun.render.yamlout import dump_yaml
from relrun.report.ci import write_ci_reports
from relrun.report.drill import run_report, write_run_report
from relrun.report.facts import Facts, collect_facts
from relrun.report.files import write_atomic
from relrun.report.finish import finish_run
from relrun.report.journal import JournalWriter
from relrun.run.events import EventBus, Handler
from relrun.run.inventory import load_inventory
from relrun.run.runner import RunSpec, run_playbook
from relrun.runbook.loader import LoadedRunbook, load_runbook
from relrun.workflows.context import RunContext, new_run_dir
from relrun.workflows.release import ReleaseResult

TARGETS = {
    "router": "relrun_api_base_url",
    "canary": "relrun_canary_url",
    "stable": "relrun_stable_url",
}


def checks_playbook(loaded: LoadedRunbook, target: str) -> str:
    """A playbook holding only the API checks, aimed at ``target``'s URL variable."""
    runbook = loaded.runbook
    if runbook.api_checks is None:
        raise InputError(f"{loaded.shown}: the runbook has no api_checks section")
    if target not in TARGETS:
        raise InputError(f"--target: one of {', '.join(TARGETS)}, got {target!r}")
    tasks = render_check_tasks(runbook.api_checks, phase="check", base_url_var=TARGETS[target])
    play: dict[str, Any] = {
        "name": f"API checks against {target}",
        "hosts": runbook.api_checks.host_group,
        "gather_facts": False,
        "tasks": tasks,
    }
    header = (
        f"# API checks of {runbook.metadata.name} {runbook.metadata.version} against {target}\n"
        f"# runbook sha256: {loaded.sha256}\n"
    )
    return header + dump_yaml([play])


def check(
    runbook_path: Path,
    inventory_path: Path,
    target: str = "router",
    report_dir: Path | None = None,
    progress: Handler | None = None,
) -> ReleaseResult:
    """Run the API checks once and report them.

    Args:
        runbook_path: the runbook.
        inventory_path: the environment.
        target: ``router`` (what users reach), ``canary`` or ``stable``.
        report_dir: the run directory (default: a new one under ``runs/``).
        progress: progress display.

    Returns:
        Pass (exit 0) when every required check passed, else fail (exit 1). The run
        directory holds ``check.json``, ``ci.json``, ``junit.xml`` and ``report.html``,
        like every other run, and the run is recorded in the history as a ``check``.
    """
    inventory = load_inventory(inventory_path)
    loaded = load_runbook(runbook_path, inventory.groups)
    text = checks_playbook(loaded, target)
    run_dir = new_run_dir(report_dir, "check", loaded.runbook.metadata.name)
    write_atomic(run_dir / "playbook.yml", text)
    header = RunContext("check", loaded, inventory, run_dir, text).header()
    journal = JournalWriter(run_dir / "journal.jsonl", header)
    bus = EventBus([journal] + ([progress] if progress else []))
    try:
        outcome = run_playbook(
            RunSpec(
                label="check",
                playbook_text=text,
                inventory=inventory.path,
                run_dir=run_dir,
                extravars={"relrun_launch_dir": str(Path.cwd())},
            ),
            bus,
        )
    finally:
        journal.close()
    header["ended"] = time.time()
    ci = write_ci_reports(run_dir, header, journal.events)
    failed = [
        f"{c['name']}: {c.get('message') or 'failed'}"
        for run in ci["api_checks"]
        for c in run["checks"]
        if not c["passed"] and c["required"]
    ]
    if outcome.ok and not failed:
        verdict, code, state = "pass", EXIT_OK, "checks_passed"
        reasons = ["every required check passed"]
    elif failed:
        verdict, code, state, reasons = "fail", EXIT_FAILED, "checks_failed", failed
    else:
        verdict, code, state = "fail", EXIT_FAILED, "checks_not_run"
        reasons = [f"the checks did not run: ansible-playbook ended {outcome.status}"]
    # Nothing moves in a check run: no stages, no trigger, no rollback; only lost hosts.
    facts = Facts(unreachable=collect_facts(journal.events).unreachable)
    report = run_report(
        header,
        facts,
        {"verdict": verdict, "reasons": reasons, "state": state, "exit_code": code},
        None,
        {"target": target},
    )
    write_run_report(run_dir, "check", report)
    finish_run(run_dir, loaded.runbook.notify)
    return ReleaseResult(run_dir, verdict, code, reasons, ci, report, facts.unreachable)
