"""Sandbox lifecycle: up, start/stop, status, down, the CLI, and the load generator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relrun.sandbox import control
from relrun.sandbox.loadgen import summarize

pytestmark = pytest.mark.integration


def poll(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True unless the pid is gone or a zombie (dead, only waiting to be reaped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def pids(st: control.SandboxStatus) -> list[int]:
    found = [st.router_pid, st.loadgen_pid, *(s.pid for s in st.servers)]
    return [p for p in found if p is not None]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    try:
        yield tmp_path
    finally:
        control.down(tmp_path)


def relrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relrun", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_up_status_down_leaves_no_process(state_dir: Path) -> None:
    st = control.up(state_dir, rate=20)
    assert st.running and st.loadgen_alive and st.loadgen_rate == 20
    control.start_server("canary", "2.0", state_dir)
    st = control.status(state_dir)
    servers = {s.name: s for s in st.servers}
    assert (servers["canary"].weight, servers["canary"].state) == (0, "ready")
    assert servers["stable"].version == "1.0" and servers["canary"].version == "2.0"
    running = pids(st)
    assert len(running) == 4 and all(pid_alive(p) for p in running)
    assert control.up(state_dir).router_pid == st.router_pid  # already up: no change
    stopped = control.down(state_dir)
    assert sorted(stopped) == ["loadgen", "router", "server-canary", "server-stable"]
    assert not any(pid_alive(p) for p in running)
    assert control.down(state_dir) == []  # idempotent
    after = control.status(state_dir)
    assert not after.running and not after.loadgen_alive
    assert not any(s.alive for s in after.servers)
    assert not list((state_dir / "run").glob("*.json"))


def test_start_and_stop_are_idempotent(state_dir: Path) -> None:
    control.up(state_dir, loadgen=False)
    admin = control.router_admin(state_dir)
    first = control.start_server("canary", "2.0", state_dir)
    admin.set_weight("canary", 25)
    again = control.start_server("canary", "2.0", state_dir)
    assert again.pid == first.pid and again.weight == 25  # the release's weight is kept
    upgraded = control.start_server("canary", "2.1", state_dir)
    assert upgraded.pid != first.pid and upgraded.version == "2.1"
    assert not pid_alive(int(first.pid or 0))
    assert control.stop_server("canary", state_dir) is True
    entry = admin.server("canary")
    assert (entry.weight, entry.state, entry.address) == (0, "maint", None)
    assert not pid_alive(int(upgraded.pid or 0))
    assert control.stop_server("canary", state_dir) is False
    assert not (state_dir / "servers" / "canary.json").exists()
    # After a crash, stop still cleans up.
    crashed = control.start_server("canary", "2.0", state_dir)
    assert control.crash_server("canary", state_dir) is True
    assert not pid_alive(int(crashed.pid or 0))
    assert control.crash_server("canary", state_dir) is False
    assert control.stop_server("canary", state_dir) is False
    assert not (state_dir / "run" / "server-canary.json").exists()


def test_two_sandboxes_run_side_by_side(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    try:
        a = control.up(one, loadgen=False)
        b = control.up(two, loadgen=False, stable_version="1.1")
        assert a.router_url != b.router_url
        control.down(one)
        st = control.status(two)
        assert st.running and st.servers[-1].version == "1.1"
    finally:
        control.down(one)
        control.down(two)


def test_down_cleans_up_after_the_starter_crashed(state_dir: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-m", "relrun", "sandbox", "up", "--state-dir", str(state_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll("a pid record", lambda: len(list((state_dir / "run").glob("*.json"))) >= 2)
        starter.send_signal(signal.SIGKILL)
    finally:
        starter.wait(10)
    records = [json.loads(p.read_text()) for p in (state_dir / "run").glob("*.json")]
    assert records
    control.down(state_dir)
    assert not any(pid_alive(r["pid"]) for r in records)
    assert control.status(state_dir).router_alive is False


def test_cli_drives_the_sandbox_without_leaking_secrets(state_dir: Path) -> None:
    env = dict(os.environ, RELRUN_SANDBOX_DIR=str(state_dir))
    outputs = []
    for args in (
        ["sandbox", "up", "--rate", "10"],
        ["sandbox", "start", "canary", "--version", "2.0"],
        ["sandbox", "fault", "canary", "--error-rate", "0.3", "--latency-ms", "5"],
        ["sandbox", "fault", "canary", "--clear"],
        ["sandbox", "status"],
    ):
        done = relrun(*args, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    status = json.loads(relrun("sandbox", "status", "--json", env=env).stdout)
    assert status["router_alive"] is True and status["admin_url"].startswith("http://127.0.0.1:")
    assert {s["name"] for s in status["servers"]} == {"stable", "canary"}
    assert status["admin_token_file"].endswith("secrets/admin.token")
    assert relrun("sandbox", "fault", "nope", env=env).returncode == 1
    assert relrun("sandbox", "start", "Bad!", "--version", "1", env=env).returncode == 2
    assert relrun("sandbox", "fault", "canary", "--crash", env=env).returncode == 0
    assert relrun("sandbox", "stop", "canary", env=env).returncode == 0
    assert relrun("sandbox", "down", env=env).returncode == 0
    assert relrun("sandbox", "down", env=env).returncode == 0
    secrets_dir = state_dir / "secrets"
    assert oct(secrets_dir.stat().st_mode & 0o777) == "0o700"
    values = [(secrets_dir / n).read_text().strip() for n in ("jwt.key", "admin.token")]
    values += [u["password"] for u in json.loads((secrets_dir / "users.json").read_text())["users"]]
    for path in secrets_dir.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
    logs = "".join(p.read_text() for p in (state_dir / "logs").iterdir())
    for value in values:
        assert value not in logs and all(value not in out for out in outputs)


def test_loadgen_records_what_users_saw(state_dir: Path) -> None:
    control.up(state_dir, rate=50, loadgen=True)
    control.start_server("canary", "2.0", state_dir)
    admin = control.router_admin(state_dir)
    admin.set_weight("canary", 100)
    log = state_dir / "loadgen.jsonl"
    poll("canary traffic", lambda: summarize(log).served_by.get("2.0", 0) >= 20)
    control.set_fault("canary", error_rate=1.0, state_dir=state_dir)
    poll("injected failures", lambda: summarize(log).injected_failures >= 10)
    control.down(state_dir)
    summary = summarize(log)
    assert summary.lost == 0, summary.lost_reasons
    assert summary.rate_limited == 0 and summary.skipped == 0
    assert summary.served_by["1.0"] > 0 and summary.served_by["2.0"] > 0
    assert sum(b.requests for b in summary.seconds) == summary.requests
    assert summary.first_t is not None and summary.last_t is not None
