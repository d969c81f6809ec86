"""Plain-HTTP requests of the analysis: no TLS set-up per request, plain http:// only."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic import (
    plainhttp,
)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_request_loads_no_certificates(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> ssl.SSLContext:
        raise AssertionError("a TLS context with the system's CAs was built")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    for _ in range(3):
        with plainhttp.open_plain(f"http://{server}/healthz", timeout=5) as response:
            assert response.status == 200 and response.read() == b'{"ok": true}'


def test_the_probe_reads_the_status_through_it(server: str) -> None:
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
        probe,
    )

    assert probe(server, "/healthz", 5) is None
    assert probe(server, "/health", 5) == "HTTP 404"


def test_only_plain_http_is_opened() -> None:
    with pytest.raises(ValueError, match="plain HTTP only"):
        plainhttp.open_plain("https://127.0.0.1:1/health")


def test_health_probes_of_many_servers_answer_each_one(server: str) -> None:
    """The analysis probes a fleet's servers side by side: every server gets its own answer."""
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis import (
        core,
    )

    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    servers = {f"canary-{i}": server for i in range(1, 21)}
    servers |= {"canary-21": dead, "canary-22": None}
    answers = core.probe_all(servers, "/healthz", 2.0)
    assert list(answers) == list(servers)
    assert [answers[f"canary-{i}"] for i in range(1, 21)] == [None] * 20
    assert answers["canary-21"] is not None and "refused" in answers["canary-21"].lower()
    assert answers["canary-22"] == "no address"
    assert core.probe_all({"canary-1": server}, "/missing", 2.0) == {"canary-1": "HTTP 404"}
