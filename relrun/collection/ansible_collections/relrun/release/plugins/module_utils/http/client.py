"""One HTTP request: status, headers, body, latency; never raises on 4xx/5xx.

TLS is ``ansible.module_utils.urls``' (``make_context``: certificates checked by default, a
CA bundle, a client certificate), proxies come from the environment as with ``urls``,
redirects are not followed and error statuses are turned back into responses: the checks
must see exactly what the server answered. The context and the opener are made once per
settings, not per request as ``urls.Request`` does: it loads the system's CA store for every
request (60-100 ms of CPU, plain HTTP included), so a burst check sent fewer requests per
second than the rate limit it must trip. The event stream keeps an ``http.client``
connection (it reads the socket as events arrive), with the same context.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.urls import make_context

USER_AGENT = "relrun-api-check/1"


class Tls:
    """How requests reach the API: certificate checks, CA bundle, client certificate, proxy.

    Attributes:
        validate_certs: check the server's certificate and name (default on).
        ca_path: a PEM bundle to trust instead of the system's.
        client_cert: a PEM client certificate (may hold the key too).
        client_key: the client certificate's key, when not in ``client_cert``.
        use_proxy: honour ``https_proxy`` / ``http_proxy`` / ``no_proxy``.
    """

    def __init__(
        self,
        validate_certs: bool = True,
        ca_path: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        use_proxy: bool = True,
    ):
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.use_proxy = use_proxy
        self._context: ssl.SSLContext | None = None
        self._opener: urllib.request.OpenerDirector | None = None
        self._lock = threading.Lock()

    def context(self) -> ssl.SSLContext:
        """The SSL context of these settings, made once.

        Made on first use, so a module that sends nothing loads no CA store.
        """
        with self._lock:
            return self._context_locked()

    def _context_locked(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = make_context(
                cafile=self.ca_path,
                validate_certs=self.validate_certs,
                client_cert=self.client_cert,
                client_key=self.client_key,
            )
        return self._context

    def opener(self) -> urllib.request.OpenerDirector:
        """The opener requests go through, made once: this context, proxies, no redirects."""
        with self._lock:
            if self._opener is None:
                proxies = urllib.request.ProxyHandler(None if self.use_proxy else {})
                self._opener = urllib.request.build_opener(
                    proxies,
                    urllib.request.HTTPSHandler(context=self._context_locked()),
                    _NoRedirect(),
                )
            return self._opener


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer itself (an ``HTTPError`` with its status), never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


DEFAULT_TLS = Tls()


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


def open_connection(
    url: str, timeout: float, tls: Tls = DEFAULT_TLS
) -> tuple[http.client.HTTPConnection, str]:
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
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=tls.context()
        )
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
    tls: Tls = DEFAULT_TLS,
) -> Response:
    """Send one request and read the whole response.

    Args:
        method: HTTP method.
        url: full URL (see :func:`join_url`).
        headers: request headers.
        json_body: body to send as JSON (None: no body).
        timeout: socket timeout in seconds, for connecting and for each read.
        tls: certificate checks, CA bundle, client certificate, proxy use.

    Returns:
        The response, whatever its status (redirects are not followed).

    Raises:
        RequestFailed: when no response came back (refused, timeout, TLS failure).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestFailed(f"not an http(s) URL: {url!r}")
    body = None if json_body is None else json.dumps(json_body).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, headers=request_headers(headers, body is not None), method=method
    )
    started = time.monotonic()
    try:
        resp = tls.opener().open(request, timeout=timeout)
        status = resp.status
    except urllib.error.HTTPError as err:  # a 3xx, 4xx or 5xx: still an answer
        resp, status = err, err.code
    except TimeoutError as exc:
        raise RequestFailed(f"{method} {url}: no response within {timeout:g}s") from exc
    except urllib.error.URLError as exc:
        raise RequestFailed(f"{method} {url}: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(f"{method} {url}: {exc or type(exc).__name__}") from exc
    try:
        payload = resp.read()
    except TimeoutError as exc:
        raise RequestFailed(f"{method} {url}: no response within {timeout:g}s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(f"{method} {url}: {exc or type(exc).__name__}") from exc
    finally:
        resp.close()
    latency_ms = (time.monotonic() - started) * 1000.0
    names = {name.lower(): value for name, value in resp.headers.items()}
    return Response(int(status), names, payload, latency_ms)
