"""Atomic file writes, below every layer: a file is the old one or the new one, never half.

Every layer writes through here (run markers, scrubbed artifacts, the sandbox, scan and run
reports), so it belongs to none of them.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from relrun.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotAFile(InputError):
    """The destination exists and is not a regular file: relrun never replaces it (exit 2)."""


def destination(path: Path) -> Path:
    """Where a write to ``path`` lands: ``path``, or the final target of its symlinks.

    A symlink is written through: its target is replaced atomically and the link stays,
    so a report directory may link ``latest.html`` to a file kept elsewhere. Only a regular
    file or a path that does not exist yet is ever replaced; anything else is refused.

    Args:
        path: the destination the user or the run named.

    Returns:
        The path to write (symlinks resolved; a dangling link's target is created).

    Raises:
        NotAFile: the destination is a directory, FIFO, device or socket.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError:
        return target  # e.g. a too long name: the write itself reports it
    if stat.S_ISREG(mode):
        return target
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    shown = f"{path} (-> {target})" if target != path else str(path)
    raise NotAFile(
        f"cannot write {shown}: it is {kind}; relrun writes only regular files or new "
        "paths (for standard output, write -o -)"
    )


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write text to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Only a regular file or a new path is replaced; a symlink is written through (see
    :func:`destination`).

    Args:
        path: destination.
        text: content (UTF-8).
        mode: permission bits of the result.

    Raises:
        NotAFile: ``path`` is a directory, FIFO, device or socket (nothing is written).
    """
    path = destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write data as indented, key-sorted JSON, atomically.

    Args:
        path: destination.
        data: JSON-serialisable data.
    """
    write_atomic(
        path, json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    )
