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
