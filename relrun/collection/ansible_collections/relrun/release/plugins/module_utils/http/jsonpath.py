"""A small JSON path: ``data.items[0].id``, ``$.status``, ``headers["x.y"]``.

Runbooks address response fields with it (expectations and captures). Deliberately tiny:
keys separated by dots, ``[N]`` list indexes, ``["key"]`` for keys holding dots. No
wildcards or filters, so an auditor can read every path without a manual.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\.?(?:\[(-?\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.\[\]]+))""")


class JsonPathError(ValueError):
    """The path itself is malformed (not: the document lacks the field)."""


def parse_path(path: str) -> list[str | int]:
    """Split a path into keys (str) and list indexes (int).

    Args:
        path: e.g. ``data.items[0].id``; a leading ``$`` or ``$.`` is allowed.

    Returns:
        The steps, in order. An empty path (or ``$``) addresses the whole document.

    Raises:
        JsonPathError: when the path cannot be parsed.
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise JsonPathError(f"bad JSON path {path!r} at character {pos + 1}")
        index, quoted, key = match.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            steps.append(key)
        pos = match.end()
    return steps


def resolve(document: Any, path: str) -> tuple[bool, Any]:
    """Look a path up in a decoded JSON document.

    A purely numeric key also indexes a list (``items.0.id``), as people often write it.

    Args:
        document: the decoded JSON.
        path: see :func:`parse_path`.

    Returns:
        ``(True, value)`` when present, ``(False, None)`` when any step is missing.

    Raises:
        JsonPathError: when the path itself is malformed.
    """
    current = document
    for step in parse_path(path):
        if isinstance(step, str) and isinstance(current, list) and step.lstrip("-").isdigit():
            step = int(step)
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return False, None
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                return False, None
            current = current[step]
    return True, current
