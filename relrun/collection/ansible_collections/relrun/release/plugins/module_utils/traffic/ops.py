"""Release operations on any traffic driver: split, drain, switch, maint — each confirmed.

Every change is read back; an operation only returns once the router reports what was
asked, so a rollback step that says "done" is done. An operation's changes go to the
router together (:func:`apply_changes`: one HAProxy session per step, whatever the number
of servers), in the order that keeps traffic served.
"""

from __future__ import annotations

import math
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import Change, DriverError, ServerInfo, apply_changes, read_routing
from .base import Router as Driver
from .plainhttp import open_plain

MAX_WEIGHT = 256  # HAProxy's limit; the sandbox router accepts it too


def split_weights(stable: list[str], canary: list[str], percent: int) -> dict[str, int]:
    """Per-server weights giving the canary servers ``percent`` of the traffic in total.

    Args:
        stable: stable server names.
        canary: canary server names.
        percent: canary share, 0 to 100.

    Returns:
        Integer weights (at most 256 each) whose canary share is exactly ``percent``
        whenever the server counts allow it.
    """
    if percent <= 0:
        return {**{s: 1 for s in stable}, **{c: 0 for c in canary}}
    if percent >= 100:
        return {**{s: 0 for s in stable}, **{c: 1 for c in canary}}
    # weight_c * n_c / (weight_c * n_c + weight_s * n_s) = p / 100
    weight_c = percent * len(stable)
    weight_s = (100 - percent) * len(canary)
    divisor = math.gcd(weight_c, weight_s)
    weight_c, weight_s = weight_c // divisor, weight_s // divisor
    scale = max(weight_c, weight_s) / MAX_WEIGHT
    if scale > 1:
        weight_c = max(1, round(weight_c / scale))
        weight_s = max(1, round(weight_s / scale))
    return {**{s: weight_s for s in stable}, **{c: weight_c for c in canary}}


def _missing(servers: dict[str, ServerInfo], names: list[str]) -> list[str]:
    return [n for n in names if n not in servers]


def confirm(
    driver: Driver, expected: dict[str, dict[str, Any]], timeout: float = 5.0
) -> dict[str, ServerInfo]:
    """Read the router until every server shows the expected fields.

    Args:
        driver: the router.
        expected: name → fields (``weight``, ``state``) that must match.
        timeout: give up after this long.

    Returns:
        The servers as last read.

    Raises:
        DriverError: the router still disagrees after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        servers = read_routing(driver)
        wrong = [
            f"{name}.{key}={servers.get(name, {}).get(key)!r} (want {value!r})"
            for name, fields in expected.items()
            for key, value in fields.items()
            if servers.get(name, {}).get(key) != value
        ]
        if not wrong:
            return servers
        if time.monotonic() > deadline:
            raise DriverError("router did not confirm: " + ", ".join(wrong))
        time.sleep(0.1)


def apply_split(
    driver: Driver, stable: list[str], canary: list[str], percent: int
) -> dict[str, Any]:
    """Move the canary to ``percent`` of the traffic, and confirm it.

    The read before the changes is a window-stats read (``servers``), unlike every other
    step's: a router keeping a sample history (HAProxy) stores one just before the shift,
    and the stage's analysis counts from it (``since``), so no request from before the
    shift enters the stage's tests.
    """
    servers = driver.servers(1)
    missing = _missing(servers, stable + canary)
    if missing:
        raise DriverError(f"router has no server named {', '.join(missing)}")
    weights = split_weights(stable, canary, percent)
    expected: dict[str, dict[str, Any]] = {}
    changes: list[Change] = []
    # Raise the side that gains traffic first, so no moment has every weight at zero.
    for name in sorted(weights, key=lambda n: weights[n] == 0):
        if servers[name]["state"] != "ready" and weights[name] > 0:
            changes.append((name, "state", "ready"))
        changes.append((name, "weight", weights[name]))
        expected[name] = {"weight": weights[name]}
        if weights[name] > 0:
            expected[name]["state"] = "ready"
    apply_changes(driver, changes)
    confirmed = confirm(driver, expected)
    return {"weights": weights, "servers": confirmed, "confirmed_at": time.time()}


class StableDown(DriverError):
    """No stable server answers its health check while a canary server does.

    Moving traffic to stable then would take down the only version that serves users, so
    the operation refuses and changes nothing.
    """


# The health check a server must pass before it is given traffic: (path, status).
Health = tuple[str, int]


def probe(address: str | None, health: Health, timeout: float = 2.0) -> str | None:
    """Ask one server's health path directly (not through the router).

    Returns:
        None when it answered the expected status, else why not.
    """
    path, status = health
    if not address:
        return "not registered with the router"
    try:
        # A server on the router's network: never through a proxy, and plain HTTP with no
        # TLS context to build (open_url's costs ~40 ms of CPU per probe: at 32 stable
        # servers, 0.7 s of a switch).
        with open_plain(f"http://{address}{path}", timeout=timeout) as response:
            got = response.status
    except urllib.error.HTTPError as err:
        got = err.code
    except OSError as err:
        return str(getattr(err, "reason", err))
    return None if got == status else f"HTTP {got} (want {status})"


# Servers asked side by side: a switch or drain waits for one probe however many stable
# servers the fleet has (not 32 probes one after another).
_PROBE_THREADS = 16


def _problems(servers: dict[str, ServerInfo], names: list[str], health: Health) -> dict[str, str]:
    addresses = {name: servers.get(name, {}).get("address") for name in names}
    if len(addresses) <= 1:
        found = {name: probe(address, health) for name, address in addresses.items()}
    else:
        with ThreadPoolExecutor(max_workers=min(_PROBE_THREADS, len(addresses))) as pool:
            futures = {name: pool.submit(probe, address, health)
                       for name, address in addresses.items()}
            found = {name: future.result() for name, future in futures.items()}
    return {name: why for name, why in found.items() if why is not None}


def healthy_stable(
    driver: Driver, stable: list[str], canary: list[str], health: Health
) -> tuple[list[str], dict[str, str]]:
    """The stable servers that may take traffic: those answering their health check.

    When none answers, every stable server is returned (nothing is healthy, so stable is
    still where traffic belongs) unless a canary server that carries traffic answers: then
    moving traffic would make things worse.

    Returns:
        The stable servers to give traffic, and why each left-out one was left out.

    Raises:
        StableDown: no stable server is healthy and a canary server carrying traffic is.
    """
    servers = read_routing(driver)
    problems = _problems(servers, stable, health)
    healthy = [name for name in stable if name not in problems]
    if healthy:
        return healthy, problems
    # Only a canary that carries traffic now is serving users: with none on it, traffic
    # is on stable already and the operation changes nothing for them.
    carrying = [name for name in canary if servers.get(name, {}).get("weight", 0) > 0]
    serving = [name for name in carrying if name not in _problems(servers, [name], health)]
    if serving:
        detail = ", ".join(f"{name}: {why}" for name, why in sorted(problems.items()))
        raise StableDown(
            f"no stable server answers its health check {health[0]} ({detail}) while the "
            f"canary does ({', '.join(serving)}): traffic stays on the canary, which serves "
            "users; moving it to stable would take the service down"
        )
    return list(stable), problems


def drain(
    driver: Driver,
    stable: list[str],
    canary: list[str],
    timeout: float,
    health: Health | None = None,
) -> dict[str, Any]:
    """Stop new requests to the canary and wait (bounded) for its in-flight ones to finish.

    With ``health``, only stable servers that answer their health check are given the
    traffic; none answering while the canary does raises :class:`StableDown`, before
    anything changed.
    """
    started = time.monotonic()
    left_out: dict[str, str] = {}
    if health is not None:
        stable, left_out = healthy_stable(driver, stable, canary, health)
    servers = read_routing(driver)
    changes: list[Change] = []
    if all(servers.get(s, {}).get("weight", 0) == 0 for s in stable):
        # Stable must be able to take what the canary no longer accepts: first.
        for name in stable:
            changes += [(name, "state", "ready"), (name, "weight", 1)]
    changes += [(name, "state", "drain") for name in canary
                if name in servers and servers[name]["state"] == "ready"]
    apply_changes(driver, changes)
    while True:
        servers = read_routing(driver)
        in_flight = {n: servers.get(n, {}).get("in_flight", 0) for n in canary}
        done = not any(in_flight.values())
        if done or time.monotonic() - started > timeout:
            return {
                "drained": done,
                "in_flight": in_flight,
                "seconds": round(time.monotonic() - started, 3),
                "servers": servers,
                "stable_unhealthy": left_out,
            }
        time.sleep(0.05)


def switch_to_stable(
    driver: Driver, stable: list[str], canary: list[str], health: Health | None = None
) -> dict[str, Any]:
    """All traffic to stable, confirmed by reading the router back.

    With ``health``, only the stable servers answering their health check get traffic
    (the others weight 0); none answering while the canary does raises
    :class:`StableDown`, and nothing changes.
    """
    expected: dict[str, dict[str, Any]] = {}
    left_out: dict[str, str] = {}
    if health is not None:
        healthy, left_out = healthy_stable(driver, stable, canary, health)
        out = [name for name in stable if name not in healthy]
        stable = healthy
    servers = read_routing(driver)
    changes: list[Change] = []
    for name in stable:
        changes += [(name, "state", "ready"), (name, "weight", 1)]
        expected[name] = {"weight": 1, "state": "ready"}
    if health is not None:
        # After the healthy ones took traffic: a dead stable server gets none.
        for name in out:
            changes.append((name, "weight", 0))
            expected[name] = {"weight": 0}
    for name in canary:
        if name in servers:
            changes.append((name, "weight", 0))
            expected[name] = {"weight": 0}
    apply_changes(driver, changes)
    confirmed = confirm(driver, expected)
    return {
        "servers": confirmed,
        "confirmed_at": time.time(),
        "stable_serving": stable,
        "stable_unhealthy": left_out,
    }


def maint(driver: Driver, canary: list[str]) -> dict[str, Any]:
    """Take the canary servers out entirely (cleanup)."""
    servers = read_routing(driver)
    expected = {}
    changes: list[Change] = []
    for name in canary:
        if name in servers:
            changes += [(name, "weight", 0), (name, "state", "maint")]
            expected[name] = {"state": "maint", "weight": 0}
    apply_changes(driver, changes)
    return {"servers": confirm(driver, expected)}


def wait_ready(
    driver: Driver, canary: list[str], path: str, status: int, timeout: float
) -> dict[str, Any]:
    """Wait until every canary server is registered and answers its health path.

    Raises:
        DriverError: not ready within ``timeout``; says which server and why.
    """
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        servers = read_routing(driver)
        problems = _problems(servers, canary, (path, status))
        if not problems:
            return {"servers": servers, "seconds": round(time.monotonic() - started, 3)}
        if time.monotonic() > deadline:
            detail = ", ".join(f"{n}: {why}" for n, why in sorted(problems.items()))
            raise DriverError(f"canary not ready after {timeout:g}s: {detail}")
        time.sleep(0.2)
