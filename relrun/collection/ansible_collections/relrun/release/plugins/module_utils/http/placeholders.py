"""``${namespace.name}`` placeholders, resolved by the module on the host.

The syntax is deliberately not Jinja: Ansible never sees a template in a runbook string
(they are passed ``!unsafe``), and captured tokens exist only inside the module run.

Namespaces: ``captures`` (values captured by earlier checks), ``credentials``
(``username`` / ``password`` read on the host) and ``run`` (``id``: random per run).
``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from typing import Any

NAMESPACES = ("captures", "credentials", "run")
PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_NAME = re.compile(r"^(captures|credentials|run)\.([A-Za-z_][A-Za-z0-9_]*)$")


class PlaceholderError(ValueError):
    """A placeholder is malformed or names a value that does not exist (yet)."""


def references(text: str) -> list[tuple[str, str]]:
    """List the ``(namespace, name)`` pairs a string refers to.

    Args:
        text: any runbook string.

    Returns:
        The references in order of appearance.

    Raises:
        PlaceholderError: for a malformed placeholder.
    """
    found: list[tuple[str, str]] = []
    for match in PLACEHOLDER.finditer(text):
        if match.group(0) == "$${":
            continue
        found.append(_split(match.group(1)))
    return found


def _split(inner: str) -> tuple[str, str]:
    named = _NAME.match(inner.strip())
    if named is None:
        raise PlaceholderError(
            "bad placeholder ${" + inner + "}: expected ${captures.NAME}, "
            "${credentials.username}, ${credentials.password} or ${run.id}"
        )
    return named.group(1), named.group(2)


def _lookup(context: dict[str, dict[str, Any]], ref: tuple[str, str]) -> Any:
    namespace, name = ref
    values = context.get(namespace, {})
    if name not in values:
        raise PlaceholderError("${" + namespace + "." + name + "} is not defined at this point")
    return values[name]


def substitute(value: Any, context: dict[str, dict[str, Any]]) -> Any:
    """Replace placeholders in strings inside ``value`` (recursively through lists/dicts).

    A string that is exactly one placeholder takes the captured value with its JSON
    type (a numeric id stays a number); placeholders inside longer strings are
    formatted as text.

    Args:
        value: plain data from the check definition.
        context: ``{namespace: {name: value}}``.

    Returns:
        A new structure with every placeholder resolved.

    Raises:
        PlaceholderError: for malformed or undefined placeholders.
    """
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None and whole.group(0) != "$${":
            return _lookup(context, _split(whole.group(1)))

        def repl(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            found = _lookup(context, _split(match.group(1)))
            return found if isinstance(found, str) else _as_text(found)

        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(item, context) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, context) for key, item in value.items()}
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
