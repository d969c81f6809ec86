"""One HTTP request with http.client: status, headers, body, latency; never raises on 4xx/5xx.

http.client rather than urllib: urllib follows redirects and turns every 4xx into an
exception, and the checks must see exactly what the server answered.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

USER_AGENT = "relrun-api-check/1"


class RequestFailed(Exception):
    """No HTTP response at all: connection refused, timeout, TLS or protocol error."""


class Response:
    """What came back from one request.

    Attributes:
        status: HTTP status code.
        headers: response headers, names lower-cased (last value wins).
        body: raw body bytes.
        latency_ms: time from sending the request to the end of the body.
    """

    def __init__(self, status: int, headers: dict[str, str], body: bytes, latency_ms: float):
        self.status = status
        self.headers = headers
        self.body = body
        self.latency_ms = latency_ms

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name, or None."""
        return self.headers.get(name.lower())

    def json(self) -> tuple[bool, Any]:
        """Decode the body as JSON.

        Returns:
            ``(True, document)`` or ``(False, None)`` when the body is not JSON.
        """
        try:
            return True, json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return False, None

    def text(self, limit: int = 300) -> str:
        """The body as text, shortened for messages."""
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "…"


def join_url(base_url: str, path: str, query: dict[str, str] | None = None) -> str:
    """Join a base URL (maybe with a path prefix) and a check path, plus a query string.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080`` or ``https://api.example/v2``.
        path: e.g. ``/messages``; a leading slash is optional.
        query: extra query parameters.

    Returns:
        The full URL.
    """
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    return url


def open_connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """Open a connection object for ``url`` (not yet connected).

    Returns:
        The connection and the request target (path + query).

    Raises:
        RequestFailed: for a URL that is not http(s).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestFailed(f"not an http(s) URL: {url!r}")
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    return conn, target


def request_headers(headers: dict[str, str] | None, has_json: bool) -> dict[str, str]:
    """Default headers plus the check's own (which win)."""
    merged = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if has_json:
        merged["Content-Type"] = "application/json"
    merged.update(headers or {})
    return merged


def send(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 10.0,
) -> Response:
    """Send one request and read the whole response.

    Args:
        method: HTTP method.
        url: full URL (see :func:`join_url`).
        headers: request headers.
        json_body: body to send as JSON (None: no body).
        timeout: socket timeout in seconds, for connecting and for each read.

    Returns:
        The response, whatever its status.

    Raises:
        RequestFailed: when no response came back.
    """
    body = None if json_body is None else json.dumps(json_body).encode("utf-8")
    conn, target = open_connection(url, timeout)
    started = time.monotonic()
    try:
        conn.request(method, target, body=body, headers=request_headers(headers, body is not None))
        resp = conn.getresponse()
        payload = resp.read()
        latency_ms = (time.monotonic() - started) * 1000.0
        names = {name.lower(): value for name, value in resp.getheaders()}
        return Response(resp.status, names, payload, latency_ms)
    except TimeoutError as exc:
        raise RequestFailed(f"{method} {url}: no response within {timeout:g}s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(f"{method} {url}: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()
