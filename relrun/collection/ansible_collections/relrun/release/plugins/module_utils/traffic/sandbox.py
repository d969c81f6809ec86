"""The ``sandbox`` router and metric provider: the sandbox router's admin API (docs/sandbox.md).

Standard library only (runs on the router host).
"""

from __future__ import annotations

import json
import os
import urllib.error
from typing import Any

from .base import DriverError, ServerInfo
from .plainhttp import open_plain

# Inventory variables this router reads, rendered into every traffic task's ``connection``.
INVENTORY_VARS = {"state_dir": ("relrun_sandbox_state_dir", "''")}


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class SandboxAdmin:
    """A client of the sandbox router's admin API, found through the sandbox state dir.

    The router and the fault injector both talk to the router through it.
    """

    def __init__(self, state_dir: str, timeout: float = 5.0) -> None:
        try:
            router = json.loads(_read(os.path.join(state_dir, "router.json")))
            self._token = _read(os.path.join(state_dir, "secrets", "admin.token")).strip()
        except (OSError, ValueError) as err:
            raise DriverError(
                f"sandbox router not found in {state_dir} (start it with `relrun sandbox "
                f"up`): {err}"
            ) from None
        self.base = f"http://127.0.0.1:{int(router['admin_port'])}"
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One admin request; the decoded JSON answer (None for an empty one).

        Raises:
            DriverError: the router refused it or could not be reached.
        """
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            # The router's admin API is on this host: never through a proxy.
            with open_plain(
                self.base + path,
                data=data,
                method=method,
                headers=headers,
                timeout=self.timeout,
            ) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:200]
            raise DriverError(f"router admin {method} {path}: HTTP {err.code} {detail}") from None
        except (OSError, ValueError) as err:
            raise DriverError(f"router admin {method} {path}: {err}") from None


def admin_from_connection(connection: dict[str, Any]) -> SandboxAdmin:
    """The admin client named by the rendered ``connection`` dict.

    Raises:
        DriverError: no state directory, or no router in it.
    """
    state_dir = connection.get("state_dir")
    if not state_dir:
        raise DriverError("the sandbox router needs relrun_sandbox_state_dir")
    return SandboxAdmin(str(state_dir))


class SandboxDriver:
    """The sandbox router's admin API (see docs/sandbox.md)."""

    def __init__(self, admin: SandboxAdmin) -> None:
        self._admin = admin
        self._call = admin.call

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Read every server and its windowed stats."""
        reply = self._call("GET", f"/admin/servers?window={window:g}")
        result: dict[str, ServerInfo] = {}
        for server in reply["servers"]:
            stats = server["stats"]
            win = stats["window"]
            result[server["name"]] = {
                "name": server["name"],
                "address": server.get("address"),
                "weight": server["weight"],
                "state": server["state"],
                "in_flight": stats["in_flight"],
                "requests": win["requests"],
                "errors": win["errors_5xx"],
                "faults": win.get("faults", 0),
                "error_rate": win["error_rate"],
                "p95_ms": (win.get("latency_ms") or {}).get("p95"),
                # Cumulative since the router started: the analysis takes deltas.
                "total_requests": stats["requests"],
                "total_errors": stats["responses"].get("5xx", 0) + stats["connection_errors"],
                "latency": {
                    "kind": "buckets",
                    "bounds": stats.get("latency_bounds_ms") or [],
                    "counts": stats.get("latency_buckets") or [],
                }
                if stats.get("latency_buckets")
                else None,
            }
        return result

    def set_weight(self, name: str, weight: int) -> None:
        """Set a server's weight."""
        self._call("PUT", f"/admin/servers/{name}", {"weight": weight})

    def set_state(self, name: str, state: str) -> None:
        """Set a server's state."""
        self._call("PUT", f"/admin/servers/{name}", {"state": state})


def from_connection(connection: dict[str, Any]) -> SandboxDriver:
    """Build the sandbox driver from the rendered ``connection`` dict.

    Raises:
        DriverError: no state directory.
    """
    return SandboxDriver(admin_from_connection(connection))
