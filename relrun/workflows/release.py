"""``relrun release`` and the core of ``relrun drill``: gates → deploy → stages, or rollback.

A breach inside a stage rolls back inside the same playbook run (block/rescue), and so
does an operator's rollback during a bake: SIGINT/SIGTERM or ``relrun rollback`` is handed
to the running playbook through its lease (:mod:`relrun.run.handover`). Anything that
stops the run otherwise — a failed deploy, an unreachable host, a signal the playbook could
not take up — makes relrun run the standalone rollback play as its own ansible-runner run
before it returns, so nothing is left half-moved.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from relrun.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_ROLLBACK_FAILED,
    IncompleteRun,
    InputError,
    Problem,
    RelrunError,
    RollbackFailed,
    RunFailed,
)
from relrun.report.ci import build_results
from relrun.report.drill import rto_seconds
from relrun.report.facts import Facts, collect_facts
from relrun.report.journal import JournalWriter
from relrun.report.record import Fault
from relrun.report.verdict import (
    crash_verdict,
    drill_verdict,
    release_verdict,
    with_optional_failures,
)
from relrun.run.active import clear_active, incomplete_run, mark_active
from relrun.run.events import Event, EventBus, Handler, Note, TaskResult
from relrun.run.handover import Handover
from relrun.run.inventory import Inventory, load_inventory, missing_variables
from relrun.run.lock import environment_id, environment_lock
from relrun.run.runner import RunSpec, run_playbook
from relrun.run.signals import (
    CancelFlag,
    cancel_on_signals,
    deferred_signals,
    raise_if_signalled,
)
from relrun.runbook.loader import LoadedRunbook, load_runbook
from relrun.workflows.context import RunContext, new_run_dir
from relrun.workflows.lifecycle import ReleaseResult, conclude, open_run
from relrun.workflows.rescue import rescue_rollback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrillFault:
    """The fault a drill injects, and where."""

    kind: str
    value: float
    stage_index: int  # 1-based
    stage_name: str
    via: str = "traffic"  # error_rate / latency: the router in front (traffic) or the app
    status: int = 503  # error_rate: the injected answers' status
    on: str = "canary"  # where the fault task runs: "router" (traffic layer) or "canary"


def drill_vars(fault: DrillFault) -> dict[str, Any]:
    """The playbook's ``relrun_drill``: which fault, at which stage, injected where."""
    return {
        "kind": fault.kind,
        "value": fault.value,
        "stage": fault.stage_index,
        "via": fault.via,
        "status": fault.status,
        "on": fault.on,
    }


@dataclass(frozen=True)
class Environment:
    """Where a release runs: the inventory, and what identifies the environment."""

    inventory: Path
    lock_key: str
    envvars: dict[str, str] = field(default_factory=dict)
    traffic_log: Path | None = None


Say = Callable[[str], None]


def new_run_id(run_dir: Path) -> str:
    """A run's id: it owns the router's dead man's switch lease (``relrun_run_id``).

    The run directory's name says which run it is to a person who reads the lease; the
    random suffix keeps two controllers' runs apart even with the same directory name.
    """
    return f"{run_dir.name}-{uuid.uuid4().hex[:8]}"


def _traffic(
    log: Path | None, since: float, until: float, facts: Facts, fault_kind: str | None = None
) -> dict[str, Any] | None:
    if log is None or not log.exists():
        return None
    from relrun.sandbox.traffic import summarize  # the load generator's own reader

    fault = facts.fault_injected_at
    switched = facts.switched_at
    # An abort fault closes connections without an answer: those are its, not lost ones.
    aborts = (fault, switched or until) if fault_kind == "abort" and fault else None

    def count(start: float | None, end: float | None) -> dict[str, Any]:
        summary = summarize(log, since=start, until=end, abort_window=aborts)
        return summary.model_dump(mode="json", exclude={"seconds"})

    phases: dict[str, Any] = {}
    if fault is not None:
        phases["before_fault"] = count(since, fault)
        phases["fault_to_switch"] = count(fault, switched or until)
        if switched is not None:
            phases["after_switch"] = count(switched, until)
    elif switched is not None:
        phases["before_switch"] = count(since, switched)
        phases["after_switch"] = count(switched, until)
    whole = summarize(log, since=since, until=until, abort_window=aborts)
    return {
        **whole.model_dump(mode="json", exclude={"seconds"}),
        "per_second": [b.model_dump(mode="json") for b in whole.seconds],
        "phases": phases,
    }


def record_canary_servers(bus: EventBus, inventory: Inventory) -> None:
    """Journal which canary servers each host runs (reports judge unreachable hosts by it)."""
    if inventory.canary_servers:
        data = {"canary_servers": inventory.canary_servers}
        bus.emit(Note(message="canary servers per host", data=data))


def inventory_problems(loaded: LoadedRunbook, inventory: Inventory) -> list[Problem]:
    """The variables the rendered playbook needs that a targeted host does not define.

    Args:
        loaded: the validated runbook.
        inventory: the environment it is for.

    Returns:
        One positioned problem per host and missing variable.
    """
    from relrun.render.needs import inventory_needs
    from relrun.render.playbook import render_playbook_data

    needs = inventory_needs(render_playbook_data(loaded.runbook, loaded.sha256))
    return missing_variables(inventory, needs)


def _load(
    runbook_path: Path, env: Environment, *, complete: bool = False
) -> tuple[Any, LoadedRunbook, str]:
    from relrun.render.playbook import render_playbook

    inventory = load_inventory(env.inventory)
    loaded = load_runbook(runbook_path, inventory.groups)
    # A release or drill needs every variable; a rollback does what it can with what is there.
    problems = inventory_problems(loaded, inventory) if complete else []
    if problems:  # refused before anything is claimed or moved
        raise InputError(problems)
    return inventory, loaded, render_playbook(loaded)


def run_release(
    kind: str,
    runbook_path: Path,
    env: Environment,
    report_dir: Path | None = None,
    progress: Handler | None = None,
    fault: DrillFault | None = None,
    say: Say | None = None,
) -> ReleaseResult:
    """Release (or drill) a runbook into an environment, rolling back on any trouble.

    Args:
        kind: ``release`` or ``drill``.
        runbook_path: the runbook file.
        env: the environment.
        report_dir: where reports go (default a new ``runs/…`` directory).
        progress: shows progress to a person.
        fault: for a drill, the fault to inject.
        say: prints an urgent line to the operator (interrupts).

    Returns:
        The result with verdict, exit code and reports.

    Raises:
        InputError: invalid runbook or inventory; nothing ran.
        LockHeld: another release or drill holds the environment.
    """
    # From here to the end a signal never kills relrun half-way (exit 143, reports
    # missing): before the run loop it cancels the run, after it relrun finishes its
    # reports and its cleanup first.
    with deferred_signals():
        result = _release(kind, runbook_path, env, report_dir, progress, fault, say)
        if result.exit_code in {EXIT_OK, EXIT_FAILED}:
            raise_if_signalled(f"writing the reports in {result.run_dir}")
    return result


def _release(
    kind: str,
    runbook_path: Path,
    env: Environment,
    report_dir: Path | None,
    progress: Handler | None,
    fault: DrillFault | None,
    say: Say | None,
) -> ReleaseResult:
    """:func:`run_release`, once signals are deferred."""
    inventory, loaded, playbook_text = _load(runbook_path, env, complete=True)
    record = {"kind": kind, "runbook": loaded.runbook.metadata.name}
    # The lock comes first, so a refused run leaves no directory behind. It is held until
    # the reports are written: `relrun rollback` waits on it and then reads them.
    with environment_lock(env.lock_key, record) as lock:
        refuse_if_incomplete(env.lock_key, env.inventory)
        run_dir = new_run_dir(report_dir, kind, loaded.runbook.metadata.name)
        run_id = new_run_id(run_dir)
        # The run id lets `relrun rollback` hand its request to this run's playbook.
        lock.update(run_dir=str(run_dir), run_id=run_id)
        mark_active(
            env.lock_key,
            {
                "kind": kind,
                "run_id": run_id,  # recovery rolls back as this run: it owns the lease
                "runbook": str(runbook_path.resolve()),
                "inventory": str(inventory.path),
                "run_dir": str(run_dir),
                "envvars": env.envvars,
                "started": time.time(),
                "traffic_log": str(env.traffic_log) if env.traffic_log else None,
            },
        )
        context = RunContext(kind, loaded, inventory, run_dir, playbook_text)
        result = _run(context, env, fault, progress, say, run_id)
        if result.exit_code != EXIT_ROLLBACK_FAILED:
            # Exit 3 leaves the marker: the environment needs a human, and `relrun status`
            # says so until `relrun recover` (or a rollback) has finished the job.
            clear_active(env.lock_key)
    return result


def _run(
    context: RunContext,
    env: Environment,
    fault: DrillFault | None,
    progress: Handler | None,
    say: Say | None,
    run_id: str,
) -> ReleaseResult:
    """Run the release in its directory, roll back on trouble, write every report.

    Raises:
        RollbackFailed: relrun could not finish the run (the rollback could not run, or
            any unexpected error); its reports are written anyway, with ``state: crashed``.
    """
    header = context.header()
    header["run_id"] = run_id
    if fault is not None:
        # In the journal: `relrun recover`, after a kill -9, must revert this fault too.
        header["drill"] = drill_vars(fault)
    opened = open_run(context, progress, header=header)
    journal = opened.journal
    try:
        return _run_journaled(context, header, opened.bus, journal, env, fault, say)
    except Exception as crash:  # any: a run that relrun could not finish is still reported
        journal.close()
        facts = collect_facts(journal.events)
        settled = _settled(facts)
        if settled or not (facts.deploy_started or facts.traffic_moved):
            # Nothing moved (e.g. ansible-playbook is missing), or the run had settled
            # (promoted, or rolled back) before relrun failed writing about it: the
            # environment is in a known state, so the error keeps its own exit code and
            # no recovery is owed.
            code = crash.exit_code if isinstance(crash, RelrunError) else EXIT_FAILED
            note = (
                "the run had finished (promoted or rolled back) before this error"
                if settled
                else "nothing had moved: the environment is as it was"
            )
            what = _report_crash(context, header, journal, facts, crash, code, [note])
            clear_active(env.lock_key)
            if isinstance(crash, RelrunError):
                raise
            raise RunFailed(f"relrun failed: {what}; reports in {context.run_dir}") from crash
        if context.loaded.runbook.rollout is not None and not lease_held(journal.events):
            # Traffic may be on the canary: roll back first, wherever it can be written.
            where, facts = rescue_rollback(
                context, header, journal.events, env.envvars, progress
            )
            context = replace(context, run_dir=where)
            if facts.rollback_complete:
                what = _report_crash(
                    context, header, journal, facts, crash, EXIT_FAILED,
                    ["the rollback ran first and is complete: all traffic is on stable"],
                )
                clear_active(env.lock_key)
                raise RunFailed(
                    f"the {context.kind} crashed ({what}) and was rolled back; reports in "
                    f"{where}"
                ) from crash
        notes = [
            "the rollback may not have run or finished: the environment may be half-moved",
            f"finish the rollback with: relrun recover -i {context.inventory.path}",
        ]
        what = _report_crash(context, header, journal, facts, crash, EXIT_ROLLBACK_FAILED, notes)
        said = what if isinstance(crash, RollbackFailed) else f"the {context.kind} crashed ({what})"
        raise RollbackFailed(
            f"{said}; reports in {context.run_dir}; finish its rollback with: "
            f"relrun recover -i {context.inventory.path}"
        ) from crash


def _run_journaled(
    context: RunContext,
    header: dict[str, Any],
    bus: EventBus,
    journal: JournalWriter,
    env: Environment,
    fault: DrillFault | None,
    say: Say | None,
) -> ReleaseResult:
    """Everything of :func:`_run` that happens once the journal exists."""
    loaded, inventory, run_dir = context.loaded, context.inventory, context.run_dir
    kind = context.kind
    tell = say or (lambda text: None)
    record_canary_servers(bus, inventory)

    handover: Handover | None = None

    def on_signal(signum: int, count: int) -> None:
        if count == 1:
            tell(f"signal {signum} received: stopping the release and rolling back")
        if handover is not None and not runs_rollback:
            handover.on_signal(signum, count)  # the request is written now, not at a poll
        if count == 1:
            return
        if (handover is not None and handover.taken) or runs_rollback:
            tell("the rollback is running and will finish first; it is not abandoned")
        else:
            tell(f"signal {signum} received again: the playbook is stopped, then rolled back")

    # The release and the rollback it may run itself (interrupts) share one run id.
    extravars: dict[str, Any] = {
        "relrun_launch_dir": str(Path.cwd()),
        "relrun_run_id": header["run_id"],
    }
    if fault is not None:
        extravars["relrun_drill"] = drill_vars(fault)
    flag = CancelFlag(on_signal=on_signal)
    runs_rollback: list[bool] = []
    started = time.time()
    runs = _Runs(context.playbook_text, inventory.path, run_dir, extravars, env.envvars, bus)
    handover = Handover(
        directories=_lease_dirs(inventory.path),
        owner=header["run_id"],
        signals=lambda: flag.signals,
        first_signal_at=lambda: flag.first_at,
        say=tell,
    )
    try:
        with cancel_on_signals(flag):
            facts = _release_or_roll_back(
                kind, runs, journal, flag, loaded, handover, runs_rollback
            )
    finally:
        handover.clear()
        journal.close()
    ended = time.time()
    traffic = _traffic(env.traffic_log, started, ended, facts, fault.kind if fault else None)
    lost = traffic["lost"] if traffic else None
    if kind == "drill":
        fault_kind = fault.kind if fault else "none"
        verdict = drill_verdict(
            facts, loaded.runbook, fault_kind, flag.cancelled, rto_seconds(facts), lost
        )
    else:
        verdict = release_verdict(
            facts, flag.cancelled, has_rollout=loaded.runbook.rollout is not None
        )
    verdict = with_optional_failures(verdict, _optional_failures(journal.events))
    drilled = (
        Fault(kind=fault.kind, value=fault.value, stage=fault.stage_name)
        if fault is not None
        else None
    )
    record, ci, finished = conclude(
        run_dir, header, journal.events, facts, verdict, runbook=loaded.runbook,
        traffic=traffic, fault=drilled,
    )
    if finished.regression:
        tell(f"RTO regression: {finished.regression_why} (see relrun history --trend)")
    return ReleaseResult.of(run_dir, record, ci)


def _optional_failures(events: list[Event]) -> list[str]:
    """``name @ host`` of every optional build that did not pass."""
    return [
        f"{b['name']} @ {b['host']}"
        for b in build_results(events)
        if not b.get("required", True) and b.get("status") != "passed"
    ]


def _settled(facts: Facts) -> bool:
    """Whether the run promoted, or fully rolled back.

    Promoted takes every stage passed and the playbook run ended successfully: stages are
    known only as far as they started, so a run cut short looks like all passed.
    """
    finished = bool(facts.runs) and all(s == "successful" for s in facts.runs.values())
    return (facts.promoted and finished) or facts.rollback_complete


def _report_crash(
    context: RunContext,
    header: dict[str, Any],
    journal: JournalWriter,
    facts: Facts,
    err: Exception,
    code: int,
    notes: list[str],
) -> str:
    """Write the reports of a run that relrun itself could not finish; never raises.

    When anything moved it may not have been rolled back, so the verdict is exit 3 (a human
    must look) whatever the error was, and the active-run marker stays: once this process
    has exited, ``relrun status`` and ``relrun recover`` find the run.

    Args:
        context: the run.
        header: its journal header.
        journal: its journal, closed.
        facts: what the journal says happened.
        err: what stopped the run.
        code: the exit code to record.
        notes: what that means for the environment, after the error.

    Returns:
        The error, in words.
    """
    run_dir, kind = context.run_dir, context.kind
    what = err.message if isinstance(err, RelrunError) else f"{type(err).__name__}: {err}"
    verdict = crash_verdict(what, code, notes)
    try:
        conclude(
            run_dir, header, journal.events, facts, verdict, runbook=context.loaded.runbook,
            crash=what,
        )
    except Exception as report_err:  # the crash is the news, not a failed report about it
        log.warning("no report for the crashed %s in %s: %s", kind, run_dir, report_err)
    return what


@dataclass(frozen=True)
class _Runs:
    """Everything two runs of the same playbook share (the release and its rollback)."""

    playbook_text: str
    inventory: Path
    run_dir: Path
    extravars: dict[str, Any]
    envvars: dict[str, str]
    bus: EventBus

    def run(self, label: str, tags: str | None, cancelled: Callable[[], bool] | None) -> Any:
        spec = RunSpec(
            label=label,
            playbook_text=self.playbook_text,
            inventory=self.inventory,
            run_dir=self.run_dir,
            extravars=self.extravars,
            envvars=self.envvars,
            tags=tags,
        )
        return run_playbook(spec, self.bus, cancelled=cancelled)


def _trigger_note(message: str, reason: str, detail: str, facts: Facts) -> Note:
    trigger = {
        "reason": reason,
        "message": detail,
        "at": time.time(),
        "stage": _current_stage(facts),
    }
    return Note(message=message, data={"trigger": trigger})


def _lease_dirs(inventory: Path) -> list[Path]:
    """The lease directories of the inventory's local hosts (where requests can be written)."""
    from relrun.run.leases import lease_dirs

    try:
        return lease_dirs(inventory)
    except Exception as err:  # any: without them, a signal takes the standalone path
        log.warning("no lease directories for %s: %s", inventory, err)
        return []


def _release_or_roll_back(
    kind: str,
    runs: _Runs,
    journal: JournalWriter,
    flag: CancelFlag,
    loaded: LoadedRunbook,
    handover: Handover,
    runs_rollback: list[bool],
) -> Facts:
    """Run the release; if it stopped with anything moved and not rolled back, roll back.

    An operator's rollback during a bake is the playbook's own (its rescue, as at a
    breach); :class:`Handover` stops the playbook only when it cannot take the request up.
    """
    outcome = runs.run(kind, None, handover)
    facts = collect_facts(journal.events)
    interrupted = flag.cancelled
    if facts.trigger is None and (interrupted or handover.stopped is not None):
        asked = handover.trigger(_current_stage(facts))
        if asked is None:
            asked = {
                "reason": "signal",
                "message": "operator interrupt (SIGINT/SIGTERM)",
                "at": flag.first_at or time.time(),
                "stage": _current_stage(facts),
                "path": "standalone",
            }
        runs.bus.emit(Note(message="rollback requested: rolling back", data={"trigger": asked}))
    moved = facts.deploy_started or facts.traffic_moved
    stopped = interrupted or not outcome.ok
    # Another run holds the router backend: what is on it is that run's, never ours to
    # roll back (the switch is claimed and armed before any shift of ours).
    theirs = lease_held(journal.events)
    if (
        stopped
        and moved
        and not theirs
        and not _rollback_finished(facts)
        and loaded.runbook.rollout
    ):
        if not interrupted and facts.trigger is None:
            detail = "; ".join(facts.failures[:3])
            note = _trigger_note("the release stopped: rolling back", "failed_run", detail, facts)
            runs.bus.emit(note)
        runs_rollback.append(True)
        try:
            runs.run("rollback", "rollback", None)  # a rollback is never cancelled
        except RunFailed as err:
            raise RollbackFailed(f"the rollback could not run: {err.message}") from err
    return collect_facts(journal.events)


def lease_held(events: list[Event]) -> bool:
    """Whether the dead man's switch refused this run: another run holds the backend."""
    return any(
        isinstance(event, TaskResult)
        and event.status == "failed"
        and event.result.get("lease_held") is True
        for event in events
    )


def refuse_if_incomplete(environment: str, inventory: Path) -> None:
    """Refuse to start while a dead run of this environment has not been recovered."""
    from relrun.workflows.status import ended_with_exit_3

    dead = incomplete_run(environment)
    if dead is not None:
        how = (
            "ended with exit 3 (the environment may be half-moved)"
            if ended_with_exit_3(dead) else "stopped before finishing"
        )
        raise IncompleteRun(
            f"a {dead.get('kind')} of {dead.get('runbook')} (pid {dead.get('pid')}) {how}; "
            f"its reports are in {dead.get('run_dir')}. Finish its rollback "
            f"first: relrun recover -i {inventory}"
        )


def _current_stage(facts: Facts) -> str | None:
    running = [s for s in facts.stages if s.started is not None]
    return running[-1].name if running else None


def _rollback_finished(facts: Facts) -> bool:
    """The in-playbook rollback attempted every step (passed or not)."""
    return facts.rollback_ran and all(s.status != "not_run" for s in facts.rollback)


def release(
    runbook_path: Path,
    inventory_path: Path,
    report_dir: Path | None = None,
    progress: Handler | None = None,
    say: Say | None = None,
) -> ReleaseResult:
    """Run a release against an inventory (see :func:`run_release`)."""
    env = Environment(inventory=inventory_path, lock_key=environment_id(inventory_path))
    return run_release("release", runbook_path, env, report_dir, progress, None, say)
