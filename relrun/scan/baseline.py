"""Baseline files: findings accepted by fingerprint, each with a reason (JSON or YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan_engine import (
    ScanInputError,
    load_baseline,
)
from relrun.errors import InputError, Problem
from relrun.report.files import write_atomic
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
        raise InputError([Problem(str(path), 1, 1, str(err).removeprefix(f"{path}: "))]) from err


def write_baseline(result: ScanResult, path: Path, reason: str) -> Path:
    """Write a baseline accepting every current finding with one reason.

    Args:
        result: the scan result.
        path: where to write (JSON).
        reason: the reason recorded on every entry (review and edit it).

    Returns:
        The path written.
    """
    entries = [
        {"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path, "reason": reason}
        for f in result.findings
    ]
    write_atomic(path, json.dumps({"version": 1, "entries": entries}, indent=2) + "\n")
    return path
