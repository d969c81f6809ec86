"""Atomic file writes, below every layer: a file is the old one or the new one, never half.

Every layer writes through here (run markers, scrubbed artifacts, the sandbox, scan and run
reports), so it belongs to none of them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write text to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Args:
        path: destination.
        text: content (UTF-8).
        mode: permission bits of the result.
    """
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
