"""``relrun_service_ctl`` of a fleet app host: start or stop an instance, tell HAProxy.

``python -m relrun.testenv.servicectl --index I --address A --lb HOST:PORT
[--backend api] [--state-dir D] start NAME --version V | stop NAME | crash NAME``

Run on app host ``I`` (over SSH, by the runbook's deploy and cleanup steps). ``NAME`` is
the role (``canary``); the instance and its HAProxy server are ``NAME-I``, so two hosts
never clash. ``start`` launches the demo API (``relrun.sandbox.api --host 0.0.0.0``) in the host's
state directory, waits for ``/health``, points the HAProxy server at ``A:port`` and makes
it ready if it was parked, leaving its weight alone. ``stop`` parks the server (weight 0,
maint), then stops the process gracefully; ``crash`` kills it (SIGKILL) as a crash
would. ``--lb -`` skips HAProxy (building the fleet).
Both are idempotent. Prints one line; exit 1 with ``error: …`` on failure.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    DriverError,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy import (  # noqa: E501
    HAProxyDriver,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_runtime import (  # noqa: E501
    admin_state,
    to_int,
)
from relrun.errors import RelrunError
from relrun.sandbox import procs
from relrun.sandbox.layout import Layout, read_json

MODULE = "relrun.sandbox.api"
_POLL_S = 0.02


def instance_name(role: str, index: int) -> str:
    """The instance (and HAProxy server) of ``role`` on app host ``index``: ``canary-2``."""
    return f"{role}-{index}"


def _process(name: str) -> str:
    return f"server-{name}"


def running_port(layout: Layout, name: str, version: str | None = None) -> int | None:
    """Port of instance ``name`` if it runs (at ``version``, when given)."""
    record = procs.load_record(layout, _process(name))
    data = read_json(layout.server_file(name))
    if record is None or not isinstance(data, dict) or data.get("pid") != record.pid:
        return None
    if not procs.is_running(record) or (version is not None and data.get("version") != version):
        return None
    return int(data["port"])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def launch(layout: Layout, name: str, version: str, timeout: float = 30.0) -> int:
    """Start instance ``name`` at ``version`` (kept if already so) and wait for health.

    Returns:
        Its port.

    Raises:
        RelrunError: it exited or did not answer in time.
    """
    port = running_port(layout, name, version)
    if port is not None:
        return port
    halt(layout, name)
    # Inside the host's namespace 0.0.0.0 is its own address (where HAProxy reaches it)
    # and its private loopback (where the drill's fault module reaches it).
    args = ["--version", version, "--state-dir", str(layout.root), "--name", name,
            "--host", "0.0.0.0"]
    record = procs.spawn(layout, _process(name), MODULE, args)
    deadline = time.monotonic() + timeout
    while True:
        port = running_port(layout, name)
        if port is not None and _healthy(port):
            return port
        if not procs.is_running(record) or time.monotonic() >= deadline:
            procs.terminate(record, 2.0)
            log = layout.log_file(_process(name))
            raise RelrunError(f"{name} did not become healthy; see {log}")
        time.sleep(_POLL_S)


def halt(layout: Layout, name: str, timeout: float = 10.0) -> bool:
    """Stop instance ``name`` gracefully and remove its files; True if it ran."""
    record = procs.load_record(layout, _process(name))
    stopped = procs.terminate(record, timeout) if record is not None else False
    layout.pid_file(_process(name)).unlink(missing_ok=True)
    layout.server_file(name).unlink(missing_ok=True)
    return stopped


def register(driver: HAProxyDriver, name: str, address: str, port: int) -> None:
    """Point HAProxy server ``name`` at ``address:port``; ready it if parked."""
    driver.set_address(name, address, port)
    _, _, states = driver.read()
    entry = next((s for s in states if s.get("srv_name") == name), None)
    if entry is None:
        raise RelrunError(f"HAProxy backend {driver.backend} has no server {name}")
    if admin_state(to_int(entry.get("srv_admin_state"))) == "maint":
        driver.set_state(name, "ready")


def park(driver: HAProxyDriver, name: str) -> None:
    """Take HAProxy server ``name`` out of rotation: weight 0, maintenance."""
    driver.set_weight(name, 0)
    driver.set_state(name, "maint")


def main(argv: list[str] | None = None) -> int:
    """Entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m relrun.testenv.servicectl")
    parser.add_argument("--index", type=int, required=True, help="this app host's number")
    parser.add_argument("--address", required=True, help="this host's address")
    parser.add_argument("--lb", required=True, help="HAProxy stats socket host:port, or -")
    parser.add_argument("--backend", default="api")
    parser.add_argument("--state-dir", default=None, help="[default: $RELRUN_SANDBOX_DIR]")
    sub = parser.add_subparsers(dest="command", required=True)
    begin = sub.add_parser("start")
    begin.add_argument("role")
    begin.add_argument("--version", required=True)
    end = sub.add_parser("stop")
    end.add_argument("role")
    kill = sub.add_parser("crash")
    kill.add_argument("role")
    args = parser.parse_args(argv)
    layout = Layout.at(args.state_dir)
    name = instance_name(args.role, args.index)
    driver = HAProxyDriver(args.lb, args.backend, timeout=5.0) if args.lb != "-" else None
    try:
        if args.command == "crash":
            record = procs.load_record(layout, _process(name))
            killed = procs.kill(record) if record is not None else False
            print(f"{name}: {'killed' if killed else 'was not running'}", flush=True)
            return 0
        if args.command == "start":
            port = launch(layout, name, args.version)
            if driver is not None:
                register(driver, name, args.address, port)
            print(f"{name}: {args.address}:{port} version {args.version}", flush=True)
            return 0
        problem = None
        if driver is not None:
            try:
                park(driver, name)
            except DriverError as err:  # still stop it: the LB retries elsewhere
                problem = f"could not park {name} in HAProxy: {err}"
        stopped = halt(layout, name)
        print(f"{name}: {'stopped' if stopped else 'was not running'}", flush=True)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
        return 0
    except (RelrunError, DriverError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
