"""Which environments exist and who owns them; removing those whose owner died.

Each environment is recorded in ``/run/relrun-testenv/<id>.json`` *before* anything is
created, with its owner's pid and start time. An environment whose owner is gone (a
killed test run) is stale: :func:`cleanup_stale` removes it. Environments of live owners
(another pytest worker) are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from relrun.testenv import cmd
from relrun.testenv.names import NETWORK, PREFIX


def registry_dir() -> Path:
    """Where records live (``/run/relrun-testenv``; the temp dir without ``/run``)."""
    base = Path("/run") if Path("/run").is_dir() else Path(tempfile.gettempdir())
    return base / "relrun-testenv"


@contextlib.contextmanager
def locked() -> Iterator[Path]:
    """Hold the registry lock (allocation and stale cleanup never interleave)."""
    directory = registry_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks (None when it does not exist)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def owner_alive(record: dict[str, Any]) -> bool:
    """Whether the process that created the environment still runs."""
    ticks = start_ticks(int(record.get("owner_pid", 0)))
    return ticks is not None and ticks == record.get("owner_ticks")


def records(directory: Path) -> list[dict[str, Any]]:
    """Every readable record."""
    found = []
    for path in sorted(directory.glob(f"{PREFIX}*.json")):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def claim(env_id: str, workdir: Path) -> dict[str, Any]:
    """Record a new environment and allocate its /24; call before creating anything.

    Returns:
        The record (``id``, ``subnet``, owner, ``workdir``).

    Raises:
        cmd.CommandFailed: every /24 of the test range is in use.
    """
    with locked() as directory:
        used = {r.get("subnet") for r in records(directory)} | _subnets_in_use()
        free = next((n for n in range(1, 255) if n not in used), None)
        if free is None:
            raise cmd.CommandFailed(f"no free /24 left in {NETWORK}.0.0/16")
        pid = os.getpid()
        record = {
            "id": env_id,
            "subnet": free,
            "owner_pid": pid,
            "owner_ticks": start_ticks(pid),
            "workdir": str(workdir),
        }
        (directory / f"{env_id}.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def release(env_id: str) -> None:
    """Forget an environment (after it was torn down)."""
    (registry_dir() / f"{env_id}.json").unlink(missing_ok=True)


def _subnets_in_use() -> set[int]:
    """Third octets of 10.231.N.x addresses on any interface of the root namespace."""
    out = cmd.run(["ip", "-o", "-4", "addr", "show"], check=False)
    used = set()
    for word in out.split():
        if word.startswith(NETWORK + "."):
            with contextlib.suppress(IndexError, ValueError):
                used.add(int(word.split(".")[2]))
    return used


def cleanup_stale(teardown: Callable[[str], None]) -> list[str]:
    """Remove environments whose owner died, and prefixed leftovers nobody records.

    Args:
        teardown: removes everything of one environment id (idempotent).

    Returns:
        The ids removed.
    """
    removed = []
    with locked() as directory:
        live = set()
        for record in records(directory):
            if owner_alive(record):
                live.add(record["id"])
                continue
            teardown(record["id"])
            (directory / f"{record['id']}.json").unlink(missing_ok=True)
            removed.append(record["id"])
        for env_id in sorted(_leftover_ids() - live - set(removed)):
            teardown(env_id)
            removed.append(env_id)
    return removed


def _leftover_ids() -> set[str]:
    """Environment ids of prefixed namespaces and links in the root namespace."""
    names = cmd.run(["ip", "netns", "list"], check=False).split()
    for line in cmd.run(["ip", "-o", "link", "show"], check=False).splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            names.append(parts[1].strip().split("@")[0])
    return {n[: len(PREFIX) + 4] for n in names if n.startswith(PREFIX) and len(n) >= 7}
