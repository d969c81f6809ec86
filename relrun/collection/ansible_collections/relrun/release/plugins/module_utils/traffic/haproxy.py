"""The ``haproxy`` traffic driver and metric provider, standard library only.

Reads and changes one backend through HAProxy's runtime API (see docs/haproxy.md):

- ``show servers state BACKEND`` gives each server's address, user weight and
  administrative state (ready, drain, maint) exactly as set, independent of health checks;
- ``show stat -1 4 -1`` (every server; a proxy name there may match a frontend of the
  same name first) gives current sessions (``scur`` → ``in_flight``), the
  cumulative counters the window stats are computed from, and ``rtime``;
- ``show info`` identifies the HAProxy process, so a reload resets the deltas.

The three commands go in one connection (``;``-separated) so they describe one moment.
Changes go the same way: a step's ``set server`` commands for every server of the backend
share one connection (:meth:`HAProxyDriver.apply`), so a drain or switch on a fleet of
64 servers is one exchange, not 64 to 128.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..fault.haproxy import TABLE, parse_table
from .base import Change, DriverError, ServerInfo
from .haproxy_history import (
    COUNTERS,
    DELAYED,
    ERROR_COUNTERS,
    INJECTED,
    RESPONSE_COUNTERS,
    Sample,
    SampleStore,
    window_counts,
)
from .haproxy_runtime import (
    admin_state,
    check_name,
    parse_info,
    parse_servers_state,
    parse_stat_csv,
    run_command,
    server_address,
    to_int,
)

MAX_WEIGHT = 256
STATES = ("ready", "drain", "maint")
# Bytes of ``;``-joined commands per connection (about 250 ``set server`` commands): a
# bound on one exchange, so each answers well within the timeout. (HAProxy 2.6 takes a
# longer line too, 57 kB was checked; older versions are not.)
MAX_BATCH_BYTES = 8192


# The inventory variable naming the backend (default: the runbook's ``traffic.backend``).
BACKEND_VAR = "relrun_haproxy_backend"
# Inventory variables this router reads, rendered into every traffic task's ``connection``.
INVENTORY_VARS = {
    "socket": ("relrun_haproxy_socket", "''"),
    "history_dir": ("relrun_haproxy_history_dir", "''"),
    "timeout": ("relrun_haproxy_timeout", "5"),
}


def default_history_dir(socket_spec: str) -> str:
    """Per-socket default for the sample history: ``$TMPDIR/relrun-haproxy-<hash>``."""
    digest = hashlib.sha256(socket_spec.encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"relrun-haproxy-{digest}")


def _replies(text: str, count: int) -> list[str]:
    """Split the answers of ``count`` chained ``set`` commands, one per command.

    Each answer is its message lines (none on success) and an empty line; HAProxy runs
    every command of the line, whether an earlier one was refused or not.
    """
    replies: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line:
            current.append(line)
        elif len(replies) < count:
            replies.append("\n".join(current))
            current = []
    if len(replies) != count or current:
        raise DriverError(f"unexpected HAProxy answer to {count} commands: {text[:200]!r}")
    return replies


def _batches(lines: list[str]) -> list[list[str]]:
    """``lines`` in consecutive groups of at most :data:`MAX_BATCH_BYTES` joined."""
    groups: list[list[str]] = []
    size = 0
    for line in lines:
        if not groups or size + len(line) + 1 > MAX_BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(line)
        size += len(line) + 1
    return groups


def _blocks(text: str, count: int) -> list[str]:
    """Split the answers of ``count`` chained commands (each ends with an empty line)."""
    blocks = [b for b in text.split("\n\n") if b.strip()]
    if len(blocks) != count:
        raise DriverError(f"unexpected HAProxy answer ({len(blocks)} parts): {text[:200]!r}")
    return blocks


def _routing_fields(entry: dict[str, str], row: dict[str, str]) -> ServerInfo:
    """A server's name, address, weight, state and in-flight requests.

    From its ``show servers state`` entry and its ``show stat`` row (empty if none).
    """
    return {
        "name": entry["srv_name"],
        "address": server_address(entry.get("srv_addr", ""), entry.get("srv_port", "")),
        "weight": to_int(entry.get("srv_uweight")),
        "state": admin_state(to_int(entry.get("srv_admin_state"))),
        "in_flight": to_int(row.get("scur")),
    }


class HAProxyDriver:
    """One HAProxy backend, driven through the runtime API.

    Attributes:
        socket: the stats socket, a UNIX path or ``host:port`` (``level admin`` to change).
        backend: the backend whose servers are the stable and canary servers.
        timeout: bound, in seconds, on each runtime API exchange.
    """

    def __init__(
        self,
        socket: str,
        backend: str,
        history_dir: str | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not socket:
            raise DriverError("the haproxy driver needs relrun_haproxy_socket")
        self.socket = socket
        self.backend = check_name("backend", backend)
        self.timeout = timeout
        self._clock = clock
        directory = history_dir or default_history_dir(socket)
        key = hashlib.sha256(f"{socket}|{backend}".encode()).hexdigest()[:16]
        self._store = SampleStore(directory, key)

    @classmethod
    def from_connection(cls, connection: dict[str, Any]) -> HAProxyDriver:
        """Build the driver from the rendered ``connection`` dict (inventory variables).

        Raises:
            DriverError: a setting is missing or malformed.
        """
        try:
            timeout = float(connection.get("timeout") or 5.0)
        except (TypeError, ValueError):
            raise DriverError(f"bad relrun_haproxy_timeout {connection.get('timeout')!r}") from None
        return cls(
            socket=str(connection.get("socket") or ""),
            backend=str(connection.get("backend") or ""),
            history_dir=str(connection.get("history_dir") or "") or None,
            timeout=timeout,
        )

    def command(self, line: str) -> str:
        """Run one runtime API command line and return the answer."""
        return run_command(self.socket, line, self.timeout)

    def read(self) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
        """One snapshot: process info, the backend's server stats and server states."""
        info, rows, states = self.read_all()[:3]
        return info, rows, states

    def read_all(
        self,
    ) -> tuple[
        dict[str, str], list[dict[str, str]], list[dict[str, str]], dict[str, tuple[int, int]]
    ]:
        """:meth:`read`, plus the injected failures per server (traffic faults; else 0)."""
        answer = self.command(
            f"show info;show stat -1 4 -1;show servers state {self.backend};show table {TABLE}"
        )
        info, stat, state, table = _blocks(answer, 4)
        prefix = f"{self.backend}/"
        injected = {
            key[len(prefix):]: count
            for key, count in parse_table(table).items()
            if key.startswith(prefix)
        }
        rows, states = self._parse(stat, state)
        return parse_info(info), rows, states, injected

    def _parse(self, stat: str, state: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        rows = [r for r in parse_stat_csv(stat) if r.get("pxname") == self.backend]
        states = [s for s in parse_servers_state(state) if s.get("be_name") == self.backend]
        if not states:
            raise DriverError(f"HAProxy has no backend {self.backend!r} (or it has no servers)")
        return rows, states

    def routing(self) -> dict[str, ServerInfo]:
        """Every server's address, weight, state and in-flight requests, and nothing else.

        What a traffic step reads to change and confirm (``base.read_routing``): no window
        statistics, so the sample history is neither read nor written.
        """
        stat, state = _blocks(
            self.command(f"show stat -1 4 -1;show servers state {self.backend}"), 2
        )
        rows, states = self._parse(stat, state)
        stats = {r["svname"]: r for r in rows}
        return {
            entry["srv_name"]: _routing_fields(entry, stats.get(entry["srv_name"], {}))
            for entry in states
        }

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Every server of the backend with its stats over the last ``window`` seconds.

        ``p95_ms`` is HAProxy's ``rtime`` (a moving average, not a percentile; see
        docs/haproxy.md), reported only when the server answered requests in the window.
        """
        info, rows, states, injected = self.read_all()
        now = self._clock()
        stats = {r["svname"]: r for r in rows}
        current: Sample = {
            "t": now,
            # Pid alone repeats across container restarts; with the start time it does not
            # (versions without Start_time_sec rely on counters going down instead).
            "process": f"{info.get('Pid', '?')}@{info.get('Start_time_sec', '')}",
            "servers": {
                name: {
                    **{k: to_int(row.get(k)) for k in COUNTERS},
                    INJECTED: injected.get(name, (0, 0))[0],
                    DELAYED: injected.get(name, (0, 0))[1],
                }
                for name, row in stats.items()
                if name not in ("BACKEND", "FRONTEND")
            },
        }
        try:
            baseline = self._store.record(current, window)
        except OSError as err:
            raise DriverError(f"cannot keep HAProxy samples in {self._store.directory}: {err}") from None
        counts = window_counts(baseline, current)
        result: dict[str, ServerInfo] = {}
        for entry in states:
            name = entry["srv_name"]
            row = stats.get(name, {})
            win = counts.get(name, {"requests": 0, "errors": 0, "seconds": 0.0})
            requests, errors = int(win["requests"]), int(win["errors"])
            rtime = row.get("rtime")
            if win.get("delayed"):
                # HAProxy itself delayed responses (a traffic fault) after the server's
                # answer: rtime stops at that answer, ttime includes the delay.
                rtime = str(max(to_int(rtime), to_int(row.get("ttime"))))
            totals = current["servers"].get(name, {})
            result[name] = {
                **_routing_fields(entry, row),
                "requests": requests,
                "errors": errors,
                "faults": int(win.get("faults", 0)),  # relrun's traffic faults only
                "error_rate": round(errors / requests, 6) if requests else 0.0,
                "p95_ms": float(rtime) if requests and rtime not in (None, "") else None,
                "window_seconds": win["seconds"],
                "total_requests": sum(totals.get(k, 0) for k in (*RESPONSE_COUNTERS, *ERROR_COUNTERS)),
                "total_errors": sum(
                    totals.get(k, 0) for k in ("hrsp_5xx", *ERROR_COUNTERS, INJECTED)
                ),
                # rtime is an average of the slot's last 1024 responses, kept across a
                # redeploy: the analysis uses it only once enough responses are fresh.
                "latency": {
                    "kind": "average",
                    "average_ms": float(rtime) if rtime not in (None, "") else None,
                    "responses": totals.get("stot", 0),
                },
                "status": row.get("status"),
            }
        return result

    def _set(self, name: str, what: str) -> str:
        check_name("server", name)
        return self.command(f"set server {self.backend}/{name} {what}").strip()

    def _change_line(self, change: Change) -> str:
        name, field, value = change
        check_name("server", name)
        if field == "weight":
            if not 0 <= int(value) <= MAX_WEIGHT:
                raise DriverError(f"HAProxy weights are 0 to {MAX_WEIGHT}, got {value}")
            return f"set server {self.backend}/{name} weight {int(value)}"
        if field == "state":
            if value not in STATES:
                raise DriverError(f"unknown server state {value!r} (one of {', '.join(STATES)})")
            return f"set server {self.backend}/{name} state {value}"
        raise DriverError(f"unknown server field {field!r} (weight or state)")

    def apply(self, changes: Sequence[Change]) -> None:
        """Make weight and state changes in their order, one connection per batch.

        Every change is checked before any is sent. HAProxy runs each command of a batch
        even when an earlier one is refused, so a refusal leaves the others made.

        Raises:
            DriverError: a change is malformed (nothing sent), or HAProxy refused one or
                more (each named, with HAProxy's message).
        """
        lines = [self._change_line(change) for change in changes]
        pending = iter(changes)  # the changes in the order of their lines
        refused: list[str] = []
        for batch in _batches(lines):
            for reply in _replies(self.command(";".join(batch)), len(batch)):
                name, field, value = next(pending)
                if reply:
                    refused.append(f"{field} {value} for {self.backend}/{name}: {reply}")
        if refused:
            raise DriverError("HAProxy refused " + "; ".join(refused))

    def set_weight(self, name: str, weight: int) -> None:
        """Set a server's weight (0 to 256), the user weight HAProxy keeps across drain.

        Raises:
            DriverError: out of range, or HAProxy refused (its message is included).
        """
        self.apply([(name, "weight", weight)])

    def set_state(self, name: str, state: str) -> None:
        """Set a server's administrative state: ``ready``, ``drain`` or ``maint``.

        Raises:
            DriverError: unknown state, or HAProxy refused.
        """
        self.apply([(name, "state", state)])

    def set_address(self, name: str, host: str, port: int) -> None:
        """Point a server at ``host:port`` (how a deploy registers a new instance).

        Raises:
            DriverError: HAProxy refused the address.
        """
        check_name("address", host)
        reply = self._set(name, f"addr {host} port {int(port)}")
        # Success is a sentence about what changed; anything else is an error message.
        if "changed" not in reply and "no need to change" not in reply:
            raise DriverError(f"HAProxy refused address {host}:{port} for {name}: {reply}")
