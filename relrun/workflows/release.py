"""``relrun release``: validate, render into the run directory, run, report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.errors import EXIT_FAILED, EXIT_OK
from relrun.render.playbook import render_playbook
from relrun.report.ci import write_ci_reports
from relrun.report.files import write_atomic
from relrun.report.journal import JournalWriter
from relrun.run.events import EventBus, Handler, TaskResult
from relrun.run.inventory import load_inventory
from relrun.run.runner import RunSpec, run_playbook
from relrun.runbook.loader import load_runbook
from relrun.workflows.context import RunContext, new_run_dir


@dataclass
class ReleaseResult:
    """What a release did, for the CLI to summarise."""

    run_dir: Path
    verdict: str
    reasons: list[str] = field(default_factory=list)
    ci: dict[str, Any] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the release passed, 1 when it failed and nothing moved."""
        return EXIT_OK if self.verdict == "pass" else EXIT_FAILED


def release(
    runbook_path: Path,
    inventory_path: Path,
    report_dir: Path | None = None,
    progress: Handler | None = None,
) -> ReleaseResult:
    """Run a release end to end.

    Args:
        runbook_path: the runbook file.
        inventory_path: the Ansible inventory.
        report_dir: where reports and artifacts go (default: a new ``runs/…`` directory).
        progress: a handler showing progress to a person.

    Returns:
        The result, with the verdict and reasons.

    Raises:
        InputError: the runbook or inventory is invalid (nothing ran).
    """
    inventory = load_inventory(inventory_path)
    loaded = load_runbook(runbook_path, inventory.groups)
    playbook_text = render_playbook(loaded)
    run_dir = new_run_dir(report_dir, "release", loaded.runbook.metadata.name)
    write_atomic(run_dir / "playbook.yml", playbook_text)
    context = RunContext("release", loaded, inventory, run_dir, playbook_text)
    header = context.header()
    journal = JournalWriter(run_dir / "journal.jsonl", header)
    bus = EventBus([journal] + ([progress] if progress else []))
    try:
        outcome = run_playbook(
            RunSpec(
                label="release",
                playbook_text=playbook_text,
                inventory=inventory.path,
                run_dir=run_dir,
                extravars={"relrun_launch_dir": str(Path.cwd())},
            ),
            bus,
        )
    finally:
        journal.close()
    ci = write_ci_reports(run_dir, header, journal.events)
    failures = [
        e
        for e in journal.events
        if isinstance(e, TaskResult) and e.status in {"failed", "unreachable"} and not e.ignored
    ]
    unreachable = sorted({e.host for e in failures if e.status == "unreachable"})
    reasons = [f"host {h} unreachable" for h in unreachable]
    reasons += [
        f"{e.task} failed on {e.host}: {str(e.result.get('msg', '')).strip()}"
        for e in failures
        if e.status == "failed"
    ]
    if not outcome.ok and not reasons:
        reasons.append(f"ansible-playbook ended {outcome.status} (rc {outcome.rc})")
    verdict = "pass" if outcome.ok and not reasons else "fail"
    return ReleaseResult(run_dir, verdict, reasons, ci, unreachable)
