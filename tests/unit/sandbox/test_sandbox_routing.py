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


def test_prometheus_text_has_counters_per_status_class_and_a_histogram_per_server() -> None:
    from relrun.sandbox.routing import LATENCY_BOUNDS_MS, prometheus_text

    table = servers()
    stable, canary = table
    stable.recorder.response(200, 1.0, False)
    stable.recorder.response(200, 3000.0, False)
    canary.recorder.response(503, 0.1, True)
    canary.recorder.connection_error()
    text = prometheus_text(table, unrouted=2, failed=1)
    lines = text.splitlines()
    assert text.endswith("\n")
    assert 'relrun_router_requests_total{server="stable",role="stable",code="2xx"} 2' in lines
    assert 'relrun_router_requests_total{server="canary",role="canary",code="5xx"} 1' in lines
    assert 'relrun_router_requests_total{server="canary",role="canary",code="error"} 1' in lines
    assert "relrun_router_unrouted_total 2" in lines
    stable_bucket = 'relrun_router_request_duration_seconds_bucket{server="stable"'
    buckets = [ln for ln in lines if ln.startswith(stable_bucket)]
    assert len(buckets) == len(LATENCY_BOUNDS_MS) + 1
    values = [int(ln.rsplit(" ", 1)[1]) for ln in buckets]
    assert values == sorted(values)  # cumulative in le, as Prometheus reads them
    assert buckets[-1].endswith('le="+Inf"} 2')
    # 1 ms is at or below the 0.001 s bound; 3 s is not.
    one_ms = next(ln for ln in buckets if 'le="0.001"' in ln)
    assert one_ms.endswith(" 1")
    assert 'relrun_router_request_duration_seconds_count{server="stable",role="stable"} 2' in lines
    total = 'relrun_router_request_duration_seconds_sum{server="stable",role="stable"} 3.001'
    assert total in lines
    for line in lines:
        assert line.startswith("#") or line.count(" ") == 1, line
