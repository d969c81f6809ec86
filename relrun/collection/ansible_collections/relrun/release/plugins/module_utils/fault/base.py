"""Traffic-layer faults: the spec of one server's fault and the injector interface.

A drill's fault is injected *in front of* the application, by the component that routes
to it, so any service can be drilled without a fault shim inside it (like Envoy's fault
filter or Toxiproxy): a share of the requests routed to the canary servers is answered
with an error status, every one is delayed, or a share has its connection closed without
an answer. Each injector (one file per router in this package, listed in
``registry.py``) switches faults on and off at run time, with no reload.

Every injected failure is marked ``X-Fault: injected`` where an answer is sent, and is
counted per server, so the analysis sees the canary fail while the drill can tell injected
failures from lost requests. Standard library only (runs on the router host).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..traffic.base import DriverError


class FaultSpec:
    """One server's traffic fault: the share answered ``status``, delay, share aborted."""

    def __init__(
        self,
        error_rate: float = 0.0,
        status: int = 503,
        latency_ms: int = 0,
        abort_rate: float = 0.0,
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
