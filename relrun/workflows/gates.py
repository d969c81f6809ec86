"""``relrun pause``, ``resume``, ``promote``, ``abort``: an operator's hands on a release.

The running release is found as ``relrun status`` finds it (the project's run markers,
private sandbox drills included) or, with ``-i``, through the router backend's dead man's
switch lease, whoever started it (another controller, user or checkout). The request is
written beside that lease (``LEASE.gate`` for pause, resume and promote, see the
collection's ``lease/gate.py``; ``LEASE.control`` for abort, the rollback request of
:mod:`relrun.run.handover`), where the bake's analysis reads it at its next sample. So a
router host on a local connection has its lease directory read and written directly; one
reached over SSH through one short Ansible run of the collection's ``relrun.release.gate``
module there (:mod:`relrun.workflows.gate_remote`), which also reads the state back.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease import (
    gate as gate_file,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    read_lease,
    request_rollback,
)
from relrun.errors import EXIT_FAILED, EXIT_OK, EXIT_ROLLBACK_FAILED, InputError
from relrun.report.rundocs import read_object
from relrun.run.active import all_runs
from relrun.run.leases import lease_dirs, run_leases
from relrun.run.lock import environment_id, holder
from relrun.workflows.gate_remote import RemoteLease, remote_routers, run_gate
from relrun.workflows.status import RunStatus, find_runs

Say = Callable[[str], None]
RUNNING_KINDS = ("release", "drill")


@dataclass
class Target:
    """A running release or drill a verb can reach.

    Attributes:
        run_id: its run id (it owns the lease).
        leases: its lease files (claimed or armed) in directories relrun can write.
        marker: its run marker on this controller (None: found through the lease alone).
        remote: its leases on router hosts reached over SSH (with ``inventory``).
        inventory: the inventory those were found through.
    """

    run_id: str
    leases: list[Path] = field(default_factory=list)
    marker: dict[str, Any] | None = None
    remote: list[RemoteLease] = field(default_factory=list)
    inventory: Path | None = None

    def describe(self) -> str:
        """One line for people."""
        if self.marker is not None:
            m = self.marker
            return (
                f"the {m.get('kind')} of {m.get('runbook')} (run {self.run_id}, "
                f"pid {m.get('pid')})"
            )
        if self.leases:
            lease = read_lease(str(self.leases[0]))
            where = str(self.leases[0])
        else:
            lease = self.remote[0].lease if self.remote else {}
            where = f"{self.remote[0].host}:{self.remote[0].path}" if self.remote else "?"
        return f"run {self.run_id} of runbook {lease.get('runbook') or '?'} (through {where})"

    def armed(self) -> list[Path]:
        """Its leases that are armed now (a rollback request is taken up from those)."""
        return [p for p in self.leases if read_lease(str(p)).get("state") == "armed"]

    def remote_hosts(self) -> list[str]:
        """The remote router hosts holding its leases."""
        return sorted({r.host for r in self.remote})


def who() -> str:
    """``user@host`` of the operator."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _held_leases(directories: list[Path]) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for directory in directories:
        for path in sorted(directory.glob("relrun-deadman-*.json")):
            lease = read_lease(str(path))
            owner = str(lease.get("owner") or "")
            live = time.time() <= float(lease.get("expires") or 0)
            if owner and lease.get("state") in {"armed", "claimed"} and live:
                found.setdefault(owner, []).append(path)
    return found


def _marker_target(run: RunStatus) -> Target:
    record = run.record
    run_id = str(record.get("run_id") or "")
    leases: list[Path] = []
    if run_id and record.get("inventory"):
        try:
            found = run_leases(Path(str(record["inventory"])), run_id, record.get("envvars") or {})
        except Exception:  # any: an unreadable inventory leaves the run unreachable
            found = []
        leases = [p for p, lease in found if lease.get("state") in {"armed", "claimed"}]
    return Target(run_id, leases, record)


def find_targets(inventory: Path | None) -> list[Target]:
    """The running releases and drills a verb may address.

    Args:
        inventory: with it, the runs of that environment: this controller's (its lock)
            and any other controller's holding a lease of its local router hosts.

    Returns:
        The targets, this controller's first.
    """
    key = environment_id(inventory) if inventory is not None else None
    mine = holder(key) if key is not None else None
    targets: list[Target] = []
    for run in find_runs(with_gate=False):
        if run.state != "running" or run.record.get("kind") not in RUNNING_KINDS:
            continue
        if mine is not None and run.record.get("run_id") != mine.get("run_id"):
            continue
        if inventory is not None and mine is None:
            continue
        targets.append(_marker_target(run))
    if inventory is not None:
        known = {t.run_id for t in targets}
        for owner, leases in _held_leases(lease_dirs(inventory)).items():
            if owner not in known:
                targets.append(Target(owner, leases))
        hosts = remote_routers(inventory)
        if hosts:
            by_run = {t.run_id: t for t in targets}
            for found in run_gate(inventory, hosts, "status"):
                target = by_run.get(found.owner)
                if target is None:
                    target = by_run[found.owner] = Target(found.owner)
                    targets.append(target)
                target.remote.append(found)
                target.inventory = inventory
    return targets


def _no_target(inventory: Path | None) -> InputError:
    if inventory is None:
        return InputError(
            "no release or drill is running in this project (relrun status says what runs); "
            "for a release another controller started, name its environment: -i INVENTORY"
        )
    return InputError(
        f"no release or drill is running on {inventory}: no run of this controller holds "
        "it, and no dead man's switch lease of its router hosts is held (a release holds "
        "one from its preflight to its end)."
    )


def choose(inventory: Path | None, run_id: str | None) -> Target:
    """The one running release a verb addresses.

    Raises:
        InputError: none runs, several do and ``run_id`` does not choose, or the one found
            cannot be reached through a lease (exit 2).
    """
    targets = find_targets(inventory)
    if run_id:
        targets = [t for t in targets if t.run_id == run_id]
    if not targets:
        raise _no_target(inventory)
    if len(targets) > 1:
        listed = "; ".join(t.describe() for t in targets)
        raise InputError(f"several releases are running ({listed}): choose one with --run RUN_ID")
    return targets[0]


def _unreachable(target: Target) -> InputError:
    return InputError(
        f"{target.describe()} holds no dead man's switch lease on its router hosts: its "
        "preflight has not claimed the backend yet (or it is ending); with -i INVENTORY "
        "relrun looks on the inventory's router hosts. Nothing was asked."
    )


def ask_gate(
    action: str, inventory: Path | None, run_id: str | None, reason: str, say: Say,
    scope: str = "stage",
) -> int:
    """Pause, resume or promote the running release.

    Returns:
        0: the request is written; the release takes it at its next analysis sample.

    Raises:
        InputError: no running release reachable, or the request makes no sense now.
    """
    target = choose(inventory, run_id)
    by = who()
    if target.leases:
        for lease in target.leases:
            why = gate_file.refusal(action, gate_file.read_gate(str(lease), target.run_id))
            if why:
                raise InputError(f"{target.describe()} {why}")
        for lease in target.leases:
            gate_file.ask(str(lease), target.run_id, action, by, reason, scope)
    elif target.remote and target.inventory is not None:
        after = run_gate(target.inventory, target.remote_hosts(), action, target.run_id, by,
                         reason, scope)
        if not after:
            raise _unreachable(target)
        say(f"{target.describe()}: gate state now " + json.dumps(
            {k: after[0].gate.get(k) for k in ("paused", "promote", "waiting")}, default=str))
    else:
        raise _unreachable(target)
    what = {
        "pause": "pause: its stage holds its weight at the end of its bake, judged as ever, "
        "until relrun resume (or promote)",
        "resume": "resume: it goes on with its next stage",
        "promote": "promote --full: it skips to its last stage's weight and promotes"
        if scope == "full" else "promote: it ends this stage's bake (and pause) and goes on",
    }[action]
    say(f"asked {target.describe()} to {what} ({by}: {reason or 'no reason given'}); "
        "its analysis takes it at its next sample")
    return EXIT_OK


def abort(
    inventory: Path | None, run_id: str | None, reason: str, say: Say, wait: float = 600
) -> int:
    """Roll the running release back in its own playbook, as fast as at a breach.

    Returns:
        0 when it rolled back completely, 3 when its rollback is incomplete, 1 when it
        ended without rolling back (it had promoted).

    Raises:
        InputError: no running release reachable (exit 2).
    """
    target = choose(inventory, run_id)
    by = who()
    message = f"relrun abort by {by}: {reason or 'no reason given'}"
    armed = target.armed()
    remote = [r for r in target.remote if r.lease.get("state") == "armed"]
    at = time.time()
    for lease in armed:
        request_rollback(str(lease), target.run_id, "manual", f"{by} (relrun abort)", message, at)
    if remote and target.inventory is not None:
        run_gate(target.inventory, target.remote_hosts(), "abort", target.run_id, by, reason)
    if armed or remote:
        say(f"asked {target.describe()} to roll back at its next analysis sample ({message})")
    elif target.marker is not None and target.marker.get("pid"):
        # Not baking (deploying, or its lease is not here): its relrun rolls back on SIGTERM.
        os.kill(int(target.marker["pid"]), signal.SIGTERM)
        say(f"{target.describe()} is not baking: sent it SIGTERM, it rolls back as on an interrupt")
    else:
        raise _unreachable(target)
    return _wait_for_end(target, wait, say)


def _wait_for_end(target: Target, wait: float, say: Say) -> int:
    deadline = time.monotonic() + wait
    if target.marker is not None:
        # The markers alone, not the journals: this wait must not take CPU from the
        # rollback it waits for (a 2-core controller under load).
        while any(
            record.get("run_id") == target.run_id and alive for record, alive in all_runs()
        ):
            if time.monotonic() > deadline:
                say(f"{target.describe()} has not finished within {wait:g}s")
                return EXIT_ROLLBACK_FAILED
            time.sleep(0.2)
        kind = str(target.marker.get("kind") or "release")
        report = read_object(Path(str(target.marker.get("run_dir") or "")) / f"{kind}.json") or {}
        rollback = report.get("rollback") or {}
        say(f"{target.describe()} ended: verdict {report.get('verdict')} (exit "
            f"{report.get('exit_code')}), {report.get('state')}")
        if rollback.get("ran"):
            return EXIT_OK if rollback.get("complete") else EXIT_ROLLBACK_FAILED
        return EXIT_FAILED
    if not target.leases and target.inventory is not None:
        return _wait_remote(target, deadline, wait, say)
    while True:
        states = [read_lease(str(p)) for p in target.leases]
        if not any(s.get("owner") == target.run_id and s.get("state") == "armed" for s in states):
            break
        if time.monotonic() > deadline:
            say(f"{target.describe()} still holds its lease after {wait:g}s")
            return EXIT_ROLLBACK_FAILED
        time.sleep(0.2)
    fired = [s for s in states if s.get("state") == "fired" and not s.get("reverted_at")]
    say(f"{target.describe()} released its lease: " + json.dumps(
        [{k: s.get(k) for k in ("state", "disarmed_by")} for s in states]))
    return EXIT_ROLLBACK_FAILED if fired else EXIT_OK


def _wait_remote(target: Target, deadline: float, wait: float, say: Say) -> int:
    """Until the run holds no armed lease on its remote router hosts (one play a round)."""
    assert target.inventory is not None
    while True:
        held = run_gate(target.inventory, target.remote_hosts(), "status", target.run_id)
        if not any(r.lease.get("state") == "armed" for r in held):
            break
        if time.monotonic() > deadline:
            say(f"{target.describe()} still holds its lease after {wait:g}s")
            return EXIT_ROLLBACK_FAILED
    say(f"{target.describe()} released its lease on {', '.join(target.remote_hosts())}")
    return EXIT_OK
