"""Retention of old run directories under the default ``runs/`` directory.

Every release, drill, check and rollback leaves a run directory with its reports and
ansible-runner's artifacts; scheduled drills would fill a disk with them. Only the newest
N are kept (``RELRUN_KEEP_RUNS``, default 50). Only directories whose name relrun made
(``<UTC stamp>-<kind>-<name>``) are candidates, so anything else an operator put there
survives; explicit ``--report-dir`` directories are never pruned.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from relrun.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_KEEP = 50
KEEP_ENV = "RELRUN_KEEP_RUNS"
RUN_DIR_NAME = re.compile(r"^(\d{8}T\d{6}Z)-[A-Za-z0-9_.-]+$")


def keep_runs(environ: Mapping[str, str] | None = None) -> int:
    """How many run directories to keep: ``RELRUN_KEEP_RUNS``, default 50, 0 keeps all.

    Args:
        environ: the environment (default: this process's).

    Returns:
        The number to keep.

    Raises:
        InputError: the variable is not a whole number ≥ 0.
    """
    raw = (os.environ if environ is None else environ).get(KEEP_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit():
        raise InputError(f"{KEEP_ENV}={raw!r}: expected a whole number (0 keeps every run)")
    return int(raw)


def _age_key(path: Path) -> tuple[str, int, str]:
    # The stamp has one-second resolution; runs started in the same second (suffix -2,
    # -3 …) are told apart by their modification time, then their name.
    match = RUN_DIR_NAME.match(path.name)
    stamp = match.group(1) if match else ""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return stamp, mtime, path.name


def prune_runs(base: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` run directories in ``base``.

    A directory that cannot be deleted is logged and left: housekeeping must never stop
    a release.

    Args:
        base: the directory holding run directories (``runs/``).
        keep: how many to keep; 0 or less keeps everything.

    Returns:
        The directories deleted, oldest first.
    """
    if keep <= 0 or not base.is_dir():
        return []
    runs = sorted(
        (
            p
            for p in base.iterdir()
            if RUN_DIR_NAME.match(p.name) and p.is_dir() and not p.is_symlink()
        ),
        key=_age_key,
    )
    removed: list[Path] = []
    for old in runs[: max(0, len(runs) - keep)]:
        try:
            shutil.rmtree(old)
        except OSError as err:
            log.warning("could not delete old run directory %s: %s", old, err)
            continue
        removed.append(old)
    return removed
