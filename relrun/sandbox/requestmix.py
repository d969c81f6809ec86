"""The load generator for any HTTP API: a weighted request mix, with an optional login.

The mix (:class:`relrun.runbook.load_models.LoadMix`) comes from a runbook's ``load``
section or a YAML/JSON file (``python -m relrun.sandbox.loadgen --mix FILE``). Scheduling
is :class:`relrun.sandbox.loadgen.LoadGenerator`'s (open loop, bounded concurrency) and
every request ends in one record of the same traffic log, so a drill counts lost requests
of your API exactly as of the demo API's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from relrun.runbook.load_models import LoadMix, MixRequest
from relrun.sandbox.layout import Layout
from relrun.sandbox.loadgen import LoadGenerator, Login
from relrun.sandbox.serve import announce
from relrun.sandbox.traffic import TrafficRecord

log = logging.getLogger("relrun.sandbox.requestmix")


def load_mix(path: Path) -> LoadMix:
    """Read a mix file (YAML or JSON; a runbook-style ``load:`` key is accepted too).

    Raises:
        ValueError: unreadable or invalid (pydantic's message).
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "load" in data and "requests" not in data:
        data = data["load"]
    return LoadMix.model_validate(data)


@dataclass
class MixGenerator(LoadGenerator):
    """:class:`LoadGenerator` sending a :class:`LoadMix` instead of the demo API's mix."""

    mix: LoadMix = field(default_factory=lambda: LoadMix(requests=[MixRequest(path="/")]))
    login_body: dict[str, Any] = field(default_factory=dict)
    _current: MixRequest | None = None

    def _pick(self) -> tuple[str, str]:
        requests = self.mix.requests
        chosen = self.rng.choices(requests, weights=[r.weight for r in requests])[0]
        self._current = chosen
        return chosen.method, chosen.path

    async def _token_now(self, session: aiohttp.ClientSession, stale: str | None) -> Login:
        if self.mix.login is None:
            return Login("")
        return await super()._token_now(session, stale)

    async def _log_in(self, session: aiohttp.ClientSession) -> Login:
        login = self.mix.login
        assert login is not None
        record, payload = await self._exchange(session, login.method, login.path, self.login_body)
        self._write(record)
        token = payload.get(login.token_field) if isinstance(payload, dict) else None
        if record.status is not None and record.status < 300 and isinstance(token, str) and token:
            self._token = token
            return Login(token)
        self._token = None
        return Login(None, record)

    async def _attempt(
        self, session: aiohttp.ClientSession, method: str, path: str
    ) -> TrafficRecord | Login:
        request = self._current
        assert request is not None
        login = self.mix.login
        token: str | None = None
        if login is not None and request.auth:
            outcome = await self._token_now(session, None)
            if outcome.token is None:
                return outcome
            token = outcome.token

        async def send(current: str | None) -> TrafficRecord:
            headers = dict(request.headers)
            if login is not None and current is not None:
                headers[login.header] = f"{login.scheme} {current}".strip()
            if request.idempotency_key:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            record = (
                await self._exchange(session, method, path, request.json_body, headers)
            )[0]
            if request.ok and record.status is not None:
                record = record.model_copy(update={"success": record.status in request.ok})
            return record

        record = await send(token)
        if record.status == 401 and token is not None and 401 not in request.ok:
            outcome = await self._token_now(session, token)
            if outcome.token is None:
                return outcome
            record = await send(outcome.token)
        return record


async def run_mix(
    path: Path,
    base_url: str,
    args: argparse.Namespace,
    out_path: Path,
    layout: Layout,
    stop: asyncio.Event,
) -> None:
    """Generate the mix's load until ``stop`` (the loadgen program's ``--mix`` path)."""
    mix = load_mix(path)
    body: dict[str, Any] = {}
    if mix.login is not None:
        body = dict(mix.login.json_body)
        if mix.login.credentials_file:
            extra = json.loads(Path(mix.login.credentials_file).read_text(encoding="utf-8"))
            if not isinstance(extra, dict):
                raise SystemExit(f"{mix.login.credentials_file}: not a JSON object")
            body.update(extra)
    with out_path.open("a", encoding="utf-8") as out:
        generator = MixGenerator(
            base_url=base_url,
            username="",
            password="",
            rate=args.rate,
            concurrency=args.concurrency,
            timeout_s=args.timeout,
            out=out,
            mix=mix,
            login_body=body,
        )
        announce(layout.loadgen_file, rate=args.rate, traffic_log=str(out_path), mix=str(path))
        log.info("offering %g req/s of %s to %s", args.rate, path, base_url)
        await generator.run(stop, args.duration)
