"""Fixtures for integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.sandbox import control


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """A running sandbox (stable, router, load generator) in the test's directory."""
    state = tmp_path / "sandbox"
    control.up(state, rate=20)
    try:
        yield state
    finally:
        control.down(state)
