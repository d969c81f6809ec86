"""State shared by the checks of one run: captures, credentials, redaction, results."""

from __future__ import annotations

import math
import re
import time
import uuid
from typing import Any

from .client import DEFAULT_TLS, Response, Tls, join_url, send
from .placeholders import substitute
from .redact import Redactor

_SECRETISH = re.compile(r"auth|token|login|session|secret|passw|cookie|key", re.IGNORECASE)


class RunContext:
    """Everything a check needs besides its own definition.

    Attributes:
        base_url: the API's base URL.
        captures: values captured so far, by name.
        credentials: resolved ``username`` / ``password``.
        run_id: random hex, unique per module run (``${run.id}``).
        redactor: collects every secret to mask in the result.
    """

    def __init__(
        self,
        base_url: str,
        credentials: dict[str, str],
        redactor: Redactor,
        tls: Tls = DEFAULT_TLS,
    ):
        self.base_url = base_url
        self.tls = tls
        self.captures: dict[str, Any] = {}
        self.credentials = credentials
        self.run_id = uuid.uuid4().hex[:12]
        self.redactor = redactor
        redactor.add(credentials.get("password"))

    def values(self) -> dict[str, dict[str, Any]]:
        """The placeholder namespaces."""
        return {
            "captures": self.captures,
            "credentials": self.credentials,
            "run": {"id": self.run_id},
        }

    def resolve(self, value: Any) -> Any:
        """Resolve placeholders in ``value`` (see :mod:`.http_placeholders`)."""
        return substitute(value, self.values())

    def url(self, request: dict[str, Any]) -> str:
        """The full URL of a request definition, placeholders resolved."""
        return join_url(
            self.base_url,
            self.resolve(request.get("path") or "/"),
            self.resolve(request.get("query") or {}),
        )

    def send(self, request: dict[str, Any], **overrides: Any) -> Response:
        """Send a request definition (``method``, ``path``, ``query``, ``headers``, ``json``).

        Keyword overrides replace the resolved ``headers``/``json_body``.
        """
        headers = self.resolve(request.get("headers") or {})
        kwargs: dict[str, Any] = {
            "headers": {str(k): str(v) for k, v in headers.items()},
            "json_body": self.resolve(request.get("json")),
            "timeout": float(request.get("timeout_s") or 10.0),
        }
        kwargs.update(overrides)
        kwargs.setdefault("tls", self.tls)
        return send(str(request.get("method") or "GET").upper(), self.url(request), **kwargs)

    def capture(self, name: str, value: Any, secret: bool) -> None:
        """Store a captured value; secrets are also registered for redaction."""
        self.captures[name] = value
        if secret:
            self.redactor.add(value)


def default_secret(kind: str, path: str, name: str, source: str) -> bool:
    """Whether a capture is secret when the runbook did not say.

    Anything from an auth response, or named like a credential, is secret.
    """
    if kind == "jwt_auth":
        return True
    return any(_SECRETISH.search(text) for text in (path, name, source))


def percentile(samples: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no samples)."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def build_result(
    check: dict[str, Any],
    assertions: list[dict[str, Any]],
    *,
    status: int | None,
    latencies: list[float],
    started: float,
    message: str = "",
    latency_ms: float | None = None,
) -> dict[str, Any]:
    """Assemble one check's result record.

    Args:
        check: the check definition.
        assertions: its assertion records; the check passes when all passed (and
            there is at least one).
        status: the HTTP status of its main request (None: no response).
        latencies: every request latency, for p50/p95.
        started: monotonic start time (for ``duration_ms``).
        message: extra detail; a failed check's message starts with what failed.
        latency_ms: the headline latency; default the mean of ``latencies``.

    Returns:
        ``{name, kind, passed, required, status, assertions, latency_ms,
        latency_p50_ms, latency_p95_ms, duration_ms, message}``.
    """
    passed = bool(assertions) and all(a["passed"] for a in assertions)
    if latency_ms is None and latencies:
        latency_ms = sum(latencies) / len(latencies)
    if not passed:
        summary = failure_summary(assertions)
        message = f"{summary} ({message})" if message else summary
    elif not message:
        message = "ok"
    return {
        "name": check.get("name"),
        "kind": check.get("kind", "http"),
        "passed": passed,
        "required": bool(check.get("required", True)),
        "status": status,
        "assertions": assertions,
        "latency_ms": _round(latency_ms),
        "latency_p50_ms": _round(percentile(latencies, 50)),
        "latency_p95_ms": _round(percentile(latencies, 95)),
        "duration_ms": _round((time.monotonic() - started) * 1000.0),
        "message": message,
    }


def failure_summary(assertions: list[dict[str, Any]]) -> str:
    """``what: expected X, got Y`` for each failed assertion, joined with ``; ``."""
    failed = [a for a in assertions if not a["passed"]]
    if not failed:
        return "no assertion was evaluated"
    return "; ".join(
        f"{a['what']}: expected {a['expected']!r}, got {a['actual']!r}" for a in failed
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
