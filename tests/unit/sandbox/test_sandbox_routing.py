from __future__ import annotations

import random
from collections import Counter

from relrun.sandbox.models import ServerUpdate
from relrun.sandbox.routing import Recorder, Server, choose, percentile


def servers() -> list[Server]:
    return [
        Server("stable", "stable", "127.0.0.1:1", 75, "ready"),
        Server("canary", "canary", "127.0.0.1:2", 25, "ready"),
    ]


def test_choice_is_proportional_to_weight() -> None:
    table, rng = servers(), random.Random(7)
    picks = Counter(choose(table, rng).name for _ in range(20_000))  # type: ignore[union-attr]
    assert 0.23 < picks["canary"] / 20_000 < 0.27


def test_ineligible_and_excluded_servers_are_never_chosen() -> None:
    rng = random.Random(1)
    for state in ("drain", "maint"):
        table = servers()
        table[1].state = state  # type: ignore[assignment]
        assert {choose(table, rng).name for _ in range(200)} == {"stable"}  # type: ignore[union-attr]
    table = servers()
    table[0].address = None
    assert choose(table, rng, frozenset({"canary"})) is None
    table = servers()
    table[0].weight = table[1].weight = 0
    assert choose(table, rng) is None


def test_update_changes_only_given_fields_and_null_clears_address() -> None:
    server = Server("canary", "canary", "127.0.0.1:2", 25, "ready")
    server.apply(ServerUpdate(weight=50))
    assert (server.weight, server.state, server.address) == (50, "ready", "127.0.0.1:2")
    server.apply(ServerUpdate.model_validate({"address": None, "state": "maint"}))
    assert (server.address, server.state) == (None, "maint")


def test_recorder_window_statistics() -> None:
    now = [0.0]
    recorder = Recorder(clock=lambda: now[0])
    for i in range(100):
        now[0] = i * 0.1
        recorder.response(200 if i % 10 else 500, float(i), fault=i % 20 == 0)
    recorder.connection_error()
    snap = recorder.snapshot(window_s=5.0)
    assert snap.requests == 101 and snap.responses == {"2xx": 90, "3xx": 0, "4xx": 0, "5xx": 10}
    assert snap.faults == 5 and snap.connection_errors == 1
    assert snap.window.requests == 52  # 51 samples from t=4.9 .. 9.9, plus the error
    assert snap.window.errors_5xx == 6  # 50, 60, 70, 80, 90 and the connection error
    assert snap.window.latency_ms.p50 == 74.0 and snap.window.latency_ms.p99 == 99.0
    assert Recorder().snapshot(10).window.latency_ms.p50 is None


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (
        50.0,
        95.0,
        99.0,
    )
    assert percentile([], 50) is None
