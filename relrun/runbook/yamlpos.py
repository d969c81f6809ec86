"""YAML loading that keeps the position of every key and value.

PyYAML's composer gives nodes with marks; we build plain data from them ourselves so that
each path in the document (``("builds", 0, "timeout")``) maps to a line and column, and so
that duplicate keys are reported instead of silently overwritten.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relrun.errors import InputError, Problem

PathKey = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data loaded from YAML, with the positions of every path in it."""

    data: Any
    file: str
    # path -> (line, column), 1-based; for mapping entries the position of the key.
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # Problems found while building the data (duplicate keys, ...), with keep_going only.
    problems: list[Problem] = field(default_factory=list)
    # Unquoted scalars YAML typed as a number, date, boolean or null:
    # path -> (as written, what YAML made of it).
    plain: dict[PathKey, tuple[str, str]] = field(default_factory=dict)

    def position(self, path: PathKey) -> tuple[int, int]:
        """Position of the deepest existing prefix of ``path``.

        Args:
            path: a path into the data, as pydantic reports it in ``loc``.

        Returns:
            The (line, column) of that path, or of the closest parent that exists.
        """
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return (1, 1)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


MAX_DEPTH = 64
MAX_NODES = 100_000


class _TooBig(Exception):
    """Hostile or broken input: too deep, or too many values after alias expansion."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Builder:
    """Turns a composed node tree into plain data, recording positions and problems."""

    built = 0

    def __init__(self, file: str, text_tags: frozenset[str] = frozenset()) -> None:
        self.file = file
        self.text_tags = text_tags
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        # Unquoted scalars YAML typed as something else than text: path -> as written.
        self.plain: dict[PathKey, tuple[str, str]] = {}
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise _TooBig(
                node,
                f"the document expands to more than {MAX_NODES} values "
                "(aliases repeated too often?)",
            )
        if len(path) > MAX_DEPTH:
            raise _TooBig(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.positions.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(key_node, "merge keys (<<) are not supported", path)
                    continue
                key = self.build(key_node, (*path, "<key>"))
                if not isinstance(key, str | int | bool | float) or key is None:
                    self._problem(key_node, "mapping keys must be plain scalars", path)
                    continue
                key_path = (*path, str(key))
                if key in result:
                    first = self.positions.get(key_path, (0, 0))
                    self._problem(
                        key_node,
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                        _dotted(key_path),
                    )
                    continue
                self.positions[key_path] = _mark(key_node)
                result[key] = self.build(value_node, key_path)
            self.positions.pop((*path, "<key>"), None)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag in self.text_tags:
            return str(node.value)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            self._problem(node, f"invalid value: {err}", _dotted(path))
            return None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            # PyYAML's constructors trust the resolver's regex: `2024-02-30`, `0x_`,
            # `!!int abc`, `!!bool maybe` get here as Python errors, not YAMLErrors.
            self._problem(node, _bad_scalar(node), _dotted(path))
            return None
        if isinstance(node, yaml.ScalarNode) and node.style is None and not isinstance(value, str):
            self.plain[path] = (str(node.value), type_name(node.tag))
        return value

    def _problem(self, node: yaml.Node, message: str, path: PathKey | str) -> None:
        line, column = _mark(node)
        dotted = path if isinstance(path, str) else _dotted(path)
        self.problems.append(Problem(self.file, line, column, message, dotted))


_TYPE_NAMES = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:null": "null",
}


def type_name(tag: str) -> str:
    """What a YAML tag makes of a scalar, for messages: ``an integer``, ``a date``.

    Args:
        tag: the resolved tag.

    Returns:
        The words, or the tag itself for other tags.
    """
    return _TYPE_NAMES.get(tag, tag)


def _bad_scalar(node: yaml.Node) -> str:
    shown = repr(str(node.value))
    mark = node.start_mark
    explicit = mark.buffer is not None and mark.buffer[mark.pointer : mark.pointer + 1] == "!"
    short = node.tag.replace("tag:yaml.org,2002:", "!!")
    if explicit:
        return f"invalid value: {shown} is not {type_name(node.tag)} (tagged {short})"
    return (
        f"invalid value: YAML reads {shown} unquoted as {type_name(node.tag)}, but it is not "
        f"a valid one; quote it to keep it as text"
    )


def _dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


def dotted_path(path: PathKey) -> str:
    """Format a path the way error messages show it: ``builds[0].timeout``.

    Args:
        path: the path parts.

    Returns:
        The dotted form.
    """
    return _dotted(path)


MAX_INPUT_BYTES = 1 << 20
"""The largest runbook relrun reads (1 MiB; the flagship runbook is about 10 KiB)."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_text(path: Path, shown: str, limit: int = MAX_INPUT_BYTES) -> str:
    """Read a UTF-8 text file, turning every failure into a positioned input error.

    Only a regular file is read, and only up to ``limit`` bytes: the file is opened
    without blocking (a FIFO with no writer must not hang relrun) and checked with
    ``fstat`` on the open descriptor, so ``/dev/zero`` or a pipe is refused, never read.

    Args:
        path: the file to read.
        shown: the name to use in messages (as the user typed it).
        limit: the most bytes accepted.

    Returns:
        The text.

    Raises:
        InputError: the path is missing, not a regular file, too large, unreadable or
            not UTF-8.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError([Problem(shown, 1, 1, "no such file")]) from None
    except OSError as err:
        raise InputError([Problem(shown, 1, 1, f"cannot read: {err.strerror}")]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise InputError([Problem(shown, 1, 1, f"is {kind}, expected a YAML file")])
        raw = _read_at_most(fd, limit + 1)
    except OSError as err:
        raise InputError([Problem(shown, 1, 1, f"cannot read: {err.strerror}")]) from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise InputError(
            [Problem(shown, 1, 1, f"is larger than {limit // 1024} KiB, the most relrun reads")]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            [Problem(shown, line, column, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})")]
        ) from None


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def load_yaml(
    text: str, file: str, *, keep_going: bool = False, text_tags: frozenset[str] = frozenset()
) -> Located:
    """Parse one YAML document keeping positions.

    Args:
        text: the YAML text.
        file: the file name used in messages.
        keep_going: return problems in the document's content (duplicate keys, merge
            keys, non-scalar keys, bad scalars) in ``Located.problems`` with the data
            built without them, instead of raising, so callers can report more at once.
        text_tags: local tags whose scalars are read as plain text (an inventory's
            ``!vault`` and ``!unsafe``, which Ansible itself constructs).

    Returns:
        The data with positions.

    Raises:
        InputError: syntax errors, several documents, an empty document, and without
            ``keep_going`` the problems above.
    """
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except RecursionError:
        raise InputError([Problem(file, 1, 1, f"nesting deeper than {MAX_DEPTH} levels")]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (err.context, err.problem) if part)
        raise InputError([Problem(file, line, column, f"YAML syntax: {message}")]) from None
    except yaml.YAMLError as err:
        raise InputError([Problem(file, 1, 1, f"YAML syntax: {err}")]) from None
    if not nodes:
        raise InputError([Problem(file, 1, 1, "the file is empty")])
    if len(nodes) > 1:
        line, column = _mark(nodes[1])
        raise InputError([Problem(file, line, column, "expected one YAML document, found several")])
    builder = _Builder(file, text_tags)
    try:
        data = builder.build(nodes[0], ())
    except _TooBig as err:
        line, column = _mark(err.node)
        raise InputError([Problem(file, line, column, err.message)]) from None
    if builder.problems and not keep_going:
        raise InputError(builder.problems)
    return Located(
        data=data,
        file=file,
        positions=builder.positions,
        problems=builder.problems,
        plain=builder.plain,
    )
