"""The Prometheus metric provider against a fake of Prometheus' HTTP API on loopback."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    MetricsUnavailable,
    make_metrics,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.prometheus import (  # noqa: E501
    PrometheusProvider,
    parse_response,
    promql_duration,
    render_query,
)

QUERIES = {
    "requests": 'sum(req_total{server="${server}"})',
    "errors": 'sum(req_total{server="${server}",code="5xx"})',
    "latency_buckets": 'sum by (le) (lat_bucket{server="${server}"})',
}
NOW = 1_700_000_000.0


def vector(*samples: tuple[dict[str, str], float]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [NOW, str(v)]} for m, v in samples],
        },
    }


Answer = Callable[[str, float], tuple[int, dict[str, Any] | bytes]]


class FakePrometheus:
    """Answers /api/v1/query with ``answer(query, time)``; records what it was asked."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.asked: list[tuple[str, float, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.asked.append((params["query"], float(params["time"]), dict(self.headers)))
                status, body = fake.answer(params["query"], float(params["time"]))
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Callable[[Answer], FakePrometheus]]:
    started: list[FakePrometheus] = []

    def start(answer: Answer) -> FakePrometheus:
        started.append(FakePrometheus(answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def provider(url: str, **kwargs: Any) -> PrometheusProvider:
    return PrometheusProvider(
        url, QUERIES, {"canary": "canary", "stable": "stable"}, clock=lambda: NOW, **kwargs
    )


def counters(query: str, at: float) -> tuple[int, dict[str, Any]]:
    """Canary: 100 requests now, 60 five seconds ago; 10 errors now, 2 then; a histogram."""
    now = at == NOW
    if "lat_bucket" in query:
        if 'server="canary"' not in query:
            return 200, vector()
        cumulative = (
            [(0.005, 50), (0.1, 90), ("+Inf", 100)]
            if now
            else [(0.005, 40), (0.1, 60), ("+Inf", 60)]
        )
        return 200, vector(*(({"le": str(le)}, n) for le, n in cumulative))
    if 'code="5xx"' in query:
        return 200, vector(({}, 10 if now else 2)) if "canary" in query else vector()
    return 200, vector(({}, (100 if now else 60) if "canary" in query else 500))


def test_counts_are_cumulative_now_and_the_window_is_now_minus_window_ago(fake: Any) -> None:
    server = fake(counters)
    got = provider(server.url).servers(5)
    canary = got["canary"]
    assert (canary["total_requests"], canary["total_errors"]) == (100, 10)
    assert (canary["requests"], canary["errors"]) == (40, 8)
    assert canary["error_rate"] == 0.2
    # Buckets become per-bucket counts in ms, with one more for the rest.
    assert canary["latency"] == {"kind": "buckets", "bounds": [5.0, 100.0], "counts": [50, 40, 10]}
    # In the window: 10 at or below 5 ms, 20 up to 100 ms, 10 above: p95 is above the
    # highest bound, reported as that bound.
    assert canary["p95_ms"] == 100.0
    # No error series is zero errors; no histogram is no latency.
    assert (got["stable"]["total_errors"], got["stable"]["latency"]) == (0, None)
    times = sorted({at for _, at, _ in server.asked})
    assert times == [NOW - 5, NOW]
    assert {q for q, _, _ in server.asked} >= {
        'sum(req_total{server="canary"})',
        'sum(req_total{server="stable",code="5xx"})',
    }


def test_variables_are_escaped_for_a_promql_string() -> None:
    values = {"server": 'a"b\\c', "role": "canary", "backend": "api", "window": "5s"}
    assert render_query('x{s="${server}",r="${role}"}[${window}]', values) == (
        'x{s="a\\"b\\\\c",r="canary"}[5s]'
    )
    with pytest.raises(MetricsUnavailable, match=r"\$\{host\} is unknown"):
        render_query("x{h='${host}'}", values)
    assert (promql_duration(5), promql_duration(1.5), promql_duration(0.25)) == (
        "5s",
        "1500ms",
        "250ms",
    )


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"},
            "refused query 'q': bad_data: parse error at char 4",
        ),
        (502, b"<html>bad gateway</html>", "HTTP 502 without a JSON body"),
        (
            200,
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "must return an instant vector or a scalar, got matrix",
        ),
        (
            200,
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [NOW, "NaN"]}]},
            },
            "returned NaN, not a count",
        ),
    ],
)
def test_bad_answers_are_no_data_with_the_reason(status: int, body: Any, message: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(MetricsUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_response(status, raw, "q")


def test_a_scalar_is_one_sample() -> None:
    body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [NOW, "7"]}})
    assert parse_response(200, body.encode(), "q") == [({}, 7.0)]


def test_no_request_series_is_no_data_and_several_are_refused(fake: Any) -> None:
    empty = fake(lambda q, at: (200, vector()))
    with pytest.raises(MetricsUnavailable, match=r"returned no series .*or vector\(0\)"):
        provider(empty.url).servers(5)
    many = fake(lambda q, at: (200, vector(({"a": "1"}, 1), ({"a": "2"}, 2))))
    with pytest.raises(MetricsUnavailable, match=r"returned 2 series; wrap it in sum"):
        provider(many.url).servers(5)


def test_a_refused_connection_and_a_silent_server_are_no_data() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MetricsUnavailable, match="Prometheus did not answer"):
        provider(f"http://127.0.0.1:{port}", timeout=1).servers(5)
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(MetricsUnavailable, match="did not answer within"):
            provider(url, timeout=0.3).servers(5)


def test_auth_is_read_from_the_referenced_place_and_sent(
    fake: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    server = fake(counters)
    monkeypatch.setenv("PROM_TOKEN", "s3cr3t-token")
    settings = {"url": server.url, "queries": QUERIES, "auth": {"token_env": "PROM_TOKEN"}}
    make_metrics("prometheus", settings, {"canary": "canary"}).servers(5)
    assert server.asked[-1][2]["Authorization"] == "Bearer s3cr3t-token"
    (tmp_path / "pw").write_text("hunter2\n")
    settings["auth"] = {"username": "relrun", "password_file": str(tmp_path / "pw")}
    make_metrics("prometheus", settings, {"canary": "canary"}).servers(5)
    expected = base64.b64encode(b"relrun:hunter2").decode()
    assert server.asked[-1][2]["Authorization"] == f"Basic {expected}"
    settings["auth"] = {"token_env": "NOT_SET_ANYWHERE"}
    with pytest.raises(MetricsUnavailable, match="NOT_SET_ANYWHERE is not set") as err:
        make_metrics("prometheus", settings, {"canary": "canary"})
    assert "s3cr3t" not in str(err.value)


def test_bad_settings_are_refused_before_any_query() -> None:
    with pytest.raises(MetricsUnavailable, match="unknown metric provider 'graphite'"):
        make_metrics("graphite", {}, {})
    with pytest.raises(MetricsUnavailable, match="must be http"):
        make_metrics("prometheus", {"url": "ftp://x", "queries": QUERIES}, {})
    with pytest.raises(MetricsUnavailable, match="needs a `errors` query"):
        make_metrics("prometheus", {"url": "http://x", "queries": {"requests": "r"}}, {})
