"""Where relrun writes when its run directory cannot take a byte more.

A full disk or a run directory deleted mid-run must not stop the rollback: ansible-runner
needs a private data directory for it, and the reports need somewhere to go. A directory
is usable when a probe file can be created, written and removed there; the fallbacks are
``$RELRUN_FALLBACK_DIR``, the user's runtime directory, ``/dev/shm`` (memory, so a full
disk does not touch it) and the system's temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PROBE_BYTES = 256 * 1024  # what a rollback's ansible-runner files need, roughly


def usable(directory: Path) -> bool:
    """Whether ``directory`` (created if missing) takes a new file of ``PROBE_BYTES``."""
    probe = directory / f".relrun-probe-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def fallback_bases() -> list[Path]:
    """Candidate places for a rescue directory, in order of preference."""
    uid = os.getuid()
    bases = []
    explicit = os.environ.get("RELRUN_FALLBACK_DIR")
    if explicit:
        bases.append(Path(explicit))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        bases.append(Path(runtime) / "relrun-rescue")
    bases.append(Path("/dev/shm") / f"relrun-rescue-{uid}")
    bases.append(Path(tempfile.gettempdir()) / f"relrun-rescue-{uid}")
    return bases


def working_dir(run_dir: Path) -> Path:
    """``run_dir`` if it can be written, else a fallback directory named after it.

    Args:
        run_dir: the run's own directory (it may be gone, or on a full disk).

    Returns:
        Where to write; ``run_dir`` itself whenever possible.
    """
    if run_dir.is_dir() and usable(run_dir):
        return run_dir
    for base in fallback_bases():
        candidate = base / run_dir.name
        if usable(candidate):
            return candidate
    return run_dir  # nothing is writable: the writes fail and say so
