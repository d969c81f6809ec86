#!/usr/bin/env python3
"""A small shop API: a second, unlike application to release and drill with relrun.

Standard library only, no relrun code, no JWT, no fault endpoint: everything relrun
does to it happens from outside (the router or HAProxy in front of it, its service
control, its health path). Run ``python3 app.py --port 8080 --version 1.0``.

| endpoint | answer |
| --- | --- |
| ``GET /healthz`` | 200 ``{"status": "ok"}`` |
| ``GET /products`` | 200 ``{"products": [...]}`` (v2 adds ``currency`` to each) |
| ``GET /products/ID`` | 200 a product; 404 ``{"error": "no such product"}`` |
| ``POST /orders`` ``{"product": ID, "quantity": N}`` | 201 the order; 422 bad fields |
| ``GET /orders/ID`` | 200 an order; 404 |

Every answer carries ``X-Shop-Version``. SIGTERM stops accepting, lets requests in
flight finish (at most 10 s), and exits without waiting for idle keep-alive connections.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PRODUCTS = {
    1: {"id": 1, "name": "teapot", "price": 18.5},
    2: {"id": 2, "name": "mug", "price": 6.0},
    3: {"id": 3, "name": "kettle", "price": 42.0},
}


class Shop:
    """The shop's state: orders in memory, one lock."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.orders: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.active = 0  # requests being answered (idle keep-alive connections are not)

    def busy(self, delta: int) -> None:
        """Count a request in (+1) or out (-1)."""
        with self.lock:
            self.active += delta

    def product(self, product: dict[str, Any]) -> dict[str, Any]:
        """A product as this version shows it (v2 and later add the currency)."""
        major = self.version.split(".")[0]
        if major.isdigit() and int(major) >= 2:
            return {**product, "currency": "EUR"}
        return dict(product)


def make_handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    """The request handler bound to ``shop``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no access log

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Shop-Version", shop.version)
            self.end_headers()
            self.wfile.write(data)

        def _id(self, prefix: str) -> int | None:
            try:
                return int(self.path[len(prefix):].split("?")[0])
            except ValueError:
                return None

        def do_GET(self) -> None:
            shop.busy(1)
            try:
                self._get()
            finally:
                shop.busy(-1)

        def do_POST(self) -> None:
            shop.busy(1)
            try:
                self._post()
            finally:
                shop.busy(-1)

        def _get(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                self._send(200, {"status": "ok", "version": shop.version})
            elif path == "/products":
                self._send(200, {"products": [shop.product(p) for p in PRODUCTS.values()]})
            elif path.startswith("/products/"):
                found = PRODUCTS.get(self._id("/products/") or 0)
                if found is None:
                    self._send(404, {"error": "no such product"})
                else:
                    self._send(200, shop.product(found))
            elif path.startswith("/orders/"):
                with shop.lock:
                    order = shop.orders.get(self._id("/orders/") or 0)
                if order is None:
                    self._send(404, {"error": "no such order"})
                else:
                    self._send(200, order)
            else:
                self._send(404, {"error": "not found"})

        def _post(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path != "/orders":
                self._send(404, {"error": "not found"})
                return
            try:
                body = json.loads(raw or b"null")
                product, quantity = int(body["product"]), int(body["quantity"])
            except (ValueError, TypeError, KeyError):
                self._send(422, {"error": "product and quantity are required integers"})
                return
            if product not in PRODUCTS or not 1 <= quantity <= 100:
                self._send(422, {"error": "unknown product or quantity outside 1-100"})
                return
            with shop.lock:
                order_id = len(shop.orders) + 1
                order = {"id": order_id, "product": product, "quantity": quantity,
                         "total": round(PRODUCTS[product]["price"] * quantity, 2),
                         "created_at": time.time()}
                shop.orders[order_id] = order
            self._send(201, order)

    return Handler


def main() -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--version", default="1.0")
    args = parser.parse_args()
    state = Shop(args.version)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    # Idle keep-alive connections must not hold the exit; requests in flight do (below).
    server.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"shop {args.version} on {args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    deadline = time.monotonic() + 10
    while state.active and time.monotonic() < deadline:
        time.sleep(0.02)


if __name__ == "__main__":
    main()
