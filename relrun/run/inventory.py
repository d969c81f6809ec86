"""Read an Ansible inventory through Ansible itself, with clear errors on bad input."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.errors import InputError, Problem, printable
from relrun.runbook.yamlpos import load_yaml, read_text

MAX_INVENTORY_BYTES = 4 << 20
"""The largest inventory file relrun reads (4 MiB: some ten thousand hosts with variables)."""

# Ansible's own YAML tags: an encrypted value and a value never templated. Ansible
# constructs them; relrun's positioned pre-read keeps them as text.
ANSIBLE_TAGS = frozenset({"!vault", "!unsafe"})


@dataclass(frozen=True)
class Inventory:
    """An inventory source and the groups and hosts Ansible found in it."""

    path: Path
    groups: dict[str, list[str]] = field(default_factory=dict)
    # host -> the canary servers it runs (inventory variable relrun_canary_servers)
    canary_servers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        """Every host, sorted."""
        return sorted({h for hosts in self.groups.values() for h in hosts})


def load_inventory(path: Path | str, run_scripts: bool = True) -> Inventory:
    """Parse an inventory file.

    YAML inventories are first read by relrun's positioned loader, so syntax errors and
    duplicate keys get a line and column; Ansible then resolves groups and hosts.

    Args:
        path: an inventory file (YAML or INI).
        run_scripts: let Ansible execute an executable inventory (a dynamic inventory
            script), as the run itself will. ``relrun validate`` passes False: checking
            files must never run one.

    Returns:
        The inventory's groups (each with its hosts, children included).

    Raises:
        InputError: the file is missing, unreadable, or Ansible cannot parse it.
    """
    shown = str(path)
    file = Path(path)
    text = read_text(file, shown, MAX_INVENTORY_BYTES)
    if file.suffix in {".yml", ".yaml"}:
        located = load_yaml(text, shown, text_tags=ANSIBLE_TAGS)
        if not isinstance(located.data, dict):
            raise InputError([Problem(shown, 1, 1, "an inventory must be a mapping of groups")])
    # Imported here: loading Ansible's inventory machinery costs ~0.3 s.
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    class _Manager(InventoryManager):  # type: ignore[misc]
        def _fetch_inventory_plugins(self) -> list[Any]:
            plugins: list[Any] = super()._fetch_inventory_plugins()
            if run_scripts:
                return plugins
            return [p for p in plugins if getattr(p, "NAME", "") != "script"]

    said = io.StringIO()
    try:
        # Ansible's warnings quote group and host names as written: shown escaped.
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            manager = _Manager(loader=DataLoader(), sources=[str(file.resolve())])
    except AnsibleError as err:
        raise InputError([Problem(shown, 1, 1, f"invalid inventory: {err.message}")]) from None
    finally:
        if said.getvalue():
            sys.stderr.write(printable(said.getvalue(), keep_newlines=True))
    if not run_scripts and os.access(file, os.X_OK) and not manager.hosts:
        raise InputError(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "is an executable inventory script: relrun validate does not run it; "
                    "validate without -i, or with a static inventory",
                )
            ]
        )
    if not manager.hosts and not manager.groups.keys() - {"all", "ungrouped"}:
        raise InputError([Problem(shown, 1, 1, "Ansible found no hosts and no groups in it")])
    groups = {
        name: sorted(h.name for h in group.get_hosts()) for name, group in manager.groups.items()
    }
    canary: dict[str, list[str]] = {}
    for host in manager.get_hosts():
        servers = host.vars.get("relrun_canary_servers")
        if isinstance(servers, list) and all(isinstance(s, str) for s in servers):
            canary[host.name] = list(servers)
    return Inventory(path=file.resolve(), groups=groups, canary_servers=canary)
