from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    DriverError,
    make_driver,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy import (  # noqa: E501
    MAX_BATCH_BYTES,
    HAProxyDriver,
    default_history_dir,
)
from tests.unit.haproxy.fake_runtime import (
    STAT_HEADER,
    STATE_HEADER,
    FakeRuntime,
    stat_row,
    state_row,
)


class Router:
    """The fake HAProxy's state: counters the test moves, replies to set commands."""

    def __init__(self) -> None:
        self.pid = 10
        self.canary = {"h2": 0, "h5": 0, "scur": 0, "rtime": 0, "ttime": 0}
        # relrun_faults stick table: injected failures (gpc0) and delayed answers (gpc1).
        self.injected = {"gpc0": 0, "gpc1": 0}
        self.set_reply = "\n"

    def __call__(self, command: str) -> str:
        if command.startswith("set server"):
            return "".join(self.set_reply for _part in command.split(";"))
        c = self.canary
        info = f"Name: HAProxy\nPid: {self.pid}\nStart_time_sec: {1000 + self.pid}\n\n"
        # A frontend with the backend's name, as real configurations have.
        stat = "\n".join([
            STAT_HEADER,
            stat_row("api", "FRONTEND"),
            stat_row("other", "canary", h2=999),
            stat_row("api", "stable", h2=100),
            stat_row("api", "canary", scur=c["scur"], h2=c["h2"], h5=c["h5"], rtime=c["rtime"],
                     ttime=c["ttime"]),
            stat_row("api", "BACKEND", h2=100 + c["h2"]),
        ]) + "\n\n"
        state = STATE_HEADER + "\n".join([
            state_row("api", 1, "stable", port=8081),
            state_row("api", 2, "canary", port=8082, admin=0x04 | 0x08, weight=7),
        ]) + "\n\n"
        table = (
            "# table: relrun_faults, type: string, size:1024, used:2\n"
            f"0x1: key=api/canary use=0 exp=0 gpc0={self.injected['gpc0']} "
            f"gpc1={self.injected['gpc1']}\n"
            "0x2: key=other/canary use=0 exp=0 gpc0=99 gpc1=99\n\n"
        )
        answers = {"show info": info, "show stat": stat, "show servers": state, "show table": table}
        return "".join(answer for part in command.split(";")
                       for prefix, answer in answers.items() if part.startswith(prefix))


@pytest.fixture
def router(tmp_path: Path) -> Iterator[tuple[Router, FakeRuntime]]:
    state = Router()
    fake = FakeRuntime(tmp_path / "admin.sock", state)
    yield state, fake
    fake.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def driver(fake: FakeRuntime, tmp_path: Path, clock: Clock) -> HAProxyDriver:
    # A new driver per call: each Ansible task is a new process.
    return HAProxyDriver(fake.path, "api", str(tmp_path / "history"), timeout=2, clock=clock)


def test_servers_shape_state_and_window_deltas(router: tuple[Router, FakeRuntime],
                                               tmp_path: Path) -> None:
    state, fake = router
    clock = Clock()
    first = driver(fake, tmp_path, clock).servers(5)
    assert set(first) == {"stable", "canary"}
    canary = first["canary"]
    assert (canary["state"], canary["weight"], canary["address"]) == ("drain", 7, "127.0.0.1:8082")
    assert (canary["requests"], canary["p95_ms"]) == (0, None)  # no history yet: no data
    fake.commands.clear()
    clock.now += 5
    state.canary.update(h2=40, h5=10, scur=3, rtime=250)
    later = driver(fake, tmp_path, clock).servers(5)["canary"]
    assert (later["requests"], later["errors"], later["error_rate"]) == (50, 10, 0.2)
    assert later["in_flight"] == 3
    assert later["p95_ms"] == 250.0
    assert later["window_seconds"] == 5.0
    # One connection per read, four commands in it.
    assert fake.commands == [
        "show info;show stat -1 4 -1;show servers state api;show table relrun_faults"
    ]


def test_routing_reads_the_routing_fields_and_leaves_the_history_alone(
    router: tuple[Router, FakeRuntime], tmp_path: Path
) -> None:
    state, fake = router
    state.canary.update(scur=3)
    d = driver(fake, tmp_path, Clock())
    routing = d.routing()
    assert fake.commands == ["show stat -1 4 -1;show servers state api"]
    assert routing == {
        "stable": {"name": "stable", "address": "127.0.0.1:8081", "weight": 1,
                   "state": "ready", "in_flight": 0},
        "canary": {"name": "canary", "address": "127.0.0.1:8082", "weight": 7,
                   "state": "drain", "in_flight": 3},
    }
    # The same fields servers() gives, without a sample stored.
    assert not (tmp_path / "history").exists()
    full = d.servers(5)
    assert {name: {k: info[k] for k in routing[name]} for name, info in full.items()} == routing
    assert (tmp_path / "history").exists()


def test_injected_failures_and_delays_count_for_their_server(
    router: tuple[Router, FakeRuntime], tmp_path: Path
) -> None:
    """A traffic fault answers for the server: its counters saw 2xx, the table the fault."""
    state, fake = router
    clock = Clock()
    driver(fake, tmp_path, clock).servers(5)
    clock.now += 5
    # 40 answers from the canary, 10 of them replaced by injected errors, 30 delayed by
    # HAProxy after the answer: rtime (to the answer) stays low, ttime shows the delay.
    state.canary.update(h2=40, rtime=2, ttime=1800)
    state.injected.update(gpc0=10, gpc1=30)
    canary = driver(fake, tmp_path, clock).servers(5)["canary"]
    assert (canary["requests"], canary["errors"], canary["faults"]) == (40, 10, 10)
    assert canary["error_rate"] == 0.25
    assert canary["p95_ms"] == 1800.0
    # Without a delay in the window, latency is rtime again (the other backend's
    # entry never counts for api's canary).
    clock.now += 5
    state.canary.update(h2=80)
    state.injected.update(gpc0=10, gpc1=30)
    canary = driver(fake, tmp_path, clock).servers(5)["canary"]
    assert (canary["errors"], canary["faults"], canary["p95_ms"]) == (0, 0, 2.0)


def test_reload_of_haproxy_is_a_counter_reset(router: tuple[Router, FakeRuntime],
                                              tmp_path: Path) -> None:
    state, fake = router
    clock = Clock()
    state.canary.update(h2=500)
    driver(fake, tmp_path, clock).servers(3)
    clock.now += 3
    state.pid = 11
    state.canary.update(h2=520)
    assert driver(fake, tmp_path, clock).servers(3)["canary"]["requests"] == 520


def test_set_commands_and_refusals(router: tuple[Router, FakeRuntime], tmp_path: Path) -> None:
    state, fake = router
    d = driver(fake, tmp_path, Clock())
    d.set_weight("canary", 256)
    d.set_state("canary", "maint")
    assert fake.commands == [
        "set server api/canary weight 256", "set server api/canary state maint"]
    with pytest.raises(DriverError, match="0 to 256"):
        d.set_weight("canary", 257)
    with pytest.raises(DriverError, match="unknown server state"):
        d.set_state("canary", "up")
    state.set_reply = "No such server.\n\n"
    with pytest.raises(DriverError, match="No such server"):
        d.set_weight("nope", 1)
    with pytest.raises(DriverError, match="refused address"):
        d.set_address("nope", "127.0.0.1", 80)
    state.set_reply = "IP changed from '127.0.0.1' to '10.0.0.2', port changed from '0' to '80'\n\n"
    d.set_address("canary", "10.0.0.2", 80)


def test_changes_go_in_one_session_and_each_refusal_is_named(
        router: tuple[Router, FakeRuntime], tmp_path: Path) -> None:
    state, fake = router
    d = driver(fake, tmp_path, Clock())
    d.apply([("stable", "state", "ready"), ("stable", "weight", 1), ("canary", "weight", 0)])
    assert fake.commands == [
        "set server api/stable state ready;set server api/stable weight 1;"
        "set server api/canary weight 0"]
    # Checked before anything is sent: a bad change sends none of the others.
    with pytest.raises(DriverError, match="0 to 256"):
        d.apply([("stable", "weight", 1), ("canary", "weight", 300)])
    with pytest.raises(DriverError, match="weight or state"):
        d.apply([("stable", "addr", "10.0.0.1")])
    assert len(fake.commands) == 1
    state.set_reply = "No such server.\n\n"
    with pytest.raises(DriverError, match=r"weight 1 for api/stable: No such server.; "
                       r"state drain for api/canary: No such server."):
        d.apply([("stable", "weight", 1), ("canary", "state", "drain")])


def test_a_long_batch_is_split_below_haproxys_line_buffer(
        router: tuple[Router, FakeRuntime], tmp_path: Path) -> None:
    _state, fake = router
    d = driver(fake, tmp_path, Clock())
    changes = [(f"s{i}", "weight", i % 257) for i in range(1000)]
    d.apply(changes)
    assert len(fake.commands) > 1
    assert all(len(line) <= MAX_BATCH_BYTES for line in fake.commands)
    sent = [part for line in fake.commands for part in line.split(";")]
    assert sent == [f"set server api/s{i} weight {i % 257}" for i in range(1000)]


def test_make_driver_reads_the_shared_connection_dict(tmp_path: Path) -> None:
    connection = {"state_dir": "", "socket": str(tmp_path / "x.sock"), "backend": "api",
                  "history_dir": "", "timeout": "3"}
    made = make_driver("haproxy", connection)
    assert isinstance(made, HAProxyDriver)
    assert made.timeout == 3.0
    with pytest.raises(DriverError, match="relrun_haproxy_socket"):
        make_driver("haproxy", {**connection, "socket": ""})
    with pytest.raises(DriverError, match="relrun_sandbox_state_dir"):
        make_driver("sandbox", connection)
    with pytest.raises(DriverError, match="invalid HAProxy backend"):
        make_driver("haproxy", {**connection, "backend": "api;shutdown"})


def test_default_history_dir_is_per_socket() -> None:
    assert default_history_dir("/a.sock") != default_history_dir("/b.sock")
    assert "relrun-haproxy-" in default_history_dir("/a.sock")
