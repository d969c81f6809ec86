"""Where a command's document goes: a file written atomically, or standard output."""

from __future__ import annotations

import sys
from pathlib import Path

from relrun.errors import InputError
from relrun.fsutil import write_atomic


def write_output(output: Path | None, text: str) -> None:
    """Write a command's document to ``-o FILE`` atomically, or to stdout (none, or ``-o -``).

    Args:
        output: the ``-o`` option.
        text: the document.

    Raises:
        InputError: the file cannot be written, or is a device, FIFO or directory.
    """
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    try:
        write_atomic(output, text)
    except OSError as err:
        raise InputError(f"cannot write {output}: {err.strerror}") from None
