"""relrun.release.api_check through real ansible-runner: fake API and the real sandbox."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from relrun.render.check_tasks import render_check_tasks
from relrun.render.yamlout import dump_yaml
from relrun.runbook.check_models import ApiChecksSection
from tests.helpers import ROOT
from tests.unit.checks.fakeapi import FakeApi, Faults

pytestmark = pytest.mark.integration

BEARER = {"Authorization": "Bearer ${captures.token}"}
HAS_SANDBOX = importlib.util.find_spec("relrun.sandbox.control") is not None


def run_tasks(
    tmp_path: Path, tasks: list[dict[str, Any]], extravars: dict[str, Any], check_mode: bool = False
) -> tuple[Any, dict[str, Any], Path]:
    """Run tasks in a one-play playbook; return the runner, the registered result, artifacts."""
    pdd = tmp_path / "runner"
    (pdd / "project").mkdir(parents=True)
    play = [{"name": "checks", "hosts": "build", "gather_facts": False, "tasks": tasks}]
    (pdd / "project" / "checks.yml").write_text(dump_yaml(play), encoding="utf-8")
    inventory = {
        "build": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
            }
        }
    }
    runner = ansible_runner.run(
        private_data_dir=str(pdd),
        playbook="checks.yml",
        inventory=yaml.safe_dump(inventory),
        extravars=extravars,
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(ROOT / "relrun" / "collection")},
        cmdline="--check" if check_mode else None,
        quiet=True,
    )
    results = [
        e["event_data"].get("res", {"skipped": e["event"] == "runner_on_skipped"})
        for e in runner.events
        if e.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped")
        and e["event_data"].get("task", "").startswith("API check:")
    ]
    assert len(results) == 1, runner.stdout.read()
    return runner, results[0], pdd / "artifacts"


def files_containing(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n[:8]}…" for n in needles if n.encode() in data]
    return hits


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi(Faults()).start()
    yield api
    api.stop()


def section(creds_file: Path, *extra: dict[str, Any]) -> ApiChecksSection:
    return ApiChecksSection.model_validate(
        {
            "credentials": {"username": "demo", "from_file": "{{ creds_file }}"},
            "checks": [
                {"name": "health", "kind": "health"},
                {"name": "auth", "kind": "jwt_auth"},
                *extra,
            ],
        }
    )


def test_gate_through_ansible_masks_every_token(tmp_path: Path, fake_api: FakeApi) -> None:
    creds = fake_api.write_credentials(tmp_path)
    echo = {
        "name": "echo",
        "kind": "http",
        "required": False,
        "request": {"path": "/health", "headers": BEARER},
        "expect": {"json": {"status": {"equals": "${captures.token}"}}},
    }
    tasks = render_check_tasks(section(creds, echo), phase="gate")
    runner, result, artifacts = run_tasks(
        tmp_path, tasks, {"relrun_api_base_url": fake_api.base_url, "creds_file": str(creds)}
    )
    assert runner.rc == 0, result.get("msg")
    names = [(c["name"], c["passed"]) for c in result["checks"]]
    assert names == [("health", True), ("auth", True), ("echo", False)]
    # The optional check failed comparing against the token: its message shows the mask.
    assert "expected '***', got 'ok'" in result["checks"][2]["message"]
    secrets = [*fake_api.issued, fake_api.password]
    assert fake_api.issued
    assert not [s for s in secrets if s in json.dumps(result)]
    assert files_containing(artifacts, secrets) == []


def test_broken_api_fails_the_task_naming_the_check(tmp_path: Path) -> None:
    api = FakeApi(Faults(accept_unsigned=True)).start()
    try:
        creds = api.write_credentials(tmp_path)
        tasks = render_check_tasks(
            section(creds), phase="verify", base_url_var="relrun_stable_base_url"
        )
        runner, result, _ = run_tasks(
            tmp_path, tasks, {"relrun_stable_base_url": api.base_url, "creds_file": str(creds)}
        )
    finally:
        api.stop()
    assert runner.rc != 0
    assert result["msg"] == "required API checks failed: auth"
    assert result["summary"]["required_failed"] == ["auth"]


def test_check_mode_sends_nothing(tmp_path: Path, fake_api: FakeApi) -> None:
    creds = fake_api.write_credentials(tmp_path)
    runner, result, _ = run_tasks(
        tmp_path,
        render_check_tasks(section(creds), phase="gate"),
        {"relrun_api_base_url": fake_api.base_url, "creds_file": str(creds)},
        check_mode=True,
    )
    assert runner.rc == 0 and result.get("skipped") is True
    assert fake_api.requests == 0


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Any]:
    if not HAS_SANDBOX:
        pytest.skip("relrun.sandbox.control is not available yet")
    from relrun.sandbox import control

    state = tmp_path / "sandbox"
    try:
        yield control.up(state, loadgen=False)
    finally:
        control.down(state)


def test_all_check_kinds_pass_against_the_sandbox(tmp_path: Path, sandbox: Any) -> None:
    (stable,) = [s for s in sandbox.servers if s.name == "stable"]
    checks = section(
        sandbox.credentials_file,
        {
            "name": "post",
            "kind": "http",
            "request": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": "hi ${run.id}"},
            },
            "expect": {
                "status": 201,
                "json": {"author": {"equals": "demo"}, "id": {"type": "string"}},
                "headers": {"X-Served-By": {"equals": stable.version}},
            },
            "capture": {"message_id": {"json": "id"}},
        },
        {
            "name": "empty-text",
            "kind": "http",
            "request": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": ""},
            },
            "expect": {"status": 422},
        },
        {
            "name": "events",
            "kind": "sse",
            "stream": {"path": "/events", "headers": BEARER},
            "trigger": {
                "method": "POST",
                "path": "/messages",
                "headers": BEARER,
                "json": {"text": "sse ${run.id}"},
            },
        },
        {
            "name": "burst",
            "kind": "rate_limit",
            "request": {"path": "/messages", "headers": BEARER},
            "burst": 60,
        },
    )
    runner, result, artifacts = run_tasks(
        tmp_path,
        render_check_tasks(checks, phase="gate"),
        {"relrun_api_base_url": stable.url, "creds_file": str(sandbox.credentials_file)},
    )
    assert runner.rc == 0, json.dumps(result, indent=1)
    assert all(c["passed"] for c in result["checks"])
    password = json.loads(sandbox.credentials_file.read_text())["users"]
    secrets = [u["password"] for u in password]
    assert files_containing(artifacts, secrets) == []
