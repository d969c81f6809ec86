"""Faults in the sandbox router, through its admin API (``PUT``/``DELETE /admin/faults/NAME``).

Standard library only (runs on the router host).
"""

from __future__ import annotations

from typing import Any

from ..traffic.sandbox import SandboxAdmin, admin_from_connection
from .base import FaultSpec


class SandboxRouterFaults:
    """Faults in the sandbox router (its admin API; see docs/sandbox.md)."""

    def __init__(self, admin: SandboxAdmin) -> None:
        self.admin = admin

    def inject(self, server: str, fault: FaultSpec) -> None:
        """Set the router's fault for ``server``."""
        self.admin.call("PUT", f"/admin/faults/{server}", fault.as_dict())

    def clear(self, server: str) -> None:
        """Remove the router's fault for ``server``."""
        self.admin.call("DELETE", f"/admin/faults/{server}")


def from_connection(connection: dict[str, Any]) -> SandboxRouterFaults:
    """The sandbox router's fault injector (``relrun_sandbox_state_dir``).

    Raises:
        DriverError: no state directory, or no router in it.
    """
    return SandboxRouterFaults(admin_from_connection(connection))
