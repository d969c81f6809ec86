"""``relrun recover``: finish the rollback of a run whose controller died, and report it.

The dead run left a marker (runbook, inventory, run directory) and its journal. Recovery
runs the standalone rollback play into the same run directory, appends to the same
journal, and writes the run's report from everything that happened, so the evidence of
the interrupted run and of its recovery sit together.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from relrun.errors import EXIT_OK, EXIT_ROLLBACK_FAILED, RelrunError
from relrun.report.ci import write_ci_reports
from relrun.report.drill import run_report, write_run_report
from relrun.report.facts import collect_facts
from relrun.report.finish import finish_run
from relrun.report.journal import JournalWriter, read_journal
from relrun.run.active import clear_active, incomplete_run
from relrun.run.events import Event, EventBus, Handler, Note
from relrun.run.inventory import load_inventory
from relrun.run.lock import environment_id, environment_lock
from relrun.run.runner import RunSpec
from relrun.workflows.release import Environment, ReleaseResult, Say, _load
from relrun.workflows.rollback import run_uninterrupted


def recover(
    inventory_path: Path,
    progress: Handler | None = None,
    say: Say | None = None,
) -> ReleaseResult:
    """Finish the rollback of this environment's dead run.

    Args:
        inventory_path: the environment.
        progress: progress display.
        say: operator messages.

    Returns:
        Pass (exit 0) when the rollback completed, else exit 3.

    Raises:
        RelrunError: there is nothing to recover.
    """
    tell = say or (lambda text: None)
    load_inventory(inventory_path)  # a missing or broken inventory is bad input (exit 2)
    key = environment_id(inventory_path)
    dead = incomplete_run(key)
    if dead is None:
        raise RelrunError(f"no incomplete run to recover for {inventory_path}")
    run_dir = Path(str(dead["run_dir"]))
    tell(f"recovering the {dead.get('kind')} of {dead.get('runbook')} in {run_dir}")
    env = Environment(
        inventory=inventory_path, lock_key=key, envvars=dict(dead.get("envvars") or {})
    )
    inventory, loaded, playbook_text = _load(Path(str(dead["runbook"])), env)
    kind = str(dead.get("kind") or "release")
    header: dict[str, Any]
    earlier: list[Event]
    try:
        header, earlier = read_journal(run_dir / "journal.jsonl")
    except OSError:
        header, earlier = {}, []
    record = {"kind": "recover", "runbook": loaded.runbook.metadata.name, "run_dir": str(run_dir)}
    with environment_lock(key, record):
        journal = JournalWriter(run_dir / "journal.jsonl", {**header, "recovery": time.time()})
        bus = EventBus([journal] + ([progress] if progress else []))
        try:
            bus.emit(
                Note(
                    message="recovering: the controller of this run stopped",
                    data={
                        "trigger": {
                            "reason": "controller_lost",
                            "message": f"pid {dead.get('pid')} stopped before finishing",
                            "at": time.time(),
                        }
                    },
                )
            )
            spec = RunSpec(
                label="recover",
                playbook_text=playbook_text,
                inventory=inventory.path,
                run_dir=run_dir,
                extravars={"relrun_launch_dir": str(Path.cwd())},
                envvars=env.envvars,
                tags="rollback",
            )
            run_uninterrupted(spec, bus, tell)
        finally:
            journal.close()
        events = earlier + journal.events
        facts = collect_facts(events)
        header["ended"] = time.time()
        header.setdefault("run_kind", kind)
        ci = write_ci_reports(run_dir, header, events)
        if facts.rollback_complete:
            verdict, code = "fail", EXIT_OK
            reasons = [f"recovered: the {kind} was cut short and is now rolled back"]
        else:
            verdict, code = "fail", EXIT_ROLLBACK_FAILED
            reasons = ["recovery incomplete"] + [
                f"rollback step {s.name} did not pass"
                for s in facts.rollback
                if s.status != "passed"
            ]
        state = "recovered" if facts.rollback_complete else "rollback_incomplete"
        report = run_report(
            header,
            facts,
            {"verdict": verdict, "reasons": reasons, "state": state, "exit_code": code},
            None,
            {"recovered": True},
        )
        write_run_report(run_dir, kind, report)
        finish_run(run_dir, loaded.runbook.notify)
        if facts.rollback_complete:
            clear_active(key)
    return ReleaseResult(run_dir, verdict, code, reasons, ci, report, facts.unreachable)
