"""Newman's JSON report → the same check records as the native engine.

One check per collection item (an item run several times, e.g. a ``setNextRequest``
loop, is one check with every run's assertions folded together); Postman test names are
the assertions; response times give the latencies.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .assertions import assertion, merge_repeats
from .context import failure_summary, percentile
from .redact import Redactor

_SECRET_KEY = re.compile(r"token|secret|passw|auth|session|cookie|key", re.IGNORECASE)


def collect_secrets(report: dict[str, Any], redactor: Redactor) -> None:
    """Register every secret the report holds: bearer tokens sent, tokens received, secret vars.

    Args:
        report: the parsed JSON report.
        redactor: receives the secrets.
    """
    run = report.get("run") or {}
    for execution in run.get("executions") or []:
        for header in (execution.get("request") or {}).get("header") or []:
            if str(header.get("key", "")).lower() == "authorization":
                value = str(header.get("value") or "")
                redactor.add(value.split(" ", 1)[1] if " " in value else value)
        body = _body_json(execution.get("response") or {})
        for key, value in _pairs(body):
            if _SECRET_KEY.search(key) and isinstance(value, str):
                redactor.add(value)
    for scope in ("environment", "globals", "collection"):
        holder = report.get(scope) or {}
        for variable in list(holder.get("values") or []) + list(holder.get("variable") or []):
            key = str(variable.get("key", ""))
            if variable.get("type") == "secret" or _SECRET_KEY.search(key):
                redactor.add(variable.get("value"))


def _body_json(response: dict[str, Any]) -> Any:
    stream = response.get("stream") or {}
    data = stream.get("data") if isinstance(stream, dict) else None
    if not isinstance(data, list):
        return None
    try:
        return json.loads(bytes(data).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def _pairs(value: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((str(key), item))
            found.extend(_pairs(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_pairs(item))
    return found


def checks_from_report(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One check record per collection item, in the order items first ran.

    Args:
        report: the parsed JSON report (``newman run --reporters json``).

    Returns:
        Records shaped like ``relrun.release.api_check``'s, with ``kind: newman``
        (not yet redacted).
    """
    groups: dict[str, dict[str, Any]] = {}
    for execution in (report.get("run") or {}).get("executions") or []:
        item = execution.get("item") or {}
        key = str(item.get("id") or item.get("name"))
        group = groups.setdefault(key, {"name": str(item.get("name") or key), "runs": []})
        group["runs"].append(execution)
    names: dict[str, int] = {}
    checks = []
    for group in groups.values():
        names[group["name"]] = names.get(group["name"], 0) + 1
        name = (
            group["name"]
            if names[group["name"]] == 1
            else f"{group['name']} ({names[group['name']]})"
        )
        checks.append(_check(name, group["runs"]))
    return checks


def _check(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    rounds: list[list[dict[str, Any]]] = []
    latencies: list[float] = []
    status = None
    for execution in runs:
        records: list[dict[str, Any]] = []
        response = execution.get("response") or {}
        error = execution.get("requestError")
        if error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            records.append(assertion("request", "a response", str(message), False))
        elif response.get("code") is not None:
            status = int(response["code"])
            latencies.append(float(response.get("responseTime") or 0.0))
        for test in execution.get("assertions") or []:
            if test.get("skipped"):
                continue
            failure = test.get("error")
            actual = "passed" if not failure else str(failure.get("message") or failure)
            records.append(assertion(str(test.get("assertion")), "passes", actual, not failure))
        for script_error in (execution.get("testScript") or []) + (
            execution.get("prerequestScript") or []
        ):
            if isinstance(script_error, dict) and script_error.get("error"):
                records.append(
                    assertion("script", "runs", str(script_error["error"].get("message")), False)
                )
        if not records:
            records.append(assertion("request", "a response", status, status is not None))
        rounds.append(records)
    assertions = merge_repeats(rounds)
    passed = all(a["passed"] for a in assertions)
    detail = f"{len(runs)} runs" if len(runs) > 1 else ""
    message = ("ok" if not detail else f"ok ({detail})") if passed else failure_summary(assertions)
    mean = sum(latencies) / len(latencies) if latencies else None
    return {
        "name": name,
        "kind": "newman",
        "passed": passed,
        "required": True,
        "status": status,
        "assertions": assertions,
        "latency_ms": None if mean is None else round(mean, 1),
        "latency_p50_ms": percentile(latencies, 50),  # newman reports whole milliseconds
        "latency_p95_ms": percentile(latencies, 95),
        "duration_ms": round(sum(latencies), 1),
        "message": message,
    }
