"""The shipped Postman collection through relrun.release.newman and real newman, on the sandbox."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relrun.render.check_tasks import render_check_tasks
from relrun.runbook.check_models import ApiChecksSection
from tests.helpers import ROOT
from tests.integration.test_api_checks_ansible import HAS_SANDBOX, files_containing, run_tasks

pytestmark = pytest.mark.integration

COLLECTION = ROOT / "runbooks" / "collections" / "messaging-api.postman_collection.json"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"


@pytest.fixture(scope="session")
def newman() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: the newman engine cannot run here")
    # xdist workers share the checkout: one of them runs `npm ci`, the others wait.
    with (ROOT / "package.json").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not NEWMAN.exists():
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
                    cwd=ROOT,
                    check=True,
                    timeout=600,
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return NEWMAN


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


def newman_section(**extra: Any) -> ApiChecksSection:
    return ApiChecksSection.model_validate(
        {
            "engine": "newman",
            "collection": str(COLLECTION),
            "credentials": {"username": "demo", "from_file": "{{ creds_file }}"},
            **extra,
        }
    )


def test_collection_passes_against_the_sandbox(tmp_path: Path, newman: Path, sandbox: Any) -> None:
    (stable,) = [s for s in sandbox.servers if s.name == "stable"]
    runner, result, artifacts = run_tasks(
        tmp_path,
        render_check_tasks(newman_section(), phase="gate"),
        {
            "relrun_api_base_url": stable.url,
            "creds_file": str(sandbox.credentials_file),
            "relrun_newman_path": str(newman),
        },
    )
    assert runner.rc == 0, json.dumps(result, indent=1)
    names = [c["name"] for c in result["checks"]]
    assert names[:2] == ["health", "login"] and names[-1] == "rate limit"
    assert all(c["passed"] and c["kind"] == "newman" for c in result["checks"])
    burst = result["checks"][-1]
    assert burst["status"] == 429 and burst["message"].startswith("ok (")
    users = json.loads(sandbox.credentials_file.read_text())["users"]
    assert files_containing(artifacts, [u["password"] for u in users]) == []


def test_failing_items_name_the_postman_assertion(
    tmp_path: Path, newman: Path, sandbox: Any
) -> None:
    (stable,) = [s for s in sandbox.servers if s.name == "stable"]
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"username": "demo", "password": "wrong-password"}))
    runner, result, _ = run_tasks(
        tmp_path,
        render_check_tasks(newman_section(), phase="gate"),
        {
            "relrun_api_base_url": stable.url,
            "creds_file": str(users),
            "relrun_newman_path": str(newman),
        },
    )
    assert runner.rc != 0
    login = next(c for c in result["checks"] if c["name"] == "login")
    assert not login["passed"]
    assert (
        "status 200: expected 'passes', got 'expected response to have status code 200 but got 401'"
        in login["message"]
    )
    assert "login" in result["msg"] and "wrong-password" not in json.dumps(result)


def test_missing_newman_names_the_fix(tmp_path: Path) -> None:
    if shutil.which("newman"):
        pytest.skip("a global newman is installed; cannot observe it missing")
    section = newman_section(newman_path="/nonexistent/newman")
    runner, result, _ = run_tasks(
        tmp_path,
        render_check_tasks(section, phase="gate"),
        {
            "relrun_api_base_url": "http://127.0.0.1:9",
            "creds_file": str(tmp_path / "none.json"),
            "relrun_launch_dir": str(tmp_path),
        },
    )
    assert runner.rc != 0
    assert result["missing_tool"] == "newman"
    assert "npm install -g newman" in result["msg"] and "npm ci" in result["msg"]
