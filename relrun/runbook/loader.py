"""Load a runbook file into a validated :class:`Runbook`, every problem with a position."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from relrun.errors import InputError, Problem
from relrun.runbook.crosscheck import cross_check
from relrun.runbook.schema import Runbook
from relrun.runbook.yamlpos import Located, PathKey, dotted_path, load_yaml, read_text


@dataclass(frozen=True)
class LoadedRunbook:
    """A validated runbook with where it came from."""

    runbook: Runbook
    path: Path
    shown: str
    sha256: str
    text: str


def load_runbook(path: Path | str, inventory_groups: Iterable[str] | None = None) -> LoadedRunbook:
    """Read, parse and validate a runbook.

    Args:
        path: the runbook file.
        inventory_groups: when given, every target group must exist in it.

    Returns:
        The validated runbook with its sha256.

    Raises:
        InputError: every problem found, each with file, line and column.
    """
    shown = str(path)
    file = Path(path)
    text = read_text(file, shown)
    located = load_yaml(text, shown, keep_going=True)
    if not isinstance(located.data, dict):
        raise InputError([Problem(shown, 1, 1, "expected a mapping at the top of the runbook")])
    problems = list(located.problems)
    runbook: Runbook | None = None
    try:
        # By alias only: runbooks are written with the names the schema and docs show
        # (`apiVersion`, `json`); Python code may still build models by field name.
        runbook = Runbook.model_validate(located.data, by_alias=True, by_name=False)
    except ValidationError as err:
        # A value the YAML loader refused already has its problem; the None put in its
        # place must not add a second one.
        refused = {p.path for p in located.problems}
        problems += [p for p in _problems(err, located) if p.path not in refused]
    # The cross-field rules read the YAML itself, so they run even when the schema
    # rejected something: a type error must not hide a duplicate name.
    problems += [
        _at(located, loc, message) for loc, message in cross_check(located.data, inventory_groups)
    ]
    if problems or runbook is None:
        raise InputError(_in_order(problems))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedRunbook(runbook=runbook, path=file, shown=shown, sha256=digest, text=text)


def _in_order(problems: list[Problem]) -> list[Problem]:
    """Each problem once, by position (schema problems first where two share one)."""
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.column))


def _at(located: Located, loc: PathKey, message: str) -> Problem:
    line, column = located.position(loc)
    return Problem(located.file, line, column, message, dotted_path(loc))


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return False


def _data_path(data: Any, loc: tuple[str | int, ...]) -> PathKey:
    """Map pydantic's ``loc`` onto the document, dropping union tags that are not keys."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if part == "[key]":
            continue  # a mapping key's own error: it is reported at the key
        last = index == len(loc) - 1
        if _has(current, part):
            current = current[part]
            path.append(part)
        elif last:
            path.append(part)
        # else: a union member tag or function name that has no place in the YAML
    return tuple(path)


def _message(error: Any, path: PathKey, plain: dict[PathKey, tuple[str, str]]) -> str:
    kind = error["type"]
    field = path[-1] if path else ""
    if kind == "missing":
        return f"missing required field {field!r}"
    if kind == "extra_forbidden":
        return f"unknown field {field!r}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind in {"literal_error", "enum"}:
        message = f"{message}, got {error.get('input')!r}"
    if kind == "string_type" and path in plain:
        # `version: 2024-02-28` or `version: 2.0`: YAML typed it before the schema saw it.
        written, typed = plain[path]
        message = f'{message}: YAML reads {written} unquoted as {typed}; write "{written}"'
    return message


def _problems(err: ValidationError, located: Located) -> list[Problem]:
    problems: list[Problem] = []
    for error in err.errors():
        path = _data_path(located.data, tuple(error["loc"]))
        message = _message(error, path, located.plain)
        # A missing field is reported at its parent, where it should have been written.
        where = path[:-1] if error["type"] == "missing" else path
        line, column = located.position(where)
        problems.append(Problem(located.file, line, column, message, dotted_path(path)))
    return problems
