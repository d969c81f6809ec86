"""The registry of routers and metric providers: one line per implementation.

The runbook schema (``traffic.driver``), the modules' argument choices and the docs read
:data:`ROUTERS` and :data:`PROVIDERS`; nothing else names an implementation. Adding a
router is one file beside ``traffic_sandbox.py`` (a class with ``servers``,
``set_weight``, ``set_state``, a ``from_connection`` and its ``INVENTORY_VARS``) and one
line in each table below (see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import (
    Driver,
    DriverError,
    MetricProvider,
    MetricsUnavailable,
    Plugin,
    Router,
    ServerInfo,
    ValueProvider,
)

# Explicit ``from .module import name`` forms: Ansible bundles a module's module_utils by
# reading these import lines (inside functions too).
from .haproxy import BACKEND_VAR, HAProxyDriver
from .haproxy import INVENTORY_VARS as HAPROXY_VARS
from .sandbox import INVENTORY_VARS as SANDBOX_VARS
from .sandbox import from_connection as sandbox_connection

__all__ = [
    "BACKEND_VAR",
    "GUARD_SOURCES",
    "GUARD_SOURCE_NAMES",
    "METRIC_SOURCES",
    "METRIC_SOURCE_NAMES",
    "PROVIDERS",
    "ROUTERS",
    "ROUTER_NAMES",
    "Driver",
    "DriverError",
    "MetricProvider",
    "MetricsUnavailable",
    "Router",
    "ServerInfo",
    "ValueProvider",
    "inventory_vars",
    "make_driver",
    "make_guard",
    "make_metrics",
    "make_provider",
]


# The metric and guard sources are imported when one is built, not with the registry:
# every traffic and analysis task imports this file, and the Prometheus and web sources
# bring in ansible.module_utils.urls (about 50 ms of each task's start, compiled from the
# AnsiballZ zip) that only a runbook with `analysis.metrics` or `guards` uses.
def _prometheus_metrics(settings: dict[str, Any], targets: dict[str, str]) -> MetricProvider:
    from .prometheus import from_settings

    return from_settings(settings, targets)


def _prometheus_guard(settings: dict[str, Any]) -> ValueProvider:
    from .prometheus import guard_from_settings

    return guard_from_settings(settings)


def _web_guard(settings: dict[str, Any]) -> ValueProvider:
    from .web import from_settings

    return from_settings(settings)


ROUTERS: dict[str, Plugin] = {
    "sandbox": sandbox_connection,
    "haproxy": HAProxyDriver.from_connection,
}
# Where the canary analysis reads its samples; a router that measures is its own provider.
PROVIDERS: dict[str, Plugin] = dict(ROUTERS)
ROUTER_NAMES: tuple[str, ...] = tuple(ROUTERS)
# Metric providers that are not the router (the runbook's ``analysis.metrics.provider``):
# built from the runbook's settings and the judged servers (name -> canary/stable).
METRIC_SOURCES: dict[str, Callable[[dict[str, Any], dict[str, str]], MetricProvider]] = {
    "prometheus": _prometheus_metrics,
}
METRIC_SOURCE_NAMES: tuple[str, ...] = tuple(METRIC_SOURCES)
# Where a business-metric guard (``analysis.guards[].provider``) reads its one number.
GUARD_SOURCES: dict[str, Callable[[dict[str, Any]], ValueProvider]] = {
    "prometheus": _prometheus_guard,
    "web": _web_guard,
}
GUARD_SOURCE_NAMES: tuple[str, ...] = tuple(GUARD_SOURCES)
_VARS = {"sandbox": SANDBOX_VARS, "haproxy": HAPROXY_VARS}


def inventory_vars() -> dict[str, tuple[str, str]]:
    """Every implementation's connection key → (inventory variable, Jinja default)."""
    merged: dict[str, tuple[str, str]] = {}
    for name in ROUTERS:
        merged.update(_VARS[name])
    return merged


def _make(table: dict[str, Plugin], what: str, kind: str, connection: dict[str, Any]) -> Driver:
    plugin = table.get(kind)
    if plugin is None:
        raise DriverError(f"unknown {what} {kind!r} (one of {', '.join(table)})")
    return plugin(connection)


def make_driver(kind: str, connection: dict[str, Any]) -> Driver:
    """Build the router named by the runbook, connected as the inventory says.

    Args:
        kind: a name in :data:`ROUTERS`.
        connection: settings from inventory variables; one dict for every implementation,
            each reads its own keys (see :func:`inventory_vars`).

    Returns:
        The router.

    Raises:
        DriverError: unknown router or missing settings.
    """
    return _make(ROUTERS, "traffic driver", kind, connection)


def make_provider(kind: str, connection: dict[str, Any]) -> MetricProvider:
    """Build the metric provider named ``kind`` (see :func:`make_driver`)."""
    return _make(PROVIDERS, "metric provider", kind, connection)


def make_metrics(kind: str, settings: dict[str, Any], targets: dict[str, str]) -> MetricProvider:
    """Build the metric provider the runbook's ``analysis.metrics`` names.

    Args:
        kind: a name in :data:`METRIC_SOURCES`.
        settings: the provider's settings (URL, queries, auth and TLS references).
        targets: the servers to read, name -> ``canary`` or ``stable``.

    Raises:
        MetricsUnavailable: unknown provider, or settings it cannot use.
    """
    factory = METRIC_SOURCES.get(kind)
    if factory is None:
        raise MetricsUnavailable(
            f"unknown metric provider {kind!r} (one of {', '.join(METRIC_SOURCES)})"
        )
    return factory(settings, targets)


def make_guard(settings: dict[str, Any]) -> ValueProvider:
    """Build the source of one business-metric guard (``settings["provider"]`` names it).

    Raises:
        MetricsUnavailable: unknown provider, or settings it cannot use.
    """
    kind = str(settings.get("provider") or "")
    factory = GUARD_SOURCES.get(kind)
    if factory is None:
        raise MetricsUnavailable(
            f"unknown guard provider {kind!r} (one of {', '.join(GUARD_SOURCES)})"
        )
    return factory(settings)
