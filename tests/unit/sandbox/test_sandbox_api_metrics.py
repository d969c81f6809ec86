"""The demo API's ``GET /metrics``: Prometheus' text format 0.0.4, parsed line by line."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from relrun.sandbox.api import ApiState, build_app
from relrun.sandbox.appmetrics import AppMetrics
from relrun.sandbox.serve import start_site
from relrun.sandbox.settings import DemoUser, SandboxConfig, Secrets

SECRETS = Secrets(
    jwt_key="k" * 32, admin_token="a" * 32, users=(DemoUser(username="demo", password="pw"),)
)
SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$'
)
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def parse(text: str) -> tuple[dict[str, str], list[Sample]]:
    """The families' TYPEs and every sample; fails on any line the format does not allow."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helped: set[str] = set()
    samples: list[Sample] = []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, f"second HELP for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}, line
            assert name not in types, f"second TYPE for {name}"
            assert not any(s[0].startswith(name) for s in samples), f"TYPE after {name}'s samples"
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert family in types or name in types, f"{name} has no TYPE line"
            assert family in helped or name in helped, f"{name} has no HELP line"
            samples.append((name, dict(LABEL.findall(labels or "")), float(value)))
    return types, samples


def check_histogram(samples: list[Sample], family: str) -> list[tuple[float, float]]:
    """Its (le, count) pairs, after checking cumulativeness and +Inf == _count."""
    buckets = [(float(lab["le"]), v) for n, lab, v in samples if n == f"{family}_bucket"]
    bounds = [b for b, _ in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf"), bounds
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), f"buckets not cumulative: {counts}"
    (count,) = [v for n, _, v in samples if n == f"{family}_count"]
    assert counts[-1] == count
    assert [v for n, _, v in samples if n == f"{family}_sum"], "no _sum"
    return buckets


def test_an_empty_exposition_is_well_formed() -> None:
    types, samples = parse(AppMetrics("1.0").text())
    assert types == {"http_requests_total": "counter", "http_request_duration_seconds": "histogram"}
    assert check_histogram(samples, "http_request_duration_seconds")[-1] == (float("inf"), 0)


def test_the_version_label_is_escaped() -> None:
    recorder = AppMetrics('2.0"\\\nx')
    recorder.observe(200, 0.01)
    _, samples = parse(recorder.text())
    assert {lab["version"] for _, lab, _ in samples} == {'2.0\\"\\\\\\nx'}


def scrape_after(requests: int, fault: dict[str, object] | None) -> str:
    """/metrics of a fresh API after ``requests`` GET /health (a fault set first), scraped twice."""

    async def scenario() -> str:
        state = ApiState(version="2.0", config=SandboxConfig(), secrets=SECRETS)
        runner, port = await start_site(build_app(state), shutdown_timeout=0.1)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                if fault is not None:
                    admin = {"X-Admin-Token": "a" * 32}
                    async with session.post(f"{url}/admin/fault", json=fault, headers=admin) as r:
                        assert r.status == 200
                for _ in range(requests):
                    async with session.get(f"{url}/health") as response:
                        await response.read()
                async with session.get(f"{url}/messages") as response:  # no token: 401
                    await response.read()  # (or the fault's 500)
                async with session.get(f"{url}/metrics") as response:
                    assert response.status == 200
                async with session.get(f"{url}/metrics") as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    return await response.text()
        finally:
            await runner.cleanup()

    return asyncio.run(scenario())


def test_requests_are_counted_by_status_class_with_their_latency_not_the_scrapes() -> None:
    types, samples = parse(scrape_after(20, None))
    assert types["http_requests_total"] == "counter"
    counts = {lab["status"]: v for n, lab, v in samples if n == "http_requests_total"}
    # 20 health checks and one 401; the two scrapes are not traffic.
    assert counts == {"2xx": 20, "4xx": 1}
    assert {lab["version"] for _, lab, _ in samples} == {"2.0"}
    buckets = check_histogram(samples, "http_request_duration_seconds")
    assert buckets[-1][1] == 21


def test_injected_faults_show_in_the_apps_own_metrics() -> None:
    _, samples = parse(scrape_after(10, {"error_rate": 1.0, "latency_ms": 30}))
    counts = {lab["status"]: v for n, lab, v in samples if n == "http_requests_total"}
    assert counts == {"2xx": 1, "5xx": 11}  # the admin call; the fault answers even the 401
    buckets = dict(check_histogram(samples, "http_request_duration_seconds"))
    assert buckets[0.025] <= 1  # at most the admin call was faster than the injected 30 ms
    assert buckets[float("inf")] == 12
