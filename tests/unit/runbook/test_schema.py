"""`relrun schema` accepts exactly what `relrun validate` accepts (editors use the schema)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.errors import InputError
from relrun.runbook.loader import load_runbook
from relrun.runbook.schema import Runbook
from relrun.runbook.yamlpos import load_yaml
from tests.helpers import ROOT

RUNBOOKS = sorted([*ROOT.glob("runbooks/*.yml"), *ROOT.glob("tests/data/*.yml")])


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """The output of `relrun schema`, checked against the 2020-12 meta-schema."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_cli(app, ["schema"]) == 0
    schema = json.loads(out.getvalue())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_valid_runbook_matches_the_schema(
    path: Path, validator: Draft202012Validator
) -> None:
    try:
        load_runbook(path)
    except InputError:
        pytest.skip("relrun validate rejects it; the schema may too")
    data = load_yaml(path.read_text(encoding="utf-8"), str(path)).data
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def test_the_runbooks_are_there() -> None:
    assert ROOT / "runbooks" / "release-v2.yml" in RUNBOOKS


BASE: dict[str, Any] = {
    "apiVersion": "relrun/v1",
    "kind": "Runbook",
    "metadata": {"name": "demo", "version": "1"},
    "builds": [{"name": "dev", "argv": ["make"]}],
    "traffic": {},
    "rollout": {"stages": [{"name": "Canary", "weight": 5, "bake": 10}]},
    "api_checks": {
        "checks": [{"name": "home", "kind": "http", "request": {"path": "/"}}],
    },
}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _accepted(data: dict[str, Any]) -> bool:
    try:
        Runbook.model_validate(data, by_alias=True, by_name=False)
    except ValidationError:
        return False
    return True


DURATIONS = [
    30,
    0.5,
    "30",
    "30s",
    "500ms",
    "2m",
    "1h",
    " 5 m ",
    "0.25s",
    "1.5h",
    "0s",
    "0",
    "0.0ms",
    0,
    -1,
    -0.5,
    True,
    False,
    None,
    "1m30s",
    "5 min",
    "-5s",
    "1e3",
    ".5s",
    "5.s",
    "5sec",
    "\u0663s",
    "1234567890s",
    "123456789.123456789h",
    "",
]
TEMPLATES = [
    "plain",
    "/srv/{{ dir }}/app",
    "{{dir}}",
    "{{ a }}{{ b }}",
    "100%",
    "#tag",
    "a}b",
    "{ a }",
    "#{{ a }}}",
    "{{ a }}}",
    "{{ a.b }}",
    "{{ a | upper }}",
    "{{ lookup('pipe', 'id') }}",
    "{% if x %}y{% endif %}",
    "{# note #}",
    "}}",
    "{{{ a }}",
    "{{ a }",
    "%}",
    "#}",
    "{{\u00a0a }}",
]


@pytest.mark.parametrize(
    ("where", "value"),
    [(("builds", 0, "timeout"), v) for v in DURATIONS]  # greater than zero
    + [(("rollout", "stages", 0, "bake"), v) for v in DURATIONS]  # greater than zero too
    + [(("builds", 0, "chdir"), v) for v in TEMPLATES]
    + [(("api_checks", "checks", 0, "expect"), {"status": v}) for v in (201, [200, 204], 99)]
    + [(("api_checks", "checks", 0, "expect"), {"status": v}) for v in ([], True, "ok")]
    + [(("vars",), {"good_name": 1}), (("vars",), {"bad-name": 1})]
    + [(("builds", 0, "env"), {"PATH": "/bin"}), (("builds", 0, "env"), {"1X": "y"})]
    + [(("api_checks", "checks", 0, "request", "json"), {"a": 1})]
    + [(("api_checks", "checks", 0, "request", "body"), {"a": 1})],  # field name, not alias
    ids=repr,
)
def test_schema_and_validator_agree(
    where: tuple[str | int, ...], value: Any, validator: Draft202012Validator
) -> None:
    data = _with(where, value)
    assert validator.is_valid(data) == _accepted(data)


def test_field_names_are_not_accepted_for_aliases(tmp_path: Path) -> None:
    path = tmp_path / "rb.yml"
    path.write_text("api_version: relrun/v1\nkind: Runbook\nmetadata: {name: demo, version: '1'}\n")
    with pytest.raises(InputError) as caught:
        load_runbook(path)
    assert str(caught.value).splitlines() == [
        f"{path}:1:1: error: missing required field 'apiVersion' (at apiVersion)",
        f"{path}:1:1: error: unknown field 'api_version' (at api_version)",
    ]
