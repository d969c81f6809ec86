"""The ``http`` and ``health`` check kinds: one request (maybe repeated), expectations, captures."""

from __future__ import annotations

import time
from typing import Any

from .assertions import assertion, check_expectations, check_latency, merge_repeats
from .client import RequestFailed, Response
from .context import RunContext, build_result, default_secret, percentile
from .jsonpath import JsonPathError, resolve

HEALTH_REQUEST: dict[str, Any] = {"method": "GET", "path": "/health"}
HEALTH_EXPECT: dict[str, Any] = {"status": [200], "json": {"status": {"equals": "ok"}}}


def run_http(ctx: RunContext, check: dict[str, Any]) -> dict[str, Any]:
    """Run an ``http`` check: ``request``, ``expect``, ``repeat``, ``capture``."""
    request = check.get("request") or {}
    expect = ctx.resolve(check.get("expect") or {})
    return _run(ctx, check, request, expect)


def run_health(ctx: RunContext, check: dict[str, Any]) -> dict[str, Any]:
    """Run a ``health`` check: GET /health answers 200 ``status: ok`` (and ``version``)."""
    request = dict(HEALTH_REQUEST, **(check.get("request") or {}))
    expect = ctx.resolve(check.get("expect") or HEALTH_EXPECT)
    if check.get("version") is not None:
        fields = dict(expect.get("json") or {})
        fields["version"] = {"equals": str(check["version"])}
        expect = dict(expect, json=fields)
    return _run(ctx, check, request, expect)


def _run(
    ctx: RunContext, check: dict[str, Any], request: dict[str, Any], expect: dict[str, Any]
) -> dict[str, Any]:
    started = time.monotonic()
    repeat = max(1, int(check.get("repeat") or 1))
    rounds: list[list[dict[str, Any]]] = []
    latencies: list[float] = []
    first: Response | None = None
    errors: list[str] = []
    for _attempt in range(repeat):
        try:
            resp = ctx.send(request)
        except RequestFailed as exc:
            errors.append(str(exc))
            rounds.append([assertion("status", _wanted(expect), "no response", False)])
            continue
        first = first or resp
        latencies.append(resp.latency_ms)
        rounds.append(check_expectations(resp, expect))
    assertions = merge_repeats(rounds)
    assertions += check_latency(percentile(latencies, 95), expect.get("max_latency_ms"))
    if first is not None:
        assertions += _captures(ctx, check, request, first)
    detail = errors[0] if errors else ""
    if repeat > 1:
        detail = (f"{detail}; " if detail else "") + f"{len(latencies)}/{repeat} responses"
    return build_result(
        check,
        assertions,
        status=first.status if first is not None else None,
        latencies=latencies,
        started=started,
        message=detail,
    )


def _wanted(expect: dict[str, Any]) -> Any:
    status = expect.get("status")
    return status or "2xx"


def _captures(
    ctx: RunContext, check: dict[str, Any], request: dict[str, Any], resp: Response
) -> list[dict[str, Any]]:
    """Capture values; a capture that finds nothing is a failed assertion."""
    results: list[dict[str, Any]] = []
    for name, spec in (check.get("capture") or {}).items():
        found, value, source = _capture_one(resp, spec)
        secret = spec.get("secret")
        if secret is None:
            secret = default_secret(
                check.get("kind", "http"), str(request.get("path", "")), name, source
            )
        if found:
            ctx.capture(name, value, bool(secret))
        shown = ("<captured>" if secret else value) if found else "<missing>"
        results.append(assertion("capture " + name, source, shown, found))
    return results


def _capture_one(resp: Response, spec: dict[str, Any]) -> tuple[bool, Any, str]:
    if spec.get("header"):
        header = resp.header(spec["header"])
        return header is not None, header, "header " + spec["header"]
    path = str(spec.get("json") or "")
    ok, document = resp.json()
    if not ok:
        return False, None, "json " + path
    try:
        found, value = resolve(document, path)
    except JsonPathError:
        return False, None, "json " + path
    return found, value, "json " + path
