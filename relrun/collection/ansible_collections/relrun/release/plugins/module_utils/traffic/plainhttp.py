"""Plain-HTTP requests to a router's admin API or a server's health path, cheaply.

``ansible.module_utils.urls.open_url`` builds a new TLS context for every request (it loads
the system's CA certificates: ~40 ms of CPU each, measured in bench/bench_analysis.py
``cost``) and reads ``~/.netrc``, even for ``http://``. The analysis makes two or more such
requests per sample, every interval, so that set-up was nearly all of a sample's cost.
These requests are plain HTTP to addresses from the inventory or the router: they get one
TLS context that is never used (it trusts no certificate, so an ``https://`` URL fails
closed), no netrc, no proxy.
"""

from __future__ import annotations

import ssl
from typing import Any

from ansible.module_utils.urls import Request

_UNUSED_TLS: ssl.SSLContext | None = None


def open_plain(
    url: str, method: str = "GET", data: bytes | None = None,
    headers: dict[str, str] | None = None, timeout: float = 5.0,
) -> Any:
    """Open a plain ``http://`` URL (the response, a context manager), never via a proxy."""
    global _UNUSED_TLS  # pylint: disable=global-statement
    if not url.startswith("http://"):
        raise ValueError(f"plain HTTP only: {url}")
    if _UNUSED_TLS is None:
        _UNUSED_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return Request().open(method, url, data=data, headers=headers, timeout=timeout,
                          use_proxy=False, use_netrc=False, context=_UNUSED_TLS)
