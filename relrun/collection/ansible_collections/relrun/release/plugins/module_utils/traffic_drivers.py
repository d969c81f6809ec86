"""Traffic drivers and metric providers, standard library only (runs on the router host).

A driver reads the servers of one backend and changes their weight and state. Each
driver returns the same ``ServerInfo`` shape, so the release logic in ``traffic_ops`` does
not know which router it is talking to.
"""

from __future__ import annotations

import json
import os
import urllib.error
from typing import Any, Protocol

from ansible.module_utils.urls import open_url

ServerInfo = dict[str, Any]
"""name, address, weight, state, in_flight, and window stats: requests, errors, error_rate,
p95_ms (None when unknown); cumulative counters for the analysis: total_requests,
total_errors, latency (``{"kind": "buckets", "bounds", "counts"}`` for a histogram,
``{"kind": "average", "average_ms", "responses"}`` where only an average exists)."""


class DriverError(Exception):
    """The router could not be read or changed."""


class Driver(Protocol):
    """What the release needs from a router."""

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Every server of the backend, by name, with stats over the last ``window`` seconds."""

    def set_weight(self, name: str, weight: int) -> None:
        """Change a server's weight (effective for the next request)."""

    def set_state(self, name: str, state: str) -> None:
        """Change a server's state: ``ready``, ``drain`` or ``maint``."""


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class SandboxDriver:
    """The sandbox router's admin API (see docs/sandbox.md)."""

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

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            # The router's admin API is on this host: never through a proxy.
            with open_url(
                self.base + path,
                data=data,
                method=method,
                headers=headers,
                timeout=self.timeout,
                use_proxy=False,
            ) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:200]
            raise DriverError(f"router admin {method} {path}: HTTP {err.code} {detail}") from None
        except (OSError, ValueError) as err:
            raise DriverError(f"router admin {method} {path}: {err}") from None

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


def make_driver(kind: str, connection: dict[str, Any]) -> Driver:
    """Build the driver named by the runbook, connected as the inventory says.

    Args:
        kind: ``sandbox`` or ``haproxy``.
        connection: driver settings from inventory variables; one dict for every driver,
            each reads its own keys (``state_dir``; ``socket``, ``backend``, ``history_dir``).

    Returns:
        The driver.

    Raises:
        DriverError: unknown driver or missing settings.
    """
    if kind == "sandbox":
        state_dir = connection.get("state_dir")
        if not state_dir:
            raise DriverError("the sandbox driver needs relrun_sandbox_state_dir")
        return SandboxDriver(str(state_dir))
    if kind == "haproxy":
        # Imported here: traffic_haproxy imports this module (DriverError, ServerInfo).
        from .traffic_haproxy import HAProxyDriver

        return HAProxyDriver.from_connection(connection)
    raise DriverError(f"unknown traffic driver {kind!r}")
