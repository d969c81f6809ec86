#!/usr/bin/python
"""Ansible module relrun.release.analysis: watch the canary during a bake, fail on a breach."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: analysis
short_description: Watch canary error rate, latency and health; fail the moment a threshold breaks
description:
  - Samples the router's statistics every I(interval) seconds for I(duration) seconds and
    probes each canary server's health path. Fails as soon as I(consecutive_breaches)
    samples in a row breach a threshold, returning the observed values and the threshold.
  - With I(target=stable), checks the stable servers instead (before a stage, and in the
    rollback's verify step).
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author: relrun developers
options:
  driver: {description: The router kind., type: str, default: sandbox, choices: [sandbox, haproxy]}
  connection: {description: "Driver settings from inventory (sandbox: state_dir; haproxy: socket, backend, history_dir, timeout).", type: dict, required: true}
  servers: {description: Servers to judge., type: list, elements: str, required: true}
  target: {description: Which side is judged (for messages)., type: str, default: canary, choices: [canary, stable]}
  stage: {description: Stage name (for messages)., type: str, default: ""}
  duration: {description: How long to watch (seconds)., type: float, required: true}
  interval: {description: Seconds between samples., type: float, default: 1}
  window: {description: Seconds each sample covers., type: float, default: 5}
  min_requests: {description: Fewer requests in a window is no data., type: int, default: 5}
  max_error_rate: {description: Breach above this error share., type: float, default: 0.05}
  max_p95_ms: {description: Breach above this p95 latency., type: float, default: 5000}
  no_data: {description: What a sample without data is., type: str, default: wait, choices: [wait, fail]}
  consecutive_breaches: {description: Breaching samples in a row that trigger., type: int, default: 1}
  health_path: {description: Path probed on each server; empty to skip., type: str, default: /health}
  lease_file: {description: Dead man's switch lease renewed at every sample (see M(relrun.release.deadman))., type: path}
  owner: {description: The run renewing the lease; a lease another run owns is never extended., type: str, default: ''}
"""

EXAMPLES = r"""
- name: Analysis of stage 2
  relrun.release.analysis:
    connection: {state_dir: /var/lib/relrun/sandbox}
    servers: [canary]
    duration: 30
"""

RETURN = r"""
samples:
  description: Every sample taken (time, requests, error_rate, p95_ms, health).
  returned: always
  type: list
breach:
  description: The breach that failed the task (reason, observed, threshold, at).
  returned: on failure
  type: dict
"""

import os
from collections.abc import Callable

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.analysis_core import Thresholds, watch
from ansible_collections.relrun.release.plugins.module_utils.deadman import (
    LeaseFired,
    LeaseTaken,
    parent_attached,
    renew,
)
from ansible_collections.relrun.release.plugins.module_utils.traffic_drivers import (
    ROUTER_NAMES,
    DriverError,
    make_provider,
)


def _keepalive(lease_file: str | None, owner: str) -> Callable[[], None] | None:
    """Renew the dead man's switch at every sample, while our Ansible parent is alive."""
    if not lease_file:
        return None
    parent = os.getppid()

    def renew_lease() -> None:
        renew(lease_file, attached=parent_attached(parent), owner=owner)

    return renew_lease


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "driver": {"type": "str", "default": "sandbox", "choices": list(ROUTER_NAMES)},
            "connection": {"type": "dict", "required": True},
            "servers": {"type": "list", "elements": "str", "required": True},
            "target": {"type": "str", "default": "canary", "choices": ["canary", "stable"]},
            "stage": {"type": "str", "default": ""},
            "duration": {"type": "float", "required": True},
            "interval": {"type": "float", "default": 1},
            "window": {"type": "float", "default": 5},
            "min_requests": {"type": "int", "default": 5},
            "max_error_rate": {"type": "float", "default": 0.05},
            "max_p95_ms": {"type": "float", "default": 5000},
            "no_data": {"type": "str", "default": "wait", "choices": ["wait", "fail"]},
            "consecutive_breaches": {"type": "int", "default": 1},
            "health_path": {"type": "str", "default": "/health"},
            "lease_file": {"type": "path"},
            "owner": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, samples=[])
    thresholds = Thresholds(
        max_error_rate=p["max_error_rate"],
        max_p95_ms=p["max_p95_ms"],
        min_requests=p["min_requests"],
        no_data=p["no_data"],
        consecutive=p["consecutive_breaches"],
    )
    try:
        driver = make_provider(p["driver"], p["connection"])
        outcome = watch(
            driver,
            p["servers"],
            thresholds,
            p["duration"],
            p["interval"],
            p["window"],
            p["health_path"],
            keepalive=_keepalive(p["lease_file"], p["owner"]),
        )
    except LeaseTaken as err:  # another run holds the backend: stop, touch nothing
        module.fail_json(msg=str(err), samples=[], lease_held=True)
    except LeaseFired as err:
        module.fail_json(
            msg=str(err),
            samples=[],
            breach={"reason": "deadman", "observed": None, "threshold": None,
                    "message": str(err)},
        )
    except DriverError as err:
        module.fail_json(
            msg=f"analysis could not read the router: {err}",
            samples=[],
            breach={"reason": "router_unreachable", "observed": None, "threshold": None},
        )
    breach = outcome["breach"]
    if breach is not None:
        where = f" at stage {p['stage']}" if p["stage"] else ""
        module.fail_json(
            msg=f"{p['target']} breach{where}: {breach['message']}",
            samples=outcome["samples"],
            breach=breach,
        )
    module.exit_json(changed=False, samples=outcome["samples"], breach=None)


if __name__ == "__main__":
    main()
