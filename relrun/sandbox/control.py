"""Start, steer and stop a sandbox: the library behind ``relrun sandbox …``.

Nothing here prints; failures raise :class:`~relrun.errors.RelrunError` (or
:class:`~relrun.errors.InputError` for bad arguments). Every function takes the state
directory (``None`` means :func:`~relrun.sandbox.layout.default_state_dir`) and is
idempotent: calling it twice leaves the same environment as calling it once.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from relrun.errors import InputError, RelrunError
from relrun.runbook.load_models import LoadMix
from relrun.sandbox import procs
from relrun.sandbox.admin_client import AdminError, RouterAdmin, call
from relrun.sandbox.layout import Layout, read_json, write_json
from relrun.sandbox.models import ServerUpdate, ServerView
from relrun.sandbox.reaper import REAPER_PROCESS
from relrun.sandbox.settings import SandboxConfig, load_config, load_secrets, write_settings
from relrun.sandbox.watchers import end_watchers

STABLE, CANARY = "stable", "canary"
ROUTER_PROCESS, LOADGEN_PROCESS = "router", "loadgen"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_POLL_S = 0.02
API_MODULE, APP_MODULE = "relrun.sandbox.api", "relrun.sandbox.appserver"


class ServerStatus(BaseModel):
    """One API server: its process and its entry in the router."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str
    version: str | None
    url: str | None
    pid: int | None
    alive: bool
    weight: int | None
    state: str | None
    log: Path


class SandboxStatus(BaseModel):
    """Everything ``relrun sandbox status`` shows. Paths only, never secret values."""

    model_config = ConfigDict(frozen=True)

    state_dir: Path
    router_url: str | None
    admin_url: str | None
    router_pid: int | None
    router_alive: bool
    loadgen_pid: int | None
    loadgen_alive: bool
    loadgen_rate: float | None
    traffic_log: Path
    servers: list[ServerStatus]
    credentials_file: Path
    admin_token_file: Path

    @property
    def running(self) -> bool:
        """True when the router is up (the sandbox is usable)."""
        return self.router_alive


class Fault(BaseModel):
    """Faults injected into one API server."""

    model_config = ConfigDict(frozen=True)

    error_rate: float = 0.0
    latency_ms: int = 0


def _server_process(name: str) -> str:
    return f"server-{name}"


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InputError(f"invalid server name {name!r}: use lowercase letters, digits, - and _")


def _wait(
    what: str, ready: Callable[[], bool], record: procs.ProcessRecord, layout: Layout, t: float
) -> None:
    """Poll ``ready`` until true; fail early if the process died, or after ``t`` s."""
    deadline = time.monotonic() + t
    while not ready():
        if not procs.is_running(record):
            log = layout.log_file(record.process)
            raise RelrunError(f"{what} exited during startup; see {log}")
        if time.monotonic() >= deadline:
            raise RelrunError(
                f"{what} not ready after {t:g} s; see {layout.log_file(record.process)}"
            )
        time.sleep(_POLL_S)


def _healthy(port: int, path: str = "/health") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _announced_port(path: Path, record: procs.ProcessRecord, key: str = "port") -> int | None:
    data = read_json(path)
    if isinstance(data, dict) and data.get("pid") == record.pid:
        return int(data[key])
    return None


def router_admin(state_dir: Path | str | None = None) -> RouterAdmin:
    """Return a client for the running router's admin API.

    Raises:
        RelrunError: the sandbox is not running.
    """
    layout = Layout.at(state_dir)
    record = procs.load_record(layout, ROUTER_PROCESS)
    data = read_json(layout.router_file)
    if record is None or not isinstance(data, dict) or not procs.is_running(record):
        raise RelrunError(f"the sandbox is not running in {layout.root}; run: relrun sandbox up")
    return RouterAdmin(f"http://127.0.0.1:{data['admin_port']}", load_secrets(layout).admin_token)


def up(
    state_dir: Path | str | None = None,
    *,
    rate: float = 20.0,
    stable_version: str = "1.0",
    loadgen: bool = True,
    config: SandboxConfig | None = None,
    timeout: float = 30.0,
    mix: LoadMix | None = None,
    owner: int | None = None,
    owner_grace: float = 15.0,
) -> SandboxStatus:
    """Start stable, the router and (optionally) the load generator; wait until healthy.

    The canary is registered in the router (state ``maint``, weight 0, no address) so a
    release can address it before it is deployed. When the sandbox is already up this
    returns its status and changes nothing. On failure, whatever was started is stopped.

    Args:
        state_dir: the sandbox's state directory.
        rate: requests per second of the load generator.
        stable_version: version the stable server reports.
        loadgen: start the load generator.
        config: settings (heartbeat, rate limits, your ``app``, …); defaults when None.
        timeout: seconds to wait for each program to become healthy.
        mix: the load generator's request mix; None for the demo API's.
        owner: a process the sandbox belongs to (a drill's relrun): a reaper stops the
            whole sandbox ``owner_grace`` seconds after it exited, however it died.
        owner_grace: see ``owner``.

    Returns:
        The status of the running sandbox.

    Raises:
        InputError: bad arguments.
        RelrunError: a program failed to start.
    """
    if rate <= 0:
        raise InputError(f"--rate must be positive, got {rate:g}")
    layout = Layout.at(state_dir)
    current = status(layout.root)
    if current.running:
        return current
    down(layout.root)
    write_settings(layout, config or SandboxConfig())
    write_mix(layout, mix)
    layout.traffic_log.unlink(missing_ok=True)
    try:
        if owner is not None:
            # First: a relrun killed while the sandbox starts leaves nothing behind either.
            ticks = procs.start_ticks(owner)
            procs.spawn(
                layout,
                REAPER_PROCESS,
                "relrun.sandbox.reaper",
                ["--state-dir", str(layout.root), "--owner", str(owner),
                 "--grace", f"{owner_grace:g}"]
                + (["--owner-ticks", str(ticks)] if ticks is not None else []),
            )
        router = procs.spawn(
            layout, ROUTER_PROCESS, "relrun.sandbox.router", ["--state-dir", str(layout.root)]
        )
        _spawn_server(layout, STABLE, stable_version)
        _wait(
            "the router",
            lambda: _announced_port(layout.router_file, router) is not None,
            router,
            layout,
            timeout,
        )
        stable = _await_server(layout, STABLE, timeout)
        admin = router_admin(layout.root)
        admin.update(
            STABLE,
            ServerUpdate(role=STABLE, address=f"127.0.0.1:{stable}", weight=100, state="ready"),
        )
        admin.update(CANARY, ServerUpdate(role=CANARY, address=None, weight=0, state="maint"))
        if loadgen:
            _spawn_loadgen(layout, rate, None, timeout)
    except BaseException:
        down(layout.root)
        raise
    return status(layout.root)


def write_mix(layout: Layout, mix: LoadMix | None) -> None:
    """Keep the load generator's request mix in the state directory (None: the demo's)."""
    if mix is None:
        layout.load_mix.unlink(missing_ok=True)
    else:
        write_json(layout.load_mix, mix.model_dump(mode="json", by_alias=True))


def start_loadgen(
    state_dir: Path | str | None = None,
    *,
    target: str | None = None,
    rate: float = 20.0,
    timeout: float = 30.0,
    mix: LoadMix | None = None,
) -> SandboxStatus:
    """Start the load generator of a running sandbox, optionally aimed at another URL.

    For a sandbox brought up with ``loadgen=False``: ``target`` sends the traffic to
    another entry point in front of the sandbox's API servers (e.g. a real HAProxy)
    instead of the sandbox router. It writes the same traffic log and ``down`` stops it.

    Args:
        state_dir: the sandbox.
        target: base URL, e.g. ``http://127.0.0.1:8080``; None for the sandbox router.
        rate: requests per second.
        timeout: seconds to wait until it sends traffic.
        mix: the request mix (replaces the one ``up`` kept); None keeps it.

    Returns:
        The sandbox's status.

    Raises:
        InputError: bad rate.
        RelrunError: the generator is already running, or failed to start.
    """
    if rate <= 0:
        raise InputError(f"--rate must be positive, got {rate:g}")
    layout = Layout.at(state_dir)
    record = procs.load_record(layout, LOADGEN_PROCESS)
    if record is not None and procs.is_running(record):
        raise RelrunError(f"the load generator already runs in {layout.root}")
    if mix is not None:
        write_mix(layout, mix)
    _spawn_loadgen(layout, rate, target, timeout)
    return status(layout.root)


def _spawn_loadgen(layout: Layout, rate: float, target: str | None, timeout: float) -> None:
    args = ["--state-dir", str(layout.root), "--rate", f"{rate:g}"]
    if target is not None:
        args += ["--target", target]
    generator = procs.spawn(layout, LOADGEN_PROCESS, "relrun.sandbox.loadgen", args)
    _wait(
        "the load generator",
        lambda: _announced_port(layout.loadgen_file, generator, "rate") is not None,
        generator,
        layout,
        timeout,
    )


def _spawn_server(layout: Layout, name: str, version: str) -> procs.ProcessRecord:
    layout.server_file(name).unlink(missing_ok=True)
    args = ["--version", version, "--state-dir", str(layout.root), "--name", name]
    # The user's own application, when configured, runs under a small supervisor that
    # gives it a port and announces it as the demo API would.
    module = APP_MODULE if load_config(layout).app is not None else API_MODULE
    return procs.spawn(layout, _server_process(name), module, args)


def _await_server(layout: Layout, name: str, timeout: float) -> int:
    record = procs.load_record(layout, _server_process(name))
    assert record is not None  # spawned just before
    path = layout.server_file(name)
    _wait(
        f"server {name}", lambda: _announced_port(path, record) is not None, record, layout, timeout
    )
    port = _announced_port(path, record)
    assert port is not None
    app = load_config(layout).app
    health = app.health_path if app is not None else "/health"
    _wait(f"server {name}", lambda: _healthy(port, health), record, layout, timeout)
    return port


def _running_server(
    layout: Layout, name: str
) -> tuple[procs.ProcessRecord, dict[str, object]] | None:
    record = procs.load_record(layout, _server_process(name))
    data = read_json(layout.server_file(name))
    if record is None or not isinstance(data, dict) or data.get("pid") != record.pid:
        return None
    if not procs.is_running(record):
        return None
    return record, data


def start_server(
    name: str,
    version: str,
    state_dir: Path | str | None = None,
    *,
    role: str | None = None,
    timeout: float = 30.0,
) -> ServerStatus:
    """Start API server ``name`` at ``version`` and register its address in the router.

    The router entry keeps the weight and state the release gave it; a server parked
    in ``maint`` (as ``up`` and ``stop_server`` leave it) becomes ``ready``. A new entry
    starts at weight 0, so starting a server never moves traffic by itself. If the server
    already runs this version nothing is restarted; another version replaces it.

    Args:
        name: server name, e.g. ``canary``.
        version: version it reports, e.g. ``2.0``.
        state_dir: the sandbox.
        role: role recorded in the router for a new entry (default: the name).
        timeout: seconds to wait for health.

    Returns:
        The server's status.

    Raises:
        InputError: bad name.
        RelrunError: the sandbox is not running or the server failed to start.
    """
    _check_name(name)
    layout = Layout.at(state_dir)
    admin = router_admin(layout.root)
    running = _running_server(layout, name)
    if running is not None and running[1].get("version") != version:
        stop_server(name, layout.root)
        running = None
    if running is None:
        record = _spawn_server(layout, name, version)
        try:
            port = _await_server(layout, name, timeout)
        except BaseException:
            procs.terminate(record)
            raise
    else:
        port = int(str(running[1]["port"]))
    try:
        entry: ServerView | None = admin.server(name)
    except AdminError:
        entry = None
    change = ServerUpdate(address=f"127.0.0.1:{port}")
    if entry is None:
        change = ServerUpdate(role=role or name, address=change.address, weight=0, state="ready")
    elif entry.state == "maint":
        change = ServerUpdate(address=change.address, state="ready")
    admin.update(name, change)
    return _server_status(layout, name, {s.name: s for s in admin.servers()})


def stop_server(name: str, state_dir: Path | str | None = None, *, timeout: float = 10.0) -> bool:
    """Take server ``name`` out of the router, stop it gracefully and remove its files.

    The router entry goes back to ``maint``, weight 0, no address, first, so no new
    request reaches the server; requests already in flight finish during the graceful
    stop (SIGTERM, then SIGKILL after ``timeout``).

    Returns:
        True when a running process was stopped, False when there was none.

    Raises:
        InputError: bad name.
    """
    _check_name(name)
    layout = Layout.at(state_dir)
    try:
        admin = router_admin(layout.root)
        if any(s.name == name for s in admin.servers()):
            admin.update(name, ServerUpdate(address=None, weight=0, state="maint"))
    except RelrunError:
        pass  # no router: nothing routes to the server anyway
    record = procs.load_record(layout, _server_process(name))
    stopped = procs.terminate(record, timeout) if record is not None else False
    layout.pid_file(_server_process(name)).unlink(missing_ok=True)
    layout.server_file(name).unlink(missing_ok=True)
    return stopped


def crash_server(name: str, state_dir: Path | str | None = None) -> bool:
    """Kill server ``name`` with SIGKILL, leaving router entry and files as a crash would.

    Returns:
        True when a running process was killed.

    Raises:
        InputError: bad name.
    """
    _check_name(name)
    record = procs.load_record(Layout.at(state_dir), _server_process(name))
    return procs.kill(record) if record is not None else False


def set_fault(
    name: str,
    *,
    error_rate: float = 0.0,
    latency_ms: int = 0,
    state_dir: Path | str | None = None,
) -> Fault:
    """Inject faults into server ``name`` (replacing earlier ones).

    Args:
        name: the server.
        error_rate: share of non-admin requests answered 500 with ``X-Fault: injected``.
        latency_ms: delay added to every non-admin request.
        state_dir: the sandbox.

    Returns:
        The faults now active.

    Raises:
        InputError: bad name or values.
        RelrunError: the server is not running.
    """
    _check_name(name)
    if not 0.0 <= error_rate <= 1.0 or latency_ms < 0:
        raise InputError("--error-rate must be within [0, 1] and --latency-ms >= 0")
    body = {"error_rate": error_rate, "latency_ms": latency_ms}
    return Fault.model_validate(_fault_call(name, "POST", body, state_dir))


def clear_fault(name: str, state_dir: Path | str | None = None) -> Fault:
    """Remove every injected fault from server ``name``.

    Raises:
        InputError: bad name.
        RelrunError: the server is not running.
    """
    _check_name(name)
    return Fault.model_validate(_fault_call(name, "DELETE", None, state_dir))


def _fault_call(name: str, method: str, body: object, state_dir: Path | str | None) -> object:
    layout = Layout.at(state_dir)
    running = _running_server(layout, name)
    if running is None:
        raise RelrunError(f"server {name} is not running in {layout.root}")
    url = f"http://127.0.0.1:{running[1]['port']}/admin/fault"
    return call(url, load_secrets(layout).admin_token, method, body)


def status(state_dir: Path | str | None = None) -> SandboxStatus:
    """Describe the sandbox: URLs, pids, liveness, router weights and states, file paths.

    Never raises for a stopped or half-stopped sandbox; it reports what is there.
    """
    layout = Layout.at(state_dir)
    router = procs.load_record(layout, ROUTER_PROCESS)
    router_alive = router is not None and procs.is_running(router)
    router_data = read_json(layout.router_file) if router_alive else None
    entries: dict[str, ServerView] = {}
    if router_alive:
        try:
            entries = {s.name: s for s in router_admin(layout.root).servers()}
        except RelrunError:
            entries = {}
    names = set(entries)
    names.update(
        r.process.removeprefix("server-")
        for r in procs.all_records(layout)
        if r.process.startswith("server-")
    )
    generator = procs.load_record(layout, LOADGEN_PROCESS)
    generator_data = read_json(layout.loadgen_file)
    return SandboxStatus(
        state_dir=layout.root,
        router_url=_url(router_data, "port"),
        admin_url=_url(router_data, "admin_port"),
        router_pid=router.pid if router else None,
        router_alive=router_alive,
        loadgen_pid=generator.pid if generator else None,
        loadgen_alive=generator is not None and procs.is_running(generator),
        loadgen_rate=generator_data.get("rate") if isinstance(generator_data, dict) else None,
        traffic_log=layout.traffic_log,
        servers=[_server_status(layout, n, entries) for n in sorted(names)],
        credentials_file=layout.users,
        admin_token_file=layout.admin_token,
    )


def _url(data: object, key: str) -> str | None:
    if isinstance(data, dict) and key in data:
        return f"http://127.0.0.1:{data[key]}"
    return None


def _server_status(layout: Layout, name: str, entries: dict[str, ServerView]) -> ServerStatus:
    record = procs.load_record(layout, _server_process(name))
    data = read_json(layout.server_file(name))
    alive = record is not None and procs.is_running(record)
    announced = isinstance(data, dict) and record is not None and data.get("pid") == record.pid
    entry = entries.get(name)
    return ServerStatus(
        name=name,
        role=entry.role if entry else name,
        version=str(data["version"]) if announced and isinstance(data, dict) else None,
        url=_url(data, "port") if announced and alive else None,
        pid=record.pid if record else None,
        alive=alive,
        weight=entry.weight if entry else None,
        state=entry.state if entry else None,
        log=layout.log_file(_server_process(name)),
    )


def down(state_dir: Path | str | None = None, *, timeout: float = 10.0) -> list[str]:
    """Stop every process of the sandbox and remove their pid and announcement files.

    The dead man's switch watchers bound to its router stop too, and their leases go
    (``relrun.sandbox.watchers``): there is no traffic left to put back.

    Works from the pid records alone, so it also cleans up after a crashed ``up``.
    Secrets, config, logs and the traffic log are kept (a drill reads them afterwards).

    Args:
        state_dir: the sandbox.
        timeout: seconds granted to each process for a graceful stop.

    Returns:
        Names of the processes that were running and are now stopped.
    """
    layout = Layout.at(state_dir)
    records = procs.all_records(layout)
    # The generator first (its last requests still find a router), servers last.
    # The reaper first: a teardown under way is not an abandoned sandbox.
    order = {REAPER_PROCESS: -1, LOADGEN_PROCESS: 0, ROUTER_PROCESS: 1}
    records.sort(key=lambda r: order.get(r.process, 2))
    stopped = [r.process for r in records if procs.terminate(r, timeout)]
    # The router is gone: a switch watcher still retrying a revert would do so for ever.
    stopped += end_watchers(layout.root)
    for record in records:
        layout.pid_file(record.process).unlink(missing_ok=True)
    for path in (layout.router_file, layout.loadgen_file):
        path.unlink(missing_ok=True)
    if layout.servers_dir.is_dir():
        for path in layout.servers_dir.glob("*.json"):
            path.unlink(missing_ok=True)
    return stopped
