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
    args: dict[str, Any] = {"path": source_dir, "policy": section.to_policy()}
    if section.paths:
        args["include"] = list(section.paths)
    if section.baseline:
        args["baseline"] = posixpath.join(source_dir, section.baseline)
    # The name holds no runbook string (Ansible templates task names) and starts upper-case
    # for ansible-lint's name[casing].
    return [
        {
            "name": "Scan: forbidden imports, plaintext tokens and secret leaks",
            MODULE: unsafe_tree(args),
            "register": REGISTER,
        }
    ]
