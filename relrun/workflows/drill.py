"""``relrun drill``: release with an injected fault and prove the rollback.

With no inventory, the drill brings up its own sandbox inside the run directory, drills
against it, and tears it down, whatever happens.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import relrun.sandbox
from relrun.errors import EXIT_FAILED, EXIT_OK, InputError
from relrun.run.active import clear_active, dead_runs
from relrun.run.events import Handler
from relrun.run.lock import environment_id
from relrun.run.signals import deferred_signals, raise_if_signalled
from relrun.runbook.crosscheck import TRAFFIC_FAULTS, traffic_fault_problem
from relrun.runbook.loader import load_runbook
from relrun.runbook.rollout_models import FAULT_KINDS, fault_value_problem
from relrun.runbook.schema import Runbook
from relrun.sandbox.settings import SandboxConfig
from relrun.workflows.context import new_run_dir
from relrun.workflows.lifecycle import ReleaseResult
from relrun.workflows.release import DrillFault, Environment, Say, run_release

SANDBOX_INVENTORY = Path(relrun.sandbox.__file__).resolve().parent / "inventory.yml"


DEFAULT_RATE = 20.0  # the private sandbox's load generator, requests per second
_ASCII_NUMBER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9}")


def parse_fault(runbook: Runbook, fault: str | None, at: str | None) -> DrillFault:
    """Resolve the drill's fault from ``--fault``/``--at`` and the runbook's defaults.

    Args:
        runbook: the runbook.
        fault: ``KIND=VALUE``, ``KIND`` (``crash``, ``none``), or None for the runbook's.
        at: a stage name, or None for the runbook's (default the second stage).

    Returns:
        The fault with its stage resolved.

    Raises:
        InputError: unknown kind, bad value, unknown stage, or no rollout to drill.
    """
    if runbook.rollout is None:
        raise InputError("the runbook has no rollout: there is nothing to drill")
    kind: str = runbook.drill.fault.kind
    value = runbook.drill.fault.value
    if fault is not None:
        kind, _, raw = fault.partition("=")
        if kind not in FAULT_KINDS:
            raise InputError(
                f"--fault: unknown kind {kind!r} (one of {', '.join(FAULT_KINDS)})"
            )
        # ASCII digits only: float() also takes other scripts' digits (Arabic-Indic "0.5"),
        # "1_0" and "1e3", none of which a person means as the fault's value.
        if raw and not _ASCII_NUMBER.fullmatch(raw):
            raise InputError(f"--fault: {raw!r} is not a number (write digits 0-9, e.g. 0.5)")
        value = float(raw) if raw else 0.0
        if not math.isfinite(value):
            raise InputError(f"--fault: {raw!r} is not a finite number")
        if kind in {"crash", "none", "command"} and raw:
            raise InputError(f"--fault: {kind} takes no value (write --fault {kind})")
        if kind == "command" and not runbook.drill.fault.inject:
            raise InputError(
                "--fault command: the runbook's drill.fault has no `inject` steps to run"
            )
        problem = fault_value_problem(kind, value)
        if problem is not None:  # the same rule as the runbook's drill.fault
            raise InputError(f"--fault: {problem}")
    stages = runbook.rollout.stages
    names = [s.name for s in stages]
    default = runbook.default_drill_stage()
    assert default is not None  # the runbook has a rollout (checked above)
    stage = at or default
    if stage not in names:
        raise InputError(f"--at: no stage named {stage!r} (stages: {', '.join(names)})")
    declared = runbook.drill.fault
    via = declared.via if kind in {"error_rate", "latency"} else "traffic"
    assert runbook.traffic is not None  # a rollout needs a traffic section (checked above)
    problem = traffic_fault_problem(runbook.traffic.driver, kind, via)
    if problem is not None:
        raise InputError(f"--fault {kind}: {problem}")
    if kind in TRAFFIC_FAULTS and via == "traffic":
        on = "router"  # the router in front of the canary servers injects it
    elif kind == "command":
        on = declared.run_on
    else:
        on = "canary"
    return DrillFault(
        kind=kind,
        value=value,
        stage_index=names.index(stage) + 1,
        stage_name=stage,
        via=via,
        status=declared.status,
        on=on,
    )


def drill(
    runbook_path: Path,
    inventory: Path | None = None,
    report_dir: Path | None = None,
    fault: str | None = None,
    at: str | None = None,
    progress: Handler | None = None,
    say: Say | None = None,
    traffic_log: Path | None = None,
    rate: float = DEFAULT_RATE,
    config: SandboxConfig | None = None,
) -> ReleaseResult:
    """Run a drill.

    Args:
        runbook_path: the runbook.
        inventory: the environment; None starts a private sandbox.
        report_dir: where reports go.
        fault: ``KIND=VALUE`` overriding the runbook's fault.
        at: stage name overriding the runbook's.
        progress: progress display.
        say: urgent operator messages.
        traffic_log: the load generator's log for an explicit inventory.
        rate: load generator requests per second (private sandbox only).
        config: the private sandbox's settings (background noise); defaults when None.

    Returns:
        The drill's result.
    """
    _refuse_idle_options(inventory, traffic_log, rate, config)
    loaded = load_runbook(runbook_path)
    drill_fault = parse_fault(loaded.runbook, fault, at)
    if inventory is not None:
        _check_traffic_log(traffic_log)
        env = Environment(
            inventory=inventory, lock_key=environment_id(inventory), traffic_log=traffic_log
        )
        return run_release("drill", runbook_path, env, report_dir, progress, drill_fault, say)

    from relrun.sandbox import control
    from relrun.sandbox.layout import Layout

    # A signal while the sandbox starts or goes away is obeyed once it is down: exit 130,
    # no process left behind.
    with deferred_signals():
        run_dir = new_run_dir(report_dir, "drill", loaded.runbook.metadata.name)
        state_dir = run_dir / "sandbox"
        if say:
            say(f"starting a sandbox in {state_dir}")
        try:
            clean_dead_sandboxes(say)
            # Owned by this process: killed with -9, its sandbox stops by itself once the
            # dead man's switch had its lease.
            control.up(
                state_dir, rate=rate, owner=os.getpid(), owner_grace=loaded.runbook.rollback.lease,
                config=_with_app(config, loaded.runbook, runbook_path),
                mix=loaded.runbook.load,
            )
            raise_if_signalled("starting the sandbox (it is torn down, nothing was released)")
            env = Environment(
                inventory=SANDBOX_INVENTORY,
                lock_key=f"sandbox|{state_dir}",
                envvars={"RELRUN_SANDBOX_DIR": str(state_dir)},
                traffic_log=Layout.at(state_dir).traffic_log,
            )
            result = run_release("drill", runbook_path, env, run_dir, progress, drill_fault, say)
        finally:
            control.down(state_dir)
            # The run directory is meant to be shared; the sandbox's keys die with it.
            shutil.rmtree(state_dir / "secrets", ignore_errors=True)
        if result.exit_code in {EXIT_OK, EXIT_FAILED}:
            raise_if_signalled(f"the drill, its reports and its sandbox's teardown ({run_dir})")
    return result


def sandbox_config(runbook: Runbook, runbook_path: Path) -> SandboxConfig:
    """The private sandbox's settings: the runbook's own application, when it names one.

    Its commands run in ``sandbox.app.cwd``, relative to the runbook (default the
    runbook's directory), so a runbook drills the same way from any working directory.
    """
    section = runbook.sandbox
    if section is None or section.app is None:
        return SandboxConfig()
    base = runbook_path.resolve().parent
    cwd = (base / section.app.cwd).resolve() if section.app.cwd else base
    return SandboxConfig(app=section.app.model_copy(update={"cwd": str(cwd)}))


def _with_app(config: SandboxConfig | None, runbook: Runbook, runbook_path: Path) -> SandboxConfig:
    """``config`` (noise, …) with the runbook's own application, when it names one."""
    app = sandbox_config(runbook, runbook_path).app
    return (config or SandboxConfig()).model_copy(update={"app": app})


def _refuse_idle_options(
    inventory: Path | None, traffic_log: Path | None, rate: float, config: SandboxConfig | None
) -> None:
    """An option that would change nothing is refused rather than silently ignored."""
    problems: list[str] = []
    if inventory is None and traffic_log is not None:
        problems.append(
            "--traffic-log has no effect without -i: a drill on its private sandbox reads "
            "that sandbox's own load generator log"
        )
    if inventory is not None:
        noisy = config is not None and (config.noise_error_rate or config.noise_latency_ms)
        if rate != DEFAULT_RATE or noisy:
            problems.append(
                "--rate, --noise-errors and --noise-latency-ms set up the private sandbox "
                "and have no effect with -i (the environment's own load generator runs)"
            )
    if problems:
        raise InputError("\n".join(problems))


def _check_traffic_log(traffic_log: Path | None) -> None:
    """A drill proves no request was lost, which takes the load generator's log."""
    if traffic_log is None:
        raise InputError(
            "--traffic-log is required with -i: a drill must count lost requests from the "
            "load generator's log of that environment (for the local sandbox, "
            "`relrun sandbox status` prints its path)"
        )
    if not traffic_log.is_file():
        raise InputError(f"--traffic-log {traffic_log}: no such file")


def clean_dead_sandboxes(say: Say | None = None) -> list[Path]:
    """Tear down the private sandboxes of drills whose relrun died (kill -9, lost host).

    Such a drill's sandbox is its own environment: nothing else can release into it, so
    its rollback would only move traffic that no user sends. Its processes are stopped
    (its reaper does so too, after the lease), its keys removed and its marker cleared.

    Returns:
        The state directories cleaned up.
    """
    from relrun.sandbox import control

    cleaned: list[Path] = []
    for record in dead_private_drills():
        run_dir = Path(str(record.get("run_dir") or ""))
        sandbox = str(run_dir / "sandbox")
        stopped = control.down(sandbox)
        shutil.rmtree(Path(sandbox) / "secrets", ignore_errors=True)
        clear_active(f"sandbox|{sandbox}")
        cleaned.append(Path(sandbox))
        if say:
            say(
                f"cleaned up the private sandbox of a drill whose relrun died (pid "
                f"{record.get('pid')}): stopped {', '.join(stopped) or 'nothing'}; its "
                f"reports are in {run_dir}"
            )
    return cleaned


def dead_private_drills() -> list[dict[str, Any]]:
    """The active-run markers of drills on a private sandbox whose relrun died."""
    found: list[dict[str, Any]] = []
    for record in dead_runs():
        run_dir = Path(str(record.get("run_dir") or ""))
        envvars = record.get("envvars")
        sandbox = str(envvars.get("RELRUN_SANDBOX_DIR") or "") if isinstance(envvars, dict) else ""
        if record.get("kind") == "drill" and sandbox and Path(sandbox) == run_dir / "sandbox":
            found.append(record)
    return found
