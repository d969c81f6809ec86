"""The rollout as plays: the router's stages, and the app hosts' share fanned out.

Work on the app hosts (the reachability ping of every stage, a drill fault injected or
reverted on the canary hosts, the rollback's cleanup) runs in plays of its own on those
hosts, so Ansible runs it on every host at once (up to ``forks``) instead of a loop on the
router host that reaches one host after another. The router's plays carry the stages;
each is a ``block`` whose ``rescue`` records that the rollback is due, and the rollback
play follows at once: the plays in between target no host (their ``hosts`` template reads
the router host's ``relrun_phase``), so the path from a breach to ``switch_traffic`` does
not grow with the fleet.

Playbook order: ``Rollout`` (readiness, gate checks, arm), then per stage the app hosts'
ping, the router's stage (every host answered, stable check, shift, a router-side fault),
the canary hosts' drill fault, the router's analysis; then the promotion (app hosts:
revert, ping; router: revert, every host answered, disarm); then the rollback.
"""

from __future__ import annotations

from typing import Any

from relrun.render.rollout import (
    FAULT_RESULT,
    LEASE_HELD,
    ON_ROUTER,
    C,
    _held_stop,
    _router_fact,
    _traffic_args,
    app_groups,
    deadman_task,
    host_fault_task,
    hosts_if,
    ping_task,
    reached_task,
    rollback_tasks,
    stage_tasks,
)
from relrun.render.yamlout import unsafe
from relrun.runbook.schema import Runbook
from relrun.runbook.steps import PROMOTE_REVERT_TASK, StageAction, StepRef

Task = dict[str, Any]
Play = dict[str, Any]
# The router host's phase: ``rollout`` while stages run, ``rollback`` once one failed,
# ``held`` when another run holds the backend (nothing of ours moved: no rollback).
PHASE = "relrun_phase"


def _hosts_while(runbook: Runbook, phase: str, hosts: str, extra: str = "") -> str:
    """A play's hosts: ``hosts`` while the router host is in ``phase``, else none at all."""
    state = "(" + _router_fact(runbook, PHASE, "''") + ") == '" + phase + "'"
    return hosts_if(state + extra, hosts)


def _router(runbook: Runbook) -> str:
    return "groups['" + runbook.targets.router + "']"


def _rescue() -> list[Task]:
    return [
        {
            "name": "Rollout: a stage failed, the rollback is due",
            "ansible.builtin.set_fact": {
                PHASE: "{{ 'held' if (" + LEASE_HELD + ") else 'rollback' }}"
            },
        },
        _held_stop(),
        # A host lost in this play must still run the rollback: its tasks that cannot
        # reach it then fail on their own, and are recorded.
        {
            "name": "Rollout: the rollback runs next, also on a host lost here",
            "ansible.builtin.meta": "clear_host_errors",
        },
    ]


def _router_play(runbook: Runbook, name: str, tasks: list[Task], *, first: bool = False) -> Play:
    if first:
        tasks = [
            {"name": "Rollout: stages start", "ansible.builtin.set_fact": {PHASE: "rollout"}},
            *tasks,
        ]
    return {
        "name": name,
        "hosts": runbook.targets.router if first else _hosts_while(
            runbook, "rollout", _router(runbook)
        ),
        "gather_facts": False,
        "tasks": [{"name": name, "block": tasks, "rescue": _rescue()}],
    }


def _app_play(runbook: Runbook, name: str, hosts: str, tasks: list[Task], extra: str = "") -> Play:
    return {
        "name": name,
        "hosts": _hosts_while(runbook, "rollout", hosts, extra),
        "gather_facts": False,
        "tasks": tasks,
    }


def _readiness(runbook: Runbook) -> list[Task]:
    readiness = runbook.deploy.readiness if runbook.deploy else None
    if readiness is None:
        return []
    return [
        {
            "name": StepRef.readiness().task,
            f"{C}.traffic": _traffic_args(
                runbook,
                "ready",
                timeout=readiness.timeout,
                health_path=unsafe(readiness.path),
                health_status=readiness.status,
            ),
        }
    ]


def rollout_plays(
    runbook: Runbook, gate_checks: list[Task], verify_checks: list[Task]
) -> list[Play]:
    """The rollout's plays, then the rollback's router play (run when a stage failed)."""
    if runbook.rollout is None or runbook.traffic is None:
        return []
    canary = "groups['" + runbook.targets.canary + "']"
    apps = "(" + app_groups(runbook) + ")"
    lease = f"{runbook.rollback.lease:g}s"
    plays = [
        _router_play(
            runbook,
            "Rollout",
            [
                *_readiness(runbook),
                *gate_checks,
                deadman_task(runbook, f"Dead man's switch: arm (lease {lease})", "arm"),
            ],
            first=True,
        )
    ]
    stages = runbook.rollout.stages
    for index, stage in enumerate(stages):
        number = index + 1

        def name(action: StageAction, number: int = number, stage_name: str = stage.name) -> str:
            return StepRef.stage(number, len(stages), stage_name, action).task

        before, after = stage_tasks(runbook, index, stage)
        # Not a task's shape ("Stage N/M ..."): play and block names are not steps.
        title = f"Rollout stage {number}/{len(stages)}, {stage.name}"
        plays += [
            _app_play(runbook, f"{title}: app hosts", apps,
                      [ping_task(name(StageAction.REACHABLE), f"stage-{number}")]),
            _router_play(runbook, title, before),
            _app_play(
                runbook,
                f"{title}: drill fault on the canary hosts",
                canary,
                [
                    {
                        **host_fault_task(runbook, name(StageAction.FAULT), "inject",
                                          on_router=False),
                        "register": FAULT_RESULT,
                        # The router's next task names every host that failed.
                        "ignore_errors": True,
                    }
                ],
                extra=f" and relrun_drill is defined and relrun_drill.stage == {number} "
                "and not (" + ON_ROUTER + ")",
            ),
            _router_play(runbook, f"{title}: analysis", after),
        ]
    plays += [
        _app_play(
            runbook,
            "Promote: app hosts",
            apps,
            [
                {
                    **host_fault_task(runbook, PROMOTE_REVERT_TASK, "revert", on_router=False,
                                      when="inventory_hostname in " + canary),
                },
                ping_task("Promote: app hosts reachable", "promote"),
            ],
        ),
        _router_play(
            runbook,
            "Promote",
            [
                host_fault_task(runbook, PROMOTE_REVERT_TASK, "revert", on_router=True),
                reached_task(runbook, "Promote: every app host answered", "promote"),
                deadman_task(runbook, "Dead man's switch: disarm (promoted)", "disarm"),
            ],
        ),
        {
            "name": "Rollback (the rollout failed)",
            "hosts": _hosts_while(runbook, "rollback", _router(runbook)),
            "gather_facts": False,
            # The rollback's outcome task follows the canary hosts' cleanup.
            "tasks": rollback_tasks(runbook, verify_checks, in_rescue=True),
        },
    ]
    return plays
