#!/usr/bin/python
"""Ansible module relrun.release.deadman: arm, renew or disarm the dead man's switch."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deadman
short_description: A lease on the router host that reverts traffic to stable if relrun goes away
description:
  - C(arm) writes a lease file and starts a detached watcher on the router host. Traffic
    and analysis tasks renew the lease; if it runs out (relrun was killed, the controller
    lost the host), the watcher drains the canary servers and puts all traffic on the
    stable servers through the traffic driver, then records that it fired.
  - C(disarm) ends the watcher without touching traffic. A fired lease refuses renewal.
  - There is one lease per router backend, owned by one run (I(owner)). C(claim) (before
    the deploy, no watcher) and C(arm) fail, touching nothing, while another owner holds
    the lease (claimed or armed, and not expired); the result then has C(lease_held=true).
    Renewals by another owner never extend the lease. C(disarm) ends only the owner's
    lease, unless I(force) (a rollback's disarm, after which all traffic is on stable).
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  action: {description: What to do., type: str, required: true, choices: [claim, arm, renew, check, disarm, status]}
  lease_file: {description: The lease file on the router host (one per backend)., type: path, required: true}
  lease:
    description: Seconds without renewal before the watcher reverts traffic; for C(claim), seconds the claim holds.
    type: float
    default: 15
  owner: {description: "The run that claims, arms, renews or disarms (relrun's run id).", type: str, default: ""}
  runbook: {description: "The owner's runbook name, shown to a run that is refused.", type: str, default: ""}
  force: {description: Disarm whoever owns the lease (a rollback's disarm)., type: bool, default: false}
  driver: {description: The traffic driver the watcher uses to revert., type: str, default: sandbox}
  connection: {description: Driver settings from inventory., type: dict, default: {}}
  stable: {description: Stable server names., type: list, elements: str, default: []}
  canary: {description: Canary server names., type: list, elements: str, default: []}
  drain_timeout: {description: Bound on draining the canary when reverting., type: float, default: 5}
  health_path: {description: The stable servers' health path; the watcher gives traffic only to those answering it., type: str, default: /health}
  health_status: {description: The status I(health_path) must answer., type: int, default: 200}
notes:
  - A watcher whose revert fails (the router does not answer, no stable server is healthy
    while the canary serves) tries again with a bounded back-off until traffic is on
    stable, recording every attempt in the lease (C(attempts), C(revert_error)); a forced
    disarm (a rollback that put traffic on stable) or another run taking the backend over
    ends it.
"""

EXAMPLES = r"""
- name: Dead man's switch
  relrun.release.deadman:
    action: arm
    lease_file: /var/lib/relrun/relrun-deadman-api.json
    lease: 15
    owner: "{{ relrun_run_id }}"
    runbook: release-v2
    connection: {state_dir: /var/lib/relrun/sandbox}
    stable: [stable]
    canary: [canary]
"""

RETURN = r"""
lease:
  description: The lease state (state, owner, runbook, expires, pid of the watcher, fired_at, revert).
  returned: always
  type: dict
lease_held:
  description: The lease is held by another run; nothing was changed.
  returned: when claim or arm is refused
  type: bool
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (
    LeaseFired,
    LeaseHeld,
    LeaseTaken,
    arm,
    check,
    claim,
    disarm,
    read_lease,
    renew,
)
from ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import make_driver
from ansible_collections.relrun.release.plugins.module_utils.traffic.ops import (
    drain,
    switch_to_stable,
)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True,
                       "choices": ["claim", "arm", "renew", "check", "disarm", "status"]},
            "lease_file": {"type": "path", "required": True},
            "lease": {"type": "float", "default": 15},
            "owner": {"type": "str", "default": ""},
            "runbook": {"type": "str", "default": ""},
            "force": {"type": "bool", "default": False},
            "driver": {"type": "str", "default": "sandbox"},
            "connection": {"type": "dict", "default": {}},
            "stable": {"type": "list", "elements": "str", "default": []},
            "canary": {"type": "list", "elements": "str", "default": []},
            "drain_timeout": {"type": "float", "default": 5},
            "health_path": {"type": "str", "default": "/health"},
            "health_status": {"type": "int", "default": 200},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode or p["action"] == "status":
        module.exit_json(changed=False, lease=read_lease(p["lease_file"]))
    try:
        if p["action"] == "claim":
            lease = claim(p["lease_file"], p["lease"], p["owner"], p["runbook"])
        elif p["action"] == "arm":
            # Connect now: the watcher must not import or fail later, alone.
            driver = make_driver(p["driver"], p["connection"])

            health = (p["health_path"], p["health_status"])

            def revert() -> dict[str, Any]:
                # Only to stable servers that answer their health check; none healthy
                # while the canary serves raises, and the watcher tries again later.
                drained = drain(driver, p["stable"], p["canary"], p["drain_timeout"], health)
                switched = switch_to_stable(driver, p["stable"], p["canary"], health)
                return {
                    "drained": drained["drained"],
                    "confirmed_at": switched["confirmed_at"],
                    "stable_unhealthy": switched["stable_unhealthy"],
                }

            lease = arm(p["lease_file"], p["lease"], revert, p["owner"], p["runbook"])
        elif p["action"] == "renew":
            lease = renew(p["lease_file"], owner=p["owner"])
        elif p["action"] == "check":
            lease = check(p["lease_file"], p["owner"])
        else:
            lease = disarm(p["lease_file"], p["owner"], p["force"])
    except LeaseHeld as err:
        # Another run's release: this one must stop without touching its traffic.
        module.fail_json(msg=str(err), lease_held=True, lease=read_lease(p["lease_file"]))
    except LeaseTaken as err:
        module.fail_json(msg=str(err), lease_held=True, lease=read_lease(p["lease_file"]))
    except LeaseFired as err:
        module.fail_json(msg=str(err), lease=read_lease(p["lease_file"]))
    except Exception as err:  # driver errors: the release must not move traffic unguarded
        module.fail_json(msg=f"dead man's switch {p['action']} failed: {err}")
    module.exit_json(changed=p["action"] not in {"renew", "check"}, lease=lease)


if __name__ == "__main__":
    main()
