from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    DriverError,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_runtime import (  # noqa: E501
    admin_state,
    check_name,
    parse_address,
    parse_info,
    parse_servers_state,
    parse_stat_csv,
    run_command,
    server_address,
)
from tests.unit.haproxy.fake_runtime import STATE_HEADER, FakeRuntime, state_row


def test_stat_csv_is_read_by_header_name_whatever_the_column_order() -> None:
    a = "# pxname,svname,scur,stot,\napi,stable,2,10,\napi,canary,0,5,\n\n"
    b = "# svname,stot,pxname,extra,scur,\nstable,10,api,x,2,\ncanary,5,api,y,0,\n"
    rows_a, rows_b = parse_stat_csv(a), parse_stat_csv(b)
    assert [(r["svname"], r["scur"], r["stot"]) for r in rows_a] == [
        ("stable", "2", "10"), ("canary", "0", "5")]
    assert [(r["svname"], r["scur"], r["stot"]) for r in rows_b] == [
        ("stable", "2", "10"), ("canary", "0", "5")]
    # The trailing comma of HAProxy's header makes no empty-named column.
    assert "" not in rows_a[0]


def test_an_error_message_instead_of_a_table_is_a_driver_error() -> None:
    with pytest.raises(DriverError, match="Permission denied"):
        parse_stat_csv("Permission denied.\n\n")
    with pytest.raises(DriverError, match="No such backend"):
        parse_servers_state("No such backend.\n\n")


def test_servers_state_rows_by_header() -> None:
    text = STATE_HEADER + state_row("api", 1, "stable", port=8081) + "\n" + state_row(
        "api", 2, "canary", port=0, admin=5, weight=0) + "\n\n"
    rows = parse_servers_state(text)
    got = [(r["srv_name"], r["srv_port"], r["srv_admin_state"], r["srv_uweight"]) for r in rows]
    assert got == [("stable", "8081", "0", "1"), ("canary", "0", "5", "0")]


@pytest.mark.parametrize(("bits", "state"), [
    (0x00, "ready"), (0x04, "ready"),  # CMAINT alone: configured disabled, since enabled
    (0x01, "maint"), (0x05, "maint"), (0x02, "maint"), (0x20, "maint"), (0x40, "maint"),
    (0x08, "drain"), (0x0C, "drain"), (0x10, "drain"), (0x09, "maint"),
])
def test_admin_state_bits(bits: int, state: str) -> None:
    assert admin_state(bits) == state


def test_server_address_placeholder_is_unregistered() -> None:
    assert server_address("127.0.0.1", "8081") == "127.0.0.1:8081"
    assert server_address("127.0.0.1", "0") is None
    assert server_address("0.0.0.0", "8081") is None
    assert server_address("-", "0") is None
    assert server_address("::1", "80") == "[::1]:80"


def test_parse_info_and_address_forms() -> None:
    assert parse_info("Name: HAProxy\nPid: 42\nStart_time_sec: 1700000000\n") == {
        "Name": "HAProxy", "Pid": "42", "Start_time_sec": "1700000000"}
    assert parse_address("/run/haproxy/admin.sock") == (socket.AF_UNIX, "/run/haproxy/admin.sock")
    assert parse_address("unix@/x.sock") == (socket.AF_UNIX, "/x.sock")
    assert parse_address("127.0.0.1:9999") == (socket.AF_INET, ("127.0.0.1", 9999))
    assert parse_address("ipv4@10.0.0.5:9999") == (socket.AF_INET, ("10.0.0.5", 9999))
    with pytest.raises(DriverError, match="relrun_haproxy_socket"):
        parse_address("")


def test_names_that_could_inject_commands_are_refused() -> None:
    assert check_name("server", "canary-2.eu") == "canary-2.eu"
    for bad in ("a;shutdown sessions", "a b", "a\nb", ""):
        with pytest.raises(DriverError):
            check_name("server", bad)


def test_run_command_reads_until_haproxy_closes(tmp_path: Path) -> None:
    fake = FakeRuntime(tmp_path / "s", lambda c: "x" * 200_000 + "\n\n")
    try:
        assert len(run_command(fake.path, "show stat", 2.0)) == 200_002
        assert fake.commands == ["show stat"]
    finally:
        fake.stop()


def test_run_command_is_bounded_when_the_socket_never_closes(tmp_path: Path) -> None:
    fake = FakeRuntime(tmp_path / "s", lambda c: "partial", close=False)
    try:
        started = time.monotonic()
        with pytest.raises(DriverError, match="no complete answer"):
            run_command(fake.path, "show stat", 0.5)
        assert time.monotonic() - started < 2.0
    finally:
        fake.stop()


def test_run_command_tcp_form_and_connection_refused() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    import threading

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(100)
        conn.sendall(b"Pid: 7\n\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    assert run_command(f"127.0.0.1:{port}", "show info", 2.0) == "Pid: 7\n\n"
    thread.join()
    server.close()
    with pytest.raises(DriverError, match="failed"):
        run_command(f"127.0.0.1:{port}", "show info", 1.0)
