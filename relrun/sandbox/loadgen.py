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
from relrun.sandbox.traffic import TrafficRecord, TrafficSummary, classify, summarize

__all__ = ["LoadGenerator", "TrafficRecord", "TrafficSummary", "main", "summarize"]

log = logging.getLogger("relrun.sandbox.loadgen")

# (weight, method, path): a messaging client mostly reads, often posts, probes health.
MIX: tuple[tuple[int, str, str], ...] = (
    (20, "GET", "/health"),
    (40, "POST", "/messages"),
    (40, "GET", "/messages?limit=20"),
)


@dataclass(frozen=True)
class Login:
    """The outcome of a login: a token, or the record of the login exchange that failed."""

    token: str | None
    failed: TrafficRecord | None = None


def _lost(t: float, started: float, method: str, path: str, error: str) -> TrafficRecord:
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    return TrafficRecord(t=t, method=method, path=path, latency_ms=latency_ms, error=error)


def _waited_on(login: Login, t: float, started: float, method: str, path: str) -> TrafficRecord:
    """The record of a request that could not be sent because its login failed.

    It is lost with the reason ``login failed: ...``, unless the login met an injected
    fault: then the request's user saw that injected failure, and it counts as injected.
    """
    failed = login.failed
    if failed is None:
        why = "no token"
    elif failed.error:
        why = failed.error
    elif failed.status == 200:
        why = "no access token in the answer"
    else:
        why = f"POST /auth/token answered {failed.status}"
    record = _lost(t, started, method, path, f"login failed: {why}")
    if failed is not None and classify(failed) == "injected":
        update = {"status": failed.status, "fault": failed.fault, "served_by": failed.served_by}
        record = record.model_copy(update=update)
    return record


def measure_every_attempt(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """Turn off aiohttp's silent retry of an idempotent request whose connection was closed.

    aiohttp (3.10 on) sends a GET again, once, when the server closed the connection
    without an answer (RFC 9112, 9.3.1), and reports only the second attempt. A load
    generator measures what each request met: behind HAProxy an ``abort`` fault's closed
    connection was retried onto stable and recorded as served, so a drill counted no
    injected failure while HAProxy's counters showed the breach (issue 15) — and a real
    server closing connections would be hidden the same way.

    Returns:
        The same session.
    """
    if hasattr(session, "_retry_connection"):  # private; absent before aiohttp 3.10
        session._retry_connection = False
    return session


@dataclass
class LoadGenerator:
    """Open-loop request scheduler writing one JSON line per request (and per login).

    Every scheduled request ends in exactly one record: its answer, its failure, or a lost
    request with the reason (see :meth:`one`); a skipped tick is a record of its own.

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
    _login: asyncio.Task[Login] | None = None
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    def _write(self, record: TrafficRecord) -> None:
        self.out.write(record.model_dump_json(exclude_none=True) + "\n")
        self.out.flush()

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[TrafficRecord, Any]:
        """Send one HTTP request; return its record (not yet written) and JSON payload."""
        sent_at, started = time.time(), time.perf_counter()
        payload: Any = None
        record: dict[str, Any] = {"t": sent_at, "method": method, "path": path}
        try:
            async with session.request(
                method, self.base_url + path, json=body, headers=headers
            ) as response:
                raw = await response.read()
                record.update(
                    status=response.status,
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
        return TrafficRecord.model_validate(record), payload

    async def _token_now(self, session: aiohttp.ClientSession, stale: str | None) -> Login:
        """Return a valid token, logging in once however many requests need one."""
        if self._token is not None and self._token != stale:
            return Login(self._token)
        if self._login is None or self._login.done():
            self._login = asyncio.create_task(self._log_in(session))
        return await asyncio.shield(self._login)

    async def _log_in(self, session: aiohttp.ClientSession) -> Login:
        """Log in; the login is an exchange of its own in the traffic log."""
        body = {"username": self.username, "password": self.password}
        record, payload = await self._exchange(session, "POST", "/auth/token", body)
        self._write(record)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if record.status == 200 and isinstance(token, str) and token:
            self._token = token
            return Login(token)
        self._token = None
        return Login(None, record)

    async def one(self, session: aiohttp.ClientSession, scheduled_at: float | None = None) -> None:
        """Make one request of the mix and write exactly one record of what its user saw.

        The request logs in first when there is no token (one login shared by every request
        that needs it) and retries once with a fresh token after a 401. Its record is the
        answer of its last attempt, or a lost request with the reason: the login it waited
        on failed, no answer within ``timeout_s`` of ``scheduled_at``, or the generator
        stopped first.
        """
        method, path = self._pick()
        if scheduled_at is None:
            scheduled_at = time.time()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                outcome = await self._attempt(session, method, path)
        except TimeoutError:
            why = f"timeout: no answer within {self.timeout_s:g} s"
            outcome = _lost(scheduled_at, started, method, path, why)
        except asyncio.CancelledError:
            self._write(_lost(scheduled_at, started, method, path, "stopped: generator stopped"))
            raise
        except Exception as err:  # a bug here must still leave the request counted
            log.exception("request %s %s failed in the load generator", method, path)
            outcome = _lost(scheduled_at, started, method, path, f"{type(err).__name__}: {err}")
        if isinstance(outcome, Login):
            outcome = _waited_on(outcome, scheduled_at, started, method, path)
        self._write(outcome)

    def _pick(self) -> tuple[str, str]:
        """The next request's method and path, drawn from the mix."""
        _, method, path = self.rng.choices(MIX, weights=[m[0] for m in MIX])[0]
        return method, path

    async def _attempt(
        self, session: aiohttp.ClientSession, method: str, path: str
    ) -> TrafficRecord | Login:
        """The last answer of one request, or the failed login it could not go without."""
        if path == "/health":
            return (await self._exchange(session, method, path))[0]
        login = await self._token_now(session, None)
        if login.token is None:
            return login
        body = {"text": f"hello from the load generator {uuid.uuid4().hex[:8]}"}

        async def send(token: str) -> TrafficRecord:
            headers = {"Authorization": f"Bearer {token}"}
            if method == "POST":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            data = body if method == "POST" else None
            return (await self._exchange(session, method, path, data, headers))[0]

        record = await send(login.token)
        if record.status == 401:  # expired: log in again, once, and retry
            login = await self._token_now(session, login.token)
            if login.token is None:
                return login
            record = await send(login.token)
        return record

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Offer ``rate`` requests per second until ``stop`` is set or ``duration`` ends."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            measure_every_attempt(session)
            await self._token_now(session, None)
            start = time.monotonic()
            tick = 0
            while not stop.is_set():
                # The duration is compared with the tick's offset, never with
                # ``due - start``: with a large monotonic clock that difference rounds
                # below the duration it equals, and one tick too many is scheduled.
                offset = tick / self.rate
                if duration is not None and offset >= duration:
                    break
                due = start + offset
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
                task = asyncio.create_task(self.one(session, time.time()))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if self._in_flight:
                # In-flight requests get to finish, so their outcome is recorded; each gives
                # up timeout_s after it started, so this wait ends within timeout_s.
                await asyncio.wait(self._in_flight)
            if self._login is not None and not self._login.done():
                self._login.cancel()  # a login no request waits for any more
                await asyncio.gather(self._login, return_exceptions=True)


async def _main(args: argparse.Namespace) -> None:
    layout = Layout.at(args.state_dir)
    if args.target:
        base_url = args.target.rstrip("/")
    else:
        router = read_json(layout.router_file)
        if not isinstance(router, dict):
            raise SystemExit(f"router not announced in {layout.router_file}")
        base_url = f"http://127.0.0.1:{router['port']}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    out_path = Path(args.out) if args.out else layout.traffic_log
    mix = args.mix or (str(layout.load_mix) if layout.load_mix.is_file() else None)
    if mix:
        from relrun.sandbox.requestmix import run_mix

        await run_mix(Path(mix), base_url, args, out_path, layout, stop)
        return
    password = load_secrets(layout).password(LOADGEN_USER)
    if password is None:
        raise SystemExit(f"no {LOADGEN_USER} user in {layout.users}")
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
    parser.add_argument(
        "--mix",
        default=None,
        help="request mix file (YAML or JSON, see docs/own-service.md); default "
        "DIR/load-mix.json if present, else the demo API's mix",
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.concurrency < 1:
        parser.error("--rate must be > 0 and --concurrency >= 1")
    run_program(lambda: _main(args))


if __name__ == "__main__":
    main()
