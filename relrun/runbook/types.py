"""Reusable field types for runbook models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        return value  # let pydantic reject it with its own message
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 30, 30s, 500ms, 5m or 1h")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_parse_duration), Field(ge=0)]
"""A duration in seconds: a number, or a string with a unit (``500ms``, ``30s``, ``5m``, ``1h``)."""

Name = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="A short identifier."),
]
"""Identifiers: letters, digits, ``_ . -``; they appear in task names and reports."""

GroupName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
"""An Ansible inventory group name."""

_TEMPLATE_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_JINJA = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


def _check_template(value: str) -> str:
    stripped = _TEMPLATE_REF.sub("", value)
    if _ANY_JINJA.search(stripped):
        raise ValueError(
            "template fields may only reference variables as {{ name }} "
            "(no filters, lookups or expressions)"
        )
    return value


Template = Annotated[str, AfterValidator(_check_template)]
"""A string Ansible evaluates, limited to plain ``{{ variable }}`` references.

Only fields typed ``Template`` are ever templated; every other runbook string reaches the
hosts as the literal characters written.
"""


def template_variables(value: str) -> list[str]:
    """Names referenced by a template field.

    Args:
        value: a ``Template`` field's value.

    Returns:
        The variable names, in order of appearance.
    """
    return _TEMPLATE_REF.findall(value)
