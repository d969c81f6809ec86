"""Plain-HTTP requests to a router's admin API or a server's health path, cheaply.

``ansible.module_utils.urls.open_url`` builds a new TLS context for every request (it loads
the system's CA certificates: ~40 ms of CPU each, measured in bench/bench_analysis.py
``cost``) and reads ``~/.netrc``, even for ``http://``. The analysis makes two or more such
requests per sample, every interval, so that set-up was nearly all of a sample's cost.
These requests are plain HTTP to addresses from the inventory or the router: they go
through one standard-library opener with no proxy, no netrc and no TLS at all (an
``https://`` URL is refused). ``Request.open`` has no ``context`` argument before
ansible-core 2.17, so the opener is the standard library's, as in ``http/client.py``.
"""

from __future__ import annotations

import urllib.request
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def open_plain(
    url: str, method: str = "GET", data: bytes | None = None,
    headers: dict[str, str] | None = None, timeout: float = 5.0,
) -> Any:
    """Open a plain ``http://`` URL (the response, a context manager), never via a proxy.

    Raises ``urllib.error.HTTPError`` for an error status, as ``open_url`` does.
    """
    if not url.startswith("http://"):
        raise ValueError(f"plain HTTP only: {url}")
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    return _OPENER.open(request, timeout=timeout)
