"""Your application's command line in the sandbox: only the three placeholders change."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from relrun.runbook.load_models import SandboxApp
from relrun.sandbox.appserver import command_line, free_port


def test_placeholders_are_replaced_and_nothing_else() -> None:
    argv = ["python3", "app.py", "--port={port}", "--tag", "{version}-{name}", "{other}", "$PORT"]
    assert command_line(argv, 8123, "2.0", "canary") == [
        "python3", "app.py", "--port=8123", "--tag", "2.0-canary", "{other}", "$PORT"
    ]


def test_free_port_is_an_os_chosen_loopback_port() -> None:
    assert 1024 <= free_port() <= 65535


def test_app_needs_a_command_and_an_absolute_health_path() -> None:
    with pytest.raises(ValidationError):
        SandboxApp(stable=[])
    with pytest.raises(ValidationError):
        SandboxApp(stable=["app"], health_path="healthz")
    assert SandboxApp(stable=["app"]).health_path == "/health"
