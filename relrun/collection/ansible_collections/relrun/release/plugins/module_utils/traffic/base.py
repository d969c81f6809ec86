"""What every router and metric provider is, standard library only (runs on the router host).

A **router** reads the servers of one backend and changes their weight and state (the
release's shifts, the drain, the switch back); a **metric provider** gives, per server,
what the canary analysis samples over a window. Both answer in the same ``ServerInfo``
shape, so ``traffic_ops`` (releases) and ``analysis_core`` (judgement) know neither
which router nor which provider they talk to. Implementations live one per file
(``traffic_sandbox``, ``traffic_haproxy``) and are chosen through ``traffic_drivers``,
the registry; this module imports none of them, so nothing imports in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

ServerInfo = dict[str, Any]
"""name, address, weight, state, in_flight; from a metric provider also the window stats:
requests, errors, error_rate, p95_ms (None when unknown), and cumulative counters for the
analysis: total_requests, total_errors, latency (``{"kind": "buckets", "bounds",
"counts"}`` for a histogram, ``{"kind": "average", "average_ms", "responses"}`` where only
an average exists)."""


Change = tuple[str, str, Any]
"""One change to a server: ``(name, "weight", int)`` or ``(name, "state", str)``."""


class DriverError(Exception):
    """The router (or metric source) could not be read or changed."""


class MetricsUnavailable(DriverError):
    """A metric provider that is not the router gave no usable reading: no data.

    The analysis handles it as the runbook's ``no_data`` says; it never ends a watch on its
    own, and never passes a bake silently.
    """


class Router(Protocol):
    """What a release needs from a router: weights, states, and what is in flight."""

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Every server of the backend, by name: address, weight, state, in_flight."""

    def set_weight(self, name: str, weight: int) -> None:
        """Change a server's weight (effective for the next request)."""

    def set_state(self, name: str, state: str) -> None:
        """Change a server's state: ``ready``, ``drain`` or ``maint``."""


def read_routing(router: Router) -> dict[str, ServerInfo]:
    """Every server's routing fields: name, address, weight, state, in_flight.

    What a step needs to change traffic and confirm it, read as cheaply as the router
    allows. A router may offer ``routing()`` that reads these fields alone (HAProxy: no
    window statistics, so no sample history to load and rewrite, whose size grows with
    the servers and the release's length); without it, :meth:`Router.servers`.
    """
    routing = getattr(router, "routing", None)
    if routing is not None:
        result: dict[str, ServerInfo] = routing()
        return result
    return router.servers(1)


def apply_changes(router: Router, changes: Sequence[Change]) -> None:
    """Make ``changes`` in their order, in as few exchanges as the router allows.

    A router may offer ``apply(changes)`` that sends them together (HAProxy: one runtime
    API session for the lot), so a step on a fleet of N servers costs one exchange, not
    one per server and field; without it, each is a ``set_weight`` or ``set_state`` call.

    Raises:
        DriverError: a change was refused (a batch still makes the others).
    """
    batch = getattr(router, "apply", None)
    if batch is not None:
        batch(list(changes))
        return
    for name, field, value in changes:
        if field == "weight":
            router.set_weight(name, int(value))
        elif field == "state":
            router.set_state(name, str(value))
        else:
            raise DriverError(f"unknown server field {field!r} (weight or state)")


class MetricProvider(Protocol):
    """What the canary analysis needs: per server, its samples over a window."""

    def servers(self, window: float) -> dict[str, ServerInfo]:
        """Every server, by name: address, state, and its figures over ``window`` seconds.

        The figures are ``requests``, ``errors``, ``error_rate`` and ``p95_ms``.
        """


class ValueProvider(Protocol):
    """A business-metric guard's source: one number, for a server or the whole service.

    Implementations (``traffic_prometheus``: a PromQL query; ``traffic_web``: a JSON
    document's field) hold the guard's query or URL, templated with ``${server}``,
    ``${role}``, ``${backend}`` and ``${window}``.
    """

    source: str

    def shown(self, values: dict[str, str]) -> str:
        """The query or URL as it is sent with ``values`` filled in (plan, messages)."""

    def value(self, values: dict[str, str], timeout: float) -> float:
        """The metric now, within ``timeout`` seconds.

        Raises:
            MetricsUnavailable: no answer, an error, or no number where the guard looks.
        """


class Driver(Router, MetricProvider, Protocol):
    """A router that measures its own traffic (both built-in routers do)."""


class Plugin(Protocol):
    """One registry entry: how to build it from the inventory's connection settings."""

    def __call__(self, connection: dict[str, Any]) -> Driver:
        """Build the implementation, or raise :class:`DriverError` naming what is missing."""
