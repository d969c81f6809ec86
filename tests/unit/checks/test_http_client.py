"""api_check's plain-HTTP client: redirects, proxies, and one TLS context per settings."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_collections.relrun.release.plugins.module_utils.http import (  # type: ignore[import-not-found, unused-ignore]
    client,
)
from ansible_collections.relrun.release.plugins.module_utils.http.client import (  # type: ignore[import-not-found, unused-ignore]
    RequestFailed,
    Tls,
    send,
)


class _Server(http.server.BaseHTTPRequestHandler):
    """``/moved`` redirects; anything else echoes the request line it was sent."""

    def do_GET(self) -> None:
        if self.path.endswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.requestline.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_a_redirect_is_the_answer_not_followed(server: str, no_proxy_env: None) -> None:
    resp = send("GET", server + "/moved", tls=Tls())
    assert resp.status == 302
    assert resp.header("Location") == "/elsewhere"


def test_proxy_from_the_environment_unless_turned_off(
    server: str, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    monkeypatch.setenv("http_proxy", server)
    # A proxy receives the absolute URL in the request line; the name need not resolve.
    resp = send("GET", "http://api.invalid/health", tls=Tls(use_proxy=True))
    assert resp.status == 200
    assert resp.body.startswith(b"GET http://api.invalid/health ")
    with pytest.raises(RequestFailed, match=r"api\.invalid"):
        send("GET", "http://api.invalid/health", tls=Tls(use_proxy=False))


def test_one_tls_context_for_every_request_of_the_same_settings(
    server: str, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    # Making a context loads the system's CA store (tens of ms of CPU): once per request
    # made a 60-request rate-limit burst slower than the limit it must trip.
    made: list[dict[str, Any]] = []
    real = client.make_context

    def counting(**kwargs: Any) -> Any:
        made.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(client, "make_context", counting)
    tls = Tls()
    for _ in range(20):
        assert send("GET", server + "/health", tls=tls).status == 200
    assert len(made) == 1
    assert made[0]["validate_certs"] is True
