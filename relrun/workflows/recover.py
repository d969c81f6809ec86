"""``relrun recover``: finish the rollback of a run whose controller died, and report it.

The dead run left a marker (runbook, inventory, run directory) and its journal. Recovery
runs the standalone rollback play into the same run directory, appends to the same
journal, and writes the run's report from everything that happened, so the evidence of
the interrupted run and of its recovery sit together. First it scrubs the secrets the dead
run left in ansible-runner's artifacts, which only a run that ends scrubs itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.errors import InputError, RelrunError
from relrun.report.facts import Facts, collect_facts
from relrun.report.journal import JournalWriter, read_journal
from relrun.report.verdict import recover_verdict
from relrun.run.active import clear_active, incomplete_run
from relrun.run.events import Event, EventBus, Handler, Note
from relrun.run.inventory import load_inventory
from relrun.run.lock import environment_id, environment_lock
from relrun.run.rescue import working_dir
from relrun.run.runner import RunSpec, scrub_earlier_runs
from relrun.runbook.loader import LoadedRunbook
from relrun.workflows.context import playbook_sha256
from relrun.workflows.lifecycle import ReleaseResult, conclude
from relrun.workflows.release import Environment, Say, _load, _traffic
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
    kind = str(dead.get("kind") or "release")
    header: dict[str, Any]
    earlier: list[Event]
    try:
        header, earlier = read_journal(run_dir / "journal.jsonl")
    except OSError:
        header, earlier = {}, []
    runbook = _runbook_now(Path(str(dead["runbook"])), inventory_path, tell)
    playbook_text = _playbook_of_the_run(run_dir, header, runbook, tell)
    name = str((header.get("runbook") or {}).get("name") or dead.get("runbook"))
    record = {"kind": "recover", "runbook": name, "run_dir": str(run_dir)}
    with environment_lock(key, record):
        _scrub_dead_run(run_dir, playbook_text, inventory_path.resolve(), env.envvars, tell)
        # A full disk (or a run directory gone) must not stop the rollback: its files and
        # the reports then go to a fallback directory, which is named.
        where = working_dir(run_dir)
        if where != run_dir:
            tell(f"{run_dir} cannot be written: the rollback's files and reports go to {where}")
        recovered: list[Event] = []
        handlers: list[Handler] = [recovered.append]
        journal: JournalWriter | None = None
        try:
            journal = JournalWriter(where / "journal.jsonl", {**header, "recovery": time.time()})
            handlers.append(journal)
        except OSError as err:
            tell(f"no journal for the recovery ({err}); the rollback runs anyway")
        bus = EventBus(handlers + ([progress] if progress else []))
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
                inventory=inventory_path.resolve(),
                run_dir=run_dir,
                extravars={
                    "relrun_launch_dir": str(Path.cwd()),
                    # The dead run's id: its rollback acts as the owner of its lease.
                    "relrun_run_id": str(dead.get("run_id") or header.get("run_id") or ""),
                },
                envvars=env.envvars,
                tags="rollback",
                artifacts_dir=where,
            )
            run_uninterrupted(spec, bus, tell)
        finally:
            if journal is not None:
                journal.close()
        events = earlier + recovered
        facts = collect_facts(events)
        header.setdefault("run_kind", kind)
        traffic = _recovered_traffic(dead, header, facts)
        verdict = recover_verdict(facts, kind)
        try:
            run_record, ci, _ = conclude(
                where, header, events, facts, verdict,
                runbook=runbook.loaded.runbook if runbook else None, traffic=traffic,
                recovered=True,
            )
        except OSError as err:  # the rollback's outcome matters more than its report
            tell(f"could not write the recovery's reports in {where}: {err}")
            run_record = None
        if facts.rollback_complete:
            clear_active(key)
    if run_record is None:
        return ReleaseResult(where, verdict.verdict, verdict.exit_code, verdict.reasons)
    return ReleaseResult.of(where, run_record, ci)


def _recovered_traffic(
    dead: dict[str, Any], header: dict[str, Any], facts: Facts
) -> dict[str, Any] | None:
    """The load generator's counts from the dead run's start to now, if it had a log."""
    log = dead.get("traffic_log")
    started = header.get("started") or dead.get("started")
    if not log or not isinstance(started, int | float):
        return None
    return _traffic(Path(str(log)), float(started), time.time(), facts)


def _scrub_dead_run(
    run_dir: Path, playbook_text: str, inventory: Path, envvars: dict[str, str], tell: Say
) -> None:
    """The killed run never scrubbed ansible-runner's artifacts: do it before anything else.

    A failure is told, not raised: finishing the rollback matters more.
    """
    try:
        scrub_earlier_runs(run_dir, playbook_text, inventory, envvars)
    except OSError as err:
        tell(f"could not scrub the dead run's ansible-runner files in {run_dir}: {err}")


@dataclass(frozen=True)
class _RunbookNow:
    loaded: LoadedRunbook
    rendered: str


def _runbook_now(path: Path, inventory_path: Path, tell: Say) -> _RunbookNow | None:
    """The runbook as it is now, if it still loads (recovery does not depend on it)."""
    try:
        _, loaded, rendered = _load(path, Environment(inventory_path, lock_key=""))
    except InputError as err:
        tell(
            f"the runbook {path} no longer loads ({err.message.splitlines()[0]}); "
            "recovering with the playbook the run used, without notifications"
        )
        return None
    return _RunbookNow(loaded, rendered)


def _playbook_of_the_run(
    run_dir: Path, header: dict[str, Any], runbook: _RunbookNow | None, tell: Say
) -> str:
    """The rollback to run is the one the dead run rendered, even if the runbook changed since.

    Args:
        run_dir: the dead run's directory, holding its ``playbook.yml``.
        header: the dead run's journal header (with the sha256 of runbook and playbook).
        runbook: the runbook as it is now, if it loads.
        tell: operator messages.

    Returns:
        The playbook text to take the rollback play from.

    Raises:
        RelrunError: neither the run's playbook nor the runbook can be used.
    """
    path = run_dir / "playbook.yml"
    try:
        saved: str | None = path.read_text(encoding="utf-8")
    except OSError:
        saved = None
    expected = header.get("playbook_sha256")
    if saved is not None and expected and playbook_sha256(saved) != expected:
        tell(f"{path} does not match the sha256 in the run's journal; not using it")
        saved = None
    if saved is None:
        if runbook is None:
            raise RelrunError(f"cannot recover: no usable {path} and the runbook does not load")
        tell(f"recovering with the runbook as it is now ({runbook.loaded.shown})")
        return runbook.rendered
    if runbook is not None and runbook.rendered != saved:
        was = str((header.get("runbook") or {}).get("sha256", "?"))
        tell(
            f"the runbook changed since the run started (sha256 {was[:12]}… then, "
            f"{runbook.loaded.sha256[:12]}… now): recovering with the playbook the run used"
        )
    return saved
