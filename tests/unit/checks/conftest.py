"""Fixtures for the API-check unit tests: the collection on sys.path, a fake API."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.unit.checks.fakeapi import FakeApi, Faults

COLLECTIONS = Path(__file__).resolve().parents[3] / "relrun" / "collection"
if str(COLLECTIONS) not in sys.path:
    # Module utils import as ansible_collections.relrun.release..., as on a managed host.
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture
def make_api() -> Iterator[Callable[..., FakeApi]]:
    started: list[FakeApi] = []

    def make(**faults: object) -> FakeApi:
        api = FakeApi(Faults(**faults)).start()  # type: ignore[arg-type]
        started.append(api)
        return api

    yield make
    for api in started:
        api.stop()


@pytest.fixture
def api(make_api: Callable[..., FakeApi]) -> FakeApi:
    return make_api()
