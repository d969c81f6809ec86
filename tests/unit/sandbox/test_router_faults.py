"""The sandbox router's traffic faults, set through its admin API, for any application."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp
from aiohttp import web

from relrun.sandbox import faults
from relrun.sandbox.models import ServerUpdate
from relrun.sandbox.router import ROUTER, RouterState, build_apps
from relrun.sandbox.serve import start_site
from relrun.sandbox.settings import SandboxConfig

TOKEN = "t" * 32


async def app_ok(request: web.Request) -> web.Response:
    return web.Response(text="plain answer, no version header")


def test_errors_latency_and_aborts_for_the_faulted_server_only() -> None:
    async def scenario() -> dict[str, object]:
        backend = web.Application()
        backend.router.add_route("*", "/{tail:.*}", app_ok)
        backend_runner, backend_port = await start_site(backend, shutdown_timeout=0.1)
        state = RouterState(config=SandboxConfig(), admin_token=TOKEN)
        proxy_app, admin_app = build_apps(state)
        proxy_app[faults.FAULTS].rng = random.Random(1)
        proxy_runner, port = await start_site(proxy_app, shutdown_timeout=0.1)
        admin_runner, admin_port = await start_site(admin_app, shutdown_timeout=0.1)
        admin = f"http://127.0.0.1:{admin_port}"
        headers = {"X-Admin-Token": TOKEN}
        out: dict[str, object] = {}
        try:
            # One connection per request: a client would retry a dropped pooled one.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as http:
                body = ServerUpdate(address=f"127.0.0.1:{backend_port}", weight=1, state="ready")
                for name in ("canary",):
                    await http.put(f"{admin}/admin/servers/{name}", headers=headers,
                                   data=body.model_dump_json(exclude_none=True))
                bad = await http.put(f"{admin}/admin/faults/canary", headers=headers,
                                     json={"error_rate": 2})
                out["bad"] = bad.status
                await http.put(f"{admin}/admin/faults/canary", headers=headers,
                               json={"error_rate": 1.0, "status": 502})
                async with http.get(f"http://127.0.0.1:{port}/x") as r:
                    out["error"] = (r.status, r.headers.get("X-Fault"))
                await http.put(f"{admin}/admin/faults/canary", headers=headers,
                               json={"latency_ms": 150})
                started = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/x") as r:
                    out["slow"] = (r.status, time.perf_counter() - started,
                                   r.headers.get("X-Served-By"))
                await http.put(f"{admin}/admin/faults/canary", headers=headers,
                               json={"abort_rate": 1.0})
                try:  # a POST: aiohttp retries an idempotent request on a dropped connection
                    async with http.post(f"http://127.0.0.1:{port}/x", data=b"{}") as r:
                        out["abort"] = r.status
                except aiohttp.ClientError as err:
                    out["abort"] = type(err).__name__
                listed = await (await http.get(f"{admin}/admin/faults", headers=headers)).json()
                out["listed"] = listed["faults"]["canary"]["abort_rate"]
                await http.delete(f"{admin}/admin/faults/canary", headers=headers)
                async with http.get(f"http://127.0.0.1:{port}/x") as r:
                    out["cleared"] = r.status
            window = state.servers["canary"].view(10).stats.window
            out["stats"] = (window.requests, window.errors_5xx, window.faults)
            out["p95"] = (window.latency_ms.p95 if window.latency_ms else None)
        finally:
            await admin_runner.cleanup()
            await proxy_runner.cleanup()
            await backend_runner.cleanup()
        assert proxy_app[ROUTER] is state
        return out

    out = asyncio.run(scenario())
    assert out["bad"] == 400
    assert out["error"] == (502, "injected")
    status, seconds, served_by = out["slow"]  # type: ignore[misc]
    assert status == 200 and seconds >= 0.15
    # The application did not say which version answered: the router names the server.
    assert served_by == "canary"
    assert out["abort"] == "ServerDisconnectedError"
    assert out["listed"] == 1.0
    assert out["cleared"] == 200
    # Injected error and abort are the canary's failures; the delay is in its latency.
    assert out["stats"] == (4, 2, 1)
    assert isinstance(out["p95"], float) and out["p95"] >= 150
