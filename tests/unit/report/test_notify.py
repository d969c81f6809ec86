from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from relrun.report.finish import finish_run
from relrun.report.history import connect
from relrun.report.notify import notify, wanted
from relrun.runbook.notify_models import Notify
from tests.unit.report.reportdata import NO_FAULT, run_dir

TOKEN = "s3cr3t-T0KEN-value"


@dataclass
class Receiver:
    """A real HTTP receiver on a free port that fails the first ``fail`` POSTs with 500."""

    fail: int = 0
    bodies: list[dict[str, object]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            state.paths.append(self.path)
            assert self.headers["Content-Type"] == "application/json"
            if state.fail > 0:
                state.fail -= 1
                self.send_response(500)
                self.end_headers()
                return
            state.bodies.append(body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook?token={TOKEN}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def cfg(on: list[str], retries: int = 3) -> Notify:
    return Notify.model_validate(
        {"webhook": {"url_env": "RELRUN_TEST_WEBHOOK", "on": on, "retries": retries,
                     "timeout": "2s"}}
    )


def test_sends_a_summary_without_secrets(tmp_path: Path, receiver: Receiver) -> None:
    directory = run_dir(tmp_path)
    result = notify(directory, cfg(["always"]), False, run_id="abc123",
                    environ={"RELRUN_TEST_WEBHOOK": receiver.url})
    assert (result.sent, result.attempts, result.status) == (True, 1, 204)
    (body,) = receiver.bodies
    assert body["runbook"] == {"name": "quick", "version": "2.0.0",
                               "sha256": body["runbook"]["sha256"]}  # type: ignore[index]
    assert (body["kind"], body["verdict"], body["rto_seconds"], body["detection_seconds"],
            body["lost"], body["run_id"], body["run_dir"]) == (
        "drill", "pass", 1.223, 0.292, 0, "abc123", str(directory))
    assert body["reasons"] and body["regression"] is False
    assert TOKEN not in json.dumps(body)
    assert receiver.paths == [f"/hook?token={TOKEN}"]


def test_fails_twice_then_succeeds(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail = 2
    waits: list[float] = []
    result = notify(run_dir(tmp_path), cfg(["always"]), False,
                    environ={"RELRUN_TEST_WEBHOOK": receiver.url}, backoff=0.5,
                    sleep=waits.append)
    assert (result.sent, result.attempts, result.status) == (True, 3, 204)
    assert result.errors == ["HTTP 500", "HTTP 500"]
    assert waits == [0.5, 1.0]  # exponential backoff
    assert len(receiver.bodies) == 1


def test_gives_up_without_raising(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail = 10
    result = notify(run_dir(tmp_path), cfg(["always"], retries=2), False,
                    environ={"RELRUN_TEST_WEBHOOK": receiver.url}, backoff=0.01)
    assert (result.sent, result.attempts, result.status, result.error) == (
        False, 3, 500, "HTTP 500")
    assert TOKEN not in repr(result)


def test_unreachable_receiver_is_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        url = f"http://127.0.0.1:{port}/x?token={TOKEN}"
        result = notify(run_dir(tmp_path), cfg(["always"], retries=1), False,
                        environ={"RELRUN_TEST_WEBHOOK": url}, backoff=0.01)
    assert not result.sent and result.attempts == 2
    assert result.error and TOKEN not in repr(result)


def test_missing_url_and_unwanted_outcomes(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)  # a passing drill
    missing = notify(directory, cfg(["always"]), False, environ={})
    assert not missing.sent and missing.error == "$RELRUN_TEST_WEBHOOK is not set"
    assert notify(directory, cfg(["failure"]), False, environ={}).skipped
    assert notify(directory, None, True).skipped == "no webhook configured"
    assert notify(tmp_path / "nothing", cfg(["always"]), False, environ={}).error


def test_wanted() -> None:
    assert wanted(["always"], False, False)
    assert wanted(["failure"], True, False) and not wanted(["failure"], False, True)
    assert wanted(["regression"], False, True) and not wanted(["regression"], True, False)


def test_model_keeps_urls_out_of_runbooks() -> None:
    assert cfg(["failure"]).webhook is not None
    with pytest.raises(ValidationError):
        Notify.model_validate({"webhook": {"url": "https://hooks.example/T0KEN"}})
    with pytest.raises(ValidationError):
        Notify.model_validate({"webhook": {"url_env": "X", "on": ["sometimes"]}})
    with pytest.raises(ValidationError):
        Notify.model_validate({"webhook": {"url_env": "not a name"}})


def test_finish_run_notifies_a_failed_drill(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELRUN_TEST_WEBHOOK", receiver.url)
    db = tmp_path / "history.db"
    directory = run_dir(tmp_path, NO_FAULT)  # verdict fail
    result = finish_run(directory, cfg(["failure"]), history_db=db)
    assert result.errors == []
    assert result.notification is not None and result.notification.sent
    assert (directory / "report.html").exists()
    (body,) = receiver.bodies
    assert body["verdict"] == "fail" and body["run_id"] == result.run_id
    with connect(db) as conn:
        rows = conn.execute("SELECT run_id, sent, attempts, status FROM notifications").fetchall()
    assert [tuple(r) for r in rows] == [(result.run_id, 1, 1, 204)]


def test_finish_run_never_raises(tmp_path: Path) -> None:
    result = finish_run(tmp_path / "missing", cfg(["always"]), history_db=tmp_path / "h.db")
    assert result.errors and result.run_id is None
    directory = run_dir(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the database directory should be")
    result = finish_run(directory, None, history_db=blocked / "h.db")
    assert result.html is not None and result.run_id is None
    assert any(e.startswith("history:") for e in result.errors)


def test_finish_run_flags_and_notifies_a_regression(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.report.reportdata import drill_doc, slowed, write_drill

    monkeypatch.setenv("RELRUN_TEST_WEBHOOK", receiver.url)
    db = tmp_path / "history.db"
    base = drill_doc()
    for i in range(3):
        ok = finish_run(write_drill(tmp_path, f"d{i}", slowed(base, 0.0, i * 60.0)),
                        cfg(["regression"]), history_db=db)
        assert not ok.regression and ok.notification and ok.notification.skipped
    slow = write_drill(tmp_path, "slow", slowed(base, 2.5, 3 * 60.0))
    result = finish_run(slow, cfg(["regression"]), history_db=db)
    assert result.regression and "above the median" in result.regression_why
    (body,) = receiver.bodies
    assert body["regression"] is True and body["rto_seconds"] == 3.723
    assert "(RTO regression)" in str(body["text"])


def test_runbook_notify_section_with_a_bare_on_key(tmp_path: Path) -> None:
    from relrun.runbook.loader import load_runbook

    runbook = tmp_path / "rb.yml"
    runbook.write_text(
        "apiVersion: relrun/v1\nkind: Runbook\nmetadata:\n  name: n\n  version: '1'\n"
        "  owners:\n    - name: T\n      role: release-manager\n"
        "notify:\n  webhook:\n    url_env: HOOK\n    on: [failure, regression]\n"
        "    retries: 1\n    timeout: 500ms\n"
    )
    loaded = load_runbook(runbook).runbook.notify
    assert loaded is not None and loaded.webhook is not None
    assert (loaded.webhook.on, loaded.webhook.retries, loaded.webhook.timeout) == (
        ["failure", "regression"], 1, 0.5)
