"""Fixtures for integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.sandbox import control
from tests.integration.sandbox_env import reap_started


@pytest.fixture(autouse=True)
def reap_background_relrun() -> Iterator[None]:
    """A test that failed half-way must not leave its background relrun running."""
    yield
    reap_started()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """A running sandbox (stable, router, load generator) in the test's directory."""
    state = tmp_path / "sandbox"
    control.up(state, rate=20)
    try:
        yield state
    finally:
        reap_started()  # before the sandbox goes: a rollback still running needs it
        control.down(state)  # its switch watchers and their leases too
