"""Benchmark the sandbox router: added latency, throughput, redispatch-free weight changes.

Run: ``uv run python bench/bench_router.py`` (loopback only, about a minute). Prints the
median of several runs of:

- added latency: sequential GET /health direct to the API vs through the router;
- sustained throughput through the router (closed loop, 32 concurrent clients);
- 200 req/s open loop through the router while the weights change every second:
  added p99 against the same load sent directly, and lost requests;
- the load generator's achieved rate against the requested one.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from relrun.sandbox import control
from relrun.sandbox.routing import percentile
from relrun.sandbox.traffic import read_records, summarize

RUNS = 3


async def sequential(url: str, n: int) -> list[float]:
    async with aiohttp.ClientSession() as session:
        latencies = []
        for _ in range(n):
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                assert response.status == 200
            latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


async def closed_loop(url: str, clients: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                await response.read()
            done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as s:
        await asyncio.gather(*(client(s) for _ in range(clients)))
    return done / seconds


async def open_loop(
    url: str, rate: float, seconds: float, admin: control.RouterAdmin | None = None
) -> tuple[list[float], int]:
    """Offer ``rate`` req/s; return sorted latencies and the number of failed requests."""
    latencies: list[float] = []
    failed = 0
    weights = [(100, 0), (75, 25), (50, 50), (25, 75), (0, 100), (50, 50)]

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            async with session.get(url) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        latencies.append((time.perf_counter() - started) * 1000)
        failed += not ok

    async def shift() -> None:
        assert admin is not None
        for second in range(int(seconds)):
            stable, canary = weights[second % len(weights)]
            await asyncio.to_thread(admin.set_weight, "stable", stable)
            await asyncio.to_thread(admin.set_weight, "canary", canary)
            await asyncio.sleep(1)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        shifter = asyncio.create_task(shift()) if admin else None
        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
        if shifter:
            shifter.cancel()
    return sorted(latencies), failed


def loadgen_rate(state_dir: Path, rate: float, seconds: float) -> float:
    out = state_dir / f"bench-loadgen-{time.monotonic_ns()}.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "relrun.sandbox.loadgen",
            "--state-dir",
            str(state_dir),
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--out",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    summary = summarize(out)
    assert summary.lost == 0, summary.lost_reasons
    # Requests actually sent: not the skipped ticks, not the generator's own login.
    sent = sorted(r.t for r in read_records(out) if r.sent and r.path != "/auth/token")
    assert len(sent) >= 2 and sent[-1] > sent[0], "too few requests to measure a rate"
    # n sends span n - 1 intervals of the schedule.
    return (len(sent) - 1) / (sent[-1] - sent[0])


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="relrun-bench-") as tmp:
        state_dir = Path(tmp)
        try:
            st = control.up(state_dir, loadgen=False)
            control.start_server("canary", "2.0", state_dir)
            admin = control.router_admin(state_dir)
            stable = next(s for s in st.servers if s.name == "stable")
            direct, routed = f"{stable.url}/health", f"{st.router_url}/health"
            asyncio.run(sequential(routed, 200))  # warm up both paths
            asyncio.run(sequential(direct, 200))

            seq: dict[str, list[tuple[float, float]]] = {"direct": [], "router": []}
            for _ in range(RUNS):
                for name, url in (("direct", direct), ("router", routed)):
                    lat = asyncio.run(sequential(url, 1000))
                    seq[name].append((percentile(lat, 50) or 0, percentile(lat, 99) or 0))
            print("sequential GET /health, 1000 requests x", RUNS, "runs (median, ms):")
            for name in ("direct", "router"):
                p50 = med([r[0] for r in seq[name]])
                p99 = med([r[1] for r in seq[name]])
                print(f"  {name:7s} p50 {p50:6.2f}  p99 {p99:6.2f}")
            added = [
                med([r[i] for r in seq["router"]]) - med([r[i] for r in seq["direct"]])
                for i in (0, 1)
            ]
            print(f"  added   p50 {added[0]:6.2f}  p99 {added[1]:6.2f}")

            tput = [asyncio.run(closed_loop(routed, 32, 3.0)) for _ in range(RUNS)]
            tput_direct = [asyncio.run(closed_loop(direct, 32, 3.0)) for _ in range(RUNS)]
            print(
                f"throughput, 32 clients, closed loop (median req/s): router {med(tput):.0f}"
                f", direct {med(tput_direct):.0f}"
            )

            admin.reset_stats()
            rows = []
            for _ in range(RUNS):
                d_lat, d_failed = asyncio.run(open_loop(direct, 200, 5))
                r_lat, r_failed = asyncio.run(open_loop(routed, 200, 6, admin))
                rows.append(
                    (
                        percentile(d_lat, 99) or 0,
                        percentile(r_lat, 99) or 0,
                        percentile(r_lat, 50) or 0,
                        d_failed + r_failed,
                    )
                )
            stats = admin.stats(window=300)
            print("200 req/s open loop, weights changing every second (median of runs):")
            print(
                f"  direct p99 {med([r[0] for r in rows]):.2f} ms, router p50 "
                f"{med([r[2] for r in rows]):.2f} ms, router p99 {med([r[1] for r in rows]):.2f}"
                f" ms, added p99 {med([r[1] - r[0] for r in rows]):.2f} ms"
            )
            print(
                f"  lost requests: {sum(r[3] for r in rows)} (router failed {stats.failed}, "
                f"unrouted {stats.unrouted})"
            )

            admin.set_weight("stable", 100)
            admin.set_weight("canary", 0)
            for rate in (20.0, 200.0):
                achieved = [loadgen_rate(state_dir, rate, 4.0) for _ in range(RUNS)]
                print(
                    f"load generator: requested {rate:.0f} req/s, achieved "
                    f"{med(achieved):.1f} req/s (median of {RUNS})"
                )
        finally:
            control.down(state_dir)


if __name__ == "__main__":
    main()
