"""The load generator: steady, open-loop, realistic traffic through the router.

Run as ``python -m relrun.sandbox.loadgen --state-dir DIR --rate 20``; ``--target URL``
sends the traffic to another entry point instead (e.g. an HAProxy in front of the API).
Requests start on a fixed schedule whether or not earlier ones have answered (open loop:
slow answers do not slow the offered load); at most ``--concurrency`` are in flight,
further ticks are recorded as skipped. Every outcome is appended to ``DIR/loadgen.jsonl``
and flushed at once, so a drill can count what users saw even if the generator is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from relrun.sandbox.layout import Layout, read_json
from relrun.sandbox.serve import announce, run_program
from relrun.sandbox.settings import LOADGEN_USER, load_secrets
from relrun.sandbox.traffic import TrafficRecord, TrafficSummary, summarize

__all__ = ["LoadGenerator", "TrafficRecord", "TrafficSummary", "main", "summarize"]

log = logging.getLogger("relrun.sandbox.loadgen")

# (weight, method, path): a messaging client mostly reads, often posts, probes health.
MIX: tuple[tuple[int, str, str], ...] = (
    (20, "GET", "/health"),
    (40, "POST", "/messages"),
    (40, "GET", "/messages?limit=20"),
)


@dataclass
class LoadGenerator:
    """Open-loop request scheduler writing one JSON line per request.

    Attributes:
        base_url: the router, e.g. ``http://127.0.0.1:PORT``.
        username: demo user to log in as.
        password: its password.
        rate: requests per second offered.
        concurrency: most requests in flight at once.
        timeout_s: a request without a complete answer after this long is lost.
        out: the open traffic log.
    """

    base_url: str
    username: str
    password: str
    rate: float
    concurrency: int
    timeout_s: float
    out: IO[str]
    rng: random.Random = field(default_factory=random.Random)
    _token: str | None = None
    _login: asyncio.Task[str | None] | None = None
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    def _write(self, record: TrafficRecord) -> None:
        self.out.write(record.model_dump_json(exclude_none=True) + "\n")
        self.out.flush()

    async def _request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int | None, Any]:
        sent_at, started = time.time(), time.perf_counter()
        status: int | None = None
        payload: Any = None
        record: dict[str, Any] = {"t": sent_at, "method": method, "path": path}
        try:
            async with session.request(
                method, self.base_url + path, json=body, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
                record.update(
                    status=status,
                    served_by=response.headers.get("X-Served-By"),
                    fault=response.headers.get("X-Fault"),
                )
                with contextlib.suppress(ValueError):
                    payload = json.loads(raw) if raw else None
        except TimeoutError:
            record["error"] = f"timeout: no answer within {self.timeout_s:g} s"
        except aiohttp.ClientError as err:
            record["error"] = f"{type(err).__name__}: {err}"
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self._write(TrafficRecord.model_validate(record))
        return status, payload

    async def _token_now(self, session: aiohttp.ClientSession, stale: str | None) -> str | None:
        """Return a valid token, logging in once however many requests need one."""
        if self._token is not None and self._token != stale:
            return self._token
        if self._login is None or self._login.done():
            self._login = asyncio.create_task(self._log_in(session))
        return await asyncio.shield(self._login)

    async def _log_in(self, session: aiohttp.ClientSession) -> str | None:
        body = {"username": self.username, "password": self.password}
        status, payload = await self._request(session, "POST", "/auth/token", body)
        if status == 200 and isinstance(payload, dict):
            self._token = str(payload["access_token"])
        else:
            self._token = None
        return self._token

    async def one(self, session: aiohttp.ClientSession) -> None:
        """Make one request of the mix (logging in first when there is no token)."""
        _, method, path = self.rng.choices(MIX, weights=[m[0] for m in MIX])[0]
        if path == "/health":
            await self._request(session, method, path)
            return
        token = await self._token_now(session, None)
        if token is None:
            return
        body = {"text": f"hello from the load generator {uuid.uuid4().hex[:8]}"}
        for _attempt in range(2):
            headers = {"Authorization": f"Bearer {token}"}
            if method == "POST":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            status, _ = await self._request(
                session, method, path, body if method == "POST" else None, headers
            )
            if status != 401:
                return
            token = await self._token_now(session, token)  # expired: log in again, once
            if token is None:
                return

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Offer ``rate`` requests per second until ``stop`` is set or ``duration`` ends."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await self._token_now(session, None)
            start = time.monotonic()
            tick = 0
            while not stop.is_set():
                due = start + tick / self.rate
                if duration is not None and due - start >= duration:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    if stop.is_set():
                        break
                tick += 1
                if len(self._in_flight) >= self.concurrency:
                    self._write(
                        TrafficRecord(
                            t=time.time(),
                            method="-",
                            path="-",
                            sent=False,
                            error="skipped: concurrency limit",
                        )
                    )
                    continue
                task = asyncio.create_task(self.one(session))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if self._in_flight:
                # In-flight requests get to finish, so their outcome is recorded.
                await asyncio.wait(self._in_flight, timeout=self.timeout_s)


async def _main(args: argparse.Namespace) -> None:
    layout = Layout.at(args.state_dir)
    if args.target:
        base_url = args.target.rstrip("/")
    else:
        router = read_json(layout.router_file)
        if not isinstance(router, dict):
            raise SystemExit(f"router not announced in {layout.router_file}")
        base_url = f"http://127.0.0.1:{router['port']}"
    password = load_secrets(layout).password(LOADGEN_USER)
    if password is None:
        raise SystemExit(f"no {LOADGEN_USER} user in {layout.users}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    out_path = Path(args.out) if args.out else layout.traffic_log
    with out_path.open("a", encoding="utf-8") as out:
        generator = LoadGenerator(
            base_url=base_url,
            username=LOADGEN_USER,
            password=password,
            rate=args.rate,
            concurrency=args.concurrency,
            timeout_s=args.timeout,
            out=out,
        )
        announce(layout.loadgen_file, rate=args.rate, traffic_log=str(out_path))
        log.info("offering %g req/s to %s", args.rate, base_url)
        await generator.run(stop, args.duration)
    log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and generate load until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m relrun.sandbox.loadgen")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--concurrency", type=int, default=64, help="most in flight")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--out", default=None, help="traffic log (default DIR/loadgen.jsonl)")
    parser.add_argument(
        "--target", default=None, help="base URL to load (default: the sandbox's router)"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.concurrency < 1:
        parser.error("--rate must be > 0 and --concurrency >= 1")
    run_program(lambda: _main(args))


if __name__ == "__main__":
    main()
