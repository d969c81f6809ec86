"""Reusable field types for runbook models.

Each type's JSON Schema (``relrun schema``, for editors) accepts exactly what its validator
accepts: where a validator parses or rewrites input, the schema is written next to it from
the same regular expression.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler, WithJsonSchema
from pydantic_core import CoreSchema

# Written for both Python's `re` and the ECMA-262 regexes JSON Schema uses: ASCII classes
# only (Python's \d and \s also match other scripts' digits and spaces, ECMA's do not).
_WS = r"[ \t\n\r]*"
_NUMBER = r"[0-9]{1,9}(?:\.[0-9]{1,9})?"
_UNIT = r"(ms|s|m|h)?"
DURATION_PATTERN = f"^{_WS}({_NUMBER}){_WS}{_UNIT}{_WS}$"
"""A duration string, in JSON Schema: a number of up to 9 digits and an optional unit."""
POSITIVE_DURATION_PATTERN = f"^{_WS}(?=[0-9.]*[1-9])({_NUMBER}){_WS}{_UNIT}{_WS}$"
"""The same, for fields that must be greater than zero: the number has a non-zero digit."""

_DURATION = re.compile(DURATION_PATTERN)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_DURATION_HELP = "expected a duration such as 30, 30s, 500ms, 5m or 1h"


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        # pydantic's lax float takes true as 1.0; `timeout: yes` is a mistake, not a second.
        raise ValueError(_DURATION_HELP)
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer of more than 308 digits
            raise ValueError(f"{_DURATION_HELP} (this number is too large)") from None
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if not match:
            raise ValueError(_DURATION_HELP)
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


class _DurationJsonSchema:
    """Widen the number schema pydantic derives to ``number or duration string``."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        number = dict(handler(schema))
        # Constraints behind a BeforeValidator come out as bare, non-standard keys ("ge").
        for bare, keyword in (("ge", "minimum"), ("gt", "exclusiveMinimum")):
            if bare in number:
                number[keyword] = number.pop(bare)
        positive = number.get("exclusiveMinimum") == 0
        if not (
            number.get("minimum") == 0 and set(number) <= {"type", "minimum", "exclusiveMinimum"}
        ):
            raise TypeError(f"no duration string pattern for the constraints {number}")
        pattern = POSITIVE_DURATION_PATTERN if positive else DURATION_PATTERN
        return {"anyOf": [number, {"type": "string", "pattern": pattern}]}


Seconds = Annotated[
    float,
    BeforeValidator(_parse_duration),
    Field(ge=0, allow_inf_nan=False),
    _DurationJsonSchema(),
]
"""A duration in seconds: a number, or a string with a unit (``500ms``, ``30s``, ``5m``, ``1h``)."""

Name = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="A short identifier."),
]
"""Identifiers: letters, digits, ``_ . -``; they appear in task names and reports."""

GroupName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
"""An Ansible inventory group name."""

_TEMPLATE_REF = re.compile(r"\{\{[ \t\n\r]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n\r]*\}\}")
# A template is a run of tokens: a plain {{ name }} reference, or one character that cannot
# start or end a Jinja delimiter ({{ }} {% %} {# #}) where it stands. Read left to right,
# the way Jinja's lexer reads it, so braces next to a reference count too ("{{{ a }}").
TEMPLATE_PATTERN = (
    r"^(?:\{\{[ \t\n\r]*[A-Za-z_][A-Za-z0-9_]*[ \t\n\r]*\}\}|[^{}%#]|\{(?![{%#])|[}%#](?!\}))*$"
)
"""What a ``Template`` field accepts, in Python and in JSON Schema (ECMA-262) alike."""
_TEMPLATE = re.compile(TEMPLATE_PATTERN)


def _check_template(value: str) -> str:
    if not _TEMPLATE.fullmatch(value):
        raise ValueError(
            "template fields may only reference variables as {{ name }} "
            "(no filters, lookups or expressions)"
        )
    return value


# The pattern goes to the JSON Schema only: pydantic's own regex engine has no lookahead.
Template = Annotated[
    str,
    AfterValidator(_check_template),
    WithJsonSchema({"type": "string", "pattern": TEMPLATE_PATTERN}),
]
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
