"""relrun failed mid-run while traffic may have moved: roll back first, then report.

The failure may be a full disk, a deleted run directory or a bug in relrun itself.

The rollback runs the run's own playbook (``--tags rollback``) as the run's id, with
ansible-runner's files in the run directory if it can still be written, else in a
fallback directory (:mod:`relrun.run.rescue`), where the reports then go too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from relrun.report.facts import Facts, collect_facts
from relrun.report.journal import JournalWriter
from relrun.run.events import Event, EventBus, Handler
from relrun.run.rescue import working_dir
from relrun.run.runner import RunSpec, run_playbook
from relrun.workflows.context import RunContext

log = logging.getLogger(__name__)


def rescue_rollback(
    context: RunContext,
    header: dict[str, Any],
    events: list[Event],
    envvars: dict[str, str],
    progress: Handler | None = None,
) -> tuple[Path, Facts]:
    """Run the standalone rollback of a run relrun could not finish; never raises.

    Args:
        context: the run.
        header: its journal header (the run id the rollback acts as).
        events: the run's events so far; the rollback's are appended.
        envvars: the run's environment variables for Ansible.
        progress: shows the rollback's progress.

    Returns:
        Where the rollback's files (and the reports) went, and the facts of every event.
    """
    where = working_dir(context.run_dir)
    handlers: list[Handler] = [events.append]
    journal: JournalWriter | None = None
    try:
        journal = JournalWriter(where / "journal.jsonl", {**header, "rescue": True})
        handlers.append(_without_duplicate(journal, events))
    except OSError as err:
        log.warning("no journal for the rescue rollback in %s: %s", where, err)
    if progress is not None:
        handlers.append(progress)
    spec = RunSpec(
        label="rollback",
        playbook_text=context.playbook_text,
        inventory=context.inventory.path,
        run_dir=where,
        extravars={
            "relrun_launch_dir": str(Path.cwd()),
            "relrun_run_id": str(header.get("run_id") or ""),
        },
        envvars=envvars,
        tags="rollback",
        artifacts_dir=where,
    )
    try:
        run_playbook(spec, EventBus(handlers))
    except Exception as err:  # the crash is already the news; say this one too
        log.warning("the rescue rollback of %s could not run: %s", context.run_dir, err)
    finally:
        if journal is not None:
            journal.close()
    return where, collect_facts(events)


def _without_duplicate(journal: JournalWriter, events: list[Event]) -> Handler:
    """Write events to the journal file only: ``events`` already collects them in memory."""

    def write(event: Event) -> None:
        journal(event)
        journal.events.clear()

    return write
