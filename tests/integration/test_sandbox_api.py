"""The demo API through the router: auth, validation, rate limiting, fault injection."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from relrun.sandbox import control
from relrun.sandbox.settings import SandboxConfig, UserLimit

pytestmark = pytest.mark.integration

CONFIG = SandboxConfig(
    max_text_chars=100,
    users=(
        UserLimit(username="demo", rate_per_s=2.0, burst=5),
        UserLimit(username="loadgen", rate_per_s=5000.0, burst=5000),
    ),
)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, hdrs, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, dict(err.headers), err.read()
    return status, hdrs, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control.SandboxStatus]:
    state_dir = tmp_path_factory.mktemp("sandbox")
    try:
        yield control.up(state_dir, loadgen=False, config=CONFIG)
    finally:
        control.down(state_dir)


def credentials(st: control.SandboxStatus, username: str = "demo") -> dict[str, str]:
    users = json.loads(st.credentials_file.read_text())["users"]
    user = next(u for u in users if u["username"] == username)
    return {"username": user["username"], "password": user["password"]}


def login(st: control.SandboxStatus, username: str = "demo") -> str:
    status, _, body = http("POST", f"{st.router_url}/auth/token", body=credentials(st, username))
    assert status == 200, body
    return str(body["access_token"])


def jwt_key(st: control.SandboxStatus) -> str:
    return (st.state_dir / "secrets" / "jwt.key").read_text().strip()


def test_health_reports_version_on_every_response(sandbox: control.SandboxStatus) -> None:
    status, headers, body = http("GET", f"{sandbox.router_url}/health")
    assert (status, body) == (200, {"status": "ok", "version": "1.0"})
    assert headers["X-Served-By"] == "1.0"
    status, headers, _ = http("GET", f"{sandbox.router_url}/messages")
    assert status == 401 and headers["X-Served-By"] == "1.0"


def test_login_post_and_list_messages(sandbox: control.SandboxStatus) -> None:
    status, _, token_body = http(
        "POST", f"{sandbox.router_url}/auth/token", body=credentials(sandbox, "loadgen")
    )
    assert status == 200
    assert token_body["token_type"] == "bearer" and token_body["expires_in"] == 3600
    token = token_body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    status, _, message = http(
        "POST", f"{sandbox.router_url}/messages", token=token, body={"text": "hello"}
    )
    assert status == 201
    assert set(message) == {"id", "text", "author", "created_at"}
    assert (message["text"], message["author"]) == ("hello", "loadgen")
    status, _, listing = http("GET", f"{sandbox.router_url}/messages", token=token)
    assert status == 200 and message in listing["messages"]


def test_wrong_credentials_are_401(sandbox: control.SandboxStatus) -> None:
    creds = credentials(sandbox) | {"password": "wrong"}
    status, _, _ = http("POST", f"{sandbox.router_url}/auth/token", body=creds)
    assert status == 401
    status, _, _ = http(
        "POST", f"{sandbox.router_url}/auth/token", body={"username": "nobody", "password": "x"}
    )
    assert status == 401


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_token(kind: str, st: control.SandboxStatus) -> str | None:
    now = int(time.time())
    claims = {"sub": "demo", "iat": now, "exp": now + 600, "iss": "relrun-sandbox"}
    if kind == "none":
        return None
    if kind == "malformed":
        return "not-a-jwt"
    if kind == "expired":
        past = claims | {"iat": now - 7200, "exp": now - 3600}
        return jwt.encode(past, jwt_key(st), algorithm="HS256")
    if kind == "wrong-key":
        return jwt.encode(claims, "another-secret-of-sufficient-length-x", algorithm="HS256")
    assert kind == "alg-none"
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


@pytest.mark.parametrize("kind", ["none", "malformed", "expired", "wrong-key", "alg-none"])
@pytest.mark.parametrize("endpoint", [("POST", "/messages"), ("GET", "/messages")])
def test_bad_tokens_are_401_with_www_authenticate(
    sandbox: control.SandboxStatus, kind: str, endpoint: tuple[str, str]
) -> None:
    method, path = endpoint
    status, headers, body = http(
        method,
        f"{sandbox.router_url}{path}",
        token=bad_token(kind, sandbox),
        body={"text": "x"} if method == "POST" else None,
    )
    assert status == 401, body
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_text_must_be_non_empty_and_short(sandbox: control.SandboxStatus) -> None:
    token = login(sandbox, "loadgen")
    url = f"{sandbox.router_url}/messages"
    assert http("POST", url, token=token, body={"text": ""})[0] == 422
    assert http("POST", url, token=token, body={"text": "   "})[0] == 422
    assert http("POST", url, token=token, body={})[0] == 422
    assert http("POST", url, token=token, body={"text": "x" * 101})[0] == 422
    assert http("POST", url, token=token, body={"text": "x" * 100})[0] == 201


def test_rate_limit_answers_429_with_retry_after(sandbox: control.SandboxStatus) -> None:
    token = login(sandbox, "demo")  # 2 req/s, burst 5
    results = [http("GET", f"{sandbox.router_url}/messages", token=token) for _ in range(15)]
    limited = [headers for status, headers, _ in results if status == 429]
    assert [s for s, _, _ in results[:5]] == [200] * 5
    assert limited, "no request was rate limited"
    assert all(int(h["Retry-After"]) >= 1 for h in limited)
    # Another token of the same user has its own bucket.
    assert http("GET", f"{sandbox.router_url}/messages", token=login(sandbox))[0] == 200


def test_admin_fault_needs_the_admin_token(sandbox: control.SandboxStatus) -> None:
    server = next(s for s in sandbox.servers if s.name == "stable")
    url = f"{server.url}/admin/fault"
    body = {"error_rate": 1.0, "latency_ms": 0}
    assert http("POST", url, body=body)[0] == 401
    assert http("POST", url, body=body, headers={"X-Admin-Token": "wrong"})[0] == 401
    admin = Path(sandbox.admin_token_file).read_text().strip()
    try:
        assert http("POST", url, body=body, token=admin)[0] == 200
        status, headers, _ = http("GET", f"{server.url}/health")
        assert status == 500 and headers["X-Fault"] == "injected"
        assert headers["X-Served-By"] == "1.0"
    finally:
        assert http("DELETE", url, headers={"X-Admin-Token": admin})[0] == 200
    assert http("GET", f"{server.url}/health")[0] == 200
