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
    Guard,
    MetricsAuth,
    MetricsSource,
    Stage,
    Step,
    Traffic,
    merged_analysis,
    stage_pause,
)
from relrun.runbook.schema import Runbook
from relrun.runbook.steps import (
    APP_CLEANUP_PLAY,
    OUTCOME_IN_RESCUE,
    OUTCOME_STANDALONE,
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


def step_task(name: str, step: Command) -> Task:
    """A command step (deploy, cleanup, hook) through ``relrun.release.build``.

    It runs on the play's host: the deploy and the cleanup are plays on the canary group,
    so Ansible runs them on every canary host at once (up to ``forks``), never one host
    after another.

    Args:
        name: the task name.
        step: the command.

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
        env[env_name] = "{{ " + var + " }}"  # a checked identifier: the host's own variable
    if env:
        args["env"] = env
    args["timeout"] = step.timeout
    return {"name": name, f"{C}.build": args}


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
        args["auth"] = _auth_arg(metrics.auth)
    if metrics.tls is not None:
        args["tls"] = tls_args(metrics.tls)
    return args


def _auth_arg(auth: MetricsAuth) -> dict[str, Any]:
    """A credentials reference: names as literals, file paths as the templates they are."""
    args: dict[str, Any] = {}
    for name in ("token_env", "username", "username_env", "password_env"):
        value = getattr(auth, name)
        if value is not None:
            args[name] = unsafe(value)
    for name in ("token_file", "password_file"):
        value = getattr(auth, name)
        if value is not None:
            args[name] = value
    return args


def guard_arg(guard: Guard, backend: str) -> dict[str, Any]:
    """One item of the analysis module's ``guards``: the query, path and names as literals.

    Only the URL and the credential and TLS file paths are templates for Ansible; the
    ``${...}`` variables are filled in by the module.
    """
    args: dict[str, Any] = {
        "name": unsafe(guard.name),
        "provider": guard.provider,
        "url": guard.url,
        "backend": unsafe(backend),
        "timeout": guard.timeout,
        "max_outage": guard.max_outage,
        "consecutive": guard.consecutive,
    }
    if guard.query is not None:
        args["query"] = unsafe(guard.query)
    if guard.path is not None:
        args["path"] = unsafe(guard.path)
    if guard.headers:
        args["headers"] = unsafe_tree(guard.headers)
    if guard.headers_env:
        args["headers_env"] = unsafe_tree(guard.headers_env)
    for limit in ("max", "min"):
        if getattr(guard, limit) is not None:
            args[limit] = getattr(guard, limit)
    if guard.max_vs_stable is not None:
        args["max_vs_stable"] = guard.max_vs_stable.model_dump()
    if guard.auth is not None:
        args["auth"] = _auth_arg(guard.auth)
    if guard.tls is not None:
        args["tls"] = tls_args(guard.tls)
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


def stage_tasks(runbook: Runbook, index: int, stage: Stage) -> tuple[list[Task], list[Task]]:
    """One stage on the router host, in two parts around the canary hosts' drill fault.

    Before: every app host answered its ping, stable is healthy, shift the weight, (drill:
    inject a fault that runs on the router). After: (drill: the fault is on every canary
    host), then watch the canary for the bake.

    The bake obeys the operators' gate requests (``relrun pause``, ``resume``, ``promote``)
    and holds at the stage's own pause. After a ``promote --full``, every task of the
    stages left is skipped but the last stage's checks and shift to its final weight.
    """
    assert runbook.traffic is not None
    count = len(runbook.rollout.stages) if runbook.rollout else 0
    before, after = _stage_tasks(runbook, index, stage, count)
    if index == 0:
        return before, after
    skipped_after = [_unless_full(task) for task in after]
    if index < count - 1:
        return [_unless_full(task) for task in before], skipped_after
    # The last stage keeps its ping, stable check and shift: the canary's final weight.
    return [*before[:3], *(_unless_full(task) for task in before[3:])], skipped_after


def _stage_tasks(
    runbook: Runbook, index: int, stage: Stage, count: int
) -> tuple[list[Task], list[Task]]:
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
    drill_here = f"relrun_drill is defined and relrun_drill.stage == {index + 1}"
    before = [
        reached_task(runbook, name(StageAction.REACHED), f"stage-{index + 1}"),
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
        host_fault_task(
            runbook, name(StageAction.FAULT), "inject", on_router=True,
            when=f"relrun_drill.stage == {index + 1}",
        ),
    ]
    after = [
        faulted_task(runbook, name(StageAction.FAULTED), drill_here),
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
                **_guards_args(runbook),
                gate=True,
                **_pause_arg(runbook, index),
                **_lease_args(runbook),
            ),
        },
    ]
    return before, after


REACH = "relrun_reach"
FAULT_RESULT = "relrun_fault"


def app_groups(runbook: Runbook) -> str:
    """Every app host: the stable and canary groups (checked names), once each."""
    return (
        "(groups['" + runbook.targets.stable + "'] + groups['" + runbook.targets.canary
        + "']) | unique"
    )


def ping_task(name: str, token: str) -> Task:
    """On each app host (a play on the app groups, so all hosts at once): it answers.

    The answer carries ``token`` (the stage), so the router tells this round's answers from
    an earlier one's. Hosts on a ``local`` connection are skipped without a round trip.
    """
    return {
        "name": name,
        "ansible.builtin.ping": {"data": token},
        "register": REACH,
        "when": "ansible_connection | default('ssh') != 'local'",
    }


def reached_task(runbook: Runbook, name: str, token: str) -> Task:
    """On the router host: every app host answered this round's ping.

    A host the release can no longer reach cannot be cleaned up or rolled back, so losing
    one mid-stage must stop the release before more traffic moves, also when nothing else
    would contact it before promotion. Only the few facts are extracted (see
    ``_preflight_passed``).
    """
    hosts = "(" + app_groups(runbook) + ")"
    return {
        "name": name,
        "ansible.builtin.assert": {
            "that": ["relrun_unanswered | length == 0"],
            "fail_msg": "app host(s) {{ relrun_unanswered | join(', ') }} did not answer "
            "(unreachable): the release stops before more traffic moves",
            "quiet": True,
        },
        "vars": {
            "relrun_app_hosts": "{{ " + hosts + " }}",
            "relrun_app_connections": "{{ relrun_app_hosts | map('extract', hostvars, "
            "'ansible_connection') | map('default', 'ssh') | list }}",
            "relrun_app_replies": "{{ relrun_app_hosts | map('extract', hostvars, '" + REACH
            + "') | map('default', {}) | list }}",
            "relrun_app_answers": "{{ relrun_app_replies | map(attribute='ping', default='') "
            "| list }}",
            "relrun_unanswered": "{{ relrun_app_hosts | zip(relrun_app_connections, "
            "relrun_app_answers) | rejectattr(1, 'eq', 'local') | rejectattr(2, 'eq', '"
            + token + "') | map(attribute=0) | list }}",
        },
    }


def faulted_task(runbook: Runbook, name: str, when: str) -> Task:
    """On the router host, after the canary hosts' play: the fault is on every one of them."""
    hosts = "groups['" + runbook.targets.canary + "']"
    return {
        "name": name,
        "ansible.builtin.assert": {
            "that": ["relrun_unfaulted | length == 0"],
            "fail_msg": "the drill fault is not in force on {{ relrun_unfaulted | join(', ') }}",
            "quiet": True,
        },
        "vars": {
            "relrun_faulted_at": "{{ " + hosts + " | map('extract', hostvars, '" + FAULT_RESULT
            + "') | map('default', {}) | map(attribute='injected_at', default='') | list }}",
            "relrun_unfaulted": "{{ " + hosts + " | zip(relrun_faulted_at) | rejectattr(1) "
            "| map(attribute=0) | list }}",
        },
        "when": when + " and not (" + ON_ROUTER + ")",
    }


def _host_var(var: str, default: str | None = None) -> str:
    """A variable (a checked identifier) of the play's own host."""
    return "{{ " + var + (f" | default({default})" if default is not None else "") + " }}"


def _guards_args(runbook: Runbook) -> dict[str, Any]:
    """The bake's ``guards`` argument, when the runbook has business-metric guards."""
    assert runbook.traffic is not None
    guards = runbook.analysis.guards
    if not guards:
        return {}
    return {"guards": [guard_arg(g, runbook.traffic.backend) for g in guards]}


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
            env[env_name] = _host_var(var)
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
            env[env_name] = _host_var(var, default="''")
    return env


ON_ROUTER = "(relrun_drill.on | default('canary')) == 'router'"


def _fault_args(runbook: Runbook, action: str) -> dict[str, Any]:
    assert runbook.traffic is not None
    fault = runbook.drill.fault
    args: dict[str, Any] = {
        "action": action,
        "kind": "{{ relrun_drill.kind }}",
        "value": "{{ relrun_drill.value }}",
        "status": "{{ relrun_drill.status | default(503) }}",
        "via": "{{ relrun_drill.via | default('traffic') }}",
        "servers": unsafe_tree(runbook.traffic.canary_servers),
        "driver": driver_arg(runbook.traffic),
        "connection": connection_arg(runbook.traffic),
        "state_dir": _host_var("relrun_sandbox_state_dir", default="''"),
        "service_ctl": _host_var("relrun_service_ctl", default="''"),
        "service": unsafe(fault.service),
    }
    steps = fault.inject if action == "inject" else fault.revert
    if steps:
        args["commands"] = _fault_steps(steps)
    service_env = _deploy_env(runbook)
    if service_env and action == "inject":
        args["service_env"] = service_env
    return args


def host_fault_task(
    runbook: Runbook, name: str, action: str, *, on_router: bool, when: str = ""
) -> Task:
    """The drill's fault on the play's own host: the router's share, or a canary host's.

    The canary hosts inject and revert theirs in plays of their own, all at once (up to
    ``forks``); the router host injects and reverts a fault that runs there.
    """
    where = ON_ROUTER if on_router else "not (" + ON_ROUTER + ")"
    return {
        "name": name,
        f"{C}.fault": _fault_args(runbook, action),
        "when": "relrun_drill is defined and " + where + (" and " + when if when else ""),
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
    # The cleanup's router part runs in two places (before and after the canary hosts'):
    # a step is listed once.
    record: dict[str, str] = {
        "relrun_rollback_failed": "{{ (relrun_rollback_failed | default([]) + ['" + step
        + "']) | unique }}"
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
        # The router's share of the cleanup, first: a fault left in force there (a traffic
        # fault, a command fault run on the router) must not outlive the drill, whichever
        # way it ends. The canary hosts then clean up in a play of their own, all at once
        # (cleanup_plays).
        RollbackStep.CLEANUP: [
            host_fault_task(
                runbook, name(RollbackStep.CLEANUP, REVERT_FAULT), "revert", on_router=True
            ),
        ],
    }
    tasks: list[Task] = []
    for step in ROLLBACK_STEPS:
        body = [
            step_task(StepRef.rollback_hook(step, h.name).task, h)
            for h in hooks.get(f"before_{step}", [])  # type: ignore[call-overload]
        ]
        body += steps[step]
        if step is not RollbackStep.CLEANUP:  # its after-hooks follow the canary hosts'
            body += _after_hooks(runbook, step)
        tasks.append(_guarded(step, body))
    tasks += [
        {
            "name": name(RollbackStep.CLEANUP, "the canary hosts clean up next, all at once"),
            "ansible.builtin.set_fact": {ROLLBACK_MODE: "rescue" if in_rescue else "standalone"},
        },
        # An app host lost in a delegated task marks this host unreachable too: the plays
        # that finish the rollback must still run here (a task that cannot reach it fails
        # on its own, and is recorded).
        {
            "name": "Rollback: go on to the cleanup plays",
            "ansible.builtin.meta": "clear_host_errors",
        },
    ]
    return tasks


def _after_hooks(runbook: Runbook, step: RollbackStep) -> list[Task]:
    return [
        step_task(StepRef.rollback_hook(step, h.name).task, h)
        for h in runbook.rollback.hooks.get(f"after_{step}", [])  # type: ignore[call-overload]
    ]


# Set on the router host by the rollback (``rescue`` in the rollout, ``standalone`` in
# ``relrun rollback``): the cleanup plays after it run only then.
ROLLBACK_MODE = "relrun_rollback_mode"
CLEANED = "relrun_cleaned"


def _router_fact(runbook: Runbook, fact: str, default: str) -> str:
    """A fact of the (first) router host, read from another play: the rollback's state.

    Only the one fact is extracted (see ``_preflight_passed``).
    """
    return (
        'groups["' + runbook.targets.router + '"][:1] | map("extract", hostvars, "' + fact
        + '") | map("default", ' + default + ") | first | default(" + default + ")"
    )


def hosts_if(condition: str, hosts: str) -> str:
    """A play's hosts: ``hosts`` when ``condition`` holds, else none at all.

    A play without hosts costs Ansible nothing per host, however large the fleet: the
    plays that have nothing to do are passed over at once.
    """
    return "{{ " + hosts + " if (" + condition + ") else [] }}"


def _after_rollback(runbook: Runbook) -> str:
    return "(" + _router_fact(runbook, ROLLBACK_MODE, "''") + ") != ''"


def canary_cleanup_play(runbook: Runbook) -> Play | None:
    """The rollback's cleanup on the canary hosts: one play, every host at once (``forks``).

    It runs after the rollout (or ``relrun rollback``) once the router host rolled back,
    unless no stable server was healthy (the canary then serves users: never stop it).
    Each host reverts a drill fault of its own, runs the runbook's cleanup steps and says
    it is done; a host that fails or cannot be reached is recorded, and the router's
    cleanup then reports it.
    """
    if runbook.rollout is None or runbook.traffic is None:
        return None
    step = RollbackStep.CLEANUP
    stable_down = _router_fact(runbook, STABLE_DOWN, "false")
    body: list[Task] = [
        host_fault_task(runbook, StepRef.rollback(step, REVERT_FAULT).task, "revert",
                        on_router=False),
        *[
            step_task(StepRef.rollback(step, s.name).task, s)
            for s in runbook.rollback.cleanup.steps
        ],
        {
            "name": StepRef.rollback(step, "cleaned up on this host").task,
            "ansible.builtin.set_fact": {CLEANED: True},
        },
    ]
    return {
        "name": APP_CLEANUP_PLAY,
        "hosts": hosts_if(
            _after_rollback(runbook) + " and not (" + stable_down + ")",
            "groups['" + runbook.targets.canary + "']",
        ),
        "gather_facts": False,
        "tags": ["rollback"],
        "tasks": [
            # A canary host lost earlier (a ping that found it unreachable) is tried too:
            # its cleanup then fails there, naming it.
            {
                "name": "Rollback: every canary host cleans up, also one lost earlier",
                "ansible.builtin.meta": "clear_host_errors",
            },
            {
                "name": StepRef.rollback(step).task,
                "block": body,
                "rescue": [
                    {
                        "name": StepRef.rollback_failure(step).task,
                        "ansible.builtin.set_fact": {CLEANED: False},
                    }
                ],
            },
        ],
    }


def _every_canary_cleaned(runbook: Runbook) -> Task:
    # A checked group name; double quotes inside, so the YAML needs no escaping.
    hosts = 'groups["' + runbook.targets.canary + '"]'
    return {
        "name": StepRef.rollback(RollbackStep.CLEANUP, "every canary host cleaned up").task,
        "ansible.builtin.assert": {
            "that": ["relrun_not_cleaned | length == 0"],
            "fail_msg": "cleanup incomplete on {{ relrun_not_cleaned | join(', ') }}: "
            "the new version may still run there",
            "quiet": True,
        },
        "vars": {
            "relrun_cleaned_hosts": "{{ " + hosts + ' | map("extract", hostvars, "' + CLEANED
            + '") | map("default", false) | list }}',
            "relrun_not_cleaned": "{{ " + hosts + " | zip(relrun_cleaned_hosts)"
            " | rejectattr(1) | map(attribute=0) | list }}",
        },
    }


def rollback_outcome_play(runbook: Runbook) -> Play | None:
    """After the canary hosts' cleanup: the router's end of it, then the rollback's outcome."""
    if runbook.rollout is None or runbook.traffic is None:
        return None
    step = RollbackStep.CLEANUP
    body = [
        _every_canary_cleaned(runbook),
        {
            "name": StepRef.rollback(step, "canary servers to maintenance").task,
            f"{C}.traffic": _traffic_args(runbook, "maint", **_lease_args(runbook)),
        },
        *_after_hooks(runbook, step),
    ]
    mode = ROLLBACK_MODE + " | default('')"
    return {
        "name": "Rollback outcome",
        "hosts": hosts_if(_after_rollback(runbook), "groups['" + runbook.targets.router + "']"),
        "gather_facts": False,
        "tags": ["rollback"],
        "tasks": [
            _guarded(step, body, [_disarm_after_rollback(runbook)]),
            {
                "name": OUTCOME_IN_RESCUE,
                "ansible.builtin.fail": {"msg": OUTCOME},
                "when": "(" + mode + ") == 'rescue'",
            },
            {
                "name": OUTCOME_STANDALONE,
                "ansible.builtin.fail": {"msg": OUTCOME},
                "when": "(" + mode + ") == 'standalone' and relrun_rollback_failed is defined",
            },
        ],
    }


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
        "tasks": [_guard_check(runbook), *rollback_tasks(runbook, verify_checks)],
    }
