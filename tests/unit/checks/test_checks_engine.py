"""The check kinds against a fake API, including APIs that are broken on purpose."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible_collections.relrun.release.plugins.module_utils.http.runner import run_checks

from relrun.runbook.check_models import ApiChecksSection
from tests.helpers import free_port
from tests.unit.checks.fakeapi import FakeApi

BEARER = {"Authorization": "Bearer ${captures.token}"}


def section_checks(*checks: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate through the runbook model, then dump as the renderer does."""
    section = ApiChecksSection.model_validate(
        {"credentials": {"username": "demo", "password_env": "UNUSED"}, "checks": list(checks)}
    )
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in section.checks]


AUTH = {"name": "auth", "kind": "jwt_auth"}


def run(api: FakeApi, *checks: dict[str, Any]) -> Any:
    creds = {"username": api.username, "password": api.password}
    return run_checks(api.base_url, section_checks(*checks), creds)


def by_name(outcome: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in outcome.checks}


def test_all_kinds_pass_against_a_correct_api(api: FakeApi) -> None:
    outcome = run(
        api,
        {"name": "health", "kind": "health", "version": "2.0", "repeat": 3},
        AUTH,
        {
            "name": "post",
            "kind": "http",
            "request": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": "hi"},
            },
            "expect": {
                "status": 201,
                "json": {"text": {"equals": "hi"}, "id": {"type": "string"}},
                "headers": {"X-Served-By": {"equals": "2.0"}},
                "max_latency_ms": 5000,
            },
            "capture": {"message_id": {"json": "id"}},
        },
        {
            "name": "listed",
            "kind": "http",
            "request": {"path": "/messages", "headers": BEARER},
            "expect": {"json": {"messages[-1].id": {"equals": "${captures.message_id}"}}},
        },
        {
            "name": "sse",
            "kind": "sse",
            "stream": {"path": "/events", "headers": BEARER},
            "trigger": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": "s ${run.id}"},
            },
        },
        {
            "name": "burst",
            "kind": "rate_limit",
            "request": {"path": "/messages", "headers": BEARER},
            "burst": 12,
        },
    )
    assert not outcome.failed, outcome.msg
    results = by_name(outcome)
    assert all(r["passed"] for r in results.values())
    health = results["health"]
    assert (
        health["latency_p50_ms"] is not None
        and health["latency_p95_ms"] >= health["latency_p50_ms"]
    )
    assert [a["what"] for a in results["auth"]["assertions"]][-5:] == [
        "refused: missing",
        "refused: malformed",
        "refused: wrong_key",
        "refused: alg_none",
        "refused: tampered",
    ]
    assert outcome.msg == "6 of 6 API checks passed"


def test_no_token_value_is_returned(api: FakeApi) -> None:
    outcome = run(
        api,
        AUTH,
        {
            "name": "echo",
            "kind": "http",
            "request": {"path": "/nope", "headers": BEARER},
            "expect": {"status": 200, "headers": {"X-Echo": {"equals": "${captures.token}"}}},
        },
    )
    text = json.dumps(outcome.checks) + outcome.msg
    assert api.issued and not any(token in text for token in api.issued)
    assert api.password not in text
    assert "***" in text  # the failing header expectation shows the masked token


def test_api_accepting_unsigned_tokens_fails_jwt_auth(make_api: Callable[..., FakeApi]) -> None:
    outcome = run(make_api(accept_unsigned=True), AUTH)
    (auth,) = outcome.checks
    assert not auth["passed"] and outcome.failed
    assert (
        "refused: alg_none: expected '401 + WWW-Authenticate: Bearer', got 201" in auth["message"]
    )
    assert "wrong_key" not in auth["message"]
    assert outcome.msg == "required API checks failed: auth"


def test_api_without_signature_checks_fails_every_forgery(make_api: Callable[..., FakeApi]) -> None:
    (auth,) = run(make_api(accept_any_signature=True), AUTH).checks
    failed = {a["what"] for a in auth["assertions"] if not a["passed"]}
    assert failed == {"refused: wrong_key", "refused: alg_none", "refused: tampered"}


def test_refusal_without_challenge_header_fails(make_api: Callable[..., FakeApi]) -> None:
    (auth,) = run(make_api(no_www_authenticate=True), AUTH).checks
    assert "got '401, WWW-Authenticate: <missing>'" in auth["message"]


def test_api_without_rate_limit_fails_rate_limit(make_api: Callable[..., FakeApi]) -> None:
    outcome = run(
        make_api(no_rate_limit=True),
        AUTH,
        {
            "name": "burst",
            "kind": "rate_limit",
            "request": {"path": "/messages", "headers": BEARER},
            "burst": 20,
        },
    )
    burst = by_name(outcome)["burst"]
    assert not burst["passed"]
    assert burst["message"].startswith("429 responses: expected '>= 1', got 0")
    assert "20 requests: 20x200" in burst["message"]


def test_server_errors_during_burst_fail_rate_limit(make_api: Callable[..., FakeApi]) -> None:
    api = make_api(server_error_every=4)
    outcome = run(
        api,
        {
            "name": "login",
            "kind": "http",
            "request": {
                "method": "POST",
                "path": "/auth/token",
                "json": {
                    "username": "${credentials.username}",
                    "password": "${credentials.password}",
                },
            },
            "expect": {"status": 200},
            "capture": {"token": {"json": "access_token"}},
        },
        {
            "name": "burst",
            "kind": "rate_limit",
            "request": {"path": "/messages", "headers": BEARER},
            "burst": 20,
        },
    )
    burst = by_name(outcome)["burst"]
    assert "5xx responses: expected 0, got 5" in burst["message"]


def test_silent_event_stream_fails_sse(make_api: Callable[..., FakeApi]) -> None:
    outcome = run(
        make_api(sse_silent=True),
        AUTH,
        {
            "name": "sse",
            "kind": "sse",
            "timeout_s": 0.5,
            "stream": {"path": "/events", "headers": BEARER},
            "trigger": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": "t ${run.id}"},
            },
        },
    )
    sse = by_name(outcome)["sse"]
    assert not sse["passed"]
    (failed,) = [a for a in sse["assertions"] if not a["passed"]]
    assert failed["what"] == "event message with the created id, text"
    assert set(failed["expected"]) == {"id", "text"}
    assert failed["actual"].startswith("none within 0.5s (0 other events")


def test_failed_capture_fails_dependents_with_a_reason(api: FakeApi) -> None:
    outcome = run(
        api,
        {
            "name": "login",
            "kind": "http",
            "request": {"method": "POST", "path": "/auth/token", "json": {}},
            "capture": {"token": {"json": "access_token"}},
            "required": False,
        },
        {"name": "use", "kind": "http", "request": {"path": "/messages", "headers": BEARER}},
    )
    login, use = outcome.checks
    assert "status: expected '2xx', got 401" in login["message"]
    assert "capture token: expected 'json access_token', got '<missing>'" in login["message"]
    assert use["message"] == "${captures.token} is not defined at this point"
    assert outcome.failed_required == ["use"]


def test_unreachable_api_is_reported_per_check() -> None:
    outcome = run_checks(
        f"http://127.0.0.1:{free_port()}", section_checks({"name": "health", "kind": "health"})
    )
    (health,) = outcome.checks
    assert health["status"] is None and not health["passed"]
    assert "no response" in health["message"] and "GET http://127.0.0.1:" in health["message"]


def test_credentials_from_the_sandbox_users_file(api: FakeApi, tmp_path: Path) -> None:
    path = api.write_credentials(tmp_path)
    outcome = run_checks(
        api.base_url, section_checks(AUTH), {"username": "demo", "from_file": str(path)}
    )
    assert not outcome.failed, outcome.msg
    missing = run_checks(
        api.base_url, section_checks(AUTH), {"from_file": str(tmp_path / "nope.json")}
    )
    assert "cannot read credentials file" in missing.checks[0]["message"]
