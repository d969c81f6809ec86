"""The ``web`` metric provider: a number from a JSON document (Argo Rollouts' "web").

Standard library and ``ansible.module_utils`` only (runs on the host that runs the
analysis). A business-metric guard names a URL, templated with ``${server}``, ``${role}``,
``${backend}`` and ``${window}`` (values URL-quoted), and a JSON path
(``http_jsonpath``: ``data.payments.failed_per_min``, ``items[0].value``) to the number it
judges. Headers are literal, or read from environment variables on the analysing host;
credentials are references (bearer token or basic auth), never values, and no message
ever contains one.

Every failure (no answer within the timeout, an HTTP error, not JSON, the path missing,
a value that is not a number) raises :class:`MetricsUnavailable`: no data, handled as the
runbook's ``no_data`` says.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ..http.jsonpath import JsonPathError, parse_path, resolve
from .base import MetricsUnavailable
from .httpsource import auth_headers, build_opener, tls_from
from .prometheus import _VAR, TEMPLATE_VARS

MAX_BODY = 1 << 20  # a metrics document, not a download


def render_url(text: str, values: dict[str, str]) -> str:
    """Fill a URL's ``${name}`` variables, each value URL-quoted (no ``/``, ``?`` or ``&``).

    Raises:
        MetricsUnavailable: a variable without a value (the schema refuses it earlier).
    """

    def fill(match: Any) -> str:
        name = match.group(1)
        if name not in values:
            raise MetricsUnavailable(
                f"URL variable ${{{name}}} is unknown ({', '.join(TEMPLATE_VARS)})"
            )
        return quote(values[name], safe="")

    return _VAR.sub(fill, text)


def shown_url(url: str) -> str:
    """The URL without its user info (a ``user:password@`` never reaches a message)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def number_at(document: Any, path: str, where: str) -> float:
    """The number at ``path`` in a decoded JSON document.

    A numeric string (``"4.5"``) is a number; ``true``/``false``, ``null``, a list or an
    object are not.

    Raises:
        MetricsUnavailable: the path is missing, or holds no finite number.
    """
    try:
        found, value = resolve(document, path)
    except JsonPathError as err:
        raise MetricsUnavailable(f"{where}: {err}") from None
    if not found:
        raise MetricsUnavailable(f"{where}: no {path!r} in the answer (no data)")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MetricsUnavailable(f"{where}: {path!r} is {json.dumps(value)[:60]}, not a number")
    try:
        number = float(value)
    except ValueError:
        raise MetricsUnavailable(f"{where}: {path!r} is {str(value)[:60]!r}, not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise MetricsUnavailable(f"{where}: {path!r} is {value}, not a finite number")
    return number


class WebProvider:
    """One guard's number: GET a templated URL, read a JSON path (see the module docstring)."""

    def __init__(
        self,
        url: str,
        path: str,
        headers: dict[str, str] | None = None,
        secret_headers: dict[str, str] | None = None,
        tls: Any = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise MetricsUnavailable(f"a web metric's URL must be http(s)://..., got {shown_url(url)!r}")
        try:
            parse_path(path)
        except JsonPathError as err:
            raise MetricsUnavailable(str(err)) from None
        self.url = url
        self.path = path
        self.source = f"web {shown_url(url)}"
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._secret = dict(secret_headers or {})
        self._tls = tls_from(None) if tls is None else tls
        self._opener: urllib.request.OpenerDirector | None = None

    def shown(self, values: dict[str, str]) -> str:
        """The URL as sent for ``values`` (without user info), and the JSON path."""
        return f"GET {shown_url(render_url(self.url, values))} -> {self.path}"

    def value(self, values: dict[str, str], timeout: float) -> float:
        """The number at the path in the URL's JSON answer.

        Raises:
            MetricsUnavailable: see the module docstring.
        """
        url = render_url(self.url, values)
        where = f"GET {shown_url(url)}"
        if timeout <= 0:
            raise MetricsUnavailable(f"{where}: no time left in this reading")
        request = urllib.request.Request(url, headers={**self._headers, **self._secret})
        if self._opener is None:
            self._opener = build_opener(url, self._tls)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                body = response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as err:
            raise MetricsUnavailable(f"{where}: HTTP {err.code} {err.reason}") from None
        except TimeoutError:
            raise MetricsUnavailable(f"{where}: no answer within {timeout:.3g}s") from None
        except urllib.error.URLError as err:
            raise MetricsUnavailable(f"{where}: no answer: {err.reason}") from None
        except OSError as err:
            raise MetricsUnavailable(f"{where}: no answer: {err}") from None
        if len(body) > MAX_BODY:
            raise MetricsUnavailable(f"{where}: the answer is over {MAX_BODY} bytes")
        try:
            document = json.loads(body.decode("utf-8"))
        except ValueError:
            raise MetricsUnavailable(f"{where}: the answer is not JSON") from None
        return number_at(document, self.path, where)


def _env_headers(names: dict[str, Any], who: str) -> dict[str, str]:
    found = {}
    for header, env in names.items():
        value = os.environ.get(str(env))
        if not value:
            raise MetricsUnavailable(
                f"{who} header {header}: environment variable {env} is not set on the host"
            )
        found[str(header)] = value
    return found


def from_settings(settings: dict[str, Any], base_dir: str | None = None) -> WebProvider:
    """Build a web guard's provider from the analysis module's ``guards`` item.

    Args:
        settings: ``name``, ``url``, ``path``, ``headers`` (literal), ``headers_env``
            (header -> environment variable), ``auth`` and ``tls`` (as for Prometheus).
        base_dir: relative credential files are relative to it.

    Raises:
        MetricsUnavailable: a setting is missing or a credential cannot be read.
    """
    who = f"web guard {settings.get('name', '')}".rstrip()
    secret = _env_headers(settings.get("headers_env") or {}, who)
    secret.update(auth_headers(settings.get("auth"), base_dir, who))
    return WebProvider(
        url=str(settings.get("url") or ""),
        path=str(settings.get("path") or ""),
        headers={str(k): str(v) for k, v in (settings.get("headers") or {}).items()},
        secret_headers=secret,
        tls=tls_from(settings.get("tls")),
    )
