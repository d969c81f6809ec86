"""Baseline files: findings accepted by fingerprint, each with a reason (JSON or YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    ScanInputError,
    load_baseline,
)
from relrun.errors import InputError, Problem
from relrun.fsutil import write_atomic
from relrun.scan.result import ScanResult


def read_baseline(path: Path) -> dict[str, dict[str, str]]:
    """Read a baseline file.

    Args:
        path: the JSON or YAML file.

    Returns:
        Entries by fingerprint.

    Raises:
        InputError: when the file is missing or malformed (exit 2).
    """
    try:
        return load_baseline(str(path))
    except ScanInputError as err:
        message = str(err).removeprefix(f"{path}: ")
        if err.line > 1 or err.column > 1:
            message += f" (line {err.line}, column {err.column})"
        raise InputError([Problem(str(path), 1, 1, message)]) from err


DEFAULT_REASON = "accepted when the baseline was written: replace with the real reason"


def write_baseline(result: ScanResult, path: Path, reason: str = DEFAULT_REASON) -> int:
    """Write a baseline accepting every current finding.

    Findings the scan's own baseline already accepted are kept with their reasons, so
    rewriting a baseline in place loses nothing; entries that matched nothing (stale) are
    dropped.

    Args:
        result: the scan result.
        path: where to write (JSON).
        reason: the reason recorded on every new entry (review and edit it).

    Returns:
        The number of entries written.

    Raises:
        InputError: when the file cannot be written (exit 2).
    """
    entries: dict[str, dict[str, str | int]] = {}
    accepted = [(f, f.reason) for f in result.suppressed if f.suppressed_by == "baseline"]
    for finding, why in [*accepted, *((f, reason) for f in result.findings)]:
        entries.setdefault(
            finding.fingerprint,
            {
                "fingerprint": finding.fingerprint,
                "rule": finding.rule,
                "path": finding.path,
                "line": finding.line,
                "reason": why,
            },
        )
    ordered = sorted(entries.values(),
                     key=lambda e: (str(e["path"]), int(e["line"]), str(e["rule"]),
                                    str(e["fingerprint"])))
    text = json.dumps({"version": 2, "entries": ordered}, indent=2) + "\n"
    try:
        write_atomic(path, text)
    except OSError as err:
        problem = Problem(str(path), 1, 1, f"cannot write baseline: {err.strerror}")
        raise InputError([problem]) from None
    return len(ordered)
