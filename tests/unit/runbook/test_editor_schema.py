"""Editors read the committed schema file that every shipped runbook names."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from relrun.runbook.docs import SCHEMA_ID, json_schema
from tests.helpers import ROOT

SCHEMA_FILE = ROOT / "docs" / "runbook.schema.json"
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.yml"))


def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == json_schema(), "stale: relrun schema > docs/runbook.schema.json"
    assert committed["$id"] == SCHEMA_ID


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_shipped_runbook_names_the_schema_and_matches_it(runbook) -> None:  # type: ignore[no-untyped-def]
    first = runbook.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (runbook.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA_FILE.resolve()
    schema = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(runbook.read_text(encoding="utf-8")), schema)
