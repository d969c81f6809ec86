"""The weighted router: a streaming reverse proxy with an admin API on a second port.

Run as ``python -m relrun.sandbox.router --state-dir DIR``. Traffic goes to the proxy
port; ``/admin/...`` lives on a separate admin port so no proxied path can collide with
it (the demo API has its own ``/admin/fault``). Both ports are OS-chosen and announced
in ``DIR/router.json`` once listening.

Redispatch, like HAProxy's ``option redispatch`` plus ``retry-on empty-response``: when
connecting to the chosen server fails, the request is retried once on another eligible
server; when the server drops the connection before answering, the same happens for
idempotent methods and for requests that carry an ``Idempotency-Key``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from relrun.sandbox import faults
from relrun.sandbox.faults import FAULTS
from relrun.sandbox.layout import Layout
from relrun.sandbox.models import ServersReply, ServerUpdate, StatsReply
from relrun.sandbox.routing import MAX_WINDOW_S, Recorder, Server, choose, prometheus_text
from relrun.sandbox.serve import announce, run_program, start_site, wait_for_stop
from relrun.sandbox.settings import SandboxConfig, load_config, load_secrets

log = logging.getLogger("relrun.sandbox.router")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Admin paths answered without the token: health, and the counters a Prometheus scrapes
# (read-only figures, no secrets; the admin port listens on loopback only).
PUBLIC_PATHS = frozenset({"/admin/health", "/metrics"})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@dataclass
class RouterState:
    """The router's table and counters."""

    config: SandboxConfig
    admin_token: str
    servers: dict[str, Server] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    session: aiohttp.ClientSession | None = None
    unrouted: int = 0
    failed: int = 0


ROUTER = web.AppKey("router", RouterState)


def _request_headers(request: web.Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.pop("Content-Length", None)  # recomputed from the body we send
    forwarded = request.headers.get("X-Forwarded-For")
    peer = request.remote or "127.0.0.1"
    headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
    return headers


def _may_redispatch(err: BaseException, request: web.Request) -> tuple[bool, bool]:
    """Return ``(retry, same_server_ok)`` for a failed attempt.

    A failed connect never reached the server, so any method may go elsewhere. A
    dropped connection may have reached it: only idempotent or keyed requests retry,
    and they may retry the same server, because the dropped connection may merely have
    been a stale pooled one.
    """
    if isinstance(err, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return True, False
    if isinstance(err, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        safe = request.method in IDEMPOTENT or "Idempotency-Key" in request.headers
        return safe, safe
    return False, False


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward one request to a weighted choice of server, retrying once if it failed."""
    state = request.app[ROUTER]
    assert state.session is not None
    body = await request.read()
    headers = _request_headers(request)
    tried: frozenset[str] = frozenset()
    attempts = 0
    server = choose(state.servers.values(), state.rng)
    while server is not None and attempts < 2:
        attempts += 1
        tried |= {server.name}
        recorder = server.recorder
        # Before the fault: an injected delay is part of the latency the router measures.
        started = time.perf_counter()
        recorder.in_flight += 1  # a request held by an injected delay is in flight too
        if attempts == 1:
            try:
                table = request.app[FAULTS]
                injected = await faults.intercept(table, request, server.name, recorder)
            except faults.Aborted:
                recorder.in_flight -= 1
                return web.Response(status=499)  # never sent: the connection is closed
            except BaseException:  # the client left during an injected delay
                recorder.in_flight -= 1
                raise
            if injected is not None:
                recorder.in_flight -= 1
                return injected
        try:
            upstream = await state.session.request(
                request.method,
                f"http://{server.address}{request.rel_url}",
                headers=headers,
                data=body or None,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            recorder.in_flight -= 1
            recorder.connection_error()
            log.warning("server %s: %s: %s", server.name, type(err).__name__, err)
            retry, same_ok = _may_redispatch(err, request)
            if not retry or attempts == 2:
                break
            recorder.redispatched += 1
            server = choose(state.servers.values(), state.rng, tried) or (
                server if same_ok else None
            )
            continue
        try:
            return await _relay(request, upstream, recorder, started, server.name)
        finally:
            recorder.in_flight -= 1
    if attempts == 0:
        state.unrouted += 1
        return web.json_response({"error": "no server available"}, status=503)
    state.failed += 1
    return web.json_response({"error": "bad gateway: every attempt failed"}, status=502)


async def _relay(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    recorder: Recorder,
    started: float,
    served_by: str,
) -> web.StreamResponse:
    """Stream ``upstream`` to the client chunk by chunk (SSE stays unbuffered)."""
    recorder.response(
        upstream.status,
        (time.perf_counter() - started) * 1000,
        upstream.headers.get("X-Fault") == "injected",
    )
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    for key, value in upstream.headers.items():
        if key.lower() not in HOP_BY_HOP:
            response.headers.add(key, value)
    if "X-Served-By" not in upstream.headers:
        # An application that does not say which version answered: name the server, so
        # the traffic log still tells stable's answers from the canary's.
        response.headers["X-Served-By"] = served_by

    try:
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, aiohttp.ClientError) as err:
        # Client gone or server died mid-body: nothing more can be sent; make sure the
        # half-read upstream connection is not pooled again.
        log.info("stream ended early: %s", type(err).__name__)
        upstream.close()
    finally:
        upstream.release()
    return response


# --- admin API -------------------------------------------------------------------------


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the admin token and make every admin answer JSON, errors included."""
    try:
        if request.path not in PUBLIC_PATHS:
            _require_admin(request)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)


def _require_admin(request: web.Request) -> None:
    token = request.headers.get("X-Admin-Token", "")
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    expected = request.app[ROUTER].admin_token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "admin token required"}),
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="relrun-router"'},
        )


def _window(request: web.Request) -> float:
    state = request.app[ROUTER]
    raw = request.query.get("window")
    if raw is None:
        return state.config.stats_window_s
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_WINDOW_S:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"window must be in (0, {MAX_WINDOW_S:g}] seconds"}),
            content_type="application/json",
        )
    return value


def _server(request: web.Request) -> Server:
    name = request.match_info["name"]
    server = request.app[ROUTER].servers.get(name)
    if server is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no server named {name!r}"}),
            content_type="application/json",
        )
    return server


async def admin_health(request: web.Request) -> web.Response:
    """``GET /admin/health`` (no token needed)."""
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the counters in Prometheus' text format (no token needed)."""
    state = request.app[ROUTER]
    text = prometheus_text(state.servers.values(), state.unrouted, state.failed)
    return web.Response(
        body=text.encode(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


async def list_servers(request: web.Request) -> web.Response:
    """``GET /admin/servers[?window=S]``."""
    window = _window(request)
    servers = request.app[ROUTER].servers.values()
    reply = ServersReply(servers=[s.view(window) for s in servers])
    return web.json_response(reply.model_dump(mode="json"))


async def get_server(request: web.Request) -> web.Response:
    """``GET /admin/servers/{name}[?window=S]``."""
    return web.json_response(_server(request).view(_window(request)).model_dump(mode="json"))


async def put_server(request: web.Request) -> web.Response:
    """``PUT /admin/servers/{name}``: create, or change the given fields."""
    state = request.app[ROUTER]
    name = request.match_info["name"]
    try:
        update = ServerUpdate.model_validate_json(await request.read())
    except ValidationError as err:
        errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "invalid server update", "details": errors}),
            content_type="application/json",
        ) from None
    server = state.servers.setdefault(name, Server(name=name, role=name))
    server.apply(update)
    log.info(
        "server %s: role=%s address=%s weight=%d state=%s",
        name,
        server.role,
        server.address,
        server.weight,
        server.state,
    )
    return web.json_response(server.view(state.config.stats_window_s).model_dump(mode="json"))


async def delete_server(request: web.Request) -> web.Response:
    """``DELETE /admin/servers/{name}`` (in-flight requests still finish)."""
    server = _server(request)
    del request.app[ROUTER].servers[server.name]
    return web.json_response({"deleted": server.name})


async def stats(request: web.Request) -> web.Response:
    """``GET /admin/stats[?window=S]``."""
    state = request.app[ROUTER]
    window = _window(request)
    reply = StatsReply(
        window_s=window,
        servers={n: s.recorder.snapshot(window) for n, s in state.servers.items()},
        unrouted=state.unrouted,
        failed=state.failed,
    )
    return web.json_response(reply.model_dump(mode="json"))


async def reset_stats(request: web.Request) -> web.Response:
    """``POST /admin/stats/reset``: zero every counter (in-flight counts are kept)."""
    state = request.app[ROUTER]
    for server in state.servers.values():
        in_flight = server.recorder.in_flight
        server.recorder = Recorder(in_flight=in_flight)
    state.unrouted = state.failed = 0
    return web.json_response({"reset": True})


def build_apps(state: RouterState) -> tuple[web.Application, web.Application]:
    """Build the proxy application and the admin application sharing ``state``."""
    proxy_app = web.Application(client_max_size=1024 * 1024)
    proxy_app[ROUTER] = state
    proxy_app.router.add_route("*", "/{tail:.*}", proxy)

    async def open_session(app: web.Application) -> None:
        state.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=15),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=2.0, sock_read=state.config.upstream_read_timeout_s
            ),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )

    async def close_session(app: web.Application) -> None:
        if state.session is not None:
            await state.session.close()

    proxy_app.on_startup.append(open_session)
    proxy_app.on_cleanup.append(close_session)

    admin_app = web.Application(middlewares=[admin_middleware])
    admin_app[ROUTER] = state
    admin_app.router.add_get("/admin/health", admin_health)
    admin_app.router.add_get("/metrics", metrics)
    admin_app.router.add_get("/admin/servers", list_servers)
    admin_app.router.add_get("/admin/servers/{name}", get_server)
    admin_app.router.add_put("/admin/servers/{name}", put_server)
    admin_app.router.add_delete("/admin/servers/{name}", delete_server)
    admin_app.router.add_get("/admin/stats", stats)
    admin_app.router.add_post("/admin/stats/reset", reset_stats)
    faults.install(admin_app, proxy_app)
    return proxy_app, admin_app


async def _main(args: argparse.Namespace) -> None:
    layout = Layout.at(args.state_dir)
    state = RouterState(config=load_config(layout), admin_token=load_secrets(layout).admin_token)
    proxy_app, admin_app = build_apps(state)
    proxy_runner, port = await start_site(proxy_app)
    admin_runner, admin_port = await start_site(admin_app)
    announce(layout.router_file, port=port, admin_port=admin_port)
    log.info("router on 127.0.0.1:%d, admin on 127.0.0.1:%d", port, admin_port)
    try:
        await wait_for_stop()
    finally:
        log.info("stopping")
        await admin_runner.cleanup()
        await proxy_runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and route until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m relrun.sandbox.router")
    parser.add_argument("--state-dir", required=True)
    run_program(lambda: _main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
