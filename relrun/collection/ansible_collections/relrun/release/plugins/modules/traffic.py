#!/usr/bin/python
"""Ansible module relrun.release.traffic: move traffic between stable and canary servers."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: traffic
short_description: Split, drain and switch traffic between stable and canary servers
description:
  - Talks to the router named by I(driver) and changes server weights and states, reading
    the router back until it confirms each change.
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
extends_documentation_fragment:
  - relrun.release.router
options:
  stable:
    description: Stable server names.
    type: list
    elements: str
    required: true
  canary:
    description: Canary server names.
    type: list
    elements: str
    required: true
  action:
    description: What to do. C(status) reads the servers back; C(preflight) also fails when a stable server is unknown to the router (run before the deploy).
    type: str
    required: true
    choices: [split, drain, switch, maint, ready, status, preflight]
  percent:
    description: Canary share of traffic for C(split).
    type: int
    default: 0
  timeout:
    description: Bound, in seconds, on waiting (C(drain), C(ready)).
    type: float
    default: 30
  health_path:
    description: Path each canary server must answer for C(ready).
    type: str
    default: /health
  owner:
    description: The run renewing the lease (relrun's run id); a lease another run owns is
      never extended.
    type: str
    default: ''
  lease_file:
    description: The dead man's switch lease to renew (see M(relrun.release.deadman)); a
      fired lease makes C(split) fail, and so does an operator's rollback request for this
      I(owner) (C(LEASE.control)), with a breach of reason C(signal) or C(manual), before
      anything moves.
    type: path
  health_status:
    description: Status the health path must answer for C(ready).
    type: int
    default: 200
  check_stable:
    description:
      - For C(drain) and C(switch), ask each stable server's I(health_path) directly first,
        and give traffic only to those answering I(health_status).
      - When none answers and a canary server does, change nothing and fail with
        C(stable_down), since moving traffic would take the service down.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Stage 2/Blue-Green 25%
  relrun.release.traffic:
    connection: {state_dir: /var/lib/relrun/sandbox}
    stable: [stable]
    canary: [canary]
    action: split
    percent: 25
"""

RETURN = r"""
servers:
  description: Every server as the router reported it after the change.
  returned: always
  type: dict
weights:
  description: Weights set by C(split).
  returned: when action is split
  type: dict
confirmed_at:
  description: Epoch seconds when the router confirmed the change.
  returned: when action is split or switch
  type: float
drained:
  description: Whether the canary's in-flight requests reached zero in time.
  returned: when action is drain
  type: bool
stable_unhealthy:
  description: Stable servers left without traffic, with why they failed their health check.
  returned: when action is drain or switch
  type: dict
stable_down:
  description: No stable server was healthy while the canary was; nothing was changed.
  returned: when drain or switch refused
  type: bool
module_seconds:
  description: How long the module's own work took (the lease, reading and changing the
    router), without Ansible's share of the task (the worker, the connection, the module's
    start); the task's duration minus this is that share.
  returned: success
  type: float
"""

import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (
    LeaseFired,
    LeaseTaken,
    RollbackRequested,
    parent_attached,
    renew,
)
from ansible_collections.relrun.release.plugins.module_utils.traffic.base import read_routing
from ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (
    ROUTER_NAMES,
    DriverError,
    make_driver,
)
from ansible_collections.relrun.release.plugins.module_utils.traffic.ops import (
    StableDown,
    apply_split,
    drain,
    maint,
    switch_to_stable,
    wait_ready,
)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "driver": {"type": "str", "default": "sandbox", "choices": list(ROUTER_NAMES)},
            "connection": {"type": "dict", "required": True},
            "stable": {"type": "list", "elements": "str", "required": True},
            "canary": {"type": "list", "elements": "str", "required": True},
            "action": {
                "type": "str",
                "required": True,
                "choices": ["split", "drain", "switch", "maint", "ready", "status", "preflight"],
            },
            "percent": {"type": "int", "default": 0},
            "timeout": {"type": "float", "default": 30},
            "health_path": {"type": "str", "default": "/health"},
            "health_status": {"type": "int", "default": 200},
            "lease_file": {"type": "path"},
            "owner": {"type": "str", "default": ""},
            "check_stable": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    started = time.monotonic()

    def took() -> float:
        return round(time.monotonic() - started, 4)

    if p["lease_file"] and not module.check_mode:
        try:
            # A shift is inside the rollout: an operator's rollback request stops it here,
            # before it moves anything, and the rescue rolls back (see the analysis module).
            renew(p["lease_file"], attached=parent_attached(os.getppid()), owner=p["owner"],
                  obey=p["action"] == "split")
        except RollbackRequested as request:
            module.fail_json(msg=f"rollback requested: {request}", breach=request.breach())
        except LeaseTaken as err:
            # Another run holds the backend: what is on it is theirs, not ours to move, not
            # even back to stable.
            module.fail_json(msg=str(err), lease_held=True)
        except LeaseFired as err:
            # Traffic went back to stable without us; never move it to the canary again.
            if p["action"] == "split":
                module.fail_json(msg=str(err), deadman_fired=True)
    try:
        driver = make_driver(p["driver"], p["connection"])
        if p["action"] == "status" or module.check_mode:
            module.exit_json(changed=False, servers=driver.servers(5), module_seconds=took())
        if p["action"] == "preflight":  # before the deploy: can we move traffic back?
            servers = read_routing(driver)
            missing = [name for name in p["stable"] if name not in servers]
            if missing:
                module.fail_json(
                    msg="the router does not know the stable server(s) "
                    + ", ".join(missing)
                    + ": nothing to fall back to",
                    servers=servers,
                )
            module.exit_json(changed=False, servers=servers, module_seconds=took())
        result: dict[str, Any]
        health = (p["health_path"], p["health_status"]) if p["check_stable"] else None
        if p["action"] == "split":
            result = apply_split(driver, p["stable"], p["canary"], p["percent"])
        elif p["action"] == "drain":
            result = drain(driver, p["stable"], p["canary"], p["timeout"], health)
        elif p["action"] == "ready":
            result = wait_ready(
                driver, p["canary"], p["health_path"], p["health_status"], p["timeout"]
            )
        elif p["action"] == "switch":
            result = switch_to_stable(driver, p["stable"], p["canary"], health)
        else:
            result = maint(driver, p["canary"])
    except StableDown as err:
        module.fail_json(msg=str(err), stable_down=True)
    except DriverError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=True, module_seconds=took(), **result)


if __name__ == "__main__":
    main()
