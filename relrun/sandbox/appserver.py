"""Your own application as a sandbox server: start it on a free port, announce it, stop it.

Run as ``python -m relrun.sandbox.appserver --state-dir DIR --name canary --version 2.0``
(``relrun.sandbox.control`` starts it in place of the demo API when ``config.json`` holds
an ``app``). It picks a free loopback port, starts the configured command with ``{port}``,
``{version}`` and ``{name}`` replaced (and ``PORT``, ``RELRUN_VERSION``, ``RELRUN_SERVER``
in its environment), waits until the health path answers 200, and only then announces
``servers/NAME.json`` with its own pid, so the sandbox's pid checks, ``stop`` (SIGTERM,
forwarded) and ``crash`` (SIGKILL) work on any program. The application dies with this
supervisor (``PR_SET_PDEATHSIG``), so a crash kills both, as a real crash would.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from relrun.sandbox.layout import Layout
from relrun.sandbox.serve import announce
from relrun.sandbox.settings import load_config

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command_line(template: list[str], port: int, version: str, name: str) -> list[str]:
    """The argv with ``{port}``, ``{version}`` and ``{name}`` replaced (nothing else)."""
    values = {"{port}": str(port), "{version}": version, "{name}": name}
    result = []
    for arg in template:
        for key, value in values.items():
            arg = arg.replace(key, value)
        result.append(arg)
    return result


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def healthy(port: int, path: str) -> bool:
    """True when GET ``path`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run(state_dir: str, name: str, version: str, timeout: float = 60.0) -> int:
    """Supervise the application until SIGTERM or its exit; return the exit status."""
    layout = Layout.at(state_dir)
    app = load_config(layout).app
    if app is None:
        print("no app configured in config.json", file=sys.stderr)
        return 2
    template = app.stable if name == "stable" or app.canary is None else app.canary
    port = free_port()
    argv = command_line(template, port, version, name)
    env = dict(os.environ)
    env.update(app.env)
    env.update({"PORT": str(port), "RELRUN_VERSION": version, "RELRUN_SERVER": name})
    print(f"starting {name} {version} on 127.0.0.1:{port}: {argv}", flush=True)
    stop = {"now": False}

    def on_term(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        child = subprocess.Popen(
            argv, cwd=app.cwd or None, env=env, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    except OSError as err:
        print(f"cannot start {argv[0]}: {err}", file=sys.stderr)
        return 1
    try:
        deadline = time.monotonic() + timeout
        while not healthy(port, app.health_path):
            if child.poll() is not None or stop["now"]:
                print(f"{name} exited before it was healthy ({child.returncode})", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                why = f"{name} not healthy on {app.health_path} after {timeout:g}s"
                print(why, file=sys.stderr)
                return 1
            time.sleep(_POLL_S)
        announce(layout.server_file(name), name=name, port=port, version=version,
                 app_pid=child.pid)
        while not stop["now"] and child.poll() is None:
            time.sleep(_POLL_S)
        return child.returncode if child.returncode is not None else 0
    finally:
        if child.poll() is None:
            child.terminate()  # graceful: in-flight requests finish
            try:
                child.wait(9)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m relrun.sandbox.appserver")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    sys.exit(run(args.state_dir, args.name, args.version))


if __name__ == "__main__":
    main()
