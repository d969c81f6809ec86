"""A small synchronous client for the router admin API and the API's fault endpoint.

Standard library only (urllib), like the Ansible modules that make the same calls.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from relrun.errors import RelrunError
from relrun.sandbox.models import (
    ServersReply,
    ServerState,
    ServerUpdate,
    ServerView,
    StatsReply,
)


class AdminError(RelrunError):
    """An admin call failed (connection refused, non-2xx answer)."""


def call(url: str, token: str, method: str = "GET", body: Any = None, timeout: float = 5.0) -> Any:
    """Make one JSON request with the admin token and return the decoded JSON answer.

    Args:
        url: full URL.
        token: the admin token (sent as ``X-Admin-Token``).
        method: HTTP method.
        body: JSON-serialisable body, or None.
        timeout: seconds.

    Returns:
        The decoded JSON document.

    Raises:
        AdminError: on a connection failure or a non-2xx status.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("X-Admin-Token", token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise AdminError(f"{method} {url}: HTTP {err.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        raise AdminError(f"{method} {url}: {err}") from None


@dataclass(frozen=True)
class RouterAdmin:
    """Client of the router admin API.

    Attributes:
        base_url: e.g. ``http://127.0.0.1:PORT`` (the admin port).
        token: the admin token.
    """

    base_url: str
    token: str

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call(f"{self.base_url}{path}", self.token, method, body)

    @staticmethod
    def _query(window: float | None) -> str:
        return "" if window is None else f"?window={window:g}"

    def servers(self, window: float | None = None) -> list[ServerView]:
        """``GET /admin/servers``."""
        reply = self._call("GET", f"/admin/servers{self._query(window)}")
        return ServersReply.model_validate(reply).servers

    def server(self, name: str, window: float | None = None) -> ServerView:
        """``GET /admin/servers/{name}``."""
        reply = self._call("GET", f"/admin/servers/{name}{self._query(window)}")
        return ServerView.model_validate(reply)

    def update(self, name: str, change: ServerUpdate) -> ServerView:
        """``PUT /admin/servers/{name}`` with the fields set in ``change``."""
        body = change.model_dump(mode="json", exclude_unset=True)
        return ServerView.model_validate(self._call("PUT", f"/admin/servers/{name}", body))

    def set_weight(self, name: str, weight: int) -> ServerView:
        """Set a server's weight."""
        return self.update(name, ServerUpdate(weight=weight))

    def set_state(self, name: str, state: ServerState) -> ServerView:
        """Set a server's state (``ready``, ``drain`` or ``maint``)."""
        return self.update(name, ServerUpdate(state=state))

    def delete(self, name: str) -> None:
        """``DELETE /admin/servers/{name}``."""
        self._call("DELETE", f"/admin/servers/{name}")

    def stats(self, window: float | None = None) -> StatsReply:
        """``GET /admin/stats``."""
        return StatsReply.model_validate(self._call("GET", f"/admin/stats{self._query(window)}"))

    def reset_stats(self) -> None:
        """``POST /admin/stats/reset``."""
        self._call("POST", "/admin/stats/reset", {})
