"""The demo API's answer to bodies over its size limit: the contract's JSON errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from relrun.sandbox.api import ApiState, build_app
from relrun.sandbox.serve import start_site
from relrun.sandbox.settings import DemoUser, SandboxConfig, Secrets

LIMIT = 64 * 1024  # the API's client_max_size
SECRETS = Secrets(
    jwt_key="k" * 32, admin_token="a" * 32, users=(DemoUser(username="demo", password="pw"),)
)


def post_all(bodies: list[bytes]) -> list[tuple[int, str, Any]]:
    """POST each body to /messages of a fresh API on an OS-chosen port, logged in as demo."""

    async def scenario() -> list[tuple[int, str, Any]]:
        state = ApiState(version="1.0", config=SandboxConfig(max_text_chars=100), secrets=SECRETS)
        runner, port = await start_site(build_app(state), shutdown_timeout=0.1)
        url = f"http://127.0.0.1:{port}"
        answers = []
        try:
            async with aiohttp.ClientSession() as session:
                creds = {"username": "demo", "password": "pw"}
                async with session.post(f"{url}/auth/token", json=creds) as response:
                    token = (await response.json())["access_token"]
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                for body in bodies:
                    async with session.post(
                        f"{url}/messages", data=body, headers=headers
                    ) as response:
                        raw = await response.read()
                        json_ = response.content_type == "application/json"
                        payload = json.loads(raw) if json_ else raw.decode()
                        answers.append((response.status, response.content_type, payload))
        finally:
            await runner.cleanup()
        return answers

    return asyncio.run(scenario())


def test_an_oversized_message_is_a_422_like_any_too_long_text() -> None:
    too_long = b'{"text": "' + b"x" * 101 + b'"}'
    over_limit = b'{"text": "' + b"x" * (LIMIT + 1) + b'"}'
    far_over = b'{"text": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    answers = post_all([too_long, over_limit, far_over, b'{"text": "fits"}'])
    assert answers[0] == (422, "application/json", {"error": "text longer than 100 characters"})
    for status, content_type, payload in answers[1:3]:
        assert (status, content_type) == (422, "application/json")
        assert set(payload) == {"error"}
        assert payload["error"].startswith("text longer than 100 characters")
    assert answers[3][0] == 201  # the connection and the API still serve after it
