"""Fault injectors at the traffic layer, standard library only (runs on the router host).

A drill's fault is injected *in front of* the application, by the component that routes
to it, so any service can be drilled without a fault shim inside it (like Envoy's fault
filter or Toxiproxy): a share of the requests routed to the canary servers is answered
with an error status, every one is delayed, or a share has its connection closed without
an answer. Each injector switches faults on and off at run time, with no reload:

- ``sandbox``: the sandbox router's admin API (``PUT``/``DELETE /admin/faults/NAME``);
- ``haproxy``: one entry per server in HAProxy's fault map, changed through the runtime
  API (``del map``/``add map``); the config fragment of docs/haproxy.md reads it with a
  small Lua action. The map is found by its file name, ``relrun-faults.map``.

Every injected failure is marked ``X-Fault: injected`` where an answer is sent, and is
counted per server (the router counts it; HAProxy counts it in a stick table the metric
provider reads), so the analysis sees the canary fail while the drill can tell injected
failures from lost requests.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
from typing import Any, Protocol

from ansible.module_utils.urls import open_url

from ..traffic.base import DriverError
from ..traffic.haproxy_runtime import check_name, run_command

MAP_FILE = "relrun-faults.map"
TABLE = "relrun_faults"
_MAP_LINE = re.compile(r"^(-?\d+) \((?P<file>[^)]*)\)")


class FaultSpec:
    """One server's traffic fault: the share answered ``status``, delay, share aborted."""

    def __init__(
        self, error_rate: float = 0.0, status: int = 503, latency_ms: int = 0, abort_rate: float = 0.0
    ) -> None:
        if not 0.0 <= error_rate <= 1.0 or not 0.0 <= abort_rate <= 1.0:
            raise DriverError("fault shares must be within [0, 1]")
        if not 100 <= status <= 599:
            raise DriverError(f"fault status must be an HTTP status, got {status}")
        if latency_ms < 0:
            raise DriverError("fault latency must be >= 0 ms")
        self.error_rate = float(error_rate)
        self.status = int(status)
        self.latency_ms = int(latency_ms)
        self.abort_rate = float(abort_rate)

    def as_dict(self) -> dict[str, Any]:
        """The fault as JSON data (the router's admin API body)."""
        return {
            "error_rate": self.error_rate,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "abort_rate": self.abort_rate,
        }

    def map_value(self) -> str:
        """The fault as one HAProxy map value: ``error:status:latency_ms:abort``."""
        return f"{self.error_rate:g}:{self.status}:{self.latency_ms}:{self.abort_rate:g}"


class FaultInjector(Protocol):
    """What a drill needs from the traffic layer to break the canary from outside."""

    def inject(self, server: str, fault: FaultSpec) -> None:
        """Apply ``fault`` to requests routed to ``server`` (replaces an earlier one)."""

    def clear(self, server: str) -> None:
        """Remove any fault from ``server`` (idempotent)."""


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class SandboxRouterFaults:
    """Faults in the sandbox router (its admin API; see docs/sandbox.md)."""

    def __init__(self, state_dir: str, timeout: float = 5.0) -> None:
        try:
            router = json.loads(_read(os.path.join(state_dir, "router.json")))
            self._token = _read(os.path.join(state_dir, "secrets", "admin.token")).strip()
        except (OSError, ValueError) as err:
            raise DriverError(f"sandbox router not found in {state_dir}: {err}") from None
        self.base = f"http://127.0.0.1:{int(router['admin_port'])}"
        self.timeout = timeout

    def _call(self, method: str, server: str, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            # The router's admin API is on this host: never through a proxy.
            with open_url(
                f"{self.base}/admin/faults/{server}",
                data=data,
                method=method,
                headers=headers,
                timeout=self.timeout,
                use_proxy=False,
            ) as response:
                response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:200]
            raise DriverError(f"router faults {method} {server}: HTTP {err.code} {detail}") from None
        except OSError as err:
            raise DriverError(f"router faults {method} {server}: {err}") from None

    def inject(self, server: str, fault: FaultSpec) -> None:
        """Set the router's fault for ``server``."""
        self._call("PUT", server, fault.as_dict())

    def clear(self, server: str) -> None:
        """Remove the router's fault for ``server``."""
        self._call("DELETE", server, None)


def find_fault_map(show_map: str) -> str | None:
    """The fault map's file among ``show map``'s lines, or None when it is not configured."""
    for line in show_map.splitlines():
        match = _MAP_LINE.match(line.strip())
        if match and os.path.basename(match.group("file")) == MAP_FILE:
            return match.group("file")
    return None


def parse_table(text: str) -> dict[str, tuple[int, int]]:
    """``show table relrun_faults`` → ``{"backend/server": (injected failures, delayed)}``."""
    counts: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "key" not in fields:
            continue
        try:
            counts[fields["key"]] = (int(fields.get("gpc0", 0)), int(fields.get("gpc1", 0)))
        except ValueError:
            continue
    return counts


class HAProxyFaults:
    """Faults in HAProxy: one fault-map entry per ``backend/server``, set at run time."""

    def __init__(self, socket: str, backend: str, timeout: float = 5.0) -> None:
        if not socket:
            raise DriverError("HAProxy faults need relrun_haproxy_socket")
        self.socket = socket
        self.backend = check_name("backend", backend)
        self.timeout = timeout
        self._map: str | None = None

    def _command(self, line: str) -> str:
        return run_command(self.socket, line, self.timeout)

    def map_file(self) -> str:
        """The fault map HAProxy loaded.

        Raises:
            DriverError: HAProxy has no ``relrun-faults.map`` (the fragment is missing).
        """
        if self._map is None:
            found = find_fault_map(self._command("show map"))
            if found is None:
                raise DriverError(
                    f"HAProxy has no {MAP_FILE}: add relrun's fault fragment to its "
                    "configuration (docs/haproxy.md, 'Traffic faults') to inject faults there"
                )
            check_name("map file", found.replace("/", "_"))
            self._map = found
        return self._map

    def inject(self, server: str, fault: FaultSpec) -> None:
        """Replace ``server``'s fault-map entry; HAProxy applies it to the next response."""
        key = f"{self.backend}/{check_name('server', server)}"
        path = self.map_file()
        reply = self._command(f"del map {path} {key};add map {path} {key} {fault.map_value()}")
        if reply.strip() and "not found" not in reply.lower():
            raise DriverError(f"HAProxy refused the fault for {key}: {reply.strip()}")
        answer = self._command(f"get map {path} {key}")
        if fault.map_value() not in answer:
            raise DriverError(f"HAProxy does not show the fault for {key}: {answer.strip()}")

    def clear(self, server: str) -> None:
        """Remove ``server``'s entry (no entry, no fault)."""
        key = f"{self.backend}/{check_name('server', server)}"
        self._command(f"del map {self.map_file()} {key}")


def make_injector(driver: str, connection: dict[str, Any]) -> FaultInjector:
    """The fault injector of the environment's router (the same driver that moves traffic).

    Raises:
        DriverError: unknown driver or missing settings.
    """
    if driver == "sandbox":
        state_dir = connection.get("state_dir")
        if not state_dir:
            raise DriverError("sandbox faults need relrun_sandbox_state_dir")
        return SandboxRouterFaults(str(state_dir))
    if driver == "haproxy":
        try:
            timeout = float(connection.get("timeout") or 5.0)
        except (TypeError, ValueError):
            timeout = 5.0
        return HAProxyFaults(
            str(connection.get("socket") or ""), str(connection.get("backend") or ""), timeout
        )
    raise DriverError(f"no fault injector for traffic driver {driver!r}")
