"""Faults in HAProxy: one entry per server in its fault map, changed through the runtime API.

``del map``/``add map`` at run time, no reload; the config fragment of docs/haproxy.md reads
the map with a small Lua action and counts injected failures in the ``relrun_faults``
stick table that the HAProxy metric provider reads. The map is found by its file name,
``relrun-faults.map``. Standard library only (runs on the router host).
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..traffic.base import DriverError
from ..traffic.haproxy_runtime import check_name, run_command
from .base import FaultSpec

MAP_FILE = "relrun-faults.map"
TABLE = "relrun_faults"
_MAP_LINE = re.compile(r"^(-?\d+) \((?P<file>[^)]*)\)")


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


def from_connection(connection: dict[str, Any]) -> HAProxyFaults:
    """HAProxy's fault injector, connected as the inventory says (socket, backend, timeout).

    Raises:
        DriverError: no runtime socket, or an invalid backend name.
    """
    try:
        timeout = float(connection.get("timeout") or 5.0)
    except (TypeError, ValueError):
        timeout = 5.0
    return HAProxyFaults(
        str(connection.get("socket") or ""), str(connection.get("backend") or ""), timeout
    )
