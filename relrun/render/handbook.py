"""The rollback handbook: what an operator needs when it is their turn, from the runbook."""

from __future__ import annotations

from typing import Any

from relrun.render.documents import describe_command, jinja_env
from relrun.runbook.loader import LoadedRunbook
from relrun.runbook.rollout_models import Step
from relrun.runbook.steps import ROLLBACK_STEPS

_STEP_TEXT = {
    "stop_deployment": "Halt the rollout: no further stage starts; pending deploy work stops. "
    "The canary keeps running until traffic has left it. Record the router's state.",
    "drain": "The canary takes no new requests; in-flight ones finish (bounded wait).",
    "switch_traffic": "All traffic to the stable servers; confirmed by reading the router back.",
    "verify": "Health, the API checks and metric analysis pass on the stable version alone.",
    "cleanup": "The canary's processes and release files are removed; canary servers go to "
    "maintenance in the router; the dead man's switch is disarmed.",
}


def _commands(steps: list[Step], order: str) -> list[dict[str, Any]]:
    # ``order`` places a command against the step's actions, as the playbook runs them
    # (render/rollout.py rollback_tasks): ``before_actions`` or ``after_actions``.
    return [
        {
            "name": s.name,
            "command": describe_command(s),
            "environment_from_inventory": dict(s.env_from_vars),
            "order": order,
        }
        for s in steps
    ]


def _by_hand(loaded: LoadedRunbook) -> dict[str, list[str]]:
    """Each step done by hand behind HAProxy, for when relrun itself cannot run.

    Runtime API commands for the runbook's backend and servers (an inventory may name
    another backend: ``relrun_haproxy_backend``); SOCKET is ``relrun_haproxy_socket``.
    """
    rb = loaded.runbook
    hand: dict[str, list[str]] = {name: [] for name in ROLLBACK_STEPS}
    if rb.traffic is None:
        return hand
    backend = rb.traffic.backend

    def api(command: str) -> str:
        return f"echo '{command}' | socat stdio SOCKET"

    stable, canary = rb.traffic.stable_servers, rb.traffic.canary_servers
    hand["stop_deployment"] = [api(f"show servers state {backend}")]
    hand["drain"] = [api(f"set server {backend}/{c} state drain") for c in canary] + [
        api("show stat") + f" | grep '^{backend},'  (wait for scur 0 on the canary rows)"
    ]
    hand["switch_traffic"] = [api(f"set server {backend}/{s} weight 1") for s in stable] + [
        api(f"set server {backend}/{c} weight 0") for c in canary
    ]
    hand["verify"] = [f"relrun check {loaded.shown} -i INVENTORY --target stable"]
    hand["cleanup"] = [api(f"set server {backend}/{c} state maint") for c in canary]
    return hand


def handbook_data(loaded: LoadedRunbook) -> dict[str, Any]:
    """The handbook as data (``rollback-playbook.json``).

    Args:
        loaded: the runbook.

    Returns:
        Triggers, the five steps with the exact actions and commands, contacts, checklists.
    """
    rb = loaded.runbook
    traffic = rb.traffic
    stable = traffic.stable_servers if traffic else []
    canary = traffic.canary_servers if traffic else []
    driver = traffic.driver if traffic else "none"
    actions = {
        "stop_deployment": [f"relrun.release.traffic action=status driver={driver}"],
        "drain": [
            f"relrun.release.traffic action=drain servers={','.join(canary)} "
            f"timeout={rb.rollback.drain.timeout:g}s"
        ],
        "switch_traffic": [
            f"relrun.release.traffic action=switch stable={','.join(stable)} "
            f"canary={','.join(canary)} (weights: canary 0)"
        ],
        "verify": [
            f"relrun.release.analysis target=stable servers={','.join(stable)} "
            f"window={rb.rollback.verify.analysis_window:g}s "
            f"max_error_rate={rb.rollback.verify.max_error_rate:.0%}"
        ]
        + (["the runbook's API checks against stable"] if rb.rollback.verify.api_checks else []),
        "cleanup": [f"relrun.release.traffic action=maint servers={','.join(canary)}"],
    }
    # Runs even when the step failed, after its hooks (the playbook's ``always``).
    finally_: dict[str, list[str]] = {name: [] for name in ROLLBACK_STEPS}
    finally_["cleanup"] = [
        "relrun.release.deadman action=disarm (skipped when switch_traffic failed: the "
        "switch stays armed and its own revert puts traffic on stable)"
    ]
    by_hand = _by_hand(loaded)
    steps = []
    for number, name in enumerate(ROLLBACK_STEPS, start=1):
        hooks = rb.rollback.hooks
        before = hooks.get(f"before_{name}", [])  # type: ignore[call-overload]
        if name == "cleanup":
            # The cleanup commands stop the canary before its servers go to maintenance.
            before = [*before, *rb.rollback.cleanup.steps]
        after = hooks.get(f"after_{name}", [])  # type: ignore[call-overload]
        steps.append(
            {
                "number": number,
                "name": name,
                "what": _STEP_TEXT[name],
                "actions": actions[name],
                "commands": _commands(before, "before_actions") + _commands(after, "after_actions"),
                "finally": finally_[name],
                "by_hand_haproxy": by_hand[name],
            }
        )
    return {
        "runbook": {
            "name": rb.metadata.name,
            "version": rb.metadata.version,
            "sha256": loaded.sha256,
            "file": loaded.shown,
        },
        "triggers": {
            "automatic": [
                f"canary error rate above {rb.analysis.max_error_rate:.0%}, or its p95 latency "
                f"above {rb.analysis.max_p95_ms:g} ms, shown with confidence "
                f"{1 - rb.analysis.alpha:.0%} by an anytime-valid sequential test",
                "canary errors or latency worse than stable's, served at the same time, "
                f"beyond the tolerance (error odds x{1 + rb.analysis.error_tolerance:g}), "
                f"shown the same way (alpha {rb.analysis.alpha:g} per bake, see docs/analysis.md)",
                "a failed readiness or health check of a canary server",
                "an unreachable host",
            ],
            "manual": [
                f"relrun rollback {loaded.shown} -i INVENTORY (from any terminal)",
                "Ctrl-C or SIGTERM to the running relrun release / drill",
            ],
        },
        "rto_budget_seconds": rb.rollback.rto_budget,
        "steps": steps,
        "contacts": [c.model_dump() for c in rb.metadata.owners],
        "checklists": {
            "before": [
                "the stable version is healthy (relrun checks it before every stage)",
                "the on-call contacts below know a release is running",
                f"`relrun plan {loaded.shown}` reviewed",
            ],
            "during": [
                "watch the live view: stage, weights, canary error rate and latency",
                "to abort: Ctrl-C once (the rollback runs; a second Ctrl-C does not cancel it)",
            ],
            "after": [
                "all traffic on stable: `relrun sandbox status` on the sandbox; behind "
                "HAProxy `echo 'show servers state BACKEND' | socat stdio SOCKET`",
                "read drill.json / release.json: trigger, rollback steps, lost requests",
                "file the incident with the report directory attached",
            ],
        },
    }


def handbook_markdown(data: dict[str, Any]) -> str:
    """The handbook as Markdown (``rollback-playbook.md``)."""
    return jinja_env().get_template("handbook.md.j2").render(h=data)
