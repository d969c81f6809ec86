"""The playbook of ``relrun check``: the runbook's API checks alone, aimed at one side."""

from __future__ import annotations

from typing import Any

from relrun.errors import InputError
from relrun.render.check_tasks import render_check_tasks
from relrun.render.yamlout import dump_yaml
from relrun.runbook.loader import LoadedRunbook

TARGETS = {
    "router": "relrun_api_base_url",
    "canary": "relrun_canary_url",
    "stable": "relrun_stable_url",
}


def checks_playbook(loaded: LoadedRunbook, target: str) -> str:
    """A playbook holding only the API checks, aimed at ``target``'s URL variable."""
    runbook = loaded.runbook
    if runbook.api_checks is None:
        raise InputError(f"{loaded.shown}: the runbook has no api_checks section")
    if target not in TARGETS:
        raise InputError(f"--target: one of {', '.join(TARGETS)}, got {target!r}")
    tasks = render_check_tasks(runbook.api_checks, phase="check", base_url_var=TARGETS[target])
    play: dict[str, Any] = {
        "name": f"API checks against {target}",
        "hosts": runbook.api_checks.host_group,
        "gather_facts": False,
        "tasks": tasks,
    }
    header = (
        f"# API checks of {runbook.metadata.name} {runbook.metadata.version} against {target}\n"
        f"# runbook sha256: {loaded.sha256}\n"
    )
    return header + dump_yaml([play])
