"""The demo messaging API (one program; started as version 1.x or 2.x).

Run as ``python -m relrun.sandbox.api --version 2.0 --state-dir DIR --name canary``. It
binds 127.0.0.1 on an OS-chosen port and announces it in ``DIR/servers/NAME.json`` once
listening. Fault injection (``/admin/fault``) applies to every non-admin endpoint,
``/health`` included, so a faulty canary looks faulty to health checks too; not to
``GET /metrics``, the app's own counters and latency histogram (``appmetrics``), which
count the faulty answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import math
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relrun.sandbox.appmetrics import METRICS, METRICS_PATH, AppMetrics, metrics, metrics_middleware
from relrun.sandbox.layout import Layout
from relrun.sandbox.ratelimit import RateLimiter
from relrun.sandbox.serve import announce, run_program, start_site, wait_for_stop
from relrun.sandbox.settings import SandboxConfig, Secrets, load_config, load_secrets

log = logging.getLogger("relrun.sandbox.api")

ISSUER = "relrun-sandbox"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultSpec(BaseModel):
    """Injected faults: share of requests answered 500, and added latency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0, le=600_000)


@dataclass
class ApiState:
    """Everything one API process keeps in memory."""

    version: str
    config: SandboxConfig
    secrets: Secrets
    fault: FaultSpec = field(default_factory=FaultSpec)
    messages: deque[dict[str, Any]] = field(default_factory=deque)
    by_idempotency_key: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    subscribers: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    rng: random.Random = field(default_factory=random.Random)


STATE = web.AppKey("state", ApiState)
MAX_BODY_BYTES = 64 * 1024  # client_max_size: aiohttp stops reading a body beyond it


def _json_error(
    cls: type[web.HTTPException], message: str, headers: dict[str, str] | None = None
) -> web.HTTPException:
    return cls(
        text=json.dumps({"error": message}), content_type="application/json", headers=headers
    )


def _unauthorized(message: str) -> web.HTTPException:
    return _json_error(
        web.HTTPUnauthorized, message, {"WWW-Authenticate": 'Bearer realm="relrun-sandbox"'}
    )


async def _json_body(
    request: web.Request,
    too_large: type[web.HTTPException] = web.HTTPRequestEntityTooLarge,
    too_large_message: str = "",
) -> dict[str, Any]:
    """The request's JSON object; a body over the app's ``client_max_size`` is not read.

    Args:
        request: the request.
        too_large: the error answering a body over the limit (413 unless the endpoint's
            contract calls it a validation error).
        too_large_message: what to say then; the default names the limit.
    """
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        # aiohttp stops reading at client_max_size, so memory stays bounded; the answer
        # keeps the API's JSON error shape instead of aiohttp's plain-text 413.
        message = too_large_message or f"body larger than {MAX_BODY_BYTES} bytes"
        raise _json_error(too_large, message) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _json_error(web.HTTPBadRequest, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _json_error(web.HTTPBadRequest, "body must be a JSON object")
    return body


def _bearer(request: web.Request, *, allow_query: bool = False) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query.get("access_token") or None
    return None


def _authenticate(request: web.Request, *, allow_query: bool = False) -> tuple[str, str]:
    """Return ``(token, username)`` or raise 401, then charge the token's rate limit."""
    state = request.app[STATE]
    token = _bearer(request, allow_query=allow_query)
    if token is None:
        raise _unauthorized("missing bearer token")
    try:
        claims = jwt.decode(
            token,
            state.secrets.jwt_key,
            algorithms=["HS256"],  # pinned: rejects "none" and algorithm confusion
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.PyJWTError:
        raise _unauthorized("invalid token") from None
    username = str(claims["sub"])
    limit = next((u for u in state.config.users if u.username == username), None)
    if limit is None:
        raise _unauthorized("unknown user")
    retry_after = state.limiter.check(token, limit.rate_per_s, limit.burst)
    if retry_after:
        raise _json_error(
            web.HTTPTooManyRequests, "rate limit exceeded", {"Retry-After": str(retry_after)}
        )
    return token, username


def _noisy(request: web.Request) -> bool:
    """Whether the background noise applies: a request of a user it is set for."""
    state = request.app[STATE]
    config = state.config
    if not (config.noise_error_rate or config.noise_latency_ms):
        return False
    token = _bearer(request, allow_query=True)
    if token is None:
        return False
    try:
        claims = jwt.decode(token, state.secrets.jwt_key, algorithms=["HS256"], issuer=ISSUER)
    except jwt.PyJWTError:
        return False
    return str(claims.get("sub")) in config.noise_users


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply background noise, then the injected latency and error rate, to user requests.

    Injected faults apply to every non-admin request (health included); the background
    noise to the requests of ``noise_users`` (see :class:`SandboxConfig`). The two add up:
    a request fails when either says so.
    """
    if request.path.startswith("/admin/") or request.path == METRICS_PATH:
        return await handler(request)
    state = request.app[STATE]
    fault = state.fault
    config = state.config
    noisy = _noisy(request)
    delay = fault.latency_ms / 1000
    if noisy and config.noise_latency_ms:
        delay += state.rng.lognormvariate(math.log(config.noise_latency_ms / 1000),
                                          config.noise_latency_sigma)
    if delay:
        await asyncio.sleep(delay)
    if fault.error_rate and state.rng.random() < fault.error_rate:
        return web.json_response(
            {"error": "injected fault"}, status=500, headers={"X-Fault": "injected"}
        )
    if noisy and config.noise_error_rate and state.rng.random() < config.noise_error_rate:
        # Injected on purpose like a drill's fault, so the drill's traffic count does not
        # call it a lost request: stable fails the same way.
        return web.json_response(
            {"error": "background failure (sandbox noise)"},
            status=500,
            headers={"X-Fault": "injected", "X-Fault-Kind": "noise"},
        )
    return await handler(request)


async def _served_by(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Served-By"] = request.app[STATE].version


async def health(request: web.Request) -> web.Response:
    """``GET /health``."""
    return web.json_response({"status": "ok", "version": request.app[STATE].version})


async def issue_token(request: web.Request) -> web.Response:
    """``POST /auth/token`` with ``{"username", "password"}``."""
    state = request.app[STATE]
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise _json_error(web.HTTPUnprocessableEntity, "username and password are required")
    expected = state.secrets.password(username)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise _unauthorized("invalid credentials")
    now = int(time.time())
    ttl = state.config.token_ttl_s
    claims = {
        "sub": username,
        "iat": now,
        "exp": now + ttl,
        "iss": ISSUER,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, state.secrets.jwt_key, algorithm="HS256")
    return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": ttl})


async def create_message(request: web.Request) -> web.Response:
    """``POST /messages`` with ``{"text"}``; honours ``Idempotency-Key``."""
    state = request.app[STATE]
    _, username = _authenticate(request)
    # The contract answers an over-long text with 422; a body over the limit is one too
    # (the limit is far above the longest valid message with the default max_text_chars).
    max_chars = state.config.max_text_chars
    body = await _json_body(
        request,
        web.HTTPUnprocessableEntity,
        f"text longer than {max_chars} characters (body larger than {MAX_BODY_BYTES} bytes)",
    )
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _json_error(web.HTTPUnprocessableEntity, "text must be a non-empty string")
    if len(text) > state.config.max_text_chars:
        raise _json_error(
            web.HTTPUnprocessableEntity,
            f"text longer than {state.config.max_text_chars} characters",
        )
    # A retried request (the router redispatches on a dead connection) must not post twice.
    key = request.headers.get("Idempotency-Key")
    scoped_key = f"{username}:{key}" if key else None
    if scoped_key and scoped_key in state.by_idempotency_key:
        return web.json_response(state.by_idempotency_key[scoped_key], status=201)
    message = {
        "id": uuid.uuid4().hex,
        "text": text,
        "author": username,
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    state.messages.append(message)
    while len(state.messages) > state.config.max_messages:
        state.messages.popleft()
    if scoped_key:
        state.by_idempotency_key[scoped_key] = message
        while len(state.by_idempotency_key) > state.config.max_messages:
            state.by_idempotency_key.popitem(last=False)
    for queue in list(state.subscribers):
        if queue.full():  # a stalled reader must not hold memory; it loses its stream
            state.subscribers.discard(queue)
            continue
        queue.put_nowait(message)
    return web.json_response(message, status=201)


async def list_messages(request: web.Request) -> web.Response:
    """``GET /messages?limit=N`` (newest last, default 50, at most 1000)."""
    state = request.app[STATE]
    _authenticate(request)
    try:
        limit = max(0, min(1000, int(request.query.get("limit", "50"))))
    except ValueError:
        raise _json_error(web.HTTPUnprocessableEntity, "limit must be an integer") from None
    items = list(state.messages)[-limit:] if limit else []
    return web.json_response({"messages": items})


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /events``: server-sent events, one ``message`` event per new message."""
    state = request.app[STATE]
    _authenticate(request, allow_query=True)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
    state.subscribers.add(queue)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), state.config.heartbeat_s)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if item is None:
                break
            await response.write(f"event: message\ndata: {json.dumps(item)}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        state.subscribers.discard(queue)
    return response


def _require_admin(request: web.Request) -> None:
    token = request.headers.get("X-Admin-Token") or _bearer(request) or ""
    expected = request.app[STATE].secrets.admin_token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise _unauthorized("admin token required")


async def get_fault(request: web.Request) -> web.Response:
    """``GET /admin/fault``."""
    _require_admin(request)
    return web.json_response(request.app[STATE].fault.model_dump())


async def set_fault(request: web.Request) -> web.Response:
    """``POST /admin/fault`` with ``{"error_rate", "latency_ms"}``."""
    _require_admin(request)
    try:
        fault = FaultSpec.model_validate(await _json_body(request))
    except ValidationError as err:
        raise _json_error(web.HTTPUnprocessableEntity, str(err)) from None
    request.app[STATE].fault = fault
    log.info("fault set: error_rate=%s latency_ms=%s", fault.error_rate, fault.latency_ms)
    return web.json_response(fault.model_dump())


async def clear_fault(request: web.Request) -> web.Response:
    """``DELETE /admin/fault``."""
    _require_admin(request)
    request.app[STATE].fault = FaultSpec()
    log.info("fault cleared")
    return web.json_response(FaultSpec().model_dump())


async def _close_streams(app: web.Application) -> None:
    for queue in list(app[STATE].subscribers):
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(None)


def build_app(state: ApiState) -> web.Application:
    """Build the API application around ``state``.

    Args:
        state: configuration, secrets and the in-memory store.

    Returns:
        The aiohttp application.
    """
    # The metrics middleware is outermost: it times and counts the faults' answers too.
    app = web.Application(
        middlewares=[metrics_middleware, fault_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[STATE] = state
    app[METRICS] = AppMetrics(state.version)
    app.on_response_prepare.append(_served_by)
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/health", health)
    app.router.add_post("/auth/token", issue_token)
    app.router.add_post("/messages", create_message)
    app.router.add_get("/messages", list_messages)
    app.router.add_get("/events", events)
    app.router.add_get(METRICS_PATH, metrics)
    app.router.add_get("/admin/fault", get_fault)
    app.router.add_post("/admin/fault", set_fault)
    app.router.add_delete("/admin/fault", clear_fault)
    return app


async def _main(args: argparse.Namespace) -> None:
    layout = Layout.at(args.state_dir)
    state = ApiState(version=args.version, config=load_config(layout), secrets=load_secrets(layout))
    runner, port = await start_site(build_app(state), host=args.host)
    announce(layout.server_file(args.name), name=args.name, port=port, version=args.version)
    log.info("server %s version %s listening on %s:%d", args.name, args.version, args.host, port)
    try:
        await wait_for_stop()
    finally:
        log.info("stopping")
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m relrun.sandbox.api")
    parser.add_argument("--version", required=True, help="version to report, e.g. 2.0")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--name", required=True, help="server name, e.g. stable or canary")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (a fleet host's namespace uses 0.0.0.0: its own address)",
    )
    args = parser.parse_args(argv)
    run_program(lambda: _main(args))


if __name__ == "__main__":
    main()
