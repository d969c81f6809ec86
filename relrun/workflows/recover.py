"""``relrun recover``: finish the rollback of a run whose controller died, and report it.

The dead run left a marker (runbook, inventory, run directory) and its journal. Recovery
runs the standalone rollback play into the same run directory, appends to the same
journal, and writes the run's report from everything that happened, so the evidence of
the interrupted run and of its recovery sit together. First it scrubs the secrets the dead
run left in ansible-runner's artifacts, which only a run that ends scrubs itself.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.errors import InputError, RelrunError
from relrun.report.facts import Facts, collect_facts
from relrun.report.journal import JournalWriter, read_journal
from relrun.report.record import Incident
from relrun.report.verdict import ended_itself, recover_verdict
from relrun.run.active import clear_active, dead_runs, incomplete_run
from relrun.run.events import Event, EventBus, Handler, Note
from relrun.run.inventory import load_inventory
from relrun.run.leases import last_renewal, run_leases
from relrun.run.lock import environment_id, environment_lock
from relrun.run.rescue import working_dir
from relrun.run.runner import RunSpec, scrub_earlier_runs
from relrun.runbook.loader import LoadedRunbook
from relrun.workflows.context import playbook_sha256
from relrun.workflows.lifecycle import ReleaseResult, conclude
from relrun.workflows.release import Environment, Say, _load, _traffic
from relrun.workflows.rollback import run_uninterrupted


def recover(
    inventory_path: Path | None,
    progress: Handler | None = None,
    say: Say | None = None,
) -> ReleaseResult:
    """Finish the rollback of this environment's dead run.

    Args:
        inventory_path: the environment; None: the dead drill(s) on a private sandbox.
        progress: progress display.
        say: operator messages.

    Returns:
        Pass (exit 0) when the rollback completed, else exit 3.

    Raises:
        RelrunError: there is nothing to recover.
    """
    tell = say or (lambda text: None)
    if inventory_path is None:
        return recover_private_drills(progress, tell)
    load_inventory(inventory_path)  # a missing or broken inventory is bad input (exit 2)
    key = environment_id(inventory_path)
    dead = incomplete_run(key)
    if dead is None:
        raise RelrunError(f"no incomplete run to recover for {inventory_path}")
    return _recover_run(inventory_path, key, dead, progress, tell)


def recover_private_drills(progress: Handler | None, tell: Say) -> ReleaseResult:
    """Recover every drill on a private sandbox whose relrun died, then tear its sandbox down.

    While its sandbox still runs (its reaper waits out the lease), the drill's rollback is
    finished there and its report written, like any recovery; a sandbox already stopped by
    its reaper has no traffic left to move. Either way no process of it is left.

    Returns:
        The last recovery's result (the worst exit code of them all).

    Raises:
        RelrunError: no such drill, and no other dead run either (with -i, for those).
    """
    from relrun.sandbox import procs
    from relrun.sandbox.layout import Layout
    from relrun.sandbox.reaper import REAPER_PROCESS, reap
    from relrun.workflows.drill import SANDBOX_INVENTORY, dead_private_drills

    drills = dead_private_drills()
    if not drills:
        others = [r for r in dead_runs() if r not in drills]
        if others:
            hints = "; ".join(
                f"a {r.get('kind')} of {r.get('runbook')} (pid {r.get('pid')}): relrun recover "
                f"-i {r.get('inventory')}" for r in others
            )
            raise RelrunError(f"no dead drill on a private sandbox; other dead runs: {hints}")
        raise RelrunError("no incomplete run to recover (and no dead private-sandbox drill)")
    results: list[ReleaseResult] = []
    for dead in drills:
        sandbox = Path(str(dead.get("run_dir") or "")) / "sandbox"
        key = f"sandbox|{sandbox}"
        layout = Layout.at(sandbox)
        reaper = procs.load_record(layout, REAPER_PROCESS)
        if reaper is not None and procs.is_running(reaper):
            procs.terminate(reaper)  # the recovery tears the sandbox down itself, after
        running = [r.process for r in procs.all_records(layout) if procs.is_running(r)]
        try:
            if running:
                tell(f"the drill's private sandbox {sandbox} still runs: finishing its rollback")
                results.append(_recover_run(SANDBOX_INVENTORY, key, dead, progress, tell))
            else:
                tell(
                    f"the drill's private sandbox {sandbox} has stopped already (its reaper "
                    "stopped it after the lease): no traffic is left to move"
                )
                results.append(ReleaseResult(
                    Path(str(dead.get("run_dir"))), "pass", 0,
                    ["recovered: the drill's relrun died; its private sandbox had stopped by "
                     "itself, nothing was left to roll back"],
                ))
        finally:
            stopped = reap(sandbox)  # every process, and the switch leases with them
            shutil.rmtree(sandbox / "secrets", ignore_errors=True)
            clear_active(key)
            tell(f"stopped the private sandbox {sandbox}: {', '.join(stopped) or 'nothing ran'}")
    return max(results, key=lambda r: r.exit_code)


def _recover_run(
    inventory_path: Path, key: str, dead: dict[str, Any], progress: Handler | None, tell: Say
) -> ReleaseResult:
    """Recover one dead run of the environment ``key``, whose marker is ``dead``.

    A run that relrun ended itself with exit 3 (its rollback could not restore traffic,
    or it crashed) is recovered the same way, but told as what it was: not a lost
    controller, a run that asked for a human, with its own reasons.
    """
    from relrun.workflows.status import ended_with_exit_3

    run_dir = Path(str(dead["run_dir"]))
    ended = ended_with_exit_3(dead)
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
    started_recovery = time.time()
    # Read before the rollback disarms it: when the switch fired and whether it reverted.
    incident = _incident(inventory_path, dead, header, earlier, started_recovery)
    _tell_incident(incident, tell, _ended_message(dead, ended))
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
            bus.emit(_recovery_note(incident, started_recovery, _ended_message(dead, ended)))
            spec = RunSpec(
                label="recover",
                playbook_text=playbook_text,
                inventory=inventory_path.resolve(),
                run_dir=run_dir,
                extravars={
                    "relrun_launch_dir": str(Path.cwd()),
                    # The dead run's id: its rollback acts as the owner of its lease.
                    "relrun_run_id": str(dead.get("run_id") or header.get("run_id") or ""),
                    # A drill's fault is reverted by the rollback's cleanup step.
                    **({"relrun_drill": header["drill"]} if header.get("drill") else {}),
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
        incident = _on_stable(incident, facts.switched_at)
        verdict = recover_verdict(facts, kind, incident, ended)
        # A run that ended itself detected its own trouble: its RTO runs from its trigger.
        timings = _incident_timings(facts, incident) if ended is None else {}
        try:
            run_record, ci, _ = conclude(
                where, header, events, facts, verdict,
                runbook=runbook.loaded.runbook if runbook else None, traffic=traffic,
                recovered=True, incident=incident, **timings,
            )
        except OSError as err:  # the rollback's outcome matters more than its report
            tell(f"could not write the recovery's reports in {where}: {err}")
            run_record = None
        if facts.rollback_complete:
            clear_active(key)
    if run_record is None:
        return ReleaseResult(where, verdict.verdict, verdict.exit_code, verdict.reasons)
    return ReleaseResult.of(where, run_record, ci)


def _incident(
    inventory: Path,
    dead: dict[str, Any],
    header: dict[str, Any],
    earlier: list[Event],
    started_recovery: float,
) -> Incident:
    """What the dead run's journal and its dead man's switch say about its end."""
    signs: list[tuple[float, str]] = []
    times = [e.time for e in earlier] + [
        float(v) for v in (header.get("started"), dead.get("started"))
        if isinstance(v, int | float)
    ]
    if times:
        signs.append((max(times), "journal"))
    owner = str(dead.get("run_id") or header.get("run_id") or "")
    fired: list[float] = []
    reverted: list[float] = []
    attempts = 0
    errors: list[str] = []
    try:
        leases = run_leases(inventory, owner, dict(dead.get("envvars") or {}))
    except Exception:  # reading the leases (Ansible reads the inventory) never stops a recovery
        leases = []
    for _, lease in leases:
        renewed = last_renewal(lease)
        if renewed is not None:
            signs.append((renewed, "lease renewal"))
        if isinstance(lease.get("fired_at"), int | float):
            fired.append(float(lease["fired_at"]))
            attempts += int(lease.get("attempt_count") or 0)
            if isinstance(lease.get("reverted_at"), int | float):
                reverted.append(float(lease["reverted_at"]))
            elif lease.get("revert_error"):
                errors.append(str(lease["revert_error"]))
    last = max(signs) if signs else None
    # Every backend's switch must have reverted for all traffic to be on stable.
    all_reverted = bool(fired) and len(reverted) == len(fired) == len(leases)
    return Incident(
        controller_last_seen=round(last[0], 3) if last else None,
        last_seen_from=last[1] if last else None,
        controller_pid=int(dead["pid"]) if isinstance(dead.get("pid"), int) else None,
        deadman_fired_at=min(fired) if fired else None,
        deadman_reverted_at=max(reverted) if all_reverted else None,
        deadman_attempts=attempts if fired else None,
        deadman_error=errors[0] if errors else None,
        recovery_started=started_recovery,
    )


def _at(stamp: float | None) -> str:
    if stamp is None:
        return "an unknown time"
    return time.strftime("%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 10)} UTC"


def _lost_message(incident: Incident) -> str:
    seen = (
        f"last sign of life at {_at(incident.controller_last_seen)} ({incident.last_seen_from})"
        if incident.controller_last_seen is not None else "no sign of life recorded"
    )
    return f"the controller (pid {incident.controller_pid}) stopped before finishing; {seen}"


def _ended_message(dead: dict[str, Any], ended: dict[str, Any] | None) -> str | None:
    """For a run relrun ended itself with exit 3: how it ended, with its reasons."""
    if ended is None:
        return None
    return ended_itself(str(dead.get("kind") or "release"), ended)


def _recovery_note(incident: Incident, started: float, ended: str | None) -> Note:
    """The journal's first recovery event: why a recovery runs at all."""
    data: dict[str, Any] = {"incident": incident.model_dump(mode="json")}
    if ended is not None:
        # The run's own trigger (its breach, its signal) stays the trigger of the record.
        return Note(message=f"recovering: {ended}", data=data)
    data["trigger"] = {
        "reason": "controller_lost",
        "message": _lost_message(incident),
        # The incident began when the controller was last alive.
        "at": incident.controller_last_seen or started,
    }
    return Note(message="recovering: the controller of this run stopped", data=data)


def _tell_incident(incident: Incident, tell: Say, ended: str | None = None) -> None:
    """Say how the dead run ended before the rollback starts."""
    tell(ended or _lost_message(incident))
    if incident.deadman_reverted_at is not None:
        tell(
            f"the dead man's switch fired at {_at(incident.deadman_fired_at)} and put traffic "
            f"back on stable at {_at(incident.deadman_reverted_at)}; the rollback finishes "
            "the rest (drain, verify, cleanup)"
        )
    elif incident.deadman_fired_at is not None:
        tell(
            f"the dead man's switch fired at {_at(incident.deadman_fired_at)} but traffic is "
            f"not back on stable ({incident.deadman_error or 'its revert has not finished'})"
        )
    else:
        tell("the dead man's switch has not fired: traffic is where the run left it")


def _on_stable(incident: Incident, recovery_switch: float | None) -> Incident:
    """When traffic was all on stable, and by whom: the earlier of the switch and recovery."""
    candidates = [
        (at, by) for at, by in (
            (incident.deadman_reverted_at, "dead man's switch"),
            (recovery_switch, "recovery"),
        ) if at is not None
    ]
    if not candidates:
        return incident
    at, by = min(candidates)
    return incident.model_copy(update={"on_stable_at": at, "on_stable_by": by})


def _incident_timings(facts: Facts, incident: Incident) -> dict[str, Any]:
    """A recovered run's RTO: from the controller's last sign of life to traffic on stable.

    When the dead run had triggered its own rollback (a breach before it died), its
    detection stands; a trigger that is the controller's loss detects nothing.
    """
    timings: dict[str, Any] = {}
    if (facts.trigger or {}).get("reason") == "controller_lost":
        timings["detection_seconds"] = None
    start = incident.controller_last_seen
    if incident.on_stable_at is not None:
        timings["switched_at"] = incident.on_stable_at
        if start is not None:
            timings["rto_seconds"] = round(max(0.0, incident.on_stable_at - start), 3)
    else:
        timings["rto_seconds"] = None
    return timings


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
