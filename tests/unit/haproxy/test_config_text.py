"""Both generated HAProxy configurations carry the settings that make a rollback lossless."""

from __future__ import annotations

from pathlib import Path

from relrun.sandbox import haproxy
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
        assert "{" not in text  # every placeholder was filled
    assert "bind fd@7" in sandbox
    assert "server canary-1 10.231.1.11:0 disabled weight 0" in fleet
