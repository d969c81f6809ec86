"""Shared fixtures."""

from __future__ import annotations

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
