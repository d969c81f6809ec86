#!/usr/bin/python
"""Ansible module relrun.release.gate: an operator's request to the run holding a lease."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gate
short_description: Deliver relrun pause, resume, promote or abort beside a dead man's switch lease
description:
  - Finds the live leases (claimed or armed) in I(dir), the router host's dead man's switch
    directory, and returns them with the gate state of the runs holding them (C(status)).
  - C(pause), C(resume) and C(promote) write the request to the gate file beside each lease
    of run I(owner) (C(LEASE.gate)); C(abort) writes a rollback request beside each of its
    armed leases (C(LEASE.control)). The running release's analysis takes it at its next
    sample. A C(resume) of a run that is not paused, or a C(pause) of one that is, writes
    nothing and fails with C(refused).
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  action: {description: What to do., type: str, required: true, choices: [status, pause, resume, promote, abort]}
  dir: {description: The router host's dead man's switch directory (relrun_deadman_dir)., type: path, required: true}
  owner: {description: "The run asked (its run id); required but for C(status).", type: str, default: ""}
  by: {description: Who asks (user@host)., type: str, default: ""}
  reason: {description: Why (the verb's --reason)., type: str, default: ""}
  scope: {description: "For C(promote): C(stage) (this one) or C(full) (skip the rest).", type: str, default: stage, choices: [stage, full]}
"""

EXAMPLES = r"""
- name: Pause the running release
  relrun.release.gate:
    action: pause
    dir: "{{ relrun_deadman_dir | default('/tmp/relrun-deadman') }}"
    owner: 20261203T074500-1a2b
    by: ops@bastion
    reason: waiting for the database team
"""

RETURN = r"""
leases:
  description: The live leases in I(dir) (of I(owner) when given), each with C(path), C(lease) and C(gate).
  returned: always
  type: list
  elements: dict
asked:
  description: The lease files beside which the request was written.
  returned: always
  type: list
  elements: str
refused:
  description: Why the request makes no sense now (nothing was written).
  returned: when refused
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.lease.gate import deliver, held


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True,
                       "choices": ["status", "pause", "resume", "promote", "abort"]},
            "dir": {"type": "path", "required": True},
            "owner": {"type": "str", "default": ""},
            "by": {"type": "str", "default": ""},
            "reason": {"type": "str", "default": ""},
            "scope": {"type": "str", "default": "stage", "choices": ["stage", "full"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["action"] == "status" or module.check_mode:
        module.exit_json(changed=False, leases=held(p["dir"], p["owner"]), asked=[])
    if not p["owner"]:
        module.fail_json(msg=f"{p['action']} needs the run asked (owner)")
    try:
        result = deliver(p["dir"], p["owner"], p["action"], p["by"], p["reason"], p["scope"])
    except (OSError, ValueError) as err:
        module.fail_json(msg=f"relrun {p['action']} could not be written: {err}")
    if result["refused"]:
        module.fail_json(msg=result["refused"], **result)
    module.exit_json(changed=bool(result["asked"]), **result)


if __name__ == "__main__":
    main()
