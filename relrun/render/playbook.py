"""Runbook → playbook: built as plain data, dumped as stable YAML.

Nothing here runs anything. Every string that comes from the runbook is wrapped as
``!unsafe`` (see :mod:`relrun.render.yamlout`) except fields the schema types as
``Template``, which may only hold plain ``{{ variable }}`` references.
"""

from __future__ import annotations

from typing import Any

from relrun import __version__
from relrun.render.check_tasks import render_check_tasks
from relrun.render.rollout import (
    canary_cleanup_play,
    deploy_play,
    preflight_play,
    rollback_outcome_play,
    rollback_play,
)
from relrun.render.rollout_plays import rollout_plays
from relrun.render.scan_tasks import render_scan_tasks
from relrun.render.yamlout import dump_yaml, unsafe, unsafe_tree
from relrun.runbook.loader import LoadedRunbook
from relrun.runbook.models import Build, Command, reserved_var
from relrun.runbook.schema import Runbook
from relrun.runbook.steps import StepRef

Task = dict[str, Any]
Play = dict[str, Any]

COLLECTION = "relrun.release"
# Where the release's source lives on the build hosts: an inventory variable.
SOURCE_DIR = "{{ relrun_source_dir }}"


def command_args(command: Command) -> dict[str, Any]:
    """Module arguments shared by every command-like step (builds, deploy, hooks).

    Args:
        command: the command as the runbook wrote it.

    Returns:
        Arguments for ``relrun.release.build``-style modules.
    """
    args: dict[str, Any] = {}
    if command.argv is not None:
        args["argv"] = unsafe_tree(command.argv)
    else:
        assert command.shell is not None
        args["shell"] = unsafe(command.shell)
    if command.chdir is not None:
        # A Template field: plain {{ var }} references only, checked by the schema.
        args["chdir"] = command.chdir
    if command.env:
        args["env"] = unsafe_tree(dict(command.env))
    args["timeout"] = command.timeout
    return args


def build_task(index: int, build: Build) -> Task:
    """The task running one build.

    Args:
        index: position in the runbook's builds (used for the register name).
        build: the build.

    Returns:
        The task.
    """
    args: dict[str, Any] = {"name": unsafe(build.name), **command_args(build)}
    if build.artifacts:
        args["artifacts"] = unsafe_tree(build.artifacts)
    args["required"] = build.required
    return {
        "name": StepRef.build(index + 1, build.name).task,
        f"{COLLECTION}.build": args,
        "register": f"relrun_build_{index}",
    }


def gates_play(runbook: Runbook) -> Play | None:
    """The play running the gates on the build hosts: the security scan, then the builds.

    Args:
        runbook: the runbook.

    Returns:
        The play, or None when the runbook has no gates.
    """
    tasks: list[Task] = []
    if runbook.scan is not None:
        tasks += render_scan_tasks(runbook.scan, SOURCE_DIR)
    tasks += [build_task(i, b) for i, b in enumerate(runbook.builds)]
    if not tasks:
        return None
    return {
        "name": "Gates",
        "hosts": runbook.targets.build,
        "gather_facts": False,
        "any_errors_fatal": True,
        "tasks": tasks,
    }


def check_tasks(runbook: Runbook) -> tuple[list[Task], list[Task]]:
    """The API check tasks: against the canary (gate) and against stable (verify).

    Each check runs where its ``run_in`` says, so a check of what only the new version
    has never runs against stable.

    Inside the rollout they run on the router's play, delegated to the first host of the
    checks' group, so a failed check lands in the rollout's rescue: the rollback.
    """
    section = runbook.api_checks
    if section is None:
        return [], []
    gate = render_check_tasks(
        section, phase="gate", base_url_var="relrun_canary_url", only="gate"
    )
    verify = render_check_tasks(
        section, phase="verify", base_url_var="relrun_stable_url", only="verify"
    )
    if runbook.rollout is not None:
        where = "{{ groups['" + section.host_group + "'][0] }}"
        for task in (*gate, *verify):
            task["delegate_to"] = where
    return gate, verify


def checks_play(runbook: Runbook, tasks: list[Task]) -> Play | None:
    """Without a rollout, the API checks are a play of their own after the deploy."""
    if not tasks or runbook.api_checks is None:
        return None
    return {"name": "API checks", "hosts": runbook.api_checks.host_group,
            "gather_facts": False, "tasks": tasks}


def render_playbook_data(runbook: Runbook, sha256: str) -> list[Play]:
    """Build the playbook as data.

    Args:
        runbook: the validated runbook.
        sha256: the runbook file's sha256, recorded in the plays' vars.

    Returns:
        The list of plays.
    """
    common_vars: dict[str, Any] = {
        "relrun_runbook": unsafe_tree(
            {
                "name": runbook.metadata.name,
                "version": runbook.metadata.version,
                "sha256": sha256,
            }
        )
    }
    # Play vars override the inventory's: the schema refuses connection and privilege
    # names, and rendering drops them again, so the inventory's settings always win.
    settable = {k: v for k, v in runbook.vars.items() if reserved_var(k) is None}
    common_vars.update(unsafe_tree(settable))
    if runbook.secrets:
        # Read by the controller's redactor (relrun.run.redact), which sees the playbook.
        common_vars["relrun_secret_vars"] = sorted(set(runbook.secrets))
    gate_checks, verify_checks = check_tasks(runbook)
    candidates = (
        gates_play(runbook),
        preflight_play(runbook),
        deploy_play(runbook),
        checks_play(runbook, gate_checks) if runbook.rollout is None else None,
        *rollout_plays(runbook, gate_checks, verify_checks),
        rollback_play(runbook, verify_checks),
        canary_cleanup_play(runbook),
        rollback_outcome_play(runbook),
    )
    plays: list[Play] = []
    for play in candidates:
        if play is not None:
            name, hosts = play.pop("name"), play.pop("hosts")
            plays.append({"name": name, "hosts": hosts, "vars": common_vars, **play})
    return plays


def render_playbook(loaded: LoadedRunbook) -> str:
    """Render a runbook to playbook YAML text: deterministic, byte for byte.

    Args:
        loaded: the runbook as loaded from its file.

    Returns:
        The playbook text, with a header naming its source and that source's sha256.
    """
    runbook = loaded.runbook
    header = (
        f"# Rendered by relrun {_major_minor()} from {_comment(loaded.path.name)}; do not edit.\n"
        f"# runbook: {runbook.metadata.name} {_comment(runbook.metadata.version)}\n"
        f"# runbook sha256: {loaded.sha256}\n"
    )
    plays = render_playbook_data(runbook, loaded.sha256)
    if not plays:
        plays = [_empty_play()]
    return header + dump_yaml(plays)


def _empty_play() -> Play:
    return {
        "name": "Nothing to do",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{"name": "Say so", "ansible.builtin.debug": {"msg": "the runbook has no steps"}}],
    }


def _comment(text: str) -> str:
    # The header is YAML comments: a line break in a runbook's version would start YAML
    # of its own, plays that Ansible would run. Unprintable text is shown escaped.
    return text if text.isprintable() else text.encode("unicode_escape").decode()


def _major_minor() -> str:
    # Only major.minor in the header, so a patch release does not make every
    # committed playbook stale.
    return ".".join(__version__.split(".")[:2])
