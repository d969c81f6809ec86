#!/usr/bin/python
"""Ansible module relrun.release.fault: inject (or revert) a drill's fault."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fault
short_description: Inject or revert a relrun drill fault, for any application
description:
  - C(via=traffic) (the default) breaks the canary from outside, at the router that sends it
    traffic (the sandbox router, or HAProxy through its runtime API and relrun's fault map);
    C(error_rate) answers that share of the requests routed to the canary servers with
    C(status), C(latency) delays each of them, C(abort) closes that share of connections
    without an answer. Runs on the router host. No change to the application.
  - C(via=app) asks relrun's demo API itself (its admin fault endpoint), through the
    host's sandbox state directory.
  - C(crash) runs the host's service control, C(SERVICE_CTL crash SERVICE), which must kill
    the service as a crash would; C(command) runs the runbook's own inject commands.
  - C(action=revert) undoes the fault (idempotent); the traffic fault is cleared, the demo
    API's fault removed if it still runs, the runbook's revert commands run.
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  action: {description: Inject or revert., type: str, default: inject, choices: [inject, revert]}
  kind: {description: The fault., type: str, required: true, choices: [error_rate, latency, abort, crash, command, none, clear]}
  value: {description: Error or abort share (0-1) or latency in milliseconds., type: float, default: 0}
  status: {description: HTTP status of injected errors., type: int, default: 503}
  via: {description: Where error_rate and latency are injected., type: str, default: traffic, choices: [traffic, app]}
  servers: {description: Canary server names (the router's or HAProxy's)., type: list, elements: str, required: true}
  driver: {description: "The traffic driver whose fault injector is used, for via=traffic (C(sandbox) or C(haproxy)).", type: str, default: sandbox}
  connection: {description: The driver's connection settings., type: dict, default: {}}
  state_dir: {description: "The sandbox state directory on the host, for via=app.", type: path, default: ""}
  service_ctl: {description: "The host's service-control command line, for crash.", type: str, default: ""}
  service: {description: The service name given to the service control., type: str, default: canary}
  service_env: {description: Environment of the service control (the deploy steps')., type: dict, default: {}}
  commands: {description: "Commands of a C(command) fault: argv or shell, env, chdir, timeout.", type: list, elements: dict, default: []}
"""

EXAMPLES = r"""
- name: Drill fault
  relrun.release.fault:
    kind: error_rate
    value: 0.5
    status: 503
    servers: [canary]
    driver: haproxy
    connection: {socket: /run/haproxy/admin.sock, backend: api}
"""

RETURN = r"""
hit:
  description: What the fault was injected into (servers, or the service).
  returned: always
  type: list
injected_at:
  description: Epoch seconds when the fault took effect.
  returned: always
  type: float
"""

import json
import os
import shlex
import subprocess
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.relrun.release.plugins.module_utils.fault.registry import (
    FaultSpec,
    make_injector,
)
from ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import DriverError

TRAFFIC_KINDS = ("error_rate", "latency", "abort")


class FaultError(Exception):
    """The fault could not be injected or reverted; the message says why."""


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _spec(kind: str, value: float, status: int) -> FaultSpec:
    if kind == "error_rate":
        return FaultSpec(error_rate=value, status=status)
    if kind == "latency":
        return FaultSpec(latency_ms=int(value))
    return FaultSpec(abort_rate=value)


def _traffic(p: dict[str, Any], revert: bool) -> list[str]:
    try:
        injector = make_injector(p["driver"], p["connection"] or {})
        for server in p["servers"]:
            if revert:
                injector.clear(server)
            else:
                injector.inject(server, _spec(p["kind"], p["value"], p["status"]))
    except DriverError as err:
        raise FaultError(str(err)) from None
    return list(p["servers"])


def _demo_api(p: dict[str, Any], revert: bool) -> list[str]:
    """The demo API's own fault endpoint (via=app), for servers announced on this host."""
    state_dir = p["state_dir"]
    if not state_dir:
        raise FaultError("via=app needs relrun_sandbox_state_dir on the canary hosts")
    hit: list[str] = []
    for server in p["servers"]:
        path = os.path.join(state_dir, "servers", f"{server}.json")
        if not os.path.exists(path):
            continue
        body: dict[str, float] = {"error_rate": 0.0, "latency_ms": 0}
        if not revert and p["kind"] == "error_rate":
            body["error_rate"] = p["value"]
        elif not revert and p["kind"] == "latency":
            body["latency_ms"] = int(p["value"])
        try:
            port = int(json.loads(_read(path))["port"])
            token = _read(os.path.join(state_dir, "secrets", "admin.token")).strip()
            # The demo API's admin endpoint is on this host: never through a proxy.
            with open_url(
                f"http://127.0.0.1:{port}/admin/fault",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json", "X-Admin-Token": token},
                timeout=5,
                use_proxy=False,
            ) as response:
                response.read()
        except (OSError, ValueError, KeyError) as err:
            if revert:
                continue  # the server is gone: so is its fault
            raise FaultError(f"{server} has no demo API fault endpoint ({err})") from None
        hit.append(server)
    if not hit and not revert:
        raise FaultError(
            f"none of {', '.join(p['servers'])} runs relrun's demo API on this host "
            "(via: app needs it; via: traffic works for any application)"
        )
    return hit


def _run(argv: list[str] | str, env: dict[str, str], chdir: str | None, timeout: float) -> None:
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        done = subprocess.run(
            argv,
            shell=isinstance(argv, str),
            cwd=chdir or None,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FaultError(f"{_show(argv)} timed out after {timeout:g}s") from None
    except OSError as err:
        raise FaultError(f"{_show(argv)}: {err}") from None
    if done.returncode != 0:
        tail = done.stdout.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise FaultError(
            f"{_show(argv)} exit code {done.returncode}" + (": " + " | ".join(tail) if tail else "")
        )


def _show(argv: list[str] | str) -> str:
    return argv if isinstance(argv, str) else shlex.join(argv)


def _crash(p: dict[str, Any]) -> list[str]:
    if not p["service_ctl"]:
        raise FaultError("crash needs relrun_service_ctl on the canary hosts (its `crash NAME`)")
    env = {str(k): str(v) for k, v in (p["service_env"] or {}).items()}
    _run([*shlex.split(p["service_ctl"]), "crash", p["service"]], env, None, 30)
    return [p["service"]]


def _commands(p: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for command in p["commands"]:
        argv = command.get("argv") or command.get("shell")
        if not argv:
            raise FaultError("a fault command needs argv or shell")
        env = {str(k): str(v) for k, v in (command.get("env") or {}).items()}
        _run(argv, env, command.get("chdir"), float(command.get("timeout") or 60))
        names.append(str(command.get("name") or _show(argv)))
    return names


def apply(p: dict[str, Any]) -> list[str]:
    """Inject or revert the fault; return what it hit.

    Raises:
        FaultError: why it could not.
    """
    kind, revert = p["kind"], p["action"] == "revert" or p["kind"] == "clear"
    if kind == "clear":
        kind = "error_rate"
        p = {**p, "kind": kind}
    if kind == "command":
        return _commands(p)
    if kind == "crash":
        return [] if revert else _crash(p)
    if kind in TRAFFIC_KINDS and (p["via"] == "traffic" or kind == "abort"):
        return _traffic(p, revert)
    return _demo_api(p, revert)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "default": "inject", "choices": ["inject", "revert"]},
            "kind": {
                "type": "str",
                "required": True,
                "choices": ["error_rate", "latency", "abort", "crash", "command", "none", "clear"],
            },
            "value": {"type": "float", "default": 0},
            "status": {"type": "int", "default": 503},
            "via": {"type": "str", "default": "traffic", "choices": ["traffic", "app"]},
            "servers": {"type": "list", "elements": "str", "required": True},
            "driver": {"type": "str", "default": "sandbox"},
            "connection": {"type": "dict", "default": {}},
            "state_dir": {"type": "path", "default": ""},
            "service_ctl": {"type": "str", "default": ""},
            "service": {"type": "str", "default": "canary"},
            "service_env": {"type": "dict", "default": {}},
            "commands": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode or p["kind"] == "none":
        module.exit_json(changed=False, hit=[], injected_at=time.time())
    what = "revert" if p["action"] == "revert" else "inject"
    try:
        hit = apply(p)
    except FaultError as err:
        module.fail_json(msg=f"could not {what} the {p['kind']} fault: {err}", hit=[])
    module.exit_json(changed=bool(hit) or p["action"] == "revert", hit=hit, injected_at=time.time())


if __name__ == "__main__":
    main()
