"""``relrun status``: the releases and drills of this project, running or dead, from any terminal.

Every release and drill leaves a marker in the state directory while it runs (see
:mod:`relrun.run.active`) — a drill on its private sandbox too — and flushes its journal
event by event; status reads both, so a second terminal sees the run's stage, weight,
latest analysis evidence and rollback steps as they happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.gate import (
    read_gate,
)
from relrun.errors import EXIT_ROLLBACK_FAILED
from relrun.report.live import LiveView, age, live_view
from relrun.report.rundocs import read_object
from relrun.run.active import all_runs
from relrun.run.leases import run_leases


@dataclass(frozen=True)
class RunStatus:
    """One run that has a marker.

    Attributes:
        state: ``running`` (its relrun lives) or ``incomplete`` (it died before finishing).
        record: the marker (kind, runbook, inventory, run_dir, pid, envvars, started).
        private: a drill on its own private sandbox.
        live: what its journal says so far.
        ended: for an ``incomplete`` run that relrun ended itself with exit 3 (its
            rollback could not finish, or it crashed): its report. None for a run whose
            relrun died (killed, lost host) before writing one.
    """

    state: str
    record: dict[str, Any]
    private: bool
    live: LiveView | None
    ended: dict[str, Any] | None = None
    # The manual gates of a running run (see relrun.workflows.gates): an operator's pause
    # in force, a promotion not yet taken, and what its bake waits for, if it holds.
    gate: dict[str, Any] | None = None

    @property
    def run_dir(self) -> Path:
        """The run's directory."""
        return Path(str(self.record.get("run_dir") or ""))

    @property
    def sandbox(self) -> str | None:
        """A private drill's sandbox directory."""
        envvars = self.record.get("envvars")
        if not self.private or not isinstance(envvars, dict):
            return None
        return str(envvars.get("RELRUN_SANDBOX_DIR"))

    def recover_command(self) -> str:
        """What a person runs to finish it."""
        if self.private:
            return "relrun recover"
        return f"relrun recover -i {self.record.get('inventory')}"

    def headline(self) -> str:
        """One line: what, by whom, where."""
        record = self.record
        where = (
            f"on its private sandbox {self.sandbox}" if self.private
            else f"on {record.get('inventory')}"
        )
        if self.state == "running":
            return (
                f"running: {record.get('kind')} of {record.get('runbook')} {where} "
                f"(pid {record.get('pid')}), reports in {self.run_dir}"
            )
        if self.ended is not None:
            reasons = self.ended.get("reasons")
            why = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
            return (
                f"needs a human: a {record.get('kind')} of {record.get('runbook')} {where} "
                f"(pid {record.get('pid')}) ended with exit 3, {self.ended.get('state')}: "
                f"the environment may be half-moved; reports in {self.run_dir}\n"
                + (f"  why: {why}\n" if why else "")
                + f"once its cause is fixed, finish its rollback with: {self.recover_command()}"
            )
        return (
            f"incomplete: a {record.get('kind')} of {record.get('runbook')} {where} "
            f"(pid {record.get('pid')}) stopped before finishing; reports in {self.run_dir}\n"
            f"finish its rollback with: {self.recover_command()}"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (the marker's environment variables are left out)."""
        fields = ("kind", "runbook", "inventory", "pid", "run_dir", "started")
        return {
            "state": self.state,
            **{k: self.record.get(k) for k in fields},
            "private_sandbox": self.sandbox,
            "recover": None if self.state == "running" else self.recover_command(),
            "live": self.live.to_json() if self.live else None,
            "ended": None if self.ended is None else {
                k: self.ended.get(k) for k in ("exit_code", "state", "verdict", "reasons")
            },
            "gate": self.gate,
        }


def _is_private(record: dict[str, Any]) -> bool:
    envvars = record.get("envvars")
    sandbox = envvars.get("RELRUN_SANDBOX_DIR") if isinstance(envvars, dict) else None
    run_dir = record.get("run_dir")
    return bool(
        record.get("kind") == "drill" and sandbox and run_dir
        and Path(str(sandbox)) == Path(str(run_dir)) / "sandbox"
    )


def gate_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """A running run's gate state, from beside its leases on local router hosts."""
    run_id = str(record.get("run_id") or "")
    if not run_id or not record.get("inventory"):
        return None
    try:
        leases = run_leases(Path(str(record["inventory"])), run_id, record.get("envvars") or {})
    except Exception:  # any: an inventory that no longer reads shows no gate
        return None
    states = [read_gate(str(path), run_id) for path, _ in leases]
    if not leases:
        states = _remote_gates(Path(str(record["inventory"])), run_id)
    for state in states:
        if state:
            return {k: state.get(k) for k in ("paused", "waiting", "promote", "resumed")}
    return None


def _remote_gates(inventory: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's gate states on its router hosts reached over SSH (one short Ansible run)."""
    from relrun.workflows.gate_remote import remote_routers, run_gate

    try:
        hosts = remote_routers(inventory)
        return [r.gate for r in run_gate(inventory, hosts, "status", run_id)] if hosts else []
    except Exception:  # any: a router host out of reach shows no gate, the run still shows
        return []


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    """What a run's gate says, for people."""
    if not gate:
        return []
    lines: list[str] = []
    waiting = gate.get("waiting") or {}
    paused = gate.get("paused") or {}
    if waiting.get("kind") == "operator" or paused:
        lines.append(
            f"paused by {paused.get('by') or waiting.get('by')}: "
            f"{paused.get('reason') or waiting.get('reason') or ''}"
            + (f"; stage {waiting['stage']} holds (relrun resume or promote)" if waiting else
               "; its stage holds at the end of its bake")
        )
    elif waiting:
        timeout = waiting.get("timeout_at")
        until = f" until {age_at(timeout)} (then {waiting.get('default')})" if timeout else ""
        lines.append(f"stage {waiting.get('stage')} waits for its {waiting.get('kind')}{until}:"
                     " relrun promote")
    promote = gate.get("promote") or {}
    if promote and not promote.get("taken_at"):
        lines.append(f"promotion ({promote.get('scope')}) asked by {promote.get('by')}, "
                     "not taken yet")
    return lines


def age_at(stamp: float) -> str:
    """An epoch time as UTC clock time."""
    return time.strftime("%H:%M:%S UTC", time.gmtime(float(stamp)))


def find_runs(with_gate: bool = True) -> list[RunStatus]:
    """Every run with a marker in this project's state directory.

    Args:
        with_gate: read the gate state of running runs (from their router hosts' leases).

    Returns:
        Running ones first, then dead ones, each oldest first.
    """
    found: list[RunStatus] = []
    for record, alive in all_runs():
        run_dir = record.get("run_dir")
        live = live_view(Path(str(run_dir)), alive) if run_dir else None
        state = "running" if alive else "incomplete"
        ended = None if alive else ended_with_exit_3(record)
        gate = gate_of(record) if alive and with_gate else None
        found.append(RunStatus(state, record, _is_private(record), live, ended, gate))
    found.sort(key=lambda r: (r.state != "running", _started(r.record)))
    return found


def ended_with_exit_3(record: dict[str, Any]) -> dict[str, Any] | None:
    """The report of a marker's run when relrun ended that run itself with exit 3.

    Such a run keeps its marker (the environment needs a human) though its relrun is gone,
    like a run killed half-way; its report tells them apart, and says why.

    Args:
        record: an active-run marker whose process is gone.

    Returns:
        The run's report (``KIND.json`` in its run directory) if it says exit 3, else None.
    """
    run_dir = record.get("run_dir")
    if not run_dir:
        return None
    report = read_object(Path(str(run_dir)) / f"{record.get('kind') or 'release'}.json")
    if report is None or report.get("exit_code") != EXIT_ROLLBACK_FAILED:
        return None
    return report


def _started(record: dict[str, Any]) -> float:
    value = record.get("started")
    return float(value) if isinstance(value, int | float) else 0.0


def describe(run: RunStatus) -> list[str]:
    """The run's headline and, indented, where its journal says it is."""
    lines = run.headline().splitlines()
    if run.live is not None:
        lines += ["  " + line for line in run.live.lines()]
        lines.append(f"  journal: last event {age(run.live.last_event)}")
    return lines


def finished(run: RunStatus) -> str:
    """A watched run that ended: its verdict, from its report."""
    kind = str(run.record.get("kind") or "release")
    record = read_object(run.run_dir / f"{kind}.json")
    if not record:
        return f"finished: {kind} of {run.record.get('runbook')} (no report in {run.run_dir})"
    return (
        f"finished: {kind} of {run.record.get('runbook')}: verdict {record.get('verdict')} "
        f"(exit {record.get('exit_code')}), {record.get('state')}; reports in {run.run_dir}"
    )


def watch(
    select: Callable[[], list[RunStatus]],
    show: Callable[[list[RunStatus], list[RunStatus]], None],
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunStatus]:
    """Show the selected runs each time what their journals say changes, until none runs.

    Args:
        select: the runs to watch, read afresh each time.
        show: called with the runs now and the watched runs that have ended since.
        interval: seconds between looks.
        sleep: how to wait (tests pass their own).

    Returns:
        The runs that ended while watched.
    """
    seen: dict[str, RunStatus] = {}
    last: object = None
    ended: list[RunStatus] = []
    while True:
        runs = select()
        now = {str(r.run_dir): r for r in runs if r.state == "running"}
        gone = [r for key, r in seen.items() if key not in now]
        seen = {**{k: v for k, v in seen.items() if k in now}, **now}
        state = [
            (r.state, str(r.run_dir), r.live.lines() if r.live else None, gate_lines(r.gate))
            for r in runs
        ]
        if state != last or gone:
            show(runs, gone)
            last = state
        ended += gone
        if not now:
            return ended
        sleep(interval)
