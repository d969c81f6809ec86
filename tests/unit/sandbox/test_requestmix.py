"""The load generator for any API: a request mix, its login, its success statuses."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import ValidationError

from relrun.runbook.load_models import LoadMix
from relrun.sandbox.requestmix import MixGenerator, load_mix
from relrun.sandbox.serve import start_site
from relrun.sandbox.traffic import read_records, summarize

MIX = {
    "login": {"path": "/login", "json": {"user": "bot"}, "token_field": "token"},
    "requests": [
        {"method": "GET", "path": "/items", "weight": 3},
        {"method": "GET", "path": "/items/missing", "ok": [404]},
        {"method": "POST", "path": "/orders", "json": {"n": 1}, "ok": [201],
         "idempotency_key": True},
        {"method": "GET", "path": "/open", "auth": False},
    ],
}


def test_mix_file_in_yaml_or_runbook_shape(tmp_path: Path) -> None:
    plain = tmp_path / "mix.json"
    plain.write_text(json.dumps(MIX))
    wrapped = tmp_path / "mix.yml"
    wrapped.write_text("load:\n  requests:\n    - {path: /}\n")
    assert len(load_mix(plain).requests) == 4
    assert load_mix(wrapped).requests[0].method == "GET"
    with pytest.raises(ValidationError, match="has no body"):
        LoadMix.model_validate({"requests": [{"path": "/", "json": {"a": 1}}]})


def test_every_request_is_recorded_with_its_own_success_statuses(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str | None, str | None]] = []

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        assert body == {"user": "bot", "password": "from-file"}
        return web.json_response({"token": "t0k"})

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.headers.get("Authorization"),
                     request.headers.get("Idempotency-Key")))
        if request.path == "/items/missing":
            return web.json_response({"error": "no"}, status=404)
        if request.path == "/orders":
            return web.json_response({"id": 1}, status=201)
        return web.json_response({"items": []})

    log = tmp_path / "loadgen.jsonl"

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/login", login)
        app.router.add_route("*", "/{tail:.*}", handle)
        runner, port = await start_site(app, shutdown_timeout=0.1)
        try:
            with log.open("a", encoding="utf-8") as out:
                gen = MixGenerator(
                    base_url=f"http://127.0.0.1:{port}", username="", password="",
                    rate=100.0, concurrency=64, timeout_s=5.0, out=out,
                    rng=random.Random(3), mix=LoadMix.model_validate(MIX),
                    login_body={"user": "bot", "password": "from-file"},
                )
                await gen.run(asyncio.Event(), duration=0.4)
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    records = [r for r in read_records(log) if r.path != "/login"]
    assert len(records) == 40  # every tick is one record (a skipped one on a busy machine)
    paths = {r.path for r in records if r.sent}
    assert "/items" in paths and paths <= {"/items", "/items/missing", "/orders", "/open"}
    for _method, path, auth, key in seen:
        assert auth == (None if path == "/open" else "Bearer t0k"), path
        assert (key is not None) == (path == "/orders")
    summary = summarize(log)
    # The expected 404s are successes; nothing is lost.
    assert (summary.client_errors, summary.lost) == (0, 0)
    assert summary.ok == summary.requests
