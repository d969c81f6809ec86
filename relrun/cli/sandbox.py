"""``relrun sandbox …``: thin commands over :mod:`relrun.sandbox.control`."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import typer

from relrun.cli.app import app
from relrun.errors import InputError
from relrun.runbook.load_models import LoadMix, SandboxApp
from relrun.sandbox import control
from relrun.sandbox.layout import ENV_STATE_DIR
from relrun.sandbox.settings import noise_config

sandbox_app = typer.Typer(help="Start, control and stop the local sandbox environment.")
app.add_typer(sandbox_app, name="sandbox")

StateDir = typer.Option(
    None,
    "--state-dir",
    envvar=ENV_STATE_DIR,
    help="Sandbox state directory [default: $XDG_STATE_HOME/relrun/sandbox].",
)


def _echo_status(st: control.SandboxStatus) -> None:
    typer.echo(f"state dir:   {st.state_dir}")
    typer.echo(
        f"router:      {st.router_url or '-'}  (pid {st.router_pid}, alive {st.router_alive})"
    )
    typer.echo(f"admin:       {st.admin_url or '-'}")
    for s in st.servers:
        typer.echo(
            f"server {s.name}: {s.url or '-'} version {s.version or '-'} pid {s.pid} "
            f"alive {s.alive} weight {s.weight} state {s.state}"
        )
    rate = f"{st.loadgen_rate:g} req/s" if st.loadgen_rate else "-"
    typer.echo(f"loadgen:     {rate} (pid {st.loadgen_pid}, alive {st.loadgen_alive})")
    typer.echo(f"traffic log: {st.traffic_log}")
    typer.echo(f"credentials: {st.credentials_file}")
    typer.echo(f"admin token: {st.admin_token_file}")


def _at_least(option: str, value: float, least: float) -> None:
    """Refuse a non-finite number or one below ``least`` as bad input (exit 2)."""
    if not (math.isfinite(value) and value >= least):
        raise InputError(f"{option}: expected a number of at least {least:g}, got {value:g}")


@sandbox_app.command("up")
def up(
    state_dir: Path | None = StateDir,
    rate: float = typer.Option(20.0, "--rate", help="Load generator requests per second."),
    stable_version: str = typer.Option("1.0", "--stable-version", help="Stable's version."),
    loadgen: bool = typer.Option(True, "--loadgen/--no-loadgen", help="Generate load."),
    heartbeat: float = typer.Option(15.0, "--heartbeat", help="SSE heartbeat seconds."),
    app_stable: str | None = typer.Option(
        None,
        "--app-stable",
        help="Your application instead of the demo API: the command starting stable, "
        "with {port} (and {version}, {name}) replaced, e.g. 'python app.py --port {port}'.",
    ),
    app_canary: str | None = typer.Option(
        None, "--app-canary", help="The command starting the canary [default: --app-stable]."
    ),
    health_path: str = typer.Option(
        "/health", "--health-path", help="Your application's health path (GET answers 200)."
    ),
    mix: Path | None = typer.Option(
        None, "--mix", help="The load generator's request mix (YAML/JSON, docs/own-service.md)."
    ),
    noise_errors: float = typer.Option(
        0.0, "--noise-errors", help="Background share of user requests failing, every version."
    ),
    noise_latency: float = typer.Option(
        0.0, "--noise-latency-ms", help="Median of a heavy-tailed (lognormal) added latency."
    ),
) -> None:
    """Start stable, the router and the load generator; print the endpoints."""
    _at_least("--heartbeat", heartbeat, 0.1)
    _at_least("--rate", rate, 0.1)
    app_spec = None
    if app_stable is not None:
        app_spec = _app(app_stable, app_canary, health_path)
    elif app_canary is not None:
        raise InputError("--app-canary needs --app-stable")
    config = noise_config(noise_errors, noise_latency, heartbeat_s=heartbeat).model_copy(
        update={"app": app_spec}
    )
    st = control.up(
        state_dir,
        rate=rate,
        stable_version=stable_version,
        loadgen=loadgen,
        config=config,
        mix=_mix(mix) if mix is not None else None,
    )
    _echo_status(st)


def _app(stable: str, canary: str | None, health_path: str) -> SandboxApp:
    try:
        return SandboxApp(
            stable=shlex.split(stable),
            canary=shlex.split(canary) if canary else None,
            health_path=health_path,
            cwd=str(Path.cwd()),
        )
    except ValueError as err:
        raise InputError(f"--app-stable/--app-canary/--health-path: {err}") from None


def _mix(path: Path) -> LoadMix:
    # Here, not at the top: it imports aiohttp, which every other command would pay for.
    from relrun.sandbox.requestmix import load_mix

    try:
        return load_mix(path)
    except (OSError, ValueError) as err:
        raise InputError(f"--mix {path}: {err}") from None


@sandbox_app.command("start")
def start(
    name: str = typer.Argument(..., help="Server name, e.g. canary.", metavar="SERVER"),
    version: str = typer.Option(..., "--version", help="Version to deploy, e.g. 2.0."),
    state_dir: Path | None = StateDir,
) -> None:
    """Start (deploy) a server and register it in the router (weight unchanged)."""
    s = control.start_server(name, version, state_dir)
    typer.echo(f"server {s.name}: {s.url} version {s.version} weight {s.weight} state {s.state}")


@sandbox_app.command("stop")
def stop(
    name: str = typer.Argument(..., help="Server name, e.g. canary.", metavar="SERVER"),
    state_dir: Path | None = StateDir,
) -> None:
    """Take a server out of the router and stop it (cleanup)."""
    stopped = control.stop_server(name, state_dir)
    typer.echo(f"server {name}: {'stopped' if stopped else 'was not running'}")


@sandbox_app.command("fault")
def fault(
    name: str = typer.Argument(..., help="Server name, e.g. canary.", metavar="SERVER"),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Share of requests failing."),
    latency_ms: int = typer.Option(0, "--latency-ms", help="Latency added per request."),
    clear: bool = typer.Option(False, "--clear", help="Remove injected faults."),
    crash: bool = typer.Option(False, "--crash", help="Kill the server (SIGKILL)."),
    state_dir: Path | None = StateDir,
) -> None:
    """Inject faults into a server, clear them, or crash it."""
    if clear and crash:
        raise InputError("--clear and --crash exclude each other")
    if crash:
        killed = control.crash_server(name, state_dir)
        typer.echo(f"server {name}: {'killed' if killed else 'was not running'}")
        return
    if clear:
        control.clear_fault(name, state_dir)
        typer.echo(f"server {name}: faults cleared")
        return
    f = control.set_fault(name, error_rate=error_rate, latency_ms=latency_ms, state_dir=state_dir)
    typer.echo(f"server {name}: error_rate {f.error_rate:g}, latency_ms {f.latency_ms}")


@sandbox_app.command("crash")
def crash(
    name: str = typer.Argument(..., help="Server name, e.g. canary.", metavar="SERVER"),
    state_dir: Path | None = StateDir,
) -> None:
    """Kill a server with SIGKILL, as a crash would (a drill's ``crash`` fault calls this)."""
    killed = control.crash_server(name, state_dir)
    typer.echo(f"server {name}: {'killed' if killed else 'was not running'}")


@sandbox_app.command("status")
def status(
    state_dir: Path | None = StateDir,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show URLs, pids, liveness, weights and states, and where the secrets are kept."""
    st = control.status(state_dir)
    if as_json:
        typer.echo(st.model_dump_json(indent=2))
    else:
        _echo_status(st)


@sandbox_app.command("down")
def down(state_dir: Path | None = StateDir) -> None:
    """Stop every process of the sandbox (safe to repeat)."""
    stopped = control.down(state_dir)
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
