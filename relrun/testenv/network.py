"""Bridge, namespaces and veth pairs of one environment, and the link faults.

Every host is a network namespace whose ``eth0`` is one end of a veth pair; the other end
is enslaved to the environment's bridge in the root namespace, which holds ``.1``. Only
addresses of the environment's own /24 of 10.231.0.0/16 exist on these links.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from relrun.testenv import cmd
from relrun.testenv.names import Names

_POLL_S = 0.02


def create_bridge(names: Names) -> None:
    """Create the bridge and give the root namespace its address on it."""
    cmd.run(["ip", "link", "add", names.bridge, "type", "bridge"])
    cmd.run(["ip", "addr", "add", f"{names.gateway}/24", "dev", names.bridge])
    cmd.run(["ip", "link", "set", names.bridge, "up"])


def add_host(names: Names, host: str, index: int, address: str) -> None:
    """Create ``host``'s namespace, wire it to the bridge and give it ``address``.

    Args:
        names: the environment.
        host: inventory name (``lb-1``, ``app-2``, ``client``).
        index: small number unique in the environment (names the veth end).
        address: its address in the environment's /24.
    """
    ns, veth = names.namespace(host), names.veth(index)
    cmd.run(["ip", "netns", "add", ns])
    cmd.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    cmd.run(["ip", "link", "set", veth, "master", names.bridge, "up"])
    cmd.run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"])
    cmd.run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    cmd.run(["ip", "-n", ns, "link", "set", "lo", "up"])


def set_link(names: Names, index: int, up: bool) -> None:
    """Plug (``up``) or unplug a host's cable: its veth end on the bridge."""
    cmd.run(["ip", "link", "set", names.veth(index), "up" if up else "down"])


def in_namespace(names: Names, host: str, args: list[str]) -> list[str]:
    """The command line running ``args`` inside ``host``'s namespace."""
    return ["ip", "netns", "exec", names.namespace(host), *args]


def namespace_pids(namespace: str) -> list[int]:
    """Pids of the processes living in ``namespace``."""
    out = cmd.run(["ip", "netns", "pids", namespace], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def program(pid: int) -> str:
    """The program name of ``pid`` (``/proc/PID/comm``; empty when gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def stop_pids(pids: list[int], grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            cmd.reap()
            time.sleep(_POLL_S)
        pids = [p for p in pids if _alive(p)]
        if not pids:
            break
    cmd.reap()


def destroy(env_id: str, grace: float = 5.0) -> None:
    """Remove everything of environment ``env_id``: processes, namespaces, links.

    Idempotent, and works from names alone (after a killed run too).
    """
    spaces = [n for n in cmd.run(["ip", "netns", "list"], check=False).split()
              if n.startswith(env_id + "-")]
    # Clients first, so their last requests still find the servers.
    spaces.sort(key=lambda n: (not n.endswith("-client"), n))
    for ns in spaces:
        stop_pids(namespace_pids(ns), grace)
    for ns in spaces:
        cmd.run(["ip", "netns", "del", ns], check=False)
    for line in cmd.run(["ip", "-o", "link", "show"], check=False).splitlines():
        parts = line.split(":")
        name = parts[1].strip().split("@")[0] if len(parts) > 1 else ""
        if name.startswith(env_id):
            cmd.run(["ip", "link", "del", name], check=False)
