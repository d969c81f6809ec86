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

# Where an inventory file names a host or group: line, column, dotted path.
Place = tuple[int, int, str]
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
    # host -> the names of every variable Ansible sees for it (inventory, group_vars, ...)
    variables: dict[str, frozenset[str]] = field(default_factory=dict)
    # host or group -> where the inventory file names it: (line, column, dotted path)
    places: dict[str, Place] = field(default_factory=dict)
    shown: str = ""

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
    places: dict[str, Place] = {}
    if file.suffix in {".yml", ".yaml"}:
        located = load_yaml(text, shown, text_tags=ANSIBLE_TAGS)
        if not isinstance(located.data, dict):
            raise InputError([Problem(shown, 1, 1, "an inventory must be a mapping of groups")])
        places = _yaml_places(located.positions)
    else:
        places = _ini_places(text)
    # Imported here: loading Ansible's inventory machinery costs ~0.3 s.
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    class _Manager(InventoryManager):  # type: ignore[misc]
        def _fetch_inventory_plugins(self) -> list[Any]:
            plugins: list[Any] = super()._fetch_inventory_plugins()
            if run_scripts:
                return plugins
            return [p for p in plugins if getattr(p, "NAME", "") != "script"]

    loader = DataLoader()
    said = io.StringIO()
    try:
        # Ansible's warnings quote group and host names as written: shown escaped.
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            manager = _Manager(loader=loader, sources=[str(file.resolve())])
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
    variables: dict[str, frozenset[str]] = {}
    var_manager = VariableManager(loader=loader, inventory=manager)
    for host in manager.get_hosts():
        try:
            names = var_manager.get_vars(host=host, include_hostvars=False).keys()
        except AnsibleError as err:
            raise InputError([Problem(shown, 1, 1, f"invalid inventory: {err.message}")]) from None
        variables[host.name] = frozenset(str(n) for n in names)
        servers = host.vars.get("relrun_canary_servers")
        if isinstance(servers, list) and all(isinstance(s, str) for s in servers):
            canary[host.name] = list(servers)
    return Inventory(
        path=file.resolve(),
        groups=groups,
        canary_servers=canary,
        variables=variables,
        places=places,
        shown=shown,
    )


def missing_variables(inventory: Inventory, needs: dict[str, dict[str, str]]) -> list[Problem]:
    """Every variable a group's hosts must define and one of them does not.

    Args:
        inventory: the loaded inventory.
        needs: ``{group: {variable: task that uses it}}`` (see
            :func:`relrun.render.needs.inventory_needs`).

    Returns:
        One problem per host and variable, positioned at the host in the inventory file
        (or at its group, or at the top when the file does not name it, e.g. a plugin).
    """
    problems: list[Problem] = []
    for group, wanted in needs.items():
        for host in inventory.groups.get(group, []):
            have = inventory.variables.get(host, frozenset())
            for variable, task in wanted.items():
                if variable in have:
                    continue
                line, column, path = inventory.places.get(
                    host, inventory.places.get(group, (1, 1, ""))
                )
                message = (
                    f"host {host!r} (group {group!r}) has no variable {variable!r}, "
                    f"which task {task!r} needs"
                )
                problems.append(Problem(inventory.shown, line, column, message, path))
    return problems


def _yaml_places(positions: dict[tuple[Any, ...], tuple[int, int]]) -> dict[str, Place]:
    places: dict[str, Place] = {}
    # Shortest paths first: a host's first mention is where it is defined.
    for path in sorted(positions, key=len):
        if not path or not all(isinstance(p, str) for p in path):
            continue
        name = str(path[-1])
        is_host = len(path) >= 2 and path[-2] == "hosts"
        is_group = len(path) == 1 or (len(path) >= 2 and path[-2] == "children")
        if (is_host or is_group) and name not in places:
            line, column = positions[path]
            places[name] = (line, column, ".".join(str(p) for p in path))
    return places


def _ini_places(text: str) -> dict[str, Place]:
    places: dict[str, Place] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and "]" in line:
            group = line[1 : line.index("]")].split(":")[0]
            places.setdefault(group, (number, raw.index("[") + 2, group))
            continue
        name = line.split()[0]
        places.setdefault(name, (number, raw.index(name) + 1, name))
    return places
