"""``relrun check``: run just the runbook's API checks against one side of the environment."""

from __future__ import annotations

from pathlib import Path

from relrun.render.check_play import checks_playbook
from relrun.report.ci import ci_report
from relrun.report.facts import Facts, collect_facts
from relrun.report.verdict import check_verdict
from relrun.run.events import Handler
from relrun.run.inventory import load_inventory
from relrun.run.runner import RunSpec, run_playbook
from relrun.runbook.loader import load_runbook
from relrun.workflows.context import RunContext, new_run_dir
from relrun.workflows.lifecycle import ReleaseResult, conclude, open_run


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
    context = RunContext("check", loaded, inventory, run_dir, text)
    opened = open_run(context, progress, handbook=False)
    try:
        outcome = run_playbook(
            RunSpec(
                label="check",
                playbook_text=text,
                inventory=inventory.path,
                run_dir=run_dir,
                extravars={"relrun_launch_dir": str(Path.cwd())},
            ),
            opened.bus,
        )
    finally:
        opened.journal.close()
    events = opened.journal.events
    failed = [
        f"{c.name}: {c.message or 'failed'}"
        for run in ci_report(opened.header, events).api_checks
        for c in run.checks
        if not c.passed and c.required
    ]
    verdict = check_verdict(outcome.ok, outcome.status, failed)
    # Nothing moves in a check run: no stages, no trigger, no rollback; only lost hosts.
    facts = Facts(unreachable=collect_facts(events).unreachable)
    run_record, ci, _ = conclude(
        run_dir, opened.header, events, facts, verdict, runbook=loaded.runbook, target=target
    )
    return ReleaseResult.of(run_dir, run_record, ci)
