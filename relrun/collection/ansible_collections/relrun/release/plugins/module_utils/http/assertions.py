"""Expectations on one response, each turned into an assertion record.

An assertion record is ``{what, expected, actual, passed}``: a failed one must read as
"expected X, got Y" to someone who never saw the runbook.
"""

from __future__ import annotations

import re
from typing import Any

from .client import Response
from .jsonpath import JsonPathError, resolve

JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
MAX_ACTUAL_CHARS = 200


def assertion(what: str, expected: Any, actual: Any, passed: bool) -> dict[str, Any]:
    """Build one assertion record (long actual values are shortened)."""
    if isinstance(actual, str) and len(actual) > MAX_ACTUAL_CHARS:
        actual = actual[:MAX_ACTUAL_CHARS] + "…"
    return {"what": what, "expected": expected, "actual": actual, "passed": bool(passed)}


def json_type(value: Any) -> str:
    """Name the JSON type of a decoded value (``integer`` for whole numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_matches(value: Any, wanted: str) -> bool:
    """True when ``value`` has JSON type ``wanted`` (an integer is also a number)."""
    actual = json_type(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def status_ok(status: int | None, expected: list[int] | None) -> bool:
    """True when ``status`` is one of ``expected`` (None: any 2xx)."""
    if status is None:
        return False
    if not expected:
        return 200 <= status < 300
    return status in expected


def check_status(status: int | None, expected: list[int] | None) -> dict[str, Any]:
    """Assert the status code (``expected`` None or empty means any 2xx)."""
    want: Any = "2xx" if not expected else (expected[0] if len(expected) == 1 else expected)
    return assertion("status", want, status, status_ok(status, expected))


def check_value(what: str, found: bool, value: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Assert one looked-up value against ``{present, equals, type, regex}``.

    Args:
        what: label, e.g. ``json status`` or ``header X-Served-By``.
        found: whether the field/header exists.
        value: its value when found.
        spec: the expectation; keys left out (or None) are not checked.

    Returns:
        One assertion per operator in ``spec``; a missing field fails each of them.
    """
    results: list[dict[str, Any]] = []
    actual: Any = value if found else "<missing>"
    present = spec.get("present")
    if present is not None:
        results.append(
            assertion(
                what + " present",
                bool(present),
                found,
                found == bool(present),
            )
        )
    if spec.get("equals") is not None:
        expected = spec["equals"]
        results.append(
            assertion(what + " equals", expected, actual, found and _equal(value, expected))
        )
    if spec.get("type") is not None:
        wanted = spec["type"]
        got = json_type(value) if found else "<missing>"
        results.append(
            assertion(what + " type", wanted, got, found and type_matches(value, wanted))
        )
    if spec.get("regex") is not None:
        pattern = spec["regex"]
        text = value if isinstance(value, str) else (None if not found else str(value))
        matched = text is not None and re.search(pattern, text) is not None
        results.append(assertion(what + " matches", pattern, actual, matched))
    return results


def _equal(value: Any, expected: Any) -> bool:
    # JSON has one number type: 2 and 2.0 are the same answer.
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def check_expectations(resp: Response, expect: dict[str, Any]) -> list[dict[str, Any]]:
    """Assert a response against an ``expect`` block (status, json, headers).

    Latency is judged by the caller, over all repetitions.

    Args:
        resp: the response.
        expect: ``{status, json: {path: spec}, headers: {name: spec}}``.

    Returns:
        The assertion records, status first.
    """
    results = [check_status(resp.status, _status_list(expect.get("status")))]
    fields = expect.get("json") or {}
    if fields:
        ok, document = resp.json()
        for path, spec in fields.items():
            if not ok:
                results.append(assertion("json " + path, "a JSON body", resp.text(80), False))
                continue
            try:
                found, value = resolve(document, path)
            except JsonPathError as exc:
                results.append(assertion("json " + path, "a valid path", str(exc), False))
                continue
            results.extend(check_value("json " + path, found, value, spec or {}))
    for name, spec in (expect.get("headers") or {}).items():
        value = resp.header(name)
        results.extend(check_value("header " + name, value is not None, value, spec or {}))
    return results


def _status_list(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(value)]


def check_latency(p95_ms: float | None, max_ms: float | None) -> list[dict[str, Any]]:
    """Assert the p95 latency (with one request, its latency) when a maximum is set."""
    if max_ms is None:
        return []
    passed = p95_ms is not None and p95_ms <= max_ms
    actual = None if p95_ms is None else round(p95_ms, 1)
    return [assertion("latency p95 ms", f"<= {max_ms:g}", actual, passed)]


def merge_repeats(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Fold the assertions of repeated requests into one record per ``what``.

    A record passes when it passed every time; its ``actual`` is the first failing
    value (else the last one), suffixed with how many repetitions failed.
    """
    merged: dict[str, dict[str, Any]] = {}
    failures: dict[str, int] = {}
    for records in rounds:
        for record in records:
            key = record["what"]
            failures.setdefault(key, 0)
            if not record["passed"]:
                failures[key] += 1
            current = merged.get(key)
            if current is None or (current["passed"] and not record["passed"]):
                merged[key] = dict(record)
    if len(rounds) > 1:
        for key, record in merged.items():
            if failures[key]:
                record["passed"] = False
                record["actual"] = f"{record['actual']} (failed {failures[key]} of {len(rounds)})"
    return list(merged.values())
