"""JWT forging against PyJWT, and the SSE parser and stream."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from ansible_collections.relrun.release.plugins.module_utils.http import (
    jwt as http_jwt,
)
from ansible_collections.relrun.release.plugins.module_utils.http import (
    sse as http_sse,
)
from ansible_collections.relrun.release.plugins.module_utils.http.client import send

from tests.unit.checks.fakeapi import FakeApi

KEY = "k" * 32
TOKEN = jwt.encode({"sub": "demo", "exp": 2_000_000_000}, KEY, algorithm="HS256")


@pytest.mark.parametrize("case", ["wrong_key", "alg_none", "tampered", "malformed"])
def test_forged_tokens_fail_real_verification(case: str) -> None:
    forged = http_jwt.refusal_token(case, TOKEN)
    assert forged is not None and forged != TOKEN
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(forged, KEY, algorithms=["HS256"])


def test_forged_tokens_keep_the_claims() -> None:
    claims = jwt.decode(TOKEN, KEY, algorithms=["HS256"])
    wrong = http_jwt.forge_wrong_key(TOKEN)
    assert jwt.decode(wrong, options={"verify_signature": False}) == claims
    assert jwt.get_unverified_header(wrong)["alg"] == "HS256"
    unsigned = http_jwt.forge_alg_none(TOKEN)
    assert unsigned.endswith(".")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert http_jwt.split_token(unsigned)[1] == claims


def test_sign_hs256_matches_pyjwt() -> None:
    token = http_jwt.sign_hs256({"alg": "HS256", "typ": "JWT"}, {"sub": "x"}, KEY.encode())
    assert jwt.decode(token, KEY, algorithms=["HS256"]) == {"sub": "x"}


def test_missing_case_sends_no_token_and_non_jwt_is_refused() -> None:
    assert http_jwt.refusal_token("missing", TOKEN) is None
    with pytest.raises(http_jwt.NotAJwt):
        http_jwt.forge_wrong_key("abc")


def test_sse_parser_follows_the_spec() -> None:
    parser = http_sse.SseParser()
    lines = [
        ": connected",
        "",
        "event: message",
        'data: {"a":',
        "data:1}",
        "id: 5",
        "",
        "data: x",
        "",
    ]
    events = [e for e in (parser.feed_line(line + "\n") for line in lines) if e is not None]
    assert [(e.event, e.data, e.id) for e in events] == [
        ("message", '{"a":\n1}', "5"),
        ("message", "x", "5"),
    ]
    assert parser.comments_seen == 1 and parser.events_seen == 2


def _token(api: FakeApi) -> str:
    resp = send(
        "POST",
        api.base_url + "/auth/token",
        json_body={"username": api.username, "password": api.password},
    )
    return str(json.loads(resp.body)["access_token"])


def test_sse_stream_delivers_and_times_out(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    token = _token(api)
    headers = {"Authorization": "Bearer " + token}
    with http_sse.SseStream(api.base_url + "/events", headers, 5.0) as stream:
        assert (stream.status, stream.content_type) == (200, "text/event-stream")
        assert stream.wait_ready(time.monotonic() + 5)
        send("POST", api.base_url + "/messages", headers=headers, json_body={"text": "hello"})
        event = stream.next_event(time.monotonic() + 5)
        assert event is not None and json.loads(event.data)["text"] == "hello"
        started = time.monotonic()
        assert stream.next_event(started + 0.3) is None  # only heartbeats follow
        assert time.monotonic() - started < 30  # returned at its deadline, did not hang
