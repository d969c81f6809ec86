"""The registry of fault injectors: one line per router that can break its canary servers.

The runbook's validation (a traffic-layer fault needs its router here), the fault module
and the docs read :data:`INJECTORS`; nothing else names an implementation. Adding one is a
file beside ``sandbox.py`` (a class with ``inject`` and ``clear``, and a
``from_connection``) and one line below (see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..traffic.base import DriverError

# Explicit ``from .module import name`` forms: Ansible bundles a module's module_utils by
# reading these import lines.
from .base import FaultInjector, FaultSpec
from .haproxy import from_connection as haproxy_connection
from .sandbox import from_connection as sandbox_connection

__all__ = ["INJECTORS", "INJECTOR_NAMES", "FaultInjector", "FaultSpec", "make_injector"]

INJECTORS: dict[str, Callable[[dict[str, Any]], FaultInjector]] = {
    "sandbox": sandbox_connection,
    "haproxy": haproxy_connection,
}
INJECTOR_NAMES: tuple[str, ...] = tuple(INJECTORS)


def make_injector(driver: str, connection: dict[str, Any]) -> FaultInjector:
    """The fault injector of the environment's router (the same driver that moves traffic).

    Raises:
        DriverError: no injector for this router, or missing settings.
    """
    plugin = INJECTORS.get(driver)
    if plugin is None:
        raise DriverError(
            f"no fault injector for traffic driver {driver!r} (one of {', '.join(INJECTORS)})"
        )
    return plugin(connection)
