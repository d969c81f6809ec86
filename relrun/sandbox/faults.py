"""Traffic faults in the sandbox router: errors, latency and aborts for any application.

The router injects them itself, in front of the server it chose, so a drill can break a
canary that has no fault endpoint of its own (the issue's "no fault shim"): like Envoy's
fault filter, a share of the requests routed to a faulted server is answered with an
error status (``X-Fault: injected``), every one is delayed first, and a share has its
client connection closed without an answer. Faults are set per server name through the
admin API (``PUT``/``DELETE /admin/faults/{name}``, ``GET /admin/faults``) and apply to
the next request: no restart.

Injected failures count as the server's failures in its statistics (an answered one as
a 5xx carrying the fault mark, an abort as a failed attempt), so the analysis sees the
canary fail exactly as if the application had failed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relrun.sandbox.routing import Recorder


class TrafficFault(BaseModel):
    """One server's fault: ``error_rate`` answered ``status``, ``latency_ms``, ``abort_rate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(default=0.0, ge=0, le=1)
    status: int = Field(default=503, ge=100, le=599)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    abort_rate: float = Field(default=0.0, ge=0, le=1)


@dataclass
class FaultTable:
    """The faults in force, by server name."""

    faults: dict[str, TrafficFault] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)


FAULTS = web.AppKey("faults", FaultTable)


class Aborted(Exception):
    """The fault closed the client's connection: nothing is to be sent."""


async def intercept(
    table: FaultTable, request: web.Request, server: str, recorder: Recorder
) -> web.StreamResponse | None:
    """Apply ``server``'s fault to one request before it is forwarded.

    Returns:
        The injected error answer, or None to forward the request as usual.

    Raises:
        Aborted: the connection was closed (the caller sends nothing).
    """
    fault = table.faults.get(server)
    if fault is None:
        return None
    started = time.perf_counter()
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.abort_rate and table.rng.random() < fault.abort_rate:
        recorder.connection_error()
        if request.transport is not None:
            request.transport.close()
        raise Aborted
    if fault.error_rate and table.rng.random() < fault.error_rate:
        recorder.response(fault.status, (time.perf_counter() - started) * 1000, True)
        return web.json_response(
            {"error": "injected fault"}, status=fault.status, headers={"X-Fault": "injected"}
        )
    return None


def _bad_request(message: str, details: list[str]) -> web.HTTPException:
    body = {"error": message, "details": details}
    return web.HTTPBadRequest(text=json.dumps(body), content_type="application/json")


async def list_faults(request: web.Request) -> web.Response:
    """``GET /admin/faults``: ``{"faults": {name: TrafficFault}}``."""
    table = request.app[FAULTS]
    return web.json_response(
        {"faults": {name: f.model_dump() for name, f in sorted(table.faults.items())}}
    )


async def put_fault(request: web.Request) -> web.Response:
    """``PUT /admin/faults/{name}``: set (replace) the server's fault."""
    table = request.app[FAULTS]
    try:
        fault = TrafficFault.model_validate_json(await request.read())
    except ValidationError as err:
        details = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        raise _bad_request("invalid fault", details) from None
    table.faults[request.match_info["name"]] = fault
    return web.json_response(fault.model_dump())


async def delete_fault(request: web.Request) -> web.Response:
    """``DELETE /admin/faults/{name}``: remove the server's fault (idempotent)."""
    name = request.match_info["name"]
    removed = request.app[FAULTS].faults.pop(name, None)
    return web.json_response({"cleared": name, "was_set": removed is not None})


def install(admin_app: web.Application, proxy_app: web.Application) -> FaultTable:
    """Give both applications one fault table and add the admin routes."""
    table = FaultTable()
    admin_app[FAULTS] = table
    proxy_app[FAULTS] = table
    admin_app.router.add_get("/admin/faults", list_faults)
    admin_app.router.add_put("/admin/faults/{name}", put_fault)
    admin_app.router.add_delete("/admin/faults/{name}", delete_fault)
    return table
