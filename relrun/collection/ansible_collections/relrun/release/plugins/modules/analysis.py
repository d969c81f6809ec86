#!/usr/bin/python
"""Ansible module relrun.release.analysis: watch the canary during a bake, fail on a breach."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: analysis
short_description: Judge the canary against stable with anytime-valid tests; fail on a breach
description:
  - Reads the router's cumulative per-server counters every I(interval) seconds for
    I(duration) seconds, turns them into per-interval counts per version and feeds
    anytime-valid sequential tests (e-processes, see docs/analysis.md) of the canary's
    error odds against stable's (I(baseline)), of its error rate against
    I(max_error_rate), and, where the router keeps per-request latencies, of its share of
    requests above stable's p95 and above I(max_p95_ms). The bake breaches once the
    average of the tests' e-values reaches 1/I(alpha), so the chance of a false breach
    over the whole bake stays below I(alpha) however often it looks.
  - Probes each judged server's health path; a dead server, or I(consecutive_breaches)
    failed probes in a row, is a breach. A probe's 5xx answer counts as one failed request.
  - With I(react), a breach takes the canary out of new traffic (state drain) before the
    module returns.
  - An operator's rollback request (see I(lease_file)) ends the bake like a breach.
  - With I(target=stable), checks the stable servers instead (before a stage, and in the
    rollback's verify step).
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
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
  consecutive_breaches: {description: Failed health probes in a row that trigger., type: int, default: 1}
  alpha: {description: False-breach bound over the bake (all its tests together)., type: float, default: 0.01}
  error_tolerance: {description: "Canary error odds may be up to (1 + this) x stable's.", type: float, default: 1.0}
  latency_tolerance: {description: "Canary odds of a request above stable's p95 may be up to (1 + this) x stable's.", type: float, default: 1.0}
  baseline: {description: Stable servers to compare with; empty for the absolute limits alone., type: list, elements: str, default: []}
  react: {description: "At a breach, drain the canary before returning.", type: bool, default: false}
  since: {description: "Epoch seconds of the stage's traffic shift: the first sample also counts the router's requests since then.", type: float}
  health_path: {description: Path probed on each server; empty to skip., type: str, default: /health}
  carrying_only: {description: Judge only the I(servers) the router gives weight (all of them when none has)., type: bool, default: false}
  lease_file:
    description:
      - Dead man's switch lease renewed at every sample (see M(relrun.release.deadman)).
      - An operator's rollback request beside it (C(LEASE.control), for this I(owner)) fails the
        task with a breach of reason C(signal) or C(manual), after the canary is taken out of new
        traffic (with I(react)); the rollout's rescue then rolls back in the same run.
    type: path
  owner: {description: The run renewing the lease; a lease another run owns is never extended., type: str, default: ''}
  gate:
    description:
      - Obey the operators' gate requests beside I(lease_file) (C(LEASE.gate), see C(relrun pause), C(resume), C(promote))
        and hold the bake past its end while paused; the canary is judged and the lease renewed all along.
    type: bool
    default: false
  pause:
    description:
      - "A manual gate after the bake (with I(gate)): C(timeout) (seconds; none waits indefinitely), C(default)
        (C(promote) or C(rollback), taken when the timeout expires) and C(why) (C(pause) or C(approval))."
    type: dict
  metrics:
    description:
      - "Read the counts, errors and latencies from a metric provider that is not the router (see docs/metrics.md):
        C(provider) (prometheus), C(url), C(queries) (C(requests), C(errors), C(latency_buckets)), C(latency_unit),
        C(timeout), C(max_outage), C(backend), C(auth) (C(token_env), C(token_file), or C(username)/C(username_env) with
        C(password_env)/C(password_file); references, never values) and C(tls) (C(validate_certs), C(ca_path),
        C(client_cert), C(client_key), C(use_proxy))."
      - Weights, states, health probes and the reaction stay with the router.
      - A reading the provider cannot give is no data, handled as I(no_data) says (C(wait) holds the bake up to C(max_outage)).
    type: dict
  guards:
    description:
      - "Business-metric guards (see docs/metrics.md), read at every sample of a bake: each has C(name), C(provider)
        (prometheus, with C(query); web, with C(path), C(headers), C(headers_env)), C(url), C(timeout), C(auth), C(tls),
        limits C(max), C(min), C(max_vs_stable) (C(factor), C(delta)), C(consecutive) and C(max_outage)."
      - One over its limit is a breach (reason C(guard)); a reading that fails is no data, handled as I(no_data) says.
    type: list
    elements: dict
    default: []
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
  description: Every sample taken (time, counts per version in the interval, evidence so far, health).
  returned: always
  type: list
breach:
  description: The breach that failed the task (reason, observed, threshold, test, counts, e_value, bound, alpha, at).
  returned: on failure
  type: dict
method:
  description: What was compared and how (tests, alpha, tolerances, latency source).
  returned: always
  type: dict
totals:
  description: Requests and errors per version over the bake.
  returned: always
  type: dict
canary_out:
  description: With react, whether and when the canary was taken out of new traffic.
  returned: on a breach with react
  type: dict
gates:
  description: The operators' requests taken during the bake, and a pause's timeout (action, stage, by, reason, at).
  returned: with gate
  type: list
"""

import os
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.analysis.core import (
    Policy,
    take_canary_out,
    watch,
)
from ansible_collections.relrun.release.plugins.module_utils.analysis.guards import (
    GuardWatch,
    guard_from,
)
from ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (
    LeaseFired,
    LeaseTaken,
    RollbackRequested,
    parent_attached,
    read_request,
    renew,
)
from ansible_collections.relrun.release.plugins.module_utils.lease.gate import Gate
from ansible_collections.relrun.release.plugins.module_utils.traffic.base import read_routing
from ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (
    ROUTER_NAMES,
    DriverError,
    MetricsUnavailable,
    make_driver,
    make_guard,
    make_metrics,
)


def _keepalive(lease_file: str | None, owner: str) -> Callable[[], None] | None:
    """Renew the dead man's switch at every sample, while our Ansible parent is alive.

    A rollback request for this run raises :class:`RollbackRequested` from it.
    """
    if not lease_file:
        return None
    parent = os.getppid()

    def renew_lease() -> None:
        renew(lease_file, attached=parent_attached(parent), owner=owner, obey=True)

    return renew_lease


def _on_request(
    lease_file: str | None, owner: str, keepalive: Callable[[], None] | None
) -> Callable[[], None] | None:
    """Between samples: a rollback request for this run renews the lease and raises at once.

    The common case is a file that does not exist: one ``stat``, no lock, no write.
    """
    if not lease_file or not owner or keepalive is None:
        return None

    def look() -> None:
        if read_request(lease_file, owner) is not None:
            keepalive()  # renews, then raises RollbackRequested

    return look


def _obey(
    module: AnsibleModule, driver: Any, servers: list[str], request: RollbackRequested,
    gates: list[dict[str, Any]] | None,
) -> None:
    """An operator's rollback: end the bake as a breach would, the canary out first."""
    p = module.params
    breach = request.breach()
    result: dict[str, Any] = {"samples": [], "breach": breach, "decision": "breach"}
    if gates is not None:
        result["gates"] = gates
    if p["react"] and p["baseline"]:
        timeout = max(0.5, p["max_p95_ms"] / 1000)
        result["canary_out"] = take_canary_out(driver, p["baseline"], servers, p["health_path"], timeout)
    where = f" at stage {p['stage']}" if p["stage"] else ""
    module.fail_json(
        msg=f"rollback requested{where}: {breach['message']}",
        changed=bool((result.get("canary_out") or {}).get("done")),
        **result,
    )


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
            "alpha": {"type": "float", "default": 0.01},
            "error_tolerance": {"type": "float", "default": 1.0},
            "latency_tolerance": {"type": "float", "default": 1.0},
            "baseline": {"type": "list", "elements": "str", "default": []},
            "react": {"type": "bool", "default": False},
            "since": {"type": "float"},
            "carrying_only": {"type": "bool", "default": False},
            "lease_file": {"type": "path"},
            "owner": {"type": "str", "default": ""},
            "gate": {"type": "bool", "default": False},
            "pause": {"type": "dict"},
            "metrics": {"type": "dict"},
            "guards": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, samples=[])
    if not 0 < p["alpha"] < 1:
        module.fail_json(msg=f"alpha must be between 0 and 1, got {p['alpha']}")
    policy = Policy(
        alpha=p["alpha"],
        max_error_rate=p["max_error_rate"],
        max_p95_ms=p["max_p95_ms"],
        error_tolerance=p["error_tolerance"],
        latency_tolerance=p["latency_tolerance"],
        min_requests=p["min_requests"],
        no_data=p["no_data"],
        consecutive=p["consecutive_breaches"],
    )
    gate = (
        Gate(p["lease_file"], p["owner"], p["stage"], p["pause"])
        if p["gate"] and p["lease_file"] and p["owner"] else None
    )
    try:
        driver = make_driver(p["driver"], p["connection"])
        servers = p["servers"]
        if p["carrying_only"]:
            # The rollback's verify judges what users reach: a dead stable server left
            # without traffic by the switch is not the stable version's health.
            known = read_routing(driver)
            carrying = [n for n in servers if known.get(n, {}).get("weight", 0) > 0]
            servers = carrying or servers
        metrics = None
        settings = p["metrics"] or {}
        if settings:
            role = "stable" if p["target"] == "stable" else "canary"
            targets = {name: role for name in servers}
            targets.update({name: "stable" for name in p["baseline"] or []})
            try:
                metrics = make_metrics(str(settings.get("provider") or ""), settings, targets)
            except MetricsUnavailable as err:
                module.fail_json(
                    msg=f"analysis has no metric provider: {err}",
                    samples=[],
                    breach={"reason": "no_data", "observed": None, "threshold": "metrics",
                            "message": f"no metric provider: {err}"},
                )
        guards = None
        if p["guards"] and p["duration"] > 0:
            # Imported only here: it brings in ansible.module_utils.urls, ~50 ms of every
            # task's start otherwise (tests/unit/collection/test_module_imports.py).
            from ansible_collections.relrun.release.plugins.module_utils.traffic.prometheus import (
                promql_duration,
            )

            backend = str(p["guards"][0].get("backend") or "")
            try:
                built = [guard_from(g, make_guard(g)) for g in p["guards"]]
            except MetricsUnavailable as err:
                module.fail_json(
                    msg=f"analysis cannot read a guard: {err}",
                    samples=[],
                    breach={"reason": "no_data", "observed": None, "threshold": "guards",
                            "message": f"no guard provider: {err}"},
                )
            guards = GuardWatch(built, servers, p["baseline"] or [], backend,
                                promql_duration(p["window"]), p["no_data"])
        keepalive = _keepalive(p["lease_file"], p["owner"])
        try:
            outcome = watch(
                driver,
                servers,
                policy,
                p["duration"],
                p["interval"],
                p["window"],
                p["health_path"],
                keepalive=keepalive,
                baseline=p["baseline"] or None,
                react=p["react"],
                since=p["since"] or None,
                metrics=metrics,
                max_outage=float(settings.get("max_outage") or 30),
                guards=guards,
                hold=gate,
                between=_on_request(p["lease_file"], p["owner"], keepalive),
            )
        except RollbackRequested as request:
            _obey(module, driver, servers, request, gate.events if gate else None)
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
    breach = outcome.pop("breach")
    if gate is not None:
        outcome["gates"] = gate.events
        if gate.full:
            outcome["ansible_facts"] = {"relrun_promoted_full": True}
    if breach is not None:
        where = f" at stage {p['stage']}" if p["stage"] else ""
        failed = dict(outcome)
        failed.update(
            msg=f"{p['target']} breach{where}: {breach['message']}",
            breach=breach,
            changed=bool((outcome.get("canary_out") or {}).get("done")),
        )
        module.fail_json(**failed)
    done = dict(outcome)
    done.update(changed=False, breach=None)
    module.exit_json(**done)


if __name__ == "__main__":
    main()
