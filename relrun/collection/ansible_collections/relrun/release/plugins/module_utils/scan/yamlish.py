"""A small line-oriented reader for the YAML that configuration files use.

Managed hosts are not guaranteed to have PyYAML (Ansible needs it on the controller only),
and the scan may use nothing but the standard library there. Compose files, Kubernetes
manifests, Helm values and CI workflows use a narrow part of YAML: block mappings, block
sequences, plain and quoted scalars, block scalars (``|``, ``>``) and ``---`` between
documents. This reader handles exactly that and yields every scalar with its key path
and line; flow collections (``{a: b}``, ``[a, b]``), anchors and tags are passed over
(their scalars are not judged, which can only cost recall, never precision).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_KEY = re.compile(r"""^(?:"([^"]*)"|'([^']*)'|([^\s#'"{\[][^:#]*?))\s*:(?:\s+|$)(.*)$""")


@dataclass(frozen=True)
class Scalar:
    """One scalar value: its document, key path, key (``None`` for a list item), line."""

    doc: int
    path: tuple[str, ...]
    key: str | None
    value: str
    line: int
    column: int
    block: bool = False  # a block scalar: ``value`` holds its lines joined by newlines


def strip_comment(text: str) -> str:
    """Remove a trailing ``#`` comment that is outside quotes."""
    if "#" not in text:
        return text.rstrip()
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or text[i - 1] in " :-[{,"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def unquote(value: str) -> str:
    """A plain or quoted scalar's text."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def scalars(text: str) -> Iterator[Scalar]:
    """Every scalar of a YAML text, in order.

    Args:
        text: the file text.

    Yields:
        Scalars with their document index and key path.
    """
    lines = text.splitlines()
    stack: list[tuple[int, str]] = []  # (indent of the key, key)
    doc = 0
    i = 0
    while i < len(lines):
        raw = lines[i]
        number = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(("---", "...")) and raw.startswith(("---", "...")):
            doc += 1
            stack = []
            continue
        if stripped.startswith("%"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        body = strip_comment(raw[indent:])
        column = indent + 1
        item = False
        while body.startswith("- ") or body == "-":
            item = True
            extra = 2 if body.startswith("- ") else 1
            body = body[extra:].lstrip()
            indent += extra
            column = indent + 1
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = tuple(k for _indent, k in stack)
        match = _KEY.match(body)
        if match is None:
            if item and body:
                yield from _value(lines, i, doc, path, None, body, number, column,
                                  indent, advance=None)
            continue
        key = next((g for g in match.groups()[:3] if g is not None), "").strip()
        rest = match.group(4).strip()
        value_col = column + body.find(match.group(4)) if match.group(4) else column
        if not rest:
            stack.append((indent, key))
            continue
        consumed = [0]
        yield from _value(lines, i, doc, path, key, rest, number, value_col, indent,
                          advance=consumed)
        i += consumed[0]


def _value(lines: list[str], i: int, doc: int, path: tuple[str, ...], key: str | None,
           rest: str, number: int, column: int, indent: int,
           advance: list[int] | None) -> Iterator[Scalar]:
    if rest.startswith(("{", "[", "&", "*", "!")):
        return
    if rest[0] in "|>":
        block: list[str] = []
        j = i
        while j < len(lines):
            line = lines[j]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            block.append(line)
            j += 1
        if advance is not None:
            advance[0] = j - i
        while block and not block[-1].strip():
            block.pop()
        if block:
            yield Scalar(doc, path, key, "\n".join(block), number + 1, 1, block=True)
        return
    yield Scalar(doc, path, key, unquote(rest), number, column)
