"""A rollback never reduces availability: stable must answer its health check first.

The router is an in-memory driver; the servers' health endpoints are real HTTP servers
on loopback (ports chosen by the OS), one of them answering 503 and one closed.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.ops import (
    StableDown,
    apply_split,
    drain,
    switch_to_stable,
)

HEALTH = ("/health", 200)


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def up() -> Iterator[Any]:
    """Start a health server answering ``status``; returns its address."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int = 200) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
        server.status = status  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_address() -> str:
    """An address nothing listens on (a dead server): bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class Router:
    """The driver interface over a dict: weights and states as a router would keep them."""

    def __init__(self, servers: dict[str, dict[str, Any]]) -> None:
        self.state = {
            name: {"name": name, "state": "ready", "in_flight": 0, **info}
            for name, info in servers.items()
        }
        self.changes: list[tuple[str, str, Any]] = []

    def servers(self, window: float) -> dict[str, dict[str, Any]]:
        return {name: dict(info) for name, info in self.state.items()}

    def set_weight(self, name: str, weight: int) -> None:
        self.changes.append((name, "weight", weight))
        self.state[name]["weight"] = weight

    def set_state(self, name: str, state: str) -> None:
        self.changes.append((name, "state", state))
        self.state[name]["state"] = state


def test_stable_dead_and_canary_serving_moves_nothing(up: Any) -> None:
    router = Router(
        {
            "stable": {"address": closed_address(), "weight": 3},
            "canary": {"address": up(), "weight": 1},
        }
    )
    for operation in (
        lambda: drain(router, ["stable"], ["canary"], 1.0, HEALTH),
        lambda: switch_to_stable(router, ["stable"], ["canary"], HEALTH),
    ):
        with pytest.raises(StableDown, match="traffic stays on the canary, which serves users"):
            operation()
    assert router.changes == []


def test_only_healthy_stable_servers_get_the_traffic(up: Any) -> None:
    router = Router(
        {
            "stable-1": {"address": up(), "weight": 1},
            "stable-2": {"address": closed_address(), "weight": 1},
            "stable-3": {"address": up(503), "weight": 1},
            "canary": {"address": up(), "weight": 1},
        }
    )
    stable = ["stable-1", "stable-2", "stable-3"]
    result = switch_to_stable(router, stable, ["canary"], HEALTH)
    weights = {name: info["weight"] for name, info in router.state.items()}
    assert weights == {"stable-1": 1, "stable-2": 0, "stable-3": 0, "canary": 0}
    assert result["stable_serving"] == ["stable-1"]
    assert set(result["stable_unhealthy"]) == {"stable-2", "stable-3"}
    assert "HTTP 503" in result["stable_unhealthy"]["stable-3"]


def test_a_canary_without_traffic_is_not_a_reason_to_stop(up: Any) -> None:
    """Traffic never moved: stable is dead, but switching changes nothing for users."""
    router = Router(
        {
            "stable": {"address": closed_address(), "weight": 1},
            "canary": {"address": up(), "weight": 0},
        }
    )
    result = switch_to_stable(router, ["stable"], ["canary"], HEALTH)
    assert router.state["stable"]["weight"] == 1
    assert "stable" in result["stable_unhealthy"]


def test_nothing_healthy_still_goes_back_to_stable() -> None:
    router = Router(
        {
            "stable": {"address": closed_address(), "weight": 1},
            "canary": {"address": closed_address(), "weight": 1},
        }
    )
    switch_to_stable(router, ["stable"], ["canary"], HEALTH)
    assert (router.state["stable"]["weight"], router.state["canary"]["weight"]) == (1, 0)


def test_without_a_health_check_the_switch_is_as_before() -> None:
    router = Router(
        {
            "stable": {"address": closed_address(), "weight": 1},
            "canary": {"address": None, "weight": 1},
        }
    )
    switch_to_stable(router, ["stable"], ["canary"])
    assert (router.state["stable"]["weight"], router.state["canary"]["weight"]) == (1, 0)


class RoutingRouter(Router):
    """A router that offers the cheap read of routing fields: steps must use only that."""

    def __init__(self, servers: dict[str, dict[str, Any]]) -> None:
        super().__init__(servers)
        self.reads = 0

    def routing(self) -> dict[str, dict[str, Any]]:
        self.reads += 1
        return {name: dict(info) for name, info in self.state.items()}

    def servers(self, window: float) -> dict[str, dict[str, Any]]:
        raise AssertionError("a traffic step read the window statistics")


def test_steps_read_only_the_routing_fields_when_the_router_offers_them(up: Any) -> None:
    router = RoutingRouter(
        {
            "stable": {"address": up(), "weight": 0},
            "canary": {"address": up(), "weight": 1},
        }
    )
    result = drain(router, ["stable"], ["canary"], 1.0, HEALTH)
    assert result["drained"]
    switch_to_stable(router, ["stable"], ["canary"], HEALTH)
    assert (router.state["stable"]["weight"], router.state["canary"]["weight"]) == (1, 0)
    assert router.reads >= 4  # each step: before its changes and to confirm them


def test_a_split_takes_one_window_stats_read_just_before_its_changes() -> None:
    """The stage's analysis counts from the sample that read stores (HAProxy's history):
    without it, the first interval would count requests from before the shift.
    """
    events: list[str] = []

    class Recording(RoutingRouter):
        def servers(self, window: float) -> dict[str, dict[str, Any]]:
            events.append("servers")
            return {name: dict(info) for name, info in self.state.items()}

        def set_weight(self, name: str, weight: int) -> None:
            events.append("change")
            super().set_weight(name, weight)

    router = Recording({"stable": {"address": None, "weight": 1},
                        "canary": {"address": None, "weight": 0}})
    result = apply_split(router, ["stable"], ["canary"], 25)
    assert result["weights"] == {"stable": 3, "canary": 1}
    assert events[0] == "servers" and events.count("servers") == 1
    assert events[1:] == ["change"] * 2
