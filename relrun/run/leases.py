"""The dead man's switch leases an inventory's local hosts hold, for ``relrun status``.

A lease lives on its router host (``relrun_deadman_dir``, one file per backend). For the
hosts Ansible reaches with ``ansible_connection: local`` (the sandbox, a load balancer on
this machine) relrun reads them directly, so a switch that fired and has not put traffic
back on stable is reported as the incident it is. Remote router hosts are not contacted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.run.procfs import pid_alive

DEFAULT_DIR = "/tmp/relrun-deadman"


@dataclass(frozen=True)
class Incident:
    """A switch that fired and whose revert has not succeeded (yet)."""

    path: Path
    lease: dict[str, Any]

    @property
    def watcher_alive(self) -> bool:
        """Whether its watcher still runs (it keeps retrying the revert)."""
        return pid_alive(int(self.lease.get("pid") or 0))

    def describe(self) -> str:
        """One line for people."""
        lease = self.lease
        fired = _at(lease.get("fired_at"))
        backend = self.path.name.removeprefix("relrun-deadman-").removesuffix(".json")
        error = lease.get("revert_error") or "no attempt finished yet"
        attempts = int(lease.get("attempt_count") or 0)
        still = (
            f"its watcher (pid {lease.get('pid')}) keeps trying"
            if self.watcher_alive
            else "its watcher is gone: roll back by hand (relrun rollback RUNBOOK -i INVENTORY)"
        )
        return (
            f"incident: the dead man's switch of backend {backend} (run "
            f"{lease.get('owner') or '(unnamed)'}, runbook {lease.get('runbook') or '?'}) "
            f"fired at {fired} and traffic is not back on stable: {attempts} attempt(s), "
            f"last error: {error}; {still} ({self.path})"
        )


def _at(stamp: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(stamp)))
    except (TypeError, ValueError):
        return "an unknown time"


def lease_dirs(inventory: Path) -> list[Path]:
    """The ``relrun_deadman_dir`` of every host on a local connection, resolved by Ansible."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=manager)
    found: set[Path] = set()
    for host in manager.get_hosts():
        hostvars = variables.get_vars(host=host, include_hostvars=False)
        if hostvars.get("ansible_connection") != "local":
            continue
        try:
            value = Templar(loader=loader, variables=hostvars).template(
                hostvars.get("relrun_deadman_dir", DEFAULT_DIR)
            )
        except AnsibleError:
            continue  # a variable that needs a running play: nothing to read here
        if isinstance(value, str) and value.strip():
            found.add(Path(value.strip()))
    return sorted(found)


def incidents(inventory: Path) -> list[Incident]:
    """Fired leases whose revert has not succeeded, on this inventory's local hosts."""
    found: list[Incident] = []
    for directory in lease_dirs(inventory):
        for path in sorted(directory.glob("relrun-deadman-*.json")):
            try:
                lease = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(lease, dict) and lease.get("state") == "fired" and not lease.get(
                "reverted_at"
            ):
                found.append(Incident(path, lease))
    return found


def run_leases(
    inventory: Path, owner: str, envvars: dict[str, str] | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    """The leases a run (by its run id) held on this inventory's local hosts.

    Args:
        inventory: the run's inventory.
        owner: the run's id (``relrun_run_id``).
        envvars: the run's environment (a sandbox inventory finds its sandbox through
            ``RELRUN_SANDBOX_DIR``), applied while the inventory is read.

    Returns:
        ``(path, lease)`` of each lease file whose owner is ``owner``.
    """
    import os

    saved = {name: os.environ.get(name) for name in envvars or {}}
    os.environ.update(envvars or {})
    try:
        directories = lease_dirs(inventory)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    found: list[tuple[Path, dict[str, Any]]] = []
    for directory in directories:
        for path in sorted(directory.glob("relrun-deadman-*.json")):
            try:
                lease = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(lease, dict) and owner and lease.get("owner") == owner:
                found.append((path, lease))
    return found


def last_renewal(lease: dict[str, Any]) -> float | None:
    """When the lease was last renewed (or armed): its expiry less its length."""
    try:
        if lease.get("state") not in {"armed", "fired", "disarmed"} or "lease" not in lease:
            return None
        return float(lease["expires"]) - float(lease["lease"])
    except (KeyError, TypeError, ValueError):
        return None
