"""``relrun rollback``: put every user back on stable, whatever state the release is in.

If a release or drill holds the environment's lock, it is asked to roll back and we wait
for it: through its lease (a request its playbook's rescue takes up at the next analysis
sample, see :mod:`relrun.run.handover`) when its router host is local and it bakes, else
by SIGTERM, which it handles as an interrupt. If it ended without rolling back (it had
just promoted), or nothing runs, the standalone rollback play runs here. All of them are
idempotent: rolling back twice is safe.
"""

from __future__ import annotations

import getpass
import os
import signal
import time
from pathlib import Path

from relrun.errors import (
    EXIT_OK,
    EXIT_ROLLBACK_FAILED,
    InputError,
    Problem,
    RollbackFailed,
    RunFailed,
)
from relrun.report.facts import collect_facts
from relrun.report.record import RunRecord
from relrun.report.verdict import rollback_verdict
from relrun.run.active import clear_active, incomplete_run, mark_active
from relrun.run.events import EventBus, Handler, Note
from relrun.run.handover import ask
from relrun.run.leases import lease_dirs
from relrun.run.lock import environment_id, environment_lock, holder
from relrun.run.procfs import pid_alive
from relrun.run.runner import RunSpec, run_playbook
from relrun.run.signals import CancelFlag, cancel_on_signals
from relrun.workflows.context import RunContext, new_run_dir
from relrun.workflows.lifecycle import ReleaseResult, conclude, open_run
from relrun.workflows.release import Environment, Say, _load, record_canary_servers
from relrun.workflows.status import ended_with_exit_3


def run_uninterrupted(spec: RunSpec, bus: EventBus, tell: Say) -> None:
    """Run a rollback to its end: signals are reported, never obeyed, mid-rollback.

    Raises:
        RollbackFailed: the rollback run could not even start.
    """

    def on_signal(signum: int, count: int) -> None:
        tell(f"signal {signum} received: the rollback is running and will finish first")

    try:
        with cancel_on_signals(CancelFlag(on_signal=on_signal)):
            run_playbook(spec, bus, cancelled=None)
    except RunFailed as err:
        raise RollbackFailed(f"the rollback could not run: {err.message}") from err


def _ask_running_release(env: Environment, say: Say, timeout: float) -> ReleaseResult | None:
    running = holder(env.lock_key)
    if not running or not running.get("pid") or not pid_alive(int(running["pid"])):
        return None
    if running.get("kind") not in {"release", "drill"}:
        # Another rollback or recovery: never interrupt it; wait for it to finish.
        say(f"a {running.get('kind')} is already running (pid {running.get('pid')}); waiting")
        deadline = time.monotonic() + timeout
        while holder(env.lock_key) is not None:
            if time.monotonic() > deadline:
                raise RollbackFailed(f"the running {running.get('kind')} did not finish")
            time.sleep(0.2)
        return None
    pid = int(running["pid"])
    say(
        f"a {running.get('kind')} of {running.get('runbook')} is running (pid {pid}): "
        "asking it to roll back"
    )
    if not _ask_through_lease(env, str(running.get("run_id") or ""), say):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (latest := holder(env.lock_key)) is not None:
        running = latest or running  # the run directory is recorded just after the lock
        if time.monotonic() > deadline:
            raise RollbackFailed(
                f"pid {pid} did not finish its rollback within {timeout:g}s; "
                f"see {running.get('run_dir')}"
            )
        time.sleep(0.2)
    if not running.get("run_dir"):
        raise RollbackFailed(f"pid {pid} stopped before it created its run directory")
    run_dir = Path(str(running.get("run_dir")))
    report_file = run_dir / f"{running.get('kind')}.json"
    try:
        report = RunRecord.model_validate_json(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RollbackFailed(f"the release ended without a report in {run_dir}") from None
    if not report.rollback.ran and report.state == "promoted":
        # It promoted before it could take the request up: roll back here.
        say(f"the {running.get('kind')} promoted before it could roll back: rolling back")
        return None
    # A release stopped before anything moved had nothing to roll back.
    complete = report.rollback.complete or report.state in {"interrupted", "gates_failed"}
    reasons = [f"the running {running.get('kind')} rolled back; report in {report_file}"]
    if complete:
        return ReleaseResult(run_dir, "pass", EXIT_OK, reasons, report=report)
    return ReleaseResult(
        run_dir,
        "fail",
        EXIT_ROLLBACK_FAILED,
        [*reasons, "its rollback is incomplete"],
        report=report,
    )


def _ask_through_lease(env: Environment, run_id: str, say: Say) -> bool:
    """Write the rollback request beside the running release's armed lease(s), if any."""
    if not run_id:
        return False
    try:
        directories = lease_dirs(env.inventory)
    except Exception:  # any: the signal path still works
        return False
    by = f"relrun rollback (pid {os.getpid()}, user {getpass.getuser()})"
    asked = ask(directories, run_id, "manual", by, f"operator rollback: {by}", time.time())
    if asked:
        say("asked its playbook to roll back at its next analysis sample (" + ", ".join(
            str(p) for p in asked) + ")")
    return bool(asked)


def rollback(
    runbook_path: Path,
    inventory_path: Path,
    report_dir: Path | None = None,
    progress: Handler | None = None,
    say: Say | None = None,
    wait: float = 600,
) -> ReleaseResult:
    """Roll the environment back to stable.

    Args:
        runbook_path: the runbook that was released.
        inventory_path: the environment.
        report_dir: where this rollback's reports go.
        progress: progress display.
        say: operator messages.
        wait: how long to wait for a running release to finish its own rollback.

    Returns:
        The result: pass (exit 0) when all five steps passed, else exit 3.
    """
    tell = say or (lambda text: None)
    env = Environment(inventory=inventory_path, lock_key=environment_id(inventory_path))
    inventory, loaded, playbook_text = _load(runbook_path, env)
    if loaded.runbook.rollout is None or loaded.runbook.traffic is None:
        raise InputError(
            [
                Problem(
                    loaded.shown,
                    1,
                    1,
                    "the runbook has no rollout and traffic "
                    "sections: there is nothing to roll back",
                )
            ]
        )
    asked = _ask_running_release(env, tell, wait)
    if asked is not None:
        return asked
    record = {"kind": "rollback", "runbook": loaded.runbook.metadata.name}
    with environment_lock(env.lock_key, record) as lock:  # before the directory: see release
        run_dir = new_run_dir(report_dir, "rollback", loaded.runbook.metadata.name)
        lock.update(run_dir=str(run_dir))
        context = RunContext("rollback", loaded, inventory, run_dir, playbook_text)
        opened = open_run(context, progress)
        header, journal, bus = opened.header, opened.journal, opened.bus
        record_canary_servers(bus, inventory)
        try:
            bus.emit(
                Note(
                    message="manual rollback",
                    data={
                        "trigger": {
                            "reason": "manual",
                            "message": "relrun rollback",
                            "at": time.time(),
                        }
                    },
                )
            )
            spec = RunSpec(
                label="rollback",
                playbook_text=playbook_text,
                inventory=inventory.path,
                run_dir=run_dir,
                extravars={
                    "relrun_launch_dir": str(Path.cwd()),
                    # No run id: an operator's rollback renews no one's lease, may roll
                    # back whatever runs on the backend, and disarms its switch.
                    "relrun_run_id": "",
                },
                tags="rollback",
            )
            run_uninterrupted(spec, bus, tell)
        finally:
            journal.close()
    facts = collect_facts(journal.events)
    run_record, ci, _ = conclude(
        run_dir, header, journal.events, facts, rollback_verdict(facts), runbook=loaded.runbook
    )
    result = ReleaseResult.of(run_dir, run_record, ci)
    _mark_outcome(env, runbook_path, run_dir, result.exit_code)
    return result


def _mark_outcome(env: Environment, runbook_path: Path, run_dir: Path, exit_code: int) -> None:
    """What ``relrun status`` and the next release learn from this rollback.

    Exit 3 leaves an active-run marker, as a release's exit 3 does: the environment needs
    a human, and ``status`` says so (it said "idle"). An earlier run's marker is kept, as
    it names the run to recover. A complete rollback clears the marker of a run that
    relrun ended itself with exit 3 (nothing of it is left to scrub or report); the marker
    of a run killed half-way stays for ``relrun recover``.
    """
    dead = incomplete_run(env.lock_key)
    if exit_code == EXIT_ROLLBACK_FAILED and dead is None:
        mark_active(env.lock_key, {
            "kind": "rollback",
            "runbook": str(runbook_path.resolve()),
            "inventory": str(env.inventory),
            "run_dir": str(run_dir),
            "envvars": env.envvars,
            "started": time.time(),
        })
    elif exit_code == EXIT_OK and dead is not None and ended_with_exit_3(dead):
        clear_active(env.lock_key)
