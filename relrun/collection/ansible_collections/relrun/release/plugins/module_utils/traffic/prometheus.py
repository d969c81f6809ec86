"""The ``prometheus`` metric provider: the runbook's PromQL queries over Prometheus' HTTP API.

Standard library only (runs on the host that runs the analysis). Each query is an instant
query (``GET /api/v1/query``) and must return the **cumulative** count of one server:
requests, errors, and, optionally, latency histogram buckets (one series per ``le``).
Queries are templates with ``${server}``, ``${role}`` (``canary`` or ``stable``),
``${backend}`` and ``${window}`` (a PromQL duration such as ``5s``); values are escaped for
a PromQL double-quoted string.

The analysis takes deltas of the cumulative counts between its readings, as it does with
the router's own counters, so a reading that fails loses nothing: the next one counts
what happened in between. The window figures (requests, errors, p95 in the last
``window`` seconds) are the same queries evaluated now and ``window`` seconds ago.

Every failure (no answer, a timeout, an HTTP error, a query error, an answer that is not
a number) raises :class:`MetricsUnavailable`, which the analysis handles as the runbook's
``no_data`` says.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ..http.client import Tls
from .base import MetricsUnavailable, ServerInfo
from .httpsource import auth_headers, build_opener, tls_from

QUERY_NAMES = ("requests", "errors", "latency_buckets")
TEMPLATE_VARS = ("server", "role", "backend", "window")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LATENCY_UNITS = {"seconds": 1000.0, "milliseconds": 1.0}


def template_vars(text: str) -> list[str]:
    """The ``${name}`` variables a query uses (the schema checks them against TEMPLATE_VARS)."""
    return _VAR.findall(text)


def promql_string(value: str) -> str:
    """``value`` escaped for the inside of a PromQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def promql_duration(seconds: float) -> str:
    """A PromQL duration: whole seconds as ``5s``, else milliseconds (``1500ms``)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def render_query(text: str, values: dict[str, str]) -> str:
    """Fill a query's ``${name}`` variables (escaped for a PromQL string).

    Raises:
        MetricsUnavailable: a variable without a value (the schema refuses it earlier).
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise MetricsUnavailable(
                f"query variable ${{{name}}} is unknown ({', '.join(TEMPLATE_VARS)})"
            )
        return promql_string(values[name])

    return _VAR.sub(fill, text)


def _number(raw: Any, query: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise MetricsUnavailable(f"query {query!r} returned {raw!r}, not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise MetricsUnavailable(f"query {query!r} returned {raw}, not a count")
    return value


def parse_response(status: int, body: bytes, query: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one instant query's answer, as (labels, value).

    A scalar is one sample without labels; a vector, one sample per series.

    Raises:
        MetricsUnavailable: an HTTP error, a query error, not JSON, a range or string result.
    """
    try:
        document = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        detail = body[:200].decode("utf-8", "replace").strip()
        raise MetricsUnavailable(
            f"Prometheus answered HTTP {status} without a JSON body: {detail!r}"
        )
    if document.get("status") != "success" or status >= 400:
        kind = document.get("errorType") or f"HTTP {status}"
        raise MetricsUnavailable(
            f"Prometheus refused query {query!r}: {kind}: {document.get('error', '')}".rstrip(": ")
        )
    data = document.get("data")
    if not isinstance(data, dict):
        raise MetricsUnavailable(f"Prometheus answered query {query!r} without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, _number(result[1], query))]
    if kind == "vector" and isinstance(result, list):
        samples = []
        for series in result:
            if (
                not isinstance(series, dict)
                or not isinstance(series.get("value"), list)
                or len(series["value"]) != 2
            ):
                raise MetricsUnavailable(
                    f"Prometheus answered query {query!r} with a malformed series"
                )
            labels = series.get("metric") or {}
            samples.append(
                ({str(k): str(v) for k, v in labels.items()}, _number(series["value"][1], query))
            )
        return samples
    raise MetricsUnavailable(
        f"query {query!r} must return an instant vector or a scalar, got {kind or 'nothing'}"
    )


def _count(samples: list[tuple[dict[str, str], float]], query: str, required: bool) -> int | None:
    if not samples:
        if required:
            raise MetricsUnavailable(
                f"query {query!r} returned no series (no data; add `or vector(0)` if none means zero)"
            )
        return None
    if len(samples) > 1:
        raise MetricsUnavailable(
            f"query {query!r} returned {len(samples)} series; wrap it in sum(...) to get one"
        )
    return round(samples[0][1])


def _histogram(
    samples: list[tuple[dict[str, str], float]], query: str, unit_ms: float
) -> tuple[list[float], list[int]]:
    """(bounds in ms, per-bucket counts with one more for the rest) from cumulative ``le`` buckets."""
    points: dict[float, float] = {}
    for labels, value in samples:
        if "le" not in labels:
            raise MetricsUnavailable(
                f"query {query!r} must keep the `le` label (e.g. sum by (le) (...))"
            )
        try:
            bound = float(labels["le"])
        except ValueError:
            raise MetricsUnavailable(
                f"query {query!r} returned le={labels['le']!r}, not a bound"
            ) from None
        points[bound] = points.get(bound, 0.0) + value
    ordered = sorted(points.items())
    bounds = [pair[0] * unit_ms for pair in ordered if not math.isinf(pair[0])]
    cumulative = [round(pair[1]) for pair in ordered]
    if not ordered or not math.isinf(ordered[-1][0]):
        cumulative.append(cumulative[-1] if cumulative else 0)
    counts = [max(0, c - (cumulative[i - 1] if i else 0)) for i, c in enumerate(cumulative)]
    return bounds, counts


def _p95(bounds: list[float], counts: list[int]) -> float | None:
    total = sum(counts)
    if not total:
        return None
    rank = math.ceil(0.95 * total)
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            # The rest bucket has no upper bound: report the highest bound it is above.
            return bounds[min(index, len(bounds) - 1)] if bounds else None
    return None


class PrometheusProvider:
    """Per-server figures from the runbook's PromQL queries (see the module docstring)."""

    def __init__(
        self,
        url: str,
        queries: dict[str, str],
        targets: dict[str, str],
        backend: str = "",
        latency_unit: str = "seconds",
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
        tls: Tls | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise MetricsUnavailable(f"the Prometheus URL must be http(s)://..., got {url!r}")
        for name in ("requests", "errors"):
            if not queries.get(name):
                raise MetricsUnavailable(f"the Prometheus provider needs a `{name}` query")
        self.url = url.rstrip("/") + "/api/v1/query"
        self.source = f"prometheus {url.rstrip('/')}"
        self.queries = {k: v for k, v in queries.items() if v}
        self.targets = targets
        self.backend = backend
        self.unit_ms = LATENCY_UNITS.get(latency_unit, 1000.0)
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._tls = tls or Tls()
        self._clock = clock
        self.queries_sent = 0
        self._deadline: float | None = None
        self._opener: urllib.request.OpenerDirector | None = None

    def rendered(self, name: str, server: str, role: str, window: float) -> str:
        """The query ``name`` as sent for ``server`` (shown by ``relrun plan``, in messages)."""
        values = {
            "server": server,
            "role": role,
            "backend": self.backend,
            "window": promql_duration(window),
        }
        return render_query(self.queries[name], values)

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        """One instant query evaluated at ``at`` (epoch seconds).

        Raises:
            MetricsUnavailable: no answer within the timeout, or an answer that is no result.
        """
        remaining = self.timeout
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise MetricsUnavailable(
                    f"Prometheus did not answer a reading's queries within {self.timeout:g}s"
                )
        params = {"query": query, "time": f"{at:.3f}", "timeout": f"{self.timeout:g}s"}
        url = self.url + "?" + urlencode(params)
        self.queries_sent += 1
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", **self._headers}
        )
        try:
            with self._open(request, remaining) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as err:  # Prometheus explains a refused query in JSON
            status, body = err.code, err.read()
        except TimeoutError:
            raise MetricsUnavailable(
                f"Prometheus did not answer within {remaining:.3g}s ({self.url})"
            ) from None
        except urllib.error.URLError as err:
            raise MetricsUnavailable(
                f"Prometheus did not answer: {err.reason} ({self.url})"
            ) from None
        except OSError as err:
            raise MetricsUnavailable(f"Prometheus did not answer: {err} ({self.url})") from None
        return parse_response(status, body, query)

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        if self._opener is None:
            self._opener = build_opener(self.url, self._tls)
        return self._opener.open(request, timeout=timeout)

    def _reading(
        self, server: str, role: str, window: float, at: float, now: bool
    ) -> dict[str, Any]:
        rendered = {name: self.rendered(name, server, role, window) for name in self.queries}
        requests = _count(
            self.instant(rendered["requests"], at), rendered["requests"], required=now
        )
        errors = _count(self.instant(rendered["errors"], at), rendered["errors"], required=False)
        reading: dict[str, Any] = {
            "requests": requests or 0,
            "errors": errors or 0,
            "latency": None,  # or (bounds, counts)
        }
        if "latency_buckets" in self.queries:
            samples = self.instant(rendered["latency_buckets"], at)
            if samples:
                reading["latency"] = _histogram(samples, rendered["latency_buckets"], self.unit_ms)
        return reading

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Each target's cumulative counts now, and its figures over the last ``window`` s.

        Raises:
            MetricsUnavailable: any query failed (the whole reading is then no data).
        """
        at = self._clock()
        # One reading, all its queries, takes at most ``timeout``: the dead man's switch is
        # renewed between readings, so the gap between two must stay bounded.
        self._deadline = time.monotonic() + self.timeout
        try:
            return {
                name: self._server(name, role, window, at) for name, role in self.targets.items()
            }
        finally:
            self._deadline = None

    def _server(self, name: str, role: str, window: float, at: float) -> ServerInfo:
        now = self._reading(name, role, window, at, now=True)
        then = self._reading(name, role, window, at - window, now=False)
        requests = _since(then["requests"], now["requests"])
        errors = _since(then["errors"], now["errors"])
        p95 = None
        latency = None
        histogram: tuple[list[float], list[int]] | None = now["latency"]
        if histogram is not None:
            bounds, counts = histogram[0], histogram[1]
            latency = {"kind": "buckets", "bounds": bounds, "counts": counts}
            old = then["latency"][1] if then["latency"] is not None else [0] * len(counts)
            if len(old) == len(counts):
                p95 = _p95(bounds, [_since(a, b) for a, b in zip(old, counts, strict=True)])
        return {
            "name": name,
            "requests": requests,
            "errors": errors,
            "error_rate": round(errors / requests, 6) if requests else 0.0,
            "p95_ms": p95,
            "faults": 0,
            "total_requests": now["requests"],
            "total_errors": now["errors"],
            "latency": latency,
        }


def _since(old: int, new: int) -> int:
    # A counter that went down was reset (the exporter restarted): all of it is new.
    return new if new < old else new - old


def from_settings(
    settings: dict[str, Any], targets: dict[str, str], base_dir: str | None = None
) -> PrometheusProvider:
    """Build the provider from the analysis module's ``metrics`` argument.

    Args:
        settings: ``url``, ``queries`` (``requests``, ``errors``, ``latency_buckets``),
            ``latency_unit``, ``timeout``, ``backend``, ``auth`` (``token_env`` /
            ``token_file``, or ``username`` / ``username_env`` with ``password_env`` /
            ``password_file``) and ``tls`` (``validate_certs``, ``ca_path``,
            ``client_cert``, ``client_key``, ``use_proxy``).
        targets: server name → role (``canary`` or ``stable``).
        base_dir: relative credential files are relative to it.

    Raises:
        MetricsUnavailable: a setting is missing or a credential cannot be read.
    """
    return PrometheusProvider(
        url=str(settings.get("url") or ""),
        queries={k: str(v) for k, v in (settings.get("queries") or {}).items() if v},
        targets=targets,
        backend=str(settings.get("backend") or ""),
        latency_unit=str(settings.get("latency_unit") or "seconds"),
        timeout=float(settings.get("timeout") or 2),
        headers=auth_headers(settings.get("auth"), base_dir, "Prometheus"),
        tls=tls_from(settings.get("tls")),
    )


class PrometheusGuard:
    """A business-metric guard's number: one PromQL instant query (``${...}`` filled in).

    The query must return one number (a scalar, or a vector of one series): ``sum(...)``
    several series into one. No series is no data, not zero (append ``or vector(0)`` when
    none means zero).
    """

    def __init__(self, provider: PrometheusProvider, query: str) -> None:
        self._provider = provider
        self.query = query
        self.source = provider.source

    def shown(self, values: dict[str, str]) -> str:
        """The query as sent for ``values``."""
        return render_query(self.query, values)

    def value(self, values: dict[str, str], timeout: float) -> float:
        """The query's one number now.

        Raises:
            MetricsUnavailable: no answer within ``timeout``, an error, none or several series.
        """
        query = render_query(self.query, values)
        if timeout <= 0:
            raise MetricsUnavailable(f"query {query!r}: no time left in this reading")
        self._provider.timeout = timeout
        samples = self._provider.instant(query, self._provider._clock())
        if not samples:
            raise MetricsUnavailable(
                f"query {query!r} returned no series (no data; add `or vector(0)` if none "
                "means zero)"
            )
        if len(samples) > 1:
            raise MetricsUnavailable(
                f"query {query!r} returned {len(samples)} series; wrap it in sum(...) to get one"
            )
        return samples[0][1]


def guard_from_settings(settings: dict[str, Any], base_dir: str | None = None) -> PrometheusGuard:
    """Build a Prometheus guard from the analysis module's ``guards`` item.

    Args:
        settings: ``name``, ``url``, ``query``, ``auth`` and ``tls`` (as for ``metrics``).
        base_dir: relative credential files are relative to it.

    Raises:
        MetricsUnavailable: a setting is missing or a credential cannot be read.
    """
    query = str(settings.get("query") or "")
    if not query:
        raise MetricsUnavailable(f"Prometheus guard {settings.get('name', '')} needs a `query`")
    provider = PrometheusProvider(
        url=str(settings.get("url") or ""),
        queries={"requests": query, "errors": query},
        targets={},
        headers=auth_headers(settings.get("auth"), base_dir, "Prometheus"),
        tls=tls_from(settings.get("tls")),
    )
    return PrometheusGuard(provider, query)
