"""The web/JSON metric provider against a loopback JSON service, and Prometheus guards."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    MetricsUnavailable,
    make_guard,
)

Answer = Callable[[str, dict[str, str]], tuple[int, bytes]]
VALUES = {"server": "canary 1", "role": "canary", "backend": "api", "window": "5s"}


class Fake:
    """Answers every GET with ``answer(path, headers)``; records what it was asked."""

    def __init__(self, answer: Answer) -> None:
        self.asked: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.asked.append((self.path, dict(self.headers)))
                status, body = answer(self.path, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Fake]]:
    started: list[Fake] = []

    def start(answer: Answer) -> Fake:
        started.append(Fake(answer))
        return started[-1]

    yield start
    for fake in started:
        fake.server.shutdown()
        fake.server.server_close()


def document(value: object) -> Answer:
    return lambda path, headers: (200, json.dumps({"data": {"failed": value}}).encode())


def web(url: str, **extra: object) -> object:
    return make_guard({"provider": "web", "name": "g", "url": url, "path": "data.failed",
                       **extra})


def test_the_number_at_the_path_of_the_url_filled_in_per_server(
    serve: Callable[[Answer], Fake],
) -> None:
    fake = serve(document(7.5))
    guard = web(fake.url + "/stats?server=${server}&b=${backend}")
    assert guard.value(VALUES, 2) == 7.5  # type: ignore[attr-defined]
    # Values are URL-quoted: a space or an & in a name cannot change the query.
    assert fake.asked[0][0] == "/stats?server=canary%201&b=api"
    assert guard.shown(VALUES) == (  # type: ignore[attr-defined]
        f"GET {fake.url}/stats?server=canary%201&b=api -> data.failed"
    )


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (document("12"), None),
        (lambda p, h: (200, b'{"data": {}}'), "no 'data.failed' in the answer"),
        (document(True), "not a number"),
        (document(None), "not a number"),
        (document("many"), "not a number"),
        (lambda p, h: (200, b"<html>"), "not JSON"),
        (lambda p, h: (503, b"{}"), "HTTP 503"),
    ],
)
def test_anything_but_a_number_is_no_data(
    serve: Callable[[Answer], Fake], answer: Answer, words: str | None
) -> None:
    guard = web(serve(answer).url + "/x")
    if words is None:
        assert guard.value(VALUES, 2) == 12  # type: ignore[attr-defined]
        return
    with pytest.raises(MetricsUnavailable, match=words):
        guard.value(VALUES, 2)  # type: ignore[attr-defined]


def test_no_answer_is_no_data_within_the_timeout() -> None:
    guard = web("http://127.0.0.1:9/x")  # discard port: nothing listens
    with pytest.raises(MetricsUnavailable, match="no answer"):
        guard.value(VALUES, 1)  # type: ignore[attr-defined]
    with pytest.raises(MetricsUnavailable, match="no time left"):
        guard.value(VALUES, 0)  # type: ignore[attr-defined]


def test_credentials_and_header_values_come_from_the_environment_and_never_show(
    serve: Callable[[Answer], Fake], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "s3cret-token")
    monkeypatch.setenv("SHOP_KEY", "k3y-value")
    fake = serve(lambda p, h: (401, b"{}"))
    guard = web(fake.url + "/x", auth={"token_env": "SHOP_TOKEN"},
                headers={"X-Tenant": "shop"}, headers_env={"X-Api-Key": "SHOP_KEY"})
    with pytest.raises(MetricsUnavailable) as caught:
        guard.value(VALUES, 2)  # type: ignore[attr-defined]
    headers = fake.asked[0][1]
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert (headers["X-Api-Key"], headers["X-Tenant"]) == ("k3y-value", "shop")
    assert "HTTP 401" in str(caught.value)
    assert "s3cret" not in str(caught.value) and "k3y" not in str(caught.value)


def test_a_missing_credential_is_named_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(MetricsUnavailable, match="environment variable NOPE is not set"):
        web("http://127.0.0.1:9/x", headers_env={"X-Api-Key": "NOPE"})


def test_a_prometheus_guard_is_one_number_and_no_series_is_no_data(
    serve: Callable[[Answer], Fake],
) -> None:
    def answer(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        result = [] if "empty" in path else [{"metric": {}, "value": [0, "0.25"]}]
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return 200, json.dumps(body).encode()

    fake = serve(answer)
    guard = make_guard({"provider": "prometheus", "name": "p", "url": fake.url,
                        "query": 'sum(x{server="${server}"})'})
    assert guard.value(VALUES, 2) == 0.25
    assert guard.shown(VALUES) == 'sum(x{server="canary 1"})'
    empty = make_guard({"provider": "prometheus", "name": "p", "url": fake.url,
                        "query": "empty"})
    with pytest.raises(MetricsUnavailable, match="no series"):
        empty.value(VALUES, 2)
