"""A tiny business-metrics service on a free loopback port, for web/JSON guard drills.

It serves ``GET /stats?server=NAME`` as ``{"payments": {"failed_per_min": N}}`` per server,
behind a bearer token, and ``POST /set?server=NAME&failed=N`` moves a server's number (what
a drill's ``command`` fault does, over real HTTP from the Ansible task).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class BusinessMetrics:
    """The service: numbers per server, the requests it answered, started and stopped."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.failed: dict[str, float] = {}
        self.reads: list[str] = []
        self.refused = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, document: object) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server = parse_qs(parts.query).get("server", [""])[0]
                if self.headers.get("Authorization") != f"Bearer {service.token}":
                    with service.lock:
                        service.refused += 1
                    self._answer(401, {"error": "token"})
                    return
                if parts.path != "/stats" or not server:
                    self._answer(404, {"error": "no such stats"})
                    return
                with service.lock:
                    service.reads.append(server)
                    value = service.failed.get(server, 0.0)
                self._answer(200, {"payments": {"failed_per_min": value}, "server": server})

            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                with service.lock:
                    service.failed[query["server"][0]] = float(query["failed"][0])
                self._answer(200, {"ok": True})

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port (idempotent: a test may stop it mid-drill)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
