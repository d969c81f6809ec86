"""The weighted router with real servers: SSE, weights, drain, faults, crash, admin API."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import pytest

from relrun.sandbox import control
from relrun.sandbox.admin_client import RouterAdmin
from relrun.sandbox.settings import SandboxConfig

pytestmark = pytest.mark.integration


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
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
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, hdrs, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, dict(err.headers), err.read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw
    return status, hdrs, payload


def poll(what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Env:
    def __init__(self, status: control.SandboxStatus) -> None:
        self.status = status
        self.url = str(status.router_url)
        self.admin: RouterAdmin = control.router_admin(status.state_dir)

    def token(self) -> str:
        users = json.loads(self.status.credentials_file.read_text())["users"]
        creds = next(u for u in users if u["username"] == "loadgen")
        code, _, body = http("POST", f"{self.url}/auth/token", body=creds)
        assert code == 200
        return str(body["access_token"])


@pytest.fixture
def env(tmp_path: Any) -> Iterator[Env]:
    try:
        control.up(tmp_path, loadgen=False, config=SandboxConfig(heartbeat_s=0.2))
        control.start_server("canary", "2.0", tmp_path)
        yield Env(control.status(tmp_path))
    finally:
        control.down(tmp_path)


def test_sse_events_pass_through_unbuffered(env: Env) -> None:
    token = env.token()
    parts = urlsplit(env.url)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", f"/events?access_token={token}")
    response = conn.getresponse()
    try:
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        assert response.getheader("X-Served-By") == "1.0"
        assert response.readline() == b": connected\n"
        # A heartbeat arriving while the stream stays open proves nothing is buffered.
        lines = [response.readline() for _ in range(2)]
        assert b": heartbeat\n" in lines
        code, _, message = http("POST", f"{env.url}/messages", token=token, body={"text": "hi"})
        assert code == 201
        seen: list[bytes] = []
        while b"data: " not in b"".join(seen):
            seen.append(response.readline())
        text = b"".join(seen).decode()
        assert "event: message\n" in text
        data = next(line for line in text.splitlines() if line.startswith("data: "))
        assert json.loads(data.removeprefix("data: ")) == message
    finally:
        conn.close()


def test_weights_split_traffic(env: Env) -> None:
    env.admin.set_weight("stable", 75)
    env.admin.set_weight("canary", 25)
    n = 2000
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: http("GET", f"{env.url}/health"), range(n)))
    assert {r[0] for r in results} == {200}
    served = Counter(r[1]["X-Served-By"] for r in results)
    # Binomial(2000, 0.25): sd 19.4; +-100 is 5.2 sd, so a false failure is < 1e-6.
    assert 400 <= served["2.0"] <= 600, served
    stats = env.admin.stats()
    assert stats.servers["canary"].requests == served["2.0"]
    assert stats.servers["stable"].requests == served["1.0"]


def test_drain_lets_in_flight_finish_while_new_requests_go_to_stable(env: Env) -> None:
    env.admin.set_weight("stable", 0)
    env.admin.set_weight("canary", 100)
    control.set_fault("canary", latency_ms=1500, state_dir=env.status.state_dir)
    slow: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: slow.update(result=http("GET", f"{env.url}/health")), daemon=True
    )
    thread.start()
    poll("the slow request", lambda: env.admin.server("canary").stats.in_flight == 1)
    env.admin.set_state("canary", "drain")
    env.admin.set_weight("stable", 100)
    fast = [http("GET", f"{env.url}/health") for _ in range(20)]
    # None of them went to (or waited for) the draining canary.
    assert [(r[0], r[1]["X-Served-By"]) for r in fast] == [(200, "1.0")] * 20
    thread.join(10)
    code, headers, _ = slow["result"]
    assert (code, headers["X-Served-By"]) == (200, "2.0")
    canary = env.admin.server("canary")
    assert canary.state == "drain" and canary.stats.in_flight == 0
    assert canary.stats.requests == 1


def test_injected_faults_show_in_router_statistics(env: Env) -> None:
    env.admin.set_weight("stable", 50)
    env.admin.set_weight("canary", 50)
    control.set_fault("canary", error_rate=0.5, state_dir=env.status.state_dir)
    results = [http("GET", f"{env.url}/health") for _ in range(200)]
    faults = [r for r in results if r[1].get("X-Fault") == "injected"]
    assert faults and all(r[0] == 500 and r[1]["X-Served-By"] == "2.0" for r in faults)
    stats = env.admin.stats(window=30)
    canary, stable = stats.servers["canary"], stats.servers["stable"]
    assert canary.faults == len(faults) == canary.responses["5xx"]
    assert canary.window.errors_5xx == len(faults) and canary.window.faults == len(faults)
    assert canary.window.error_rate == pytest.approx(len(faults) / canary.requests, abs=1e-5)
    assert stable.responses["5xx"] == 0 and stable.window.error_rate == 0
    assert canary.window.latency_ms.p99 is not None
    control.clear_fault("canary", env.status.state_dir)
    assert http("GET", f"{env.status.servers[0].url}/health")[0] == 200


def test_canary_crash_loses_no_request(env: Env) -> None:
    env.admin.set_weight("stable", 50)
    env.admin.set_weight("canary", 50)
    token = env.token()
    stop = threading.Event()
    results: list[tuple[int, str]] = []

    def user(index: int) -> None:
        while not stop.is_set():
            if index % 2:
                code, headers, _ = http(
                    "POST",
                    f"{env.url}/messages",
                    token=token,
                    body={"text": "x"},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
            else:
                code, headers, _ = http("GET", f"{env.url}/messages?limit=5", token=token)
            results.append((code, headers.get("X-Served-By", "")))

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(6)]
    for thread in threads:
        thread.start()
    poll("canary traffic", lambda: sum(1 for r in results if r[1] == "2.0") >= 50)
    assert control.crash_server("canary", env.status.state_dir)
    crashed_at = len(results)
    poll("traffic after the crash", lambda: len(results) >= crashed_at + 300)
    stop.set()
    for thread in threads:
        thread.join(10)
    codes = Counter(code for code, _ in results)
    assert set(codes) <= {200, 201}, codes
    assert all(v == "1.0" for _, v in results[crashed_at + 50 :])
    canary = env.admin.server("canary").stats
    assert canary.connection_errors >= 1 and canary.redispatched >= 1
    assert env.admin.stats().failed == 0


def test_admin_api_answers_json_and_checks_the_token(env: Env) -> None:
    base = env.admin.base_url
    code, headers, body = http("GET", f"{base}/admin/servers")
    assert (
        code == 401 and "error" in body and headers["Content-Type"].startswith("application/json")
    )
    code, _, body = http("GET", f"{base}/admin/health")
    assert (code, body) == (200, {"status": "ok"})
    auth = {"X-Admin-Token": env.admin.token}
    code, _, body = http("GET", f"{base}/admin/servers/nope", headers=auth)
    assert code == 404 and "error" in body
    code, _, body = http("PUT", f"{base}/admin/servers/canary", headers=auth, body={"weight": -1})
    assert code == 400 and body["details"]
    code, _, body = http("PUT", f"{base}/admin/servers/canary", headers=auth, body={"state": "x"})
    assert code == 400
    code, _, body = http("GET", f"{base}/admin/stats?window=abc", headers=auth)
    assert code == 400
    code, _, body = http("GET", f"{base}/admin/nowhere", headers=auth)
    assert code == 404 and "error" in body
    code, _, body = http(
        "GET",
        f"{base}/admin/servers?window=5",
        headers={"Authorization": f"Bearer {env.admin.token}"},
    )
    assert code == 200
    names = {s["name"]: s for s in body["servers"]}
    assert names["canary"]["stats"]["window"]["seconds"] == 5
    assert names["stable"]["weight"] == 100 and names["canary"]["state"] == "ready"
    # No eligible server: 503 from the router itself, counted as unrouted.
    env.admin.set_state("stable", "maint")
    env.admin.set_weight("canary", 0)
    assert http("GET", f"{env.url}/health")[0] == 503
    assert env.admin.stats().unrouted == 1
