"""JSON shapes of the router admin API, shared by the router and its clients.

``docs/sandbox.md`` documents the same shapes for code that does not import relrun
(the Ansible modules use only urllib).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ServerState = Literal["ready", "drain", "maint"]
"""``ready`` takes requests; ``drain`` takes no new ones (in-flight finish); ``maint`` none."""


class Percentiles(BaseModel):
    """Latency percentiles in milliseconds (None when the window holds no request)."""

    model_config = ConfigDict(extra="forbid")

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class WindowStats(BaseModel):
    """What happened on one server during the last ``seconds``."""

    model_config = ConfigDict(extra="forbid")

    seconds: float
    requests: int = 0
    errors_5xx: int = 0
    error_rate: float = 0.0
    faults: int = 0
    latency_ms: Percentiles = Field(default_factory=Percentiles)


class ServerStats(BaseModel):
    """Counters of one server since the router started (or was reset)."""

    model_config = ConfigDict(extra="forbid")

    requests: int = 0
    responses: dict[str, int] = Field(
        default_factory=lambda: {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    )
    faults: int = 0
    connection_errors: int = 0
    redispatched: int = 0
    in_flight: int = 0
    latency_bounds_ms: list[float] = Field(
        default_factory=list, description="upper bounds of the latency histogram's buckets"
    )
    latency_buckets: list[int] = Field(
        default_factory=list,
        description="responses per latency bucket since start (one more than the bounds: "
        "the last counts responses slower than every bound)",
    )
    window: WindowStats


class ServerView(BaseModel):
    """One server as the admin API shows it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    address: str | None
    weight: int
    state: ServerState
    stats: ServerStats


class ServersReply(BaseModel):
    """Reply of ``GET /admin/servers``."""

    model_config = ConfigDict(extra="forbid")

    servers: list[ServerView]


class ServerUpdate(BaseModel):
    """Body of ``PUT /admin/servers/{name}``: only the fields given change.

    ``address`` is ``"127.0.0.1:PORT"``, or null to forget the address.
    """

    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, min_length=1)
    address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
    weight: int | None = Field(default=None, ge=0, le=1_000_000)
    state: ServerState | None = None


class StatsReply(BaseModel):
    """Reply of ``GET /admin/stats``."""

    model_config = ConfigDict(extra="forbid")

    window_s: float
    servers: dict[str, ServerStats]
    unrouted: int = Field(description="requests answered 503: no eligible server")
    failed: int = Field(description="requests answered 502: every attempt failed")
