"""The ``sse`` check kind: a message created via the API arrives on the event stream."""

from __future__ import annotations

import json
import time
from typing import Any

from .assertions import assertion, status_ok
from .client import RequestFailed
from .context import RunContext, build_result
from .jsonpath import JsonPathError, resolve
from .sse import SseEvent, SseStream

STREAM_REQUEST: dict[str, Any] = {"method": "GET", "path": "/events"}
TRIGGER_REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/messages",
    "json": {"text": "relrun sse probe ${run.id}"},
}


def run_sse(ctx: RunContext, check: dict[str, Any]) -> dict[str, Any]:
    """Open the stream, trigger, wait for the matching event.

    Check keys: ``stream``, ``trigger``, ``event`` (default ``message``), ``match``
    (JSON paths compared between the trigger's response and the event data, default
    ``id`` and ``text``), ``timeout_s`` (default 10), ``ready_timeout_s`` (default 2: how
    long to wait for the server's first line before triggering; 0 skips the wait).
    """
    started = time.monotonic()
    stream_req = check.get("stream") or STREAM_REQUEST
    trigger = check.get("trigger") or TRIGGER_REQUEST
    event_type = str(check.get("event") or "message")
    paths = [str(p) for p in (check.get("match") or ["id", "text"])]
    timeout = float(check.get("timeout_s") or 10.0)
    headers = {str(k): str(v) for k, v in ctx.resolve(stream_req.get("headers") or {}).items()}
    try:
        stream = SseStream(
            ctx.url(stream_req), headers, float(stream_req.get("timeout_s") or 10), ctx.tls
        )
    except RequestFailed as exc:
        return build_result(
            check,
            [assertion("stream status", 200, "no response", False)],
            status=None,
            latencies=[],
            started=started,
            message=str(exc),
        )
    with stream:
        assertions = [
            assertion("stream status", 200, stream.status, stream.status == 200),
            assertion(
                "stream content-type",
                "text/event-stream",
                stream.content_type,
                stream.content_type.startswith("text/event-stream"),
            ),
        ]
        if stream.status != 200:
            return build_result(
                check, assertions, status=stream.status, latencies=[], started=started
            )
        ready_s = float(check.get("ready_timeout_s", 2.0) or 0.0)
        if ready_s > 0:
            stream.wait_ready(time.monotonic() + min(ready_s, timeout))
        try:
            created = ctx.send(trigger)
        except RequestFailed as exc:
            assertions.append(assertion("trigger status", "2xx", "no response", False))
            return build_result(
                check,
                assertions,
                status=stream.status,
                latencies=[],
                started=started,
                message=str(exc),
            )
        sent_at = time.monotonic() - created.latency_ms / 1000.0
        assertions.append(
            assertion("trigger status", "2xx", created.status, status_ok(created.status, None))
        )
        ok, document = created.json()
        wanted = {p: _lookup(document, p) for p in paths} if ok else {}
        if not status_ok(created.status, None) or not ok:
            return build_result(
                check,
                assertions,
                status=stream.status,
                latencies=[created.latency_ms],
                started=started,
            )
        match, delivery_ms = _wait_for(
            stream, event_type, wanted, time.monotonic() + timeout, sent_at
        )
        what = f"event {event_type} with the created {', '.join(paths)}"
        if match is not None:
            assertions.append(assertion(what, wanted, wanted, True))
        else:
            parser = stream.parser
            seen = (
                f"none within {timeout:g}s ({parser.events_seen} other events, "
                f"{parser.comments_seen} comments"
                + (", stream closed by server)" if stream.ended else ")")
            )
            assertions.append(assertion(what, wanted, seen, False))
    return build_result(
        check,
        assertions,
        status=stream.status,
        latencies=[created.latency_ms],
        started=started,
        latency_ms=delivery_ms,
    )


def _lookup(document: Any, path: str) -> Any:
    try:
        found, value = resolve(document, path)
    except JsonPathError:
        return None
    return value if found else None


def _wait_for(
    stream: SseStream, event_type: str, wanted: dict[str, Any], deadline: float, sent_at: float
) -> tuple[SseEvent | None, float | None]:
    """Read events until one of ``event_type`` whose data matches ``wanted``."""
    while True:
        event = stream.next_event(deadline)
        if event is None:
            return None, None
        if event.event != event_type:
            continue
        try:
            data = json.loads(event.data)
        except ValueError:
            continue
        if all(_lookup(data, path) == value for path, value in wanted.items()):
            return event, (time.monotonic() - sent_at) * 1000.0
