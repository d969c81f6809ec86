"""The ``rate_limit`` check kind: a burst must be throttled (429 + Retry-After), never 5xx."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .assertions import assertion
from .client import RequestFailed, Response
from .context import RunContext, build_result


def run_rate_limit(ctx: RunContext, check: dict[str, Any]) -> dict[str, Any]:
    """Send ``burst`` requests, ``concurrency`` at a time.

    Check keys: ``request``, ``burst`` (default 50), ``concurrency`` (default 10),
    ``limited_status`` (default 429).
    """
    started = time.monotonic()
    request = check.get("request") or {}
    burst = max(1, int(check.get("burst") or 50))
    workers = max(1, min(burst, int(check.get("concurrency") or 10)))
    limited = int(check.get("limited_status") or 429)
    # Resolve once: a placeholder error should fail the check, not every thread.
    ctx.resolve(request)

    def one(_index: int) -> Response | str:
        try:
            return ctx.send(request)
        except RequestFailed as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, range(burst)))
    responses = [o for o in outcomes if isinstance(o, Response)]
    errors = [o for o in outcomes if isinstance(o, str)]
    statuses = Counter(r.status for r in responses)
    throttled = [r for r in responses if r.status == limited]
    no_retry_after = [r for r in throttled if not _seconds(r.header("Retry-After"))]
    server_errors = sum(n for status, n in statuses.items() if status >= 500)

    assertions = [
        assertion(f"{limited} responses", ">= 1", len(throttled), bool(throttled)),
        assertion(
            f"Retry-After on every {limited}",
            "present (seconds)",
            "n/a"
            if not throttled
            else (
                "present"
                if not no_retry_after
                else f"missing or invalid on {len(no_retry_after)} of {len(throttled)}"
            ),
            bool(throttled) and not no_retry_after,
        ),
        assertion("5xx responses", 0, server_errors, server_errors == 0),
        assertion("requests without response", 0, len(errors), not errors),
    ]
    spread = ", ".join(f"{n}x{status}" for status, n in sorted(statuses.items()))
    detail = f"{burst} requests: {spread or 'no responses'}"
    if errors:
        detail += f"; first error: {errors[0]}"
    return build_result(
        check,
        assertions,
        status=limited if throttled else (responses[-1].status if responses else None),
        latencies=[r.latency_ms for r in responses],
        started=started,
        message=detail,
    )


def _seconds(value: str | None) -> bool:
    """Retry-After is delay-seconds or an HTTP date; both count as present."""
    if not value:
        return False
    return value.strip().isdigit() or "," in value
