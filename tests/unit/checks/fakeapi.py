"""A tiny messaging API in a thread, with switchable faults, for testing the checks.

It speaks the sandbox API's contract (health, JWT login, messages, SSE, rate limit) with
http.server and PyJWT, so the module's stdlib JWT forging is tested against an
independent implementation.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt


@dataclass
class Faults:
    accept_unsigned: bool = False  # takes alg=none tokens
    accept_any_signature: bool = False  # never verifies signatures
    no_rate_limit: bool = False
    sse_silent: bool = False  # the stream stays open but never delivers
    server_error_every: int = 0  # every Nth request answers 500
    no_www_authenticate: bool = False


@dataclass
class FakeApi:
    faults: Faults
    username: str = "demo"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    key: str = field(default_factory=lambda: secrets.token_hex(32))
    burst: int = 5
    version: str = "2.0"
    issued: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    subscribers: list[queue.Queue[dict[str, Any]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def write_credentials(self, directory: Path) -> Path:
        path = directory / "users.json"
        users = [{"username": "other", "password": "x" * 8}]
        users.append({"username": self.username, "password": self.password})
        path.write_text(json.dumps({"users": users}))
        path.chmod(0o600)
        return path

    def start(self) -> FakeApi:
        api = self

        class Handler(_Handler):
            pass

        Handler.api = api
        ThreadingHTTPServer.request_queue_size = 128
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def token_claims(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        verify = not (
            self.faults.accept_any_signature
            or (self.faults.accept_unsigned and header.get("alg") == "none")
        )
        try:
            if not verify:
                return dict(jwt.decode(token, options={"verify_signature": False}))
            return dict(jwt.decode(token, self.key, algorithms=["HS256"]))
        except jwt.PyJWTError:
            return None


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", self.api.version)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def _count(self) -> bool:
        api = self.api
        with api.lock:
            api.requests += 1
            n = api.requests
        every = api.faults.server_error_every
        if every and n % every == 0:
            self._send(500, {"error": "injected"}, {"X-Fault": "injected"})
            return False
        return True

    def _auth(self, token: str | None) -> dict[str, Any] | None:
        claims = self.api.token_claims(token) if token else None
        if claims is None:
            extra = {} if self.api.faults.no_www_authenticate else {"WWW-Authenticate": "Bearer"}
            self._send(401, {"error": "unauthorized"}, extra)
            return None
        if not self.api.faults.no_rate_limit:
            with self.api.lock:
                used = self.api.counts.get(token or "", 0) + 1
                self.api.counts[token or ""] = used
            if used > self.api.burst:
                self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
                return None
        return claims

    def _bearer(self) -> str | None:
        value = self.headers.get("Authorization") or ""
        return value[7:] if value.startswith("Bearer ") else None

    def do_GET(self) -> None:
        if not self._count():
            return
        url = urlsplit(self.path)
        if url.path == "/health":
            self._send(200, {"status": "ok", "version": self.api.version})
        elif url.path == "/messages":
            if self._auth(self._bearer()) is not None:
                self._send(200, {"messages": self.api.messages[-50:]})
        elif url.path == "/events":
            token = self._bearer() or (parse_qs(url.query).get("access_token") or [None])[0]
            if self.api.token_claims(token or "") is None:
                self._send(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
                return
            self._stream()
        else:
            self._send(404, {"error": "not found"})

    def _stream(self) -> None:
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        with self.api.lock:  # subscribe before saying so, as the sandbox API does
            self.api.subscribers.append(inbox)
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while not self.api.stopping.is_set():
                try:
                    message = inbox.get(timeout=0.1)
                except queue.Empty:
                    self.wfile.write(b": heartbeat\n\n")
                    self.wfile.flush()
                    continue
                if self.api.faults.sse_silent:
                    continue
                payload = json.dumps(message)
                self.wfile.write(f"event: message\ndata: {payload}\n\n".encode())
                self.wfile.flush()
        except OSError:
            pass
        finally:
            with self.api.lock:
                self.api.subscribers.remove(inbox)

    def do_POST(self) -> None:
        if not self._count():
            return
        body = self._body()
        if self.path == "/auth/token":
            ok = (
                isinstance(body, dict)
                and body.get("username") == self.api.username
                and body.get("password") == self.api.password
            )
            if not ok:
                self._send(401, {"error": "bad credentials"})
                return
            claims = {
                "sub": self.api.username,
                "exp": int(time.time()) + 300,
                "jti": uuid.uuid4().hex,
            }
            token = jwt.encode(claims, self.api.key, algorithm="HS256")
            self.api.issued.append(token)
            self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 300})
        elif self.path == "/messages":
            claims = self._auth(self._bearer())
            if claims is None:
                return
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text or len(text) > 1000:
                self._send(422, {"error": "text must be 1..1000 characters"})
                return
            message = {
                "id": uuid.uuid4().hex,
                "text": text,
                "author": claims.get("sub"),
                "created_at": time.time(),
            }
            with self.api.lock:
                self.api.messages.append(message)
                for inbox in self.api.subscribers:
                    inbox.put(message)
            self._send(201, message)
        else:
            self._send(404, {"error": "not found"})
