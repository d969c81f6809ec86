"""The operators' verbs on a router host reached over SSH: delivered by Ansible itself.

``relrun pause``, ``resume``, ``promote``, ``abort`` and ``relrun status`` reach a release
through the files beside its dead man's switch lease. On a router host on a local
connection relrun reads and writes them directly (:mod:`relrun.workflows.gates`); on one
reached over SSH it runs one short play of the collection's ``relrun.release.gate``
module there, through :mod:`relrun.run.runner` (the project's collection path, SSH
settings and redaction), which lists the live leases with their gate state or writes the
request atomically beside them and returns the state after it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.errors import InputError
from relrun.run.events import Event, EventBus, TaskResult
from relrun.run.runner import RunSpec, run_playbook

ROUTER_GROUP = "router"
MODULE = "relrun.release.gate"


@dataclass(frozen=True)
class RemoteLease:
    """A live lease on a remote router host, as its ``relrun.release.gate`` task saw it."""

    host: str
    path: str
    lease: dict[str, Any]
    gate: dict[str, Any]

    @property
    def owner(self) -> str:
        """The run that holds it."""
        return str(self.lease.get("owner") or "")


def remote_routers(inventory: Path) -> list[str]:
    """The router hosts whose lease files relrun cannot open itself.

    Those of the inventory's ``router`` group on a connection other than ``local``.
    """
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=manager)
    group = manager.groups.get(ROUTER_GROUP)
    if group is None:
        return []
    return sorted(
        h.name for h in group.get_hosts()
        if variables.get_vars(host=h, include_hostvars=False).get("ansible_connection")
        != "local"
    )


def _playbook(hosts: list[str], args: dict[str, Any]) -> str:
    task = {
        "name": f"relrun {args['action']}: beside the dead man's switch lease",
        MODULE: {**args, "dir": "{{ relrun_deadman_dir | default('/tmp/relrun-deadman') }}"},
    }
    play = {"name": "relrun gate", "hosts": ",".join(hosts), "gather_facts": False,
            "tasks": [task]}
    return json.dumps([play], indent=1)  # JSON is YAML, and quotes every value


def run_gate(
    inventory: Path, hosts: list[str], action: str, owner: str = "", by: str = "",
    reason: str = "", scope: str = "stage",
) -> list[RemoteLease]:
    """Run ``relrun.release.gate`` once on the remote router hosts.

    Returns:
        The live leases there (of ``owner`` when given), after the request.

    Raises:
        InputError: a router host could not be reached, the module failed there, or it
            refused the request (exit 2); nothing is asked of a run on a host that failed.
    """
    args = {"action": action, "owner": owner, "by": by, "reason": reason, "scope": scope}
    results: list[TaskResult] = []

    def collect(event: Event) -> None:
        if isinstance(event, TaskResult) and event.action.endswith("gate"):
            results.append(event)

    with tempfile.TemporaryDirectory(prefix="relrun-gate-") as scratch:
        outcome = run_playbook(
            # Absolute: ansible-runner runs from its private data directory.
            RunSpec(label="gate", playbook_text=_playbook(hosts, args),
                    inventory=inventory.resolve(),
                    run_dir=Path(scratch), forks=max(1, len(hosts)), timeout=120),
            EventBus([collect]),
        )
    found: list[RemoteLease] = []
    problems: list[str] = []
    for result in results:
        res = result.result
        if result.status == "unreachable":
            problems.append(f"router host {result.host} is unreachable: "
                            f"{str(res.get('msg') or '').strip() or 'no answer'}")
            continue
        if result.status == "failed":
            refused = str(res.get("refused") or "")
            problems.append(
                f"on router host {result.host}, run {owner} {refused}" if refused
                else f"on router host {result.host}: {res.get('msg') or 'the gate task failed'}"
            )
            continue
        for item in res.get("leases") or []:
            found.append(RemoteLease(result.host, str(item.get("path") or ""),
                                     dict(item.get("lease") or {}), dict(item.get("gate") or {})))
    missed = sorted(set(hosts) - {r.host for r in results})
    if missed:
        problems.append(f"the gate play did not reach router host(s) {', '.join(missed)} "
                        f"(it ended {outcome.status}, rc {outcome.rc})")
    if problems:
        doing = (f"reading the leases on the router hosts of {inventory}" if action == "status"
                 else f"relrun {action} through {inventory}")
        raise InputError(f"{doing}: " + "; ".join(problems) + " (nothing was asked)")
    return found
