"""Render the runbook's scan section into the gate's Ansible tasks."""

from __future__ import annotations

import posixpath
from typing import Any

from relrun.render.yamlout import unsafe_tree
from relrun.runbook.scan_models import ScanSection

MODULE = "relrun.release.scan"
REGISTER = "relrun_scan"


def render_scan_tasks(section: ScanSection, source_dir: str) -> list[dict[str, Any]]:
    """Build the tasks of the security scan gate.

    Args:
        section: the runbook's scan section.
        source_dir: the source directory on the build hosts (from the runbook).

    Returns:
        One task calling ``relrun.release.scan`` on ``source_dir`` (restricted to the
        section's ``paths``), registering ``relrun_scan``; no task when the section is
        disabled. Every runbook string is marked ``!unsafe``.
    """
    if not section.enabled:
        return []
    # source_dir is relrun's own expression (a template); everything from the runbook is
    # unsafe. The baseline joins the two through an unsafe task variable, which Ansible
    # substitutes without evaluating it.
    args: dict[str, Any] = {"path": source_dir, "policy": unsafe_tree(section.to_policy())}
    task: dict[str, Any] = {"name": "Scan: forbidden imports, plaintext tokens and secret leaks"}
    if section.paths:
        args["include"] = unsafe_tree(list(section.paths))
    if section.baseline:
        task["vars"] = {"relrun_scan_baseline": unsafe_tree(section.baseline)}
        args["baseline"] = posixpath.join(source_dir, "{{ relrun_scan_baseline }}")
    # The name holds no runbook string (Ansible templates task names) and starts upper-case
    # for ansible-lint's name[casing].
    task[MODULE] = args
    task["register"] = REGISTER
    return [task]
