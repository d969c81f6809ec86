"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locks and run history of every test (and the relrun it starts) stay in a temp dir."""
    monkeypatch.setenv("RELRUN_STATE_DIR", str(tmp_path_factory.mktemp("relrun-state")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """With RELRUN_TESTS_STRICT=1 (set by .ci/run), a skipped test fails.

    Tests skip where a real program (haproxy, sshd, newman, chromium) is missing; on a
    developer's machine that is fine, but CI installs them all, so a skip there would hide
    a test that never ran.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("RELRUN_TESTS_STRICT") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped under RELRUN_TESTS_STRICT=1: {report.longrepr}"
