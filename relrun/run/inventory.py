"""Read an Ansible inventory through Ansible itself, with clear errors on bad input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relrun.errors import InputError, Problem
from relrun.runbook.yamlpos import load_yaml, read_text


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


def load_inventory(path: Path | str) -> Inventory:
    """Parse an inventory file.

    YAML inventories are first read by relrun's positioned loader, so syntax errors and
    duplicate keys get a line and column; Ansible then resolves groups and hosts.

    Args:
        path: an inventory file (YAML or INI).

    Returns:
        The inventory's groups (each with its hosts, children included).

    Raises:
        InputError: the file is missing, unreadable, or Ansible cannot parse it.
    """
    shown = str(path)
    file = Path(path)
    text = read_text(file, shown)
    if file.suffix in {".yml", ".yaml"}:
        located = load_yaml(text, shown)
        if not isinstance(located.data, dict):
            raise InputError([Problem(shown, 1, 1, "an inventory must be a mapping of groups")])
    # Imported here: loading Ansible's inventory machinery costs ~0.3 s.
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    try:
        manager = InventoryManager(loader=DataLoader(), sources=[str(file.resolve())])
    except AnsibleError as err:
        raise InputError([Problem(shown, 1, 1, f"invalid inventory: {err.message}")]) from None
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
