"""Reusable field types for runbook models.

Each type's JSON Schema (``relrun schema``, for editors) accepts exactly what its validator
accepts: where a validator parses or rewrites input, the schema is written next to it from
the same regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
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


# A duration of at least a minimum, in JSON Schema: regexes cannot compare numbers, so the
# number written for each unit is compared with that unit's threshold digit by digit (the
# shape, lengths included, is checked first by a lookahead).
def _greater(digits: str, rest: bool) -> list[str]:
    """Regexes of digit strings above ``digits`` at its first differing position.

    With ``rest`` the remaining positions have the same count as in ``digits`` (whole
    numbers of one length); without, any digits follow (fractions).
    """
    found = []
    for i, digit in enumerate(digits):
        if digit != "9":
            low = str(int(digit) + 1)
            higher = low if low == "9" else f"[{low}-9]"
            after = len(digits) - i - 1
            tail = (f"[0-9]{{{after}}}" if after else "") if rest else "[0-9]*"
            found.append(digits[:i] + higher + tail)
    return found


def _fraction_at_least(fraction: str) -> str:
    """Digits after the point worth at least ``0.fraction``."""
    return "(?:" + "|".join([*_greater(fraction, rest=False), fraction + "[0-9]*"]) + ")"


def _number_at_least(threshold: Decimal) -> str:
    """Decimal numbers (leading zeros allowed, optional fraction) of at least ``threshold``."""
    whole, _, fraction = format(threshold, "f").partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    any_fraction = r"(?:\.[0-9]*)?"
    at_whole = r"\." + _fraction_at_least(fraction) if fraction else any_fraction
    if not whole:
        found = [r"0*[1-9][0-9]*" + any_fraction, r"0+" + at_whole]
    else:
        found = [rf"0*[1-9][0-9]{{{len(whole)},}}" + any_fraction]
        found += [r"0*" + higher + any_fraction for higher in _greater(whole, rest=True)]
        found.append(r"0*" + whole + at_whole)
    return "(?:" + "|".join(found) + ")"


def duration_pattern_at_least(minimum: float) -> str:
    """A JSON Schema pattern (Python and ECMA-262 alike) of duration strings >= ``minimum`` s.

    A number has at most 9 decimals, so ``minimum`` divided by a unit's length is rounded
    up to 9 decimals: a number reaches it exactly when it reaches ``minimum`` seconds.
    """
    least = Decimal(repr(minimum))
    per_unit = {"ms": least * 1000, "(?:s)?": least, "m": least / 60, "h": least / 3600}
    alternatives = [
        f"{_number_at_least(value.quantize(Decimal('1e-9'), rounding=ROUND_CEILING))}{_WS}{unit}"
        for unit, value in per_unit.items()
    ]
    return f"^{_WS}(?={_NUMBER}{_WS}{_UNIT}{_WS}$)(?:{'|'.join(alternatives)}){_WS}$"


class _DurationJsonSchema:
    """Widen the number schema pydantic derives to ``number or duration string``."""

    def __init__(self, minimum: float | None = None) -> None:
        self.minimum = minimum

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
        if self.minimum is not None:
            if positive:
                raise TypeError("a duration with a minimum needs no gt=0 besides")
            number["minimum"] = self.minimum
            return {
                "anyOf": [
                    number,
                    {"type": "string", "pattern": duration_pattern_at_least(self.minimum)},
                ]
            }
        pattern = POSITIVE_DURATION_PATTERN if positive else DURATION_PATTERN
        return {"anyOf": [number, {"type": "string", "pattern": pattern}]}


Seconds = Annotated[
    float,
    BeforeValidator(_parse_duration),
    Field(ge=0, allow_inf_nan=False),
    _DurationJsonSchema(),
]
"""A duration in seconds: a number, or a string with a unit (``500ms``, ``30s``, ``5m``, ``1h``)."""


def format_seconds(value: float) -> str:
    """``0.1`` as ``100ms``, ``1`` as ``1s``: how messages and docs write a duration."""
    return f"{value * 1000:g}ms" if value < 1 else f"{value:g}s"


def _at_least(minimum: float, why: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if value < minimum:
            least = format_seconds(minimum)
            raise ValueError(f"{format_seconds(value)} is too short: at least {least} ({why})")
        return value

    return check


# The minima and their reasons are listed in docs/reliability.md (minimum durations).
SAMPLE_INTERVAL_MIN = 0.1
WATCH_MIN = 1.0
TIMEOUT_MIN = 0.1
DURATION_MINIMA = (SAMPLE_INTERVAL_MIN, WATCH_MIN, TIMEOUT_MIN)

SampleInterval = Annotated[
    float,
    BeforeValidator(_parse_duration),
    Field(ge=0, allow_inf_nan=False),
    AfterValidator(
        _at_least(
            SAMPLE_INTERVAL_MIN,
            "each sample reads the router, probes every judged server and renews the lease; "
            "more than ten a second only floods the journal, and detection waits for "
            "requests, not looks",
        )
    ),
    _DurationJsonSchema(SAMPLE_INTERVAL_MIN),
]
"""The analysis interval."""

WatchSeconds = Annotated[
    float,
    BeforeValidator(_parse_duration),
    Field(ge=0, allow_inf_nan=False),
    AfterValidator(
        _at_least(
            WATCH_MIN,
            "relrun's own steps around it, an Ansible task each, take longer: shorter, it "
            "watches, waits for or promises nothing",
        )
    ),
    _DurationJsonSchema(WATCH_MIN),
]
"""Bakes, windows, the rollback's waits and budgets, the lease, readiness."""

TimeoutSeconds = Annotated[
    float,
    BeforeValidator(_parse_duration),
    Field(ge=0, allow_inf_nan=False),
    AfterValidator(
        _at_least(TIMEOUT_MIN, "no process start or HTTP round trip between hosts fits in less")
    ),
    _DurationJsonSchema(TIMEOUT_MIN),
]
"""Timeouts of commands, HTTP checks and notifications."""

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
