"""Deploy, the staged rollout and the five-step rollback, as plays.

The rollout is one ``block`` whose ``rescue`` is the rollback, so a breach in any stage
goes straight to the rollback inside the same ansible-playbook run. The same rollback
steps also form a standalone play tagged ``never, rollback`` that ``relrun rollback`` and
the interrupt path run on their own.
"""

from __future__ import annotations

from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    BACKEND_VAR,
    inventory_vars,
)
from relrun.render.check_tasks import tls_args
from relrun.render.yamlout import unsafe, unsafe_tree
from relrun.runbook.models import Command
from relrun.runbook.rollout_models import (
    Analysis,
    MetricsSource,
    Stage,
    Step,
    Traffic,
    merged_analysis,
    stage_pause,
)
from relrun.runbook.schema import Runbook
from relrun.runbook.steps import (
    OUTCOME_IN_RESCUE,
    OUTCOME_STANDALONE,
    PROMOTE_REVERT_TASK,
    REVERT_FAULT,
    ROLLBACK_STEPS,
    RollbackStep,
    StageAction,
    StepRef,
)

Task = dict[str, Any]
Play = dict[str, Any]
C = "relrun.release"

# Every driver's connection settings, from inventory variables: the inventory, not the
# runbook, says which router an environment has, so the playbook carries them all and the
# driver reads its own keys. Undefined ones render empty; the driver names what it lacks.
# Each router's file declares its variables; the registry merges them.
CONNECTION_VARS = {
    key: "{{ " + var + " | default(" + default + ") }}"
    for key, (var, default) in inventory_vars().items()
}
DRIVER_VAR = "relrun_traffic_driver"
# The run that owns the dead man's switch lease: relrun passes a fresh id per release (and
# the same id to that release's rollback and recovery); every task that renews the lease
# says whose it is.
RUN_ID = "{{ relrun_run_id | default('') }}"
# How long the API checks before the first shift may take, on top of the timeouts the
# runbook states (deploy steps, readiness): the claim must outlast them all.
CHECKS_ALLOWANCE = 600.0


def driver_arg(traffic: Traffic) -> str:
    """The driver: the inventory's ``relrun_traffic_driver``, else the runbook's.

    The runbook's value is a validated literal (``sandbox`` or ``haproxy``), so it is safe
    inside the template; nothing else from the runbook is.
    """
    return "{{ " + DRIVER_VAR + " | default('" + traffic.driver + "') }}"


def connection_arg(traffic: Traffic) -> dict[str, str]:
    """The connection dict; the backend defaults to the runbook's (a checked identifier)."""
    return {
        **CONNECTION_VARS,
        "backend": "{{ " + BACKEND_VAR + " | default('" + traffic.backend + "') }}",
    }


def step_task(name: str, step: Command, *, delegate_group: str | None = None) -> Task:
    """A command step (deploy, cleanup, hook) through ``relrun.release.build``.

    Args:
        name: the task name.
        step: the command.
        delegate_group: run it on every host of this group instead of the play's host.

    Returns:
        The task.
    """
    args: dict[str, Any] = {"name": unsafe(getattr(step, "name", name))}
    if step.argv is not None:
        args["argv"] = unsafe_tree(step.argv)
    else:
        args["shell"] = unsafe(str(step.shell))
    if step.chdir is not None:
        args["chdir"] = step.chdir
    env: dict[str, Any] = unsafe_tree(dict(step.env))
    for env_name, var in (step.env_from_vars if isinstance(step, Step) else {}).items():
        # Variable names are checked identifiers; with delegation the value must come
        # from the delegated host, not from the play's host.
        env[env_name] = (
            "{{ hostvars[item]['" + var + "'] }}" if delegate_group else "{{ " + var + " }}"
        )
    if env:
        args["env"] = env
    args["timeout"] = step.timeout
    task: Task = {"name": name, f"{C}.build": args}
    if delegate_group:
        task["delegate_to"] = "{{ item }}"
        task["loop"] = "{{ groups['" + delegate_group + "'] }}"
    return task


PREFLIGHT_PASSED = "relrun_preflight_passed"


def _preflight_passed(runbook: Runbook) -> Task:
    """First in the deploy: every router host passed the preflight.

    Ansible drops an unreachable host from the rest of the playbook and goes on with the
    next play's hosts, whatever ``any_errors_fatal`` says: without this, a router that did
    not answer its preflight still saw the canary deployed, with no way to move traffic.
    """
    # A checked group name; double quotes inside, so the YAML needs no escaping.
    hosts = 'groups["' + runbook.targets.router + '"]'
    return {
        "name": "Preflight: every router host passed it (nothing is deployed otherwise)",
        "ansible.builtin.assert": {
            "that": ["relrun_preflight_missing | length == 0"],
            "fail_msg": "the preflight did not pass on router host(s) "
            "{{ relrun_preflight_missing | join(', ') }}: nothing was deployed and no "
            "traffic moved",
            "quiet": True,
        },
        # Only the one fact is read from each router host: extracting whole hostvars makes
        # ansible-core 2.16 template every variable of the host, lookups of files that the
        # deploy has yet to write included.
        "vars": {
            "relrun_routers_passed": "{{ " + hosts + ' | map("extract", hostvars, "'
            + PREFLIGHT_PASSED + '") | map("default", false) | list }}',
            "relrun_preflight_missing": "{{ " + hosts + " | zip(relrun_routers_passed)"
            " | rejectattr(1) | map(attribute=0) | list }}",
        },
        "run_once": True,
    }


def deploy_play(runbook: Runbook) -> Play | None:
    """The play starting the new version on the canary hosts."""
    if runbook.deploy is None or not runbook.deploy.steps:
        return None
    tasks = [
        step_task(StepRef.deploy(i + 1, step.name).task, step)
        for i, step in enumerate(runbook.deploy.steps)
    ]
    if runbook.rollout is not None and runbook.traffic is not None:
        tasks.insert(0, _preflight_passed(runbook))
    return {
        "name": "Deploy canary",
        "hosts": runbook.targets.canary,
        "gather_facts": False,
        "any_errors_fatal": True,
        "tasks": tasks,
    }


def preflight_play(runbook: Runbook) -> Play | None:
    """Before anything is deployed: the router answers, and this run claims its backend.

    A release whose traffic relrun cannot move back must not start: without this, a
    deploy would run and the rollback would then fail against an absent router. Nor may
    it start while another run (from any controller) holds the backend's dead man's
    switch: the claim fails here, before anything moved, so no rollback is owed and none
    touches the other run's traffic.
    """
    if runbook.rollout is None or runbook.traffic is None:
        return None
    return {
        "name": "Preflight",
        "hosts": runbook.targets.router,
        "gather_facts": False,
        "any_errors_fatal": True,
        "tasks": [
            {
                "name": "Preflight: the router answers and knows the stable servers",
                f"{C}.traffic": _traffic_args(runbook, "preflight"),
            },
            deadman_task(
                runbook,
                f"Preflight: claim backend {runbook.traffic.backend} (no other run holds it)",
                "claim",
            ),
            {
                "name": "Preflight: passed",
                "ansible.builtin.set_fact": {PREFLIGHT_PASSED: True},
            },
        ],
    }


def lease_file(runbook: Runbook) -> str:
    """The dead man's switch lease on the router host: one per backend, whatever the runbook.

    Every release of the backend meets here, so this is where a second one is refused. The
    backend name is a checked identifier, safe inside the template.
    """
    assert runbook.traffic is not None
    name = f"relrun-deadman-{runbook.traffic.backend}.json"
    return "{{ relrun_deadman_dir | default('/tmp/relrun-deadman') }}/" + name


def _lease_args(runbook: Runbook) -> dict[str, str]:
    """This run's lease: the file, and the run id it acts as (renews, claims, disarms)."""
    return {"lease_file": lease_file(runbook), "owner": RUN_ID}


def claim_seconds(runbook: Runbook) -> float:
    """How long the preflight claim holds: until the switch is armed, at the latest.

    The deploy steps, the readiness wait and the API checks run between the two; a claim
    left by a run that died lapses after this long (or when it is recovered).
    """
    deploy = runbook.deploy
    seconds = runbook.rollback.lease + CHECKS_ALLOWANCE
    if deploy is not None:
        seconds += sum(step.timeout for step in deploy.steps) + deploy.readiness.timeout
    return seconds


def deadman_task(runbook: Runbook, name: str, action: str, *, force: bool = False) -> Task:
    """Claim, arm or disarm the dead man's switch, as this run (``relrun_run_id``)."""
    assert runbook.traffic is not None
    traffic = runbook.traffic
    args: dict[str, Any] = {"action": action, **_lease_args(runbook)}
    if action in {"claim", "arm"}:
        args["runbook"] = unsafe(runbook.metadata.name)
    if action == "claim":
        args["lease"] = claim_seconds(runbook)
    if force:
        args["force"] = True
    if action == "arm":
        args.update(
            lease=runbook.rollback.lease,
            driver=driver_arg(traffic),
            connection=connection_arg(traffic),
            stable=unsafe_tree(traffic.stable_servers),
            canary=unsafe_tree(traffic.canary_servers),
            drain_timeout=min(runbook.rollback.drain.timeout, 10),
            **_health_args(runbook),
        )
    return {"name": name, f"{C}.deadman": args}


def health_of(runbook: Runbook) -> tuple[str, int]:
    """The service's health check (the deploy's readiness path and status, else /health 200).

    Stable servers must pass it, asked directly, before the rollback gives them traffic.
    """
    readiness = runbook.deploy.readiness if runbook.deploy else None
    return (readiness.path, readiness.status) if readiness else ("/health", 200)


def _health_args(runbook: Runbook) -> dict[str, Any]:
    path, status = health_of(runbook)
    return {"health_path": unsafe(path), "health_status": status}


def _traffic_args(runbook: Runbook, action: str, **extra: Any) -> dict[str, Any]:
    assert runbook.traffic is not None
    traffic = runbook.traffic
    return {
        "driver": driver_arg(traffic),
        "connection": connection_arg(traffic),
        "stable": unsafe_tree(traffic.stable_servers),
        "canary": unsafe_tree(traffic.canary_servers),
        "action": action,
        **extra,
    }


def metrics_arg(metrics: MetricsSource, backend: str) -> dict[str, Any]:
    """The analysis module's ``metrics`` argument: queries and names as literals.

    Only the fields typed ``Template`` (the URL, credential and TLS file paths) are left
    for Ansible to fill in; the PromQL is ``!unsafe`` (its ``${...}`` variables are filled
    by the module).
    """
    args: dict[str, Any] = {
        "provider": metrics.provider,
        "url": metrics.url,
        "queries": unsafe_tree(metrics.queries.model_dump(exclude_none=True)),
        "latency_unit": metrics.latency_unit,
        "timeout": metrics.timeout,
        "max_outage": metrics.max_outage,
        "backend": unsafe(backend),
    }
    if metrics.auth is not None:
        auth: dict[str, Any] = {}
        for name in ("token_env", "username", "username_env", "password_env"):
            value = getattr(metrics.auth, name)
            if value is not None:
                auth[name] = unsafe(value)
        for name in ("token_file", "password_file"):
            value = getattr(metrics.auth, name)
            if value is not None:
                auth[name] = value
        args["auth"] = auth
    if metrics.tls is not None:
        args["tls"] = tls_args(metrics.tls)
    return args


def _analysis_args(runbook: Runbook, analysis: Analysis, **extra: Any) -> dict[str, Any]:
    assert runbook.traffic is not None
    metrics: dict[str, Any] = {}
    if analysis.metrics is not None:
        metrics["metrics"] = metrics_arg(analysis.metrics, runbook.traffic.backend)
    return {
        "driver": driver_arg(runbook.traffic),
        "connection": connection_arg(runbook.traffic),
        "interval": analysis.interval,
        "window": analysis.window,
        "min_requests": analysis.min_requests,
        "max_error_rate": analysis.max_error_rate,
        "max_p95_ms": analysis.max_p95_ms,
        "no_data": analysis.no_data,
        "consecutive_breaches": analysis.consecutive_breaches,
        "alpha": analysis.alpha,
        "error_tolerance": analysis.error_tolerance,
        "latency_tolerance": analysis.latency_tolerance,
        "health_path": unsafe(health_path(runbook, analysis)),
        **metrics,
        **extra,
    }


def health_path(runbook: Runbook, analysis: Analysis) -> str:
    """The path the analysis probes: its own, else the deploy's readiness path."""
    if analysis.health_path:
        return analysis.health_path
    return runbook.deploy.readiness.path if runbook.deploy else "/health"


def reachable_task(runbook: Runbook, name: str) -> Task:
    """Every app host (stable and canary) still answers over its connection.

    A host the release can no longer reach cannot be cleaned up or rolled back, so losing
    one mid-stage must stop the release, also when nothing else would contact it before
    promotion. Hosts on a ``local`` connection are skipped without a round trip.
    """
    groups = "groups['" + runbook.targets.stable + "'] + groups['" + runbook.targets.canary + "']"
    return {
        "name": name,
        "ansible.builtin.ping": {},
        "delegate_to": "{{ item }}",
        "loop": "{{ (" + groups + ") | unique }}",
        "when": "hostvars[item].ansible_connection | default('ssh') != 'local'",
    }


# Set by the analysis when an operator took ``relrun promote --full``: the stages left are
# skipped, but the last one's shift, which gives the canary its final weight.
NOT_FULL = "not (relrun_promoted_full | default(false))"


def _unless_full(task: Task) -> Task:
    when = task.get("when")
    conditions = [] if when is None else [when] if isinstance(when, str) else list(when)
    return {**task, "when": [*conditions, NOT_FULL]}


def _pause_arg(runbook: Runbook, index: int) -> dict[str, Any]:
    """The stage's manual gate for the analysis module (none: only operators' requests)."""
    assert runbook.rollout is not None
    pause, why = stage_pause(runbook.rollout, index)
    if pause is None:
        return {}
    return {"pause": {"timeout": pause.timeout, "default": pause.default, "why": why}}


def stage_tasks(runbook: Runbook, index: int, stage: Stage) -> list[Task]:
    """Check stable, shift the weight, (drill: inject), then watch the canary for the bake.

    The bake obeys the operators' gate requests (``relrun pause``, ``resume``, ``promote``)
    and holds at the stage's own pause. After a ``promote --full``, every task of the
    stages left is skipped but the last stage's checks and shift to its final weight.
    """
    assert runbook.traffic is not None
    count = len(runbook.rollout.stages) if runbook.rollout else 0
    tasks = _stage_tasks(runbook, index, stage, count)
    if index == 0:
        return tasks
    if index < count - 1:
        return [_unless_full(task) for task in tasks]
    return [*tasks[:3], *(_unless_full(task) for task in tasks[3:])]


def _stage_tasks(runbook: Runbook, index: int, stage: Stage, count: int) -> list[Task]:
    assert runbook.traffic is not None

    def name(action: StageAction, **extra: Any) -> str:
        return StepRef.stage(index + 1, count, stage.name, action, **extra).task

    analysis = merged_analysis(runbook.analysis, stage)
    stable_check = _analysis_args(
        runbook,
        analysis,
        servers=unsafe_tree(runbook.traffic.stable_servers),
        target="stable",
        stage=unsafe(stage.name),
        duration=0,
        min_requests=0,
        consecutive_breaches=1,  # one sample: it must be able to fail on its own
        **_lease_args(runbook),
    )
    return [
        reachable_task(runbook, name(StageAction.REACHABLE)),
        {
            "name": name(StageAction.STABLE_CHECK),
            f"{C}.analysis": stable_check,
        },
        {
            "name": name(StageAction.SHIFT, weight=stage.weight),
            f"{C}.traffic": _traffic_args(
                runbook, "split", percent=stage.weight, **_lease_args(runbook)
            ),
            # Defined once a shift ran (even one that failed half-way): traffic may have
            # moved, so the rollback's verify runs its API checks.
            "register": SHIFTED,
        },
        fault_task(
            runbook,
            name(StageAction.FAULT),
            "inject",
            f"relrun_drill is defined and relrun_drill.stage == {index + 1}",
        ),
        {
            "name": name(StageAction.ANALYSIS, bake=stage.bake),
            f"{C}.analysis": _analysis_args(
                runbook,
                analysis,
                servers=unsafe_tree(runbook.traffic.canary_servers),
                target="canary",
                baseline=unsafe_tree(runbook.traffic.stable_servers),
                react=True,
                since="{{ " + SHIFTED + ".confirmed_at | default(0) }}",
                stage=unsafe(stage.name),
                duration=stage.bake,
                gate=True,
                **_pause_arg(runbook, index),
                **_lease_args(runbook),
            ),
        },
    ]


def _fault_steps(steps: list[Step]) -> list[dict[str, Any]]:
    """A command fault's steps as the fault module's ``commands`` (literals, never templated)."""
    commands: list[dict[str, Any]] = []
    for step in steps:
        command: dict[str, Any] = {"name": unsafe(step.name), "timeout": step.timeout}
        if step.argv is not None:
            command["argv"] = unsafe_tree(step.argv)
        else:
            command["shell"] = unsafe(str(step.shell))
        if step.chdir is not None:
            command["chdir"] = step.chdir
        env: dict[str, Any] = unsafe_tree(dict(step.env))
        for env_name, var in step.env_from_vars.items():
            env[env_name] = "{{ hostvars[item]['" + var + "'] }}"
        if env:
            command["env"] = env
        commands.append(command)
    return commands


def _deploy_env(runbook: Runbook) -> dict[str, Any]:
    """The deploy steps' environment, for the service control a ``crash`` fault calls.

    The service control is the deploy's (``relrun_service_ctl``), so it gets what the
    deploy steps give it (e.g. where the environment's state lives), from each host.
    """
    env: dict[str, Any] = {}
    for step in runbook.deploy.steps if runbook.deploy else []:
        env.update(unsafe_tree(dict(step.env)))
        for env_name, var in step.env_from_vars.items():
            env[env_name] = "{{ hostvars[item]['" + var + "'] | default('') }}"
    return env


def fault_task(runbook: Runbook, name: str, action: str, when: str) -> Task:
    """Inject (or revert) the drill's fault, where ``relrun_drill.on`` says.

    Traffic-layer faults run once, on the router host (the router in front of the canary
    servers injects them); a crash, the demo API's own fault and a command fault run on
    every canary host (a command fault on the router host when the runbook says so). The
    kind comes from ``relrun_drill`` (``--fault`` may choose another); a command fault's
    steps are the runbook's, rendered as literals.
    """
    assert runbook.traffic is not None
    fault = runbook.drill.fault
    hosts = (
        "{{ [inventory_hostname] if (relrun_drill.on | default('canary')) == 'router' "
        "else groups['" + runbook.targets.canary + "'] }}"
    )
    args: dict[str, Any] = {
        "action": action,
        "kind": "{{ relrun_drill.kind }}",
        "value": "{{ relrun_drill.value }}",
        "status": "{{ relrun_drill.status | default(503) }}",
        "via": "{{ relrun_drill.via | default('traffic') }}",
        "servers": unsafe_tree(runbook.traffic.canary_servers),
        "driver": driver_arg(runbook.traffic),
        "connection": connection_arg(runbook.traffic),
        "state_dir": "{{ hostvars[item]['relrun_sandbox_state_dir'] | default('') }}",
        "service_ctl": "{{ hostvars[item]['relrun_service_ctl'] | default('') }}",
        "service": unsafe(fault.service),
    }
    steps = fault.inject if action == "inject" else fault.revert
    if steps:
        args["commands"] = _fault_steps(steps)
    service_env = _deploy_env(runbook)
    if service_env and action == "inject":
        args["service_env"] = service_env
    return {
        "name": name,
        f"{C}.fault": args,
        "delegate_to": "{{ item }}",
        "loop": hosts,
        "when": when,
    }
STABLE_DOWN = "relrun_stable_down"
SHIFTED = "relrun_shifted"
# Steps that give stable traffic: each asks the stable servers' health first.
_MOVING_STEPS = (RollbackStep.DRAIN, RollbackStep.SWITCH_TRAFFIC)


def _guarded(step: RollbackStep, tasks: list[Task], always: list[Task] | None = None) -> Task:
    """One rollback step: its tasks in a block; a failure is recorded and the rollback goes on.

    When a step that would give stable traffic finds no stable server healthy while the
    canary serves users, the rollback stops there: every later step fails at once saying
    so (the cleanup must not stop the only version that answers).
    """
    record: dict[str, str] = {
        "relrun_rollback_failed": "{{ relrun_rollback_failed | default([]) + ['" + step + "'] }}"
    }
    if step in _MOVING_STEPS:
        record[STABLE_DOWN] = (
            "{{ (" + STABLE_DOWN + " | default(false)) or "
            "(ansible_failed_result.stable_down | default(false)) }}"
        )
    stop: list[Task] = []
    if step.number > RollbackStep.DRAIN.number:
        stop = [
            {
                "name": StepRef.rollback(step, "stop here if no stable server is healthy").task,
                "ansible.builtin.fail": {
                    "msg": "not run: the rollback stopped, no stable server is healthy "
                    "(traffic stays on the canary, which serves users)"
                },
                "when": STABLE_DOWN + " | default(false)",
            }
        ]
    guarded: Task = {
        "name": StepRef.rollback(step).task,
        "block": [*stop, *tasks],
        "rescue": [
            {
                "name": StepRef.rollback_failure(step).task,
                "ansible.builtin.set_fact": record,
            }
        ],
    }
    if always:
        guarded["always"] = always
    return guarded


def _disarm_after_rollback(runbook: Runbook) -> Task:
    """Disarm the dead man's switch once traffic is on stable, even if cleanup failed.

    When ``switch_traffic`` failed the switch stays armed: its own revert, on the router
    host, is then the last chance to put traffic back on stable. Whoever owns the lease,
    the rollback disarms it (``force``): after it all traffic is on stable, and the run
    that owned it refuses to move traffic again.
    """
    task = deadman_task(
        runbook,
        StepRef.rollback(RollbackStep.CLEANUP, "disarm the dead man's switch").task,
        "disarm",
        force=True,
    )
    task["when"] = "'switch_traffic' not in (relrun_rollback_failed | default([]))"
    return task


def rollback_tasks(
    runbook: Runbook, check_tasks: list[Task], *, in_rescue: bool = False
) -> list[Task]:
    """The five rollback steps, in order, each timed by its tasks' events.

    Args:
        runbook: the runbook.
        check_tasks: the API check tasks for the verify step (may be empty).
        in_rescue: the rollout's own rescue: the verify step's API checks run only when a
            shift ran. Before it, stable served every request all along and a check that
            failed at the gate (against the canary) says nothing about it; running it again
            would turn a failed gate into an "incomplete rollback".

    Returns:
        The tasks (five guarded blocks).
    """
    assert runbook.traffic is not None
    options = runbook.rollback
    hooks = options.hooks
    verify_checks = check_tasks if options.verify.api_checks else []
    if in_rescue:
        verify_checks = [{**task, "when": SHIFTED + " is defined"} for task in verify_checks]

    def name(step: RollbackStep, detail: str) -> str:
        return StepRef.rollback(step, detail).task

    steps: dict[RollbackStep, list[Task]] = {
        RollbackStep.STOP_DEPLOYMENT: [
            {
                "name": name(
                    RollbackStep.STOP_DEPLOYMENT, "no further stage starts; record the state"
                ),
                # Renews the lease too: the rescue's steps keep the switch from firing
                # while they put traffic back themselves.
                f"{C}.traffic": _traffic_args(runbook, "status", **_lease_args(runbook)),
            },
        ],
        RollbackStep.DRAIN: [
            {
                "name": name(
                    RollbackStep.DRAIN, "canary takes no new requests, in-flight ones finish"
                ),
                f"{C}.traffic": _traffic_args(
                    runbook,
                    "drain",
                    timeout=options.drain.timeout,
                    **_health_args(runbook),
                    **_lease_args(runbook),
                ),
            },
        ],
        RollbackStep.SWITCH_TRAFFIC: [
            {
                "name": name(RollbackStep.SWITCH_TRAFFIC, "all traffic to stable"),
                f"{C}.traffic": _traffic_args(
                    runbook, "switch", **_health_args(runbook), **_lease_args(runbook)
                ),
            },
        ],
        RollbackStep.VERIFY: [
            {
                "name": name(RollbackStep.VERIFY, "stable alone is healthy"),
                f"{C}.analysis": _analysis_args(
                    runbook,
                    # The router's own counters: a monitoring outage must not fail a rollback.
                    runbook.analysis.model_copy(update={"metrics": None}),
                    servers=unsafe_tree(runbook.traffic.stable_servers),
                    target="stable",
                    stage="rollback",
                    duration=options.verify.analysis_window,
                    max_error_rate=options.verify.max_error_rate,
                    min_requests=0,
                    # Only the stable servers the switch gave traffic to.
                    carrying_only=True,
                    health_path=unsafe(health_of(runbook)[0]),
                ),
            },
            *verify_checks,
        ],
        RollbackStep.CLEANUP: [
            # First: a fault left in force (a command fault's revert steps, a traffic fault
            # at the router) must not outlive the drill, whichever way it ends.
            fault_task(
                runbook,
                name(RollbackStep.CLEANUP, REVERT_FAULT),
                "revert",
                "relrun_drill is defined",
            ),
            *[
                step_task(
                    name(RollbackStep.CLEANUP, s.name), s, delegate_group=runbook.targets.canary
                )
                for s in options.cleanup.steps
            ],
            {
                "name": name(RollbackStep.CLEANUP, "canary servers to maintenance"),
                f"{C}.traffic": _traffic_args(runbook, "maint", **_lease_args(runbook)),
            },
        ],
    }
    tasks: list[Task] = []
    for step in ROLLBACK_STEPS:
        body = [
            step_task(StepRef.rollback_hook(step, h.name).task, h)
            for h in hooks.get(f"before_{step}", [])  # type: ignore[call-overload]
        ]
        body += steps[step]
        body += [
            step_task(StepRef.rollback_hook(step, h.name).task, h)
            for h in hooks.get(f"after_{step}", [])  # type: ignore[call-overload]
        ]
        always = [_disarm_after_rollback(runbook)] if step is RollbackStep.CLEANUP else None
        tasks.append(_guarded(step, body, always))
    return tasks


OUTCOME = (
    "{{ 'rollback stopped: no stable server answers its health check while the canary "
    "serves users, so traffic was left on the canary; a human must bring stable back' "
    "if (" + STABLE_DOWN + " | default(false)) else "
    "('rollback incomplete: ' ~ (relrun_rollback_failed | join(', ')) "
    "if relrun_rollback_failed is defined else 'rolled back') }}"
)
LEASE_HELD = "ansible_failed_result.lease_held | default(false)"


def _held_stop() -> Task:
    """First in the rescue: the arm was refused because another run holds the backend.

    Its traffic is that run's: rolling back here would move it. Nothing of ours moved yet
    (the arm precedes the first shift), so the release stops as it is.
    """
    return {
        "name": "Dead man's switch: another run holds the backend, stop without rolling back",
        "ansible.builtin.fail": {
            "msg": "another run holds this router backend; its traffic is left untouched"
        },
        "when": LEASE_HELD,
    }


def rollout_play(
    runbook: Runbook, gate_checks: list[Task], verify_checks: list[Task]
) -> Play | None:
    """The rollout: readiness, checks, stages in a block; the rollback as its rescue."""
    if runbook.rollout is None or runbook.traffic is None:
        return None
    readiness = runbook.deploy.readiness if runbook.deploy else None
    block: list[Task] = []
    if readiness is not None:
        block.append(
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
        )
    block += gate_checks
    lease = f"{runbook.rollback.lease:g}s"
    block.append(deadman_task(runbook, f"Dead man's switch: arm (lease {lease})", "arm"))
    for index, stage in enumerate(runbook.rollout.stages):
        block += stage_tasks(runbook, index, stage)
    block.append(
        fault_task(runbook, PROMOTE_REVERT_TASK, "revert", "relrun_drill is defined")
    )
    block.append(reachable_task(runbook, "Promote: app hosts reachable"))
    block.append(deadman_task(runbook, "Dead man's switch: disarm (promoted)", "disarm"))
    rescue = [
        _held_stop(),
        *rollback_tasks(runbook, verify_checks, in_rescue=True),
        {"name": OUTCOME_IN_RESCUE, "ansible.builtin.fail": {"msg": OUTCOME}},
    ]
    return {
        "name": "Rollout",
        "hosts": runbook.targets.router,
        "gather_facts": False,
        "tasks": [{"name": "Rollout stages", "block": block, "rescue": rescue}],
    }


def _guard_check(runbook: Runbook) -> Task:
    """Before a run's own rollback: no other run holds the backend (its traffic is theirs).

    An unreachable router is not a reason to skip the rollback: the steps then run and
    each reports the router unreachable (a rollback failure, exit 3).
    """
    task = deadman_task(
        runbook,
        "Rollback: no other run holds the backend (its traffic is not ours to move)",
        "check",
    )
    task["ignore_unreachable"] = True
    return task


def rollback_play(runbook: Runbook, verify_checks: list[Task]) -> Play | None:
    """The standalone rollback (``relrun rollback``, interrupts): only with ``--tags rollback``."""
    if runbook.rollout is None or runbook.traffic is None:
        return None
    return {
        "name": "Rollback",
        "hosts": runbook.targets.router,
        "gather_facts": False,
        "tags": ["never", "rollback"],
        "tasks": [
            _guard_check(runbook),
            *rollback_tasks(runbook, verify_checks),
            {
                "name": OUTCOME_STANDALONE,
                "ansible.builtin.fail": {"msg": OUTCOME},
                "when": "relrun_rollback_failed is defined",
            },
        ],
    }
