"""The one place relrun starts Ansible: bake the arguments, then execute them.

``bake_run`` is pure: it decides the private data directory, the environment and every
argument. ``execute`` hands them to ansible-runner and turns its events into relrun events.
Unit tests fake ``execute`` (or ``ansible_runner.run`` behind it); integration tests run it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import relrun
from relrun.errors import RunFailed
from relrun.run.events import EventBus, RunFinished, RunStarted, from_runner_event
from relrun.run.procfs import pid_alive
from relrun.run.redact import (
    Redactor,
    playbook_env_references,
    recorded_environment_secrets,
    run_redactor,
    scrub_artifacts,
)

COLLECTIONS_PATH = Path(relrun.__file__).resolve().parent / "collection"


@dataclass(frozen=True)
class RunSpec:
    """What to run: a rendered playbook against an inventory, in a run directory."""

    label: str
    playbook_text: str
    inventory: Path
    run_dir: Path
    extravars: dict[str, Any] = field(default_factory=dict)
    forks: int = 10
    timeout: float | None = None
    tags: str | None = None
    envvars: dict[str, str] = field(default_factory=dict)
    # Where ansible-runner's private data directories go (default ``run_dir``): a rescue
    # rollback on a full disk puts them elsewhere.
    artifacts_dir: Path | None = None


@dataclass(frozen=True)
class BakedRun:
    """Everything ansible-runner needs, decided in advance."""

    private_data_dir: Path
    playbook: Path
    kwargs: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    """How a playbook run ended."""

    label: str
    status: str
    rc: int | None
    private_data_dir: Path

    @property
    def ok(self) -> bool:
        """Whether every task succeeded."""
        return self.status == "successful" and self.rc == 0


def _next_private_dir(run_dir: Path, label: str) -> Path:
    base = run_dir / "ansible"
    existing = len(list(base.iterdir())) if base.exists() else 0
    return base / f"{existing + 1:02d}-{label}"


def relrun_envvars(extra: dict[str, str]) -> dict[str, str]:
    """The environment variables relrun sets for ansible-playbook (the rest is inherited).

    Args:
        extra: the run's own variables (``RunSpec.envvars``).

    Returns:
        relrun's fixed Ansible settings, then ``extra``.
    """
    return {
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        **_ssh_safety(),
        **extra,
    }


def _ssh_safety() -> dict[str, str]:
    """Host keys checked, and ssh never waiting for an answer no one can give.

    ansible-runner turns Ansible's host key checking off unless the environment says
    otherwise, so an unknown (or changed) host key would be accepted silently; relrun turns
    it back on. ssh runs in batch mode: under ansible-runner's terminal a question (accept
    this host key? a passphrase?) would hang the release, so it fails instead. An
    operator's own ANSIBLE_HOST_KEY_CHECKING / ANSIBLE_SSH_EXTRA_ARGS are left as they are,
    and an inventory's ansible_ssh_extra_args replaces the batch-mode default.
    """
    safety = {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_EXTRA_ARGS": "-o BatchMode=yes",
    }
    return {name: value for name, value in safety.items() if name not in os.environ}


def bake_run(spec: RunSpec) -> BakedRun:
    """Decide every argument of one ansible-runner invocation.

    Args:
        spec: what to run.

    Returns:
        The baked run; nothing is written yet.
    """
    private = _next_private_dir(spec.artifacts_dir or spec.run_dir, spec.label)
    playbook = private / "project" / "playbook.yml"
    envvars = relrun_envvars(spec.envvars)
    kwargs: dict[str, Any] = {
        "private_data_dir": str(private),
        "playbook": str(playbook),
        "inventory": str(spec.inventory),
        "envvars": envvars,
        "extravars": dict(spec.extravars),
        "forks": spec.forks,
        "quiet": True,
        "rotate_artifacts": 0,
        # A top-level option (ansible-runner ignores it inside ``settings``): nothing is
        # written to env/, so envvars never land on disk there.
        "suppress_env_files": True,
    }
    if spec.tags:
        kwargs["tags"] = spec.tags
    # With suppress_env_files ansible-runner reads its settings only from env/settings
    # (it drops the `settings` argument), so they are written there (nothing secret).
    # The journal keeps every task's output, redacted; the raw stdout file would not be.
    settings = {"suppress_output_file": True, "job_timeout": int(spec.timeout or 0)}
    return BakedRun(private_data_dir=private, playbook=playbook, kwargs=kwargs, settings=settings)


CancelCheck = Callable[[], bool]


def _cancel_through_guard(private: Path, cancelled: CancelCheck | None) -> CancelCheck:
    """ansible-runner's cancel kills one process group; the guard kills the whole tree.

    So on cancel, first ask the guard (SIGTERM) to take down ansible-playbook, its
    workers and their modules, then let ansible-runner finish the job.
    """
    sent: list[bool] = []

    def check() -> bool:
        if cancelled is None or not cancelled():
            return False
        if sent:
            return True  # once: the pid may belong to someone else after the guard exits
        sent.append(True)
        try:
            pid = int((private / "guard.pid").read_text(encoding="utf-8"))
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            return True
        # Let the guard finish freezing and killing the tree: ansible-runner's own kill
        # that follows would otherwise stop it half-way and leave workers behind.
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True

    return check


def _guard_script(playbook: Path) -> str:
    """The executable ansible-runner starts: ansible-playbook under :mod:`relrun.run.guard`.

    With a custom binary ansible-runner no longer appends the playbook, so the script does.
    """
    python = shlex.quote(sys.executable)
    playbook_bin = shlex.quote(str(Path(sys.executable).with_name("ansible-playbook")))
    return (
        "#!/bin/sh\n"
        f"exec {python} -m relrun.run.guard {os.getpid()} "
        f"{shlex.quote(str(playbook.parent.parent / 'guard.pid'))} "
        f'{python} {playbook_bin} "$@" '
        f"{shlex.quote(str(playbook))}\n"
    )


def execute(
    baked: BakedRun, spec: RunSpec, bus: EventBus, cancelled: CancelCheck | None = None
) -> RunOutcome:
    """Run a baked playbook through ansible-runner, streaming events to the bus.

    Args:
        baked: from :func:`bake_run`.
        spec: the spec it was baked from.
        bus: receives typed events as they happen.
        cancelled: polled by ansible-runner; True stops the run (relrun owns the signals).

    Returns:
        The run's status and return code.

    Raises:
        RunFailed: ansible-runner could not start the run.
    """
    import ansible_runner  # imported late: it is slow to import and unit tests fake it

    baked.playbook.parent.mkdir(parents=True, exist_ok=True)
    (baked.private_data_dir / "env").mkdir(exist_ok=True)
    (baked.private_data_dir / "env" / "settings").write_text(
        json.dumps(baked.settings), encoding="utf-8"
    )
    baked.playbook.write_text(spec.playbook_text, encoding="utf-8")
    guard = baked.private_data_dir / "ansible-playbook-guard"
    guard.write_text(_guard_script(baked.playbook), encoding="utf-8")
    guard.chmod(0o700)
    baked.private_data_dir.chmod(0o700)
    bus.emit(RunStarted(label=spec.label, playbook=str(baked.playbook)))
    redactor = run_redactor(spec.playbook_text, spec.inventory, {**os.environ, **spec.envvars})

    def on_event(raw: dict[str, Any]) -> bool:
        # Scrubbed in place first: ansible-runner writes this same dict to job_events/.
        redactor.scrub_event(raw)
        event = from_runner_event(raw)
        if event is not None:
            bus.emit(event)
        return True

    try:
        runner = ansible_runner.run(
            **baked.kwargs,
            binary=str(guard),
            event_handler=on_event,
            cancel_callback=_cancel_through_guard(baked.private_data_dir, cancelled),
        )
    except Exception as err:  # ansible-runner raises plain exceptions on setup problems
        raise RunFailed(f"could not start ansible-runner: {err}") from err
    finally:
        scrub_artifacts(baked.private_data_dir, baked.kwargs["envvars"], redactor)
    outcome = RunOutcome(
        label=spec.label,
        status=str(runner.status),
        rc=runner.rc,
        private_data_dir=baked.private_data_dir,
    )
    bus.emit(RunFinished(label=spec.label, status=outcome.status, rc=outcome.rc))
    return outcome


def scrub_earlier_runs(
    run_dir: Path, playbook_text: str, inventory: Path, envvars: dict[str, str]
) -> list[Path]:
    """Scrub the artifacts of every ansible-runner invocation already in a run directory.

    :func:`execute` scrubs its own artifacts when ansible-runner returns; a relrun killed
    with SIGKILL never gets there. Recovery calls this for the dead run. The secrets are
    the ones that run knew: its environment as its ``command`` files recorded it, the
    variables its playbook reads passwords from, its inventory's, plus this process's.

    Args:
        run_dir: the run directory (invocations are in its ``ansible/``).
        playbook_text: the run's rendered playbook.
        inventory: its inventory.
        envvars: the run's own variables (``RunSpec.envvars``), whose values are kept.

    Returns:
        The private data directories scrubbed.
    """
    base = run_dir / "ansible"
    privates = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    referenced = playbook_env_references(playbook_text)
    secrets = set(run_redactor(playbook_text, inventory).secrets)
    for private in privates:
        secrets |= recorded_environment_secrets(private, referenced)
    redactor = Redactor(secrets)
    keep = relrun_envvars(envvars)
    for private in privates:
        scrub_artifacts(private, keep, redactor)
    return privates


def run_playbook(spec: RunSpec, bus: EventBus, cancelled: CancelCheck | None = None) -> RunOutcome:
    """Bake and execute one playbook run.

    Args:
        spec: what to run.
        bus: receives the run's events.
        cancelled: returns True when the run must stop.

    Returns:
        The outcome.
    """
    return execute(bake_run(spec), spec, bus, cancelled)
