#!/usr/bin/python
"""Ansible module relrun.release.fault: inject a drill's fault into the demo API's canary."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fault
short_description: Inject (or clear) a drill fault in a relrun demo API server
description:
  - For C(error_rate) and C(latency), calls the demo API's admin fault endpoint; for
    C(crash), kills the server process with SIGKILL (after checking the pid is that server).
  - The server is found through the relrun sandbox state directory of the host (its
    announcement file and admin token), which exists wherever relrun's demo API runs.
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  state_dir: {description: The sandbox state directory on the host., type: path, required: true}
  servers: {description: Server names (e.g. C(canary)); those not running on this host are skipped., type: list, elements: str, required: true}
  kind: {description: The fault., type: str, required: true, choices: [error_rate, latency, crash, none, clear]}
  value: {description: Error share (0-1) or latency in milliseconds., type: float, default: 0}
"""

EXAMPLES = r"""
- name: Drill fault
  relrun.release.fault:
    state_dir: /var/lib/relrun/sandbox
    servers: [canary]
    kind: error_rate
    value: 0.5
"""

RETURN = r"""
hit:
  description: The servers on this host the fault was injected into.
  returned: always
  type: list
injected_at:
  description: Epoch seconds when the fault took effect.
  returned: always
  type: float
"""

import json
import os
import signal
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _post_fault(port: int, token: str, body: dict[str, float]) -> None:
    with open_url(
        f"http://127.0.0.1:{port}/admin/fault",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Admin-Token": token},
        timeout=5,
        use_proxy=False,
    ) as response:
        response.read()


def _crash(pid: int) -> None:
    try:
        cmdline = _read(f"/proc/{pid}/cmdline").replace("\0", " ")
    except OSError:
        return  # already gone: the fault is in effect
    if "relrun.sandbox.api" not in cmdline:
        raise ValueError(f"pid {pid} is not a relrun demo API server; refusing to kill it")
    os.kill(pid, signal.SIGKILL)


def _inject(state_dir: str, announced: dict[str, Any], kind: str, value: float) -> None:
    if kind == "crash":
        _crash(int(announced["pid"]))
        return
    token = _read(os.path.join(state_dir, "secrets", "admin.token")).strip()
    body: dict[str, float] = {"error_rate": 0.0, "latency_ms": 0}
    if kind == "error_rate":
        body["error_rate"] = value
    elif kind == "latency":
        body["latency_ms"] = int(value)
    _post_fault(int(announced["port"]), token, body)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "state_dir": {"type": "path", "required": True},
            "servers": {"type": "list", "elements": "str", "required": True},
            "kind": {
                "type": "str",
                "required": True,
                "choices": ["error_rate", "latency", "crash", "none", "clear"],
            },
            "value": {"type": "float", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode or p["kind"] == "none":
        module.exit_json(changed=False, hit=[], injected_at=time.time())
    hit: list[str] = []
    for server in p["servers"]:
        path = os.path.join(p["state_dir"], "servers", f"{server}.json")
        if not os.path.exists(path):
            continue
        try:
            _inject(p["state_dir"], json.loads(_read(path)), p["kind"], p["value"])
        except (OSError, ValueError, KeyError) as err:
            module.fail_json(msg=f"could not inject {p['kind']} into {server}: {err}", hit=hit)
        hit.append(server)
    if not hit:
        module.fail_json(msg=f"none of {', '.join(p['servers'])} runs on this host", hit=hit)
    module.exit_json(changed=True, hit=hit, injected_at=time.time())


if __name__ == "__main__":
    main()
