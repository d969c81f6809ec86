"""Controller side of the security scan: run it in-process, read baselines, write reports.

The engine itself lives in the Ansible collection (``relrun.release`` module_utils) so that
exactly the same code runs on build hosts and in ``relrun scan``.
"""

from __future__ import annotations

from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    Policy,
    PolicyError,
    ScanInputError,
    scan,
)
from relrun.errors import InputError, Problem
from relrun.runbook.scan_models import ScanSection
from relrun.scan.baseline import read_baseline
from relrun.scan.reports import write_scan_reports
from relrun.scan.result import ScanResult

__all__ = ["ScanResult", "read_baseline", "run_scan", "write_scan_reports"]


def run_scan(
    path: Path,
    policy: ScanSection | None = None,
    baseline: Path | None = None,
    *,
    history: bool = False,
    since: str = "",
    gitignore: bool = True,
) -> ScanResult:
    """Scan a tree on this machine with the same engine the Ansible module runs.

    Args:
        path: the directory or file to scan.
        policy: the runbook's scan section (defaults apply when ``None``); its ``paths``
            are scanned below ``path`` when given, and a relative ``baseline`` is
            relative to ``path`` (the source directory), as on the build hosts.
        baseline: a baseline file overriding the section's.
        history: also scan the blobs past commits added (needs git on this machine).
        since: bound the history (``git log --since``).
        gitignore: leave out what ``.gitignore`` ignores (inside a git checkout).

    Returns:
        The result.

    Raises:
        InputError: the path, the policy or the baseline is bad (exit 2).
    """
    section = policy or ScanSection()
    baseline_path = baseline
    if baseline_path is None and section.baseline:
        source_dir = path if path.is_dir() else path.parent
        baseline_path = source_dir / section.baseline
    entries = read_baseline(baseline_path) if baseline_path else None
    try:
        engine_policy = Policy.from_dict(
            {**section.to_policy(), "history": history, "since": since, "gitignore": gitignore}
        )
        raw = scan(str(path), engine_policy, entries, list(section.paths) or None)
    except (PolicyError, ScanInputError) as err:
        message = str(err).removeprefix(f"{path}: ")
        raise InputError([Problem(str(path), 1, 1, " ".join(message.split()))]) from err
    return ScanResult.model_validate(raw)
