"""Both generated HAProxy configurations carry the settings that make a rollback lossless."""

from __future__ import annotations

import re
from pathlib import Path

from relrun.sandbox import haproxy, haproxy_faults
from relrun.testenv import lb


def test_sandbox_and_fleet_configs_share_the_lossless_defaults() -> None:
    sandbox = haproxy.config_text(Path("/state"), "/state/admin.sock", 8080, "api", 7)
    fleet = lb.config_text(
        "e1",
        "10.231.1.2",
        Path("/run/s"),
        "api",
        {"stable-1": "10.231.1.11:8080"},
        {"canary-1": "10.231.1.11"},
    )
    for text in (sandbox, fleet):
        assert "option redispatch" in text
        assert "retry-on conn-failure empty-response response-timeout" in text
        # Every placeholder was filled (HAProxy's own braces are ACL conditions: `{ … }`).
        assert not re.search(r"\{[a-z_]+\}", text), text
        # Both can inject traffic faults: the Lua actions, the map, the counting table.
        assert f"lua-load {haproxy_faults.LUA_FILE}" in text
        assert "backend relrun_faults" in text
        assert "http-response lua.relrun_fault" in text
    assert "map(/state/relrun-faults.map)" in sandbox
    assert "map(/run/relrun-faults.map)" in fleet
    assert "bind fd@7" in sandbox
    assert "server canary-1 10.231.1.11:0 disabled weight 0" in fleet


def test_docs_give_the_fault_fragment_the_set_ups_use() -> None:
    """docs/haproxy.md's fragment is the generated one, line for line."""
    docs = (Path(__file__).resolve().parents[3] / "docs" / "haproxy.md").read_text()
    rules = haproxy_faults.backend_rules(Path("/etc/haproxy/relrun-faults.map"))
    for line in [*rules.splitlines(), *haproxy_faults.table_section().splitlines()]:
        assert line in docs, line
    assert haproxy_faults.global_lines(Path("/usr/share/relrun/relrun-faults.lua")) in docs


def test_the_sandbox_exporter_frontend_is_there_only_when_asked_for() -> None:
    plain = haproxy.config_text(Path("/state"), "/state/admin.sock", 8080, "api", 7)
    assert "prometheus-exporter" not in plain
    text = haproxy.config_text(Path("/state"), "/state/admin.sock", 8080, "api", 7, 9)
    assert "bind fd@9\n    http-request use-service prometheus-exporter if { path /metrics }" \
        in text
    assert not re.search(r"\{[a-z_]+\}", text), text
