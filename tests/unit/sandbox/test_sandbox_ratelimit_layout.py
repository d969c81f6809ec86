from __future__ import annotations

import stat
from pathlib import Path

import pytest

from relrun.sandbox.layout import Layout, default_state_dir, write_json
from relrun.sandbox.ratelimit import RateLimiter
from relrun.sandbox.settings import SandboxConfig, load_config, load_secrets, write_settings


def test_bucket_allows_burst_then_asks_to_retry() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.check("t", rate=2, burst=3) for _ in range(3)] == [0, 0, 0]
    assert limiter.check("t", rate=2, burst=3) == 1
    assert limiter.check("other", rate=2, burst=3) == 0  # per token
    now[0] = 0.5
    assert limiter.check("t", rate=2, burst=3) == 0  # refilled one token
    assert limiter.check("slow", rate=0.1, burst=1) == 0
    assert limiter.check("slow", rate=0.1, burst=1) == 10


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELRUN_SANDBOX_DIR", str(tmp_path / "x"))
    assert default_state_dir() == tmp_path / "x"
    monkeypatch.delenv("RELRUN_SANDBOX_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state" / "relrun" / "sandbox"
    assert Layout.at(None).root == default_state_dir()


def test_secrets_are_private_and_kept_across_setups(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "sb")
    write_settings(layout, SandboxConfig(heartbeat_s=1))
    first = load_secrets(layout)
    for path in (layout.jwt_key, layout.admin_token, layout.users):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.secrets_dir.stat().st_mode) == 0o700
    write_settings(layout, SandboxConfig(heartbeat_s=2))
    assert load_secrets(layout) == first
    assert load_config(layout).heartbeat_s == 2
    assert {u.username for u in first.users} == {"demo", "loadgen"}
    assert first.password("nobody") is None


def test_write_json_is_atomic_and_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_json(target, {"x": 1}, mode=0o600)
    assert target.read_text().strip().startswith("{")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]
