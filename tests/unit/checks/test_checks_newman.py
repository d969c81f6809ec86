"""Newman engine helpers: report parsing, secret collection, locating the binary."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.relrun.release.plugins.module_utils.http.newman_report import (
    checks_from_report,
    collect_secrets,
)
from ansible_collections.relrun.release.plugins.module_utils.http.newman_run import (
    NewmanMissing,
    environment_document,
    find_newman,
)
from ansible_collections.relrun.release.plugins.module_utils.http.redact import Redactor

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJl"


def execution(
    item_id: str,
    name: str,
    code: int | None,
    ms: int,
    tests: list[tuple[str, str | None]],
    auth: str | None = None,
    body: object = None,
) -> dict[str, object]:
    headers = [{"key": "Authorization", "value": auth}] if auth else []
    data: dict[str, object] = {
        "item": {"id": item_id, "name": name},
        "request": {"header": headers},
        "assertions": [
            {
                "assertion": t,
                "skipped": False,
                **({"error": {"name": "AssertionError", "message": e}} if e else {}),
            }
            for t, e in tests
        ],
    }
    if code is None:
        data["requestError"] = {"message": "connect ECONNREFUSED 127.0.0.1:1"}
    else:
        raw = list(json.dumps(body).encode()) if body is not None else []
        data["response"] = {
            "code": code,
            "responseTime": ms,
            "stream": {"type": "Buffer", "data": raw},
        }
    return data


REPORT = {
    "environment": {
        "values": [
            {"key": "password", "value": "hunter2-pw", "type": "secret"},
            {"key": "baseUrl", "value": "http://x"},
        ]
    },
    "run": {
        "executions": [
            execution("1", "login", 200, 5, [("status 200", None)], body={"access_token": TOKEN}),
            execution(
                "2",
                "create",
                201,
                7,
                [("text echoed", f"expected '{TOKEN}' to deeply equal 'x'")],
                auth="Bearer " + TOKEN,
            ),
            execution("3", "rate limit", 200, 2, [("no 5xx", None)]),
            execution("3", "rate limit", 200, 4, [("no 5xx", None)]),
            execution(
                "3", "rate limit", 429, 6, [("no 5xx", None), ("429 carries Retry-After", None)]
            ),
            execution("4", "down", None, 0, []),
        ],
    },
}


def test_report_becomes_checks() -> None:
    login, create, burst, down = checks_from_report(REPORT)
    assert (login["name"], login["passed"], login["status"], login["kind"]) == (
        "login",
        True,
        200,
        "newman",
    )
    assert not create["passed"] and create["message"].startswith(
        "text echoed: expected 'passes', got"
    )
    assert burst["passed"] and burst["message"] == "ok (3 runs)"
    assert (burst["latency_p50_ms"], burst["latency_p95_ms"], burst["status"]) == (4.0, 6.0, 429)
    assert not down["passed"] and "ECONNREFUSED" in down["message"] and down["status"] is None


def test_tokens_and_secret_variables_are_masked() -> None:
    redactor = Redactor()
    collect_secrets(REPORT, redactor)
    text = json.dumps(redactor.tree(checks_from_report(REPORT)))
    assert TOKEN not in text and "***" in text
    assert {TOKEN, "hunter2-pw"} <= redactor.secrets


def test_environment_document_overrides_and_marks_secrets() -> None:
    doc = environment_document(
        {"values": [{"key": "baseUrl", "value": "old"}, {"key": "x", "value": "1"}]},
        {"baseUrl": "http://new", "password": "p"},
        {"password"},
    )
    values = {v["key"]: v for v in doc["values"]}
    assert values["baseUrl"]["value"] == "http://new" and values["x"]["value"] == "1"
    assert values["password"]["type"] == "secret"


def test_find_newman_explains_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(NewmanMissing) as info:
        find_newman(str(tmp_path / "nope"), str(tmp_path))
    message = str(info.value)
    assert (
        "npm install -g newman" in message
        and "npm ci" in message
        and str(tmp_path / "nope") in message
    )
    binary = tmp_path / "node_modules" / ".bin" / "newman"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert find_newman(None, str(tmp_path)) == str(binary)
    assert find_newman(str(binary.parent), None) == str(binary)
    assert os.access(binary, os.X_OK)


FAKE_NEWMAN = """#!{python}
import json, os, stat, sys
argv = sys.argv[1:]
env_file = argv[argv.index("--environment") + 1]
report = argv[argv.index("--reporter-json-export") + 1]
values = json.load(open(env_file))["values"]
json.dump({{"argv": argv, "env_file": env_file, "mode": stat.S_IMODE(os.stat(env_file).st_mode),
           "values": values}}, open({record!r}, "w"))
json.dump({{"run": {{"executions": []}}}}, open(report, "w"))
"""


def test_run_newman_keeps_secrets_off_the_command_line(tmp_path: Path) -> None:
    import sys

    from ansible_collections.relrun.release.plugins.module_utils.http.newman_run import run_newman

    record = tmp_path / "record.json"
    fake = tmp_path / "newman"
    fake.write_text(FAKE_NEWMAN.format(python=sys.executable, record=str(record)))
    fake.chmod(0o755)
    env = environment_document(None, {"baseUrl": "http://x", "password": "s3cret-pw"}, {"password"})
    report, code, _ = run_newman(str(fake), "c.json", env, timeout_s=30, request_timeout_s=5)
    assert (report, code) == ({"run": {"executions": []}}, 0)
    seen = json.loads(record.read_text())
    assert "s3cret-pw" not in " ".join(seen["argv"])
    assert seen["mode"] == 0o600
    assert {v["key"]: v["value"] for v in seen["values"]}["password"] == "s3cret-pw"
    assert not Path(seen["env_file"]).exists()
