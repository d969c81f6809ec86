"""Every shipped inventory defines what the flagship playbook needs from an inventory.

The README's promise: ``runbooks/release-v2.yml`` releases and drills on the sandbox, behind
HAProxy and on the SSH fleet with no change but the inventory. That holds only if each
inventory defines every ``relrun_*`` variable the committed playbook uses without a
``default(...)``, for the hosts that use it: a play's variables on the play's hosts,
``hostvars[item][...]`` on the hosts of the task's ``loop: groups[...]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from jinja2 import nodes

from relrun.sandbox import haproxy
from relrun.testenv.inventory import SshSettings, inventory_data
from tests.helpers import ROOT

FLAGSHIP = ROOT / "playbooks" / "release-v2.yml"
# Extra variables relrun passes to every run (relrun/workflows/release.py), not inventory's.
FROM_RELRUN = {"relrun_launch_dir", "relrun_drill"}
CONDITIONALS = {"when", "failed_when", "changed_when", "until"}
_LOOP_GROUP = re.compile(r"^\{\{ groups\['([A-Za-z0-9_]+)'\] \}\}$")
_ENV = jinja2.Environment()


class UnsafeText(str):
    """A ``!unsafe`` string: never templated by Ansible, so it references nothing."""


class PlaybookLoader(yaml.SafeLoader):
    pass


PlaybookLoader.add_constructor(
    "!unsafe", lambda load, node: UnsafeText(load.construct_scalar(node))
)


def _unguarded(expression: str) -> Iterator[tuple[str, str]]:
    """``("var", name)`` and ``("hostvars", name)`` references with no default."""
    tree = _ENV.parse(expression)
    tested = {
        test.node.name
        for test in tree.find_all(nodes.Test)
        if test.name in {"defined", "undefined"} and isinstance(test.node, nodes.Name)
    }

    def walk(node: nodes.Node) -> Iterator[tuple[str, str]]:
        if isinstance(node, nodes.Filter) and node.name == "default":
            children: list[nodes.Node] = [*node.args, *node.kwargs]
        elif isinstance(node, nodes.Test) and node.name in {"defined", "undefined"}:
            children = []
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.node, nodes.Getitem)
            and isinstance(node.node.node, nodes.Name)
            and node.node.node.name == "hostvars"
            and isinstance(node.arg, nodes.Const)
        ):
            yield "hostvars", str(node.arg.value)
            children = []
        else:
            if isinstance(node, nodes.Name) and node.name not in tested:
                yield "var", node.name
            children = list(node.iter_child_nodes())
        for child in children:
            yield from walk(child)

    yield from walk(tree)


def _strings(value: Any, key: str = "") -> Iterator[str]:
    """The templated strings in a task's value (conditionals as ``{{ expression }}``)."""
    if isinstance(value, UnsafeText):
        return
    if isinstance(value, str):
        yield "{{ " + value + " }}" if key in CONDITIONALS else value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def _tasks(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        if "block" in task:
            yield {k: v for k, v in task.items() if k not in {"block", "rescue", "always"}}
            for section in ("block", "rescue", "always"):
                yield from _tasks(task.get(section) or [])
        else:
            yield task


def required_variables(playbook: Path) -> set[tuple[str, str]]:
    """``(group, variable)``: each host of the group must define the variable."""
    plays = yaml.load(playbook.read_text(encoding="utf-8"), Loader=PlaybookLoader)
    defined = set(FROM_RELRUN)
    for play in plays:
        defined |= set(play.get("vars") or {})
        for task in _tasks(play["tasks"]):
            if "register" in task:
                defined.add(task["register"])
            defined |= set(task.get("ansible.builtin.set_fact") or {})
            defined |= set(task.get("vars") or {})  # a task's own variables
    needed: set[tuple[str, str]] = set()
    for play in plays:
        for task in _tasks(play["tasks"]):
            loop = _LOOP_GROUP.match(str(task.get("loop", "")))
            for text in _strings(task):
                for kind, name in _unguarded(text):
                    if not name.startswith("relrun_") or name in defined:
                        continue
                    if kind == "hostvars":
                        assert loop, f"hostvars[...]['{name}'] outside a loop over a group"
                        needed.add((loop.group(1), name))
                    else:
                        needed.add((_play_group(play["hosts"]), name))
    return needed


def _play_group(hosts: str) -> str:
    """The group pattern of a play's hosts; a template (``{{ groups['a'] + groups['b'] if
    … else [] }}``, a play that runs only in some phase of the rollout) names its groups."""
    if "{{" not in hosts:
        return hosts
    return ":".join(re.findall(r"groups\['([^']+)'\]", hosts.split(" if ")[0]))


def missing_variables(inventory: Path, needed: set[tuple[str, str]]) -> list[str]:
    """``host: variable`` for each needed variable a host of the group lacks."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=manager)
    missing = []
    for group, name in sorted(needed):
        hosts = manager.get_hosts(pattern=group)
        assert hosts, f"{inventory}: no host in group {group}"
        for host in hosts:
            if variables.get_vars(host=host).get(name) is None:
                missing.append(f"{host.name} ({group}): {name}")
    return missing


def _haproxy_sandbox(tmp_path: Path) -> Path:
    state = tmp_path / "sandbox"
    state.mkdir()
    # What `relrun.sandbox.haproxy serve` announces once HAProxy answers.
    announced = {"pid": 1, "port": 8080, "socket": str(state / "haproxy.sock"), "backend": "api"}
    (state / "haproxy.json").write_text(json.dumps(announced), encoding="utf-8")
    return _dump(tmp_path, haproxy.inventory(state, tmp_path / "history"))


def _fleet(tmp_path: Path) -> Path:
    hosts = tmp_path / "hosts"
    data = inventory_data(
        lb_address="10.231.1.2",
        apps={
            "app-1": ("10.231.1.11", hosts / "app-1" / "state"),
            "app-2": ("10.231.1.12", hosts / "app-2" / "state"),
        },
        ssh=SshSettings(tmp_path / "id_ed25519", tmp_path / "known_hosts", tmp_path / "cp"),
        haproxy_socket=hosts / "lb-1" / "admin.sock",
        history_dir=hosts / "lb-1" / "history",
        module_python="/usr/bin/python3",
        relrun_python="/opt/relrun/.venv/bin/python",
    )
    return _dump(tmp_path, data)


def _dump(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


SHIPPED = [*sorted((ROOT / "inventories").glob("*.yml")), ROOT / "relrun/sandbox/inventory.yml"]


def test_the_flagship_needs_inventory_variables() -> None:
    """The parser finds what the playbook takes from the inventory (or this test is blind)."""
    needed = required_variables(FLAGSHIP)
    assert {
        ("build", "relrun_source_dir"),
        ("canary", "relrun_service_ctl"),
        ("canary", "relrun_sandbox_state_dir"),
        ("router", "relrun_canary_url"),
        ("router", "relrun_stable_url"),
        ("router", "relrun_api_credentials_file"),
    } <= needed
    names = {name for _, name in needed}
    # Defaulted, registered, play variables and relrun's extra variables are not needed.
    assert not names & {
        "relrun_traffic_driver",
        "relrun_haproxy_socket",
        "relrun_deadman_dir",
        "relrun_rollback_failed",
        "relrun_checks_gate",
        "relrun_runbook",
        "relrun_drill",
        "relrun_launch_dir",
    }


SHOP = ROOT / "playbooks" / "shop.yml"


def _playbook_for(inventory: Path) -> Path:
    """The shop's inventories serve the shop's runbook; every other one the flagship."""
    return SHOP if inventory.name.startswith("shop-") else FLAGSHIP


@pytest.mark.parametrize("inventory", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_inventory_defines_what_its_playbook_needs(inventory: Path) -> None:
    missing = missing_variables(inventory, required_variables(_playbook_for(inventory)))
    assert not missing, "undefined: " + ", ".join(missing)


def test_the_shop_needs_inventory_variables() -> None:
    """The shop's playbook asks the inventory for its service control (or this is blind)."""
    assert ("canary", "relrun_service_ctl") in required_variables(SHOP)


@pytest.mark.parametrize("generate", [_haproxy_sandbox, _fleet], ids=["haproxy-sandbox", "fleet"])
def test_generated_inventory_defines_what_the_flagship_needs(generate: Any, tmp_path: Path) -> None:
    missing = missing_variables(generate(tmp_path), required_variables(FLAGSHIP))
    assert not missing, "undefined: " + ", ".join(missing)
