"""Settings and secrets shared by the sandbox programs.

Non-secret settings live in ``config.json``; the JWT key, the admin token and the demo
passwords live in ``secrets/`` (0700, files 0600). Programs receive only the state
directory on their command line and read these files themselves, so no secret ever
appears in a process list, an environment dump or a log.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from relrun.errors import InputError
from relrun.sandbox.layout import Layout, read_json, write_json

DEMO_USER = "demo"
LOADGEN_USER = "loadgen"


class UserLimit(BaseModel):
    """Rate limit of one demo user: a token bucket per issued token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    rate_per_s: float = Field(gt=0)
    burst: int = Field(ge=1)


class SandboxConfig(BaseModel):
    """Non-secret knobs of one sandbox, written to ``config.json`` by ``up``.

    Attributes:
        heartbeat_s: interval of ``: heartbeat`` comments on ``/events``.
        max_text_chars: longest message text the API accepts.
        token_ttl_s: lifetime of an access token.
        max_messages: messages kept in memory per API process (oldest dropped).
        stats_window_s: default window of the router's recent statistics.
        upstream_read_timeout_s: the router gives up on a backend silent this long.
        noise_error_rate: background share of user requests answered 500 on every
            version (a flaky shared dependency), before any injected fault.
        noise_latency_ms: median of a background lognormal latency added to every user
            request on every version (0: none).
        noise_latency_sigma: the lognormal's shape (log-scale standard deviation; 1.0
            puts the p95 at about 5x the median, the p99 at about 10x).
        noise_users: whose requests the noise applies to: user traffic (the load
            generator), so the release's API checks and health probes test the code.
        users: the demo users and their rate limits. ``loadgen`` gets a limit far above
            any rate the load generator is asked for, so its traffic never trips it;
            ``demo`` gets a human-sized limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    heartbeat_s: float = Field(default=15.0, gt=0)
    max_text_chars: int = Field(default=1000, ge=1)
    token_ttl_s: int = Field(default=3600, ge=1)
    max_messages: int = Field(default=10_000, ge=1)
    stats_window_s: float = Field(default=10.0, gt=0)
    upstream_read_timeout_s: float = Field(default=60.0, gt=0)
    noise_error_rate: float = Field(default=0.0, ge=0, le=1)
    noise_latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    noise_latency_sigma: float = Field(default=1.0, gt=0, le=5)
    noise_users: tuple[str, ...] = (LOADGEN_USER,)
    users: tuple[UserLimit, ...] = (
        UserLimit(username=DEMO_USER, rate_per_s=10.0, burst=20),
        UserLimit(username=LOADGEN_USER, rate_per_s=5000.0, burst=5000),
    )


class DemoUser(BaseModel):
    """A demo user with its password (stored only in ``secrets/users.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: str


class Secrets(BaseModel):
    """Everything secret of one sandbox, as read from ``secrets/``."""

    model_config = ConfigDict(frozen=True)

    jwt_key: str
    admin_token: str
    users: tuple[DemoUser, ...]

    def password(self, username: str) -> str | None:
        """Return the password of ``username``, or None for an unknown user."""
        for user in self.users:
            if user.username == username:
                return user.password
        return None


def write_settings(layout: Layout, config: SandboxConfig) -> None:
    """Write ``config.json`` and, unless they exist, freshly generated secrets.

    Secrets already present are kept, so a second ``up`` does not invalidate tokens of
    processes still running from the first.

    Args:
        layout: the sandbox.
        config: the settings to write.
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    write_json(layout.config, config.model_dump(mode="json"))
    layout.secrets_dir.mkdir(mode=0o700, exist_ok=True)
    layout.secrets_dir.chmod(0o700)  # mkdir honours umask; force it
    if not layout.jwt_key.exists():
        _write_secret(layout.jwt_key, secrets.token_urlsafe(48))
    if not layout.admin_token.exists():
        _write_secret(layout.admin_token, secrets.token_urlsafe(32))
    if read_json(layout.users) is None:
        users = [
            DemoUser(username=u.username, password=secrets.token_urlsafe(12)).model_dump()
            for u in config.users
        ]
        write_json(layout.users, {"users": users}, mode=0o600)


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)


def load_config(layout: Layout) -> SandboxConfig:
    """Read ``config.json`` (defaults when absent)."""
    data = read_json(layout.config)
    return SandboxConfig.model_validate(data) if data is not None else SandboxConfig()


def load_secrets(layout: Layout) -> Secrets:
    """Read the sandbox secrets.

    Raises:
        FileNotFoundError: the sandbox was never set up.
    """
    users_data = read_json(layout.users)
    if users_data is None:
        raise FileNotFoundError(layout.users)
    return Secrets(
        jwt_key=layout.jwt_key.read_text(encoding="utf-8").strip(),
        admin_token=layout.admin_token.read_text(encoding="utf-8").strip(),
        users=tuple(DemoUser.model_validate(u) for u in users_data["users"]),
    )


def noise_config(error_rate: float, latency_ms: float, **other: float) -> SandboxConfig:
    """A configuration with background noise, from command-line options.

    Raises:
        InputError: a share outside [0, 1] or a negative latency.
    """
    if not 0 <= error_rate <= 1:
        raise InputError(f"--noise-errors takes a share in [0, 1], got {error_rate:g}")
    if not 0 <= latency_ms <= 60_000:
        raise InputError(f"--noise-latency-ms takes 0 to 60000 ms, got {latency_ms:g}")
    return SandboxConfig(noise_error_rate=error_rate, noise_latency_ms=latency_ms, **other)
