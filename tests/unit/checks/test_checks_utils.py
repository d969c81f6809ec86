"""JSON path, placeholders, redaction, assertions: the module's pure helpers."""

from __future__ import annotations

import pytest
from ansible_collections.relrun.release.plugins.module_utils.http import (
    assertions as http_assertions,
)
from ansible_collections.relrun.release.plugins.module_utils.http import (
    jsonpath as http_jsonpath,
)
from ansible_collections.relrun.release.plugins.module_utils.http import (
    placeholders as http_placeholders,
)
from ansible_collections.relrun.release.plugins.module_utils.http import (
    redact as http_redact,
)

from relrun.runbook import check_models

DOC = {"data": {"items": [{"id": 7}, {"id": 8}], "a.b": True}, "n": None}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.items[0].id", (True, 7)),
        ("$.data.items[-1].id", (True, 8)),
        ("data.items.1.id", (True, 8)),
        ('data["a.b"]', (True, True)),
        ("n", (True, None)),
        ("data.items[5]", (False, None)),
        ("data.missing", (False, None)),
        ("n.x", (False, None)),
        ("$", (True, DOC)),
    ],
)
def test_json_path_resolves(path: str, expected: tuple[bool, object]) -> None:
    assert http_jsonpath.resolve(DOC, path) == expected


def test_json_path_rejects_garbage() -> None:
    with pytest.raises(http_jsonpath.JsonPathError, match="bad JSON path"):
        http_jsonpath.parse_path("a..b")


CONTEXT = {
    "captures": {"token": "tok-123", "id": 42},
    "credentials": {"username": "u"},
    "run": {"id": "r1"},
}


def test_placeholders_substitute_keep_types_and_escape() -> None:
    value = {"h": "Bearer ${captures.token}", "id": "${captures.id}", "lit": "$${captures.token}"}
    assert http_placeholders.substitute(value, CONTEXT) == {
        "h": "Bearer tok-123",
        "id": 42,
        "lit": "${captures.token}",
    }
    assert http_placeholders.substitute(["x ${captures.id} ${run.id}"], CONTEXT) == ["x 42 r1"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("${captures.nope}", "is not defined"),
        ("${secrets.x}", "bad placeholder"),
        ("${captures.a-b}", "bad placeholder"),
    ],
)
def test_placeholders_errors(text: str, error: str) -> None:
    with pytest.raises(http_placeholders.PlaceholderError, match=error):
        http_placeholders.substitute(text, CONTEXT)


@pytest.mark.parametrize(
    "text", ["${captures.t}", "a $${x} b", "${credentials.password}", "${run.id}", "$${", "plain"]
)
def test_model_and_module_share_the_placeholder_grammar(text: str) -> None:
    # The runbook layer keeps its own copy of the grammar; both must agree.
    assert check_models._PLACEHOLDER.pattern == http_placeholders.PLACEHOLDER.pattern
    assert list(check_models._references(text, 0)) == http_placeholders.references(text)


def test_redactor_masks_everywhere_longest_first() -> None:
    redactor = http_redact.Redactor()
    redactor.add("abcd")
    redactor.add("abcdefgh")
    redactor.add("xy")  # too short to mask meaningfully
    redactor.add(None)
    data = {"abcdefgh": ["token abcdefgh and abcd", 5], "n": "xy"}
    assert redactor.tree(data) == {"***": ["token *** and ***", 5], "n": "xy"}


def test_check_value_operators() -> None:
    records = http_assertions.check_value(
        "json v",
        True,
        "2.0",
        {"equals": "2.0", "type": "string", "regex": r"^2\.", "present": True},
    )
    assert [r["passed"] for r in records] == [True, True, True, True]
    missing = http_assertions.check_value("json v", False, None, {"equals": 1, "type": "integer"})
    assert [(r["actual"], r["passed"]) for r in missing] == [("<missing>", False)] * 2
    assert http_assertions.check_value("x", True, 1, {"type": "number"})[0]["passed"]
    assert not http_assertions.check_value("x", True, True, {"equals": 1})[0]["passed"]


def test_merge_repeats_reports_how_often_it_failed() -> None:
    ok = http_assertions.assertion("status", 200, 200, True)
    bad = http_assertions.assertion("status", 200, 500, False)
    (merged,) = http_assertions.merge_repeats([[ok], [bad], [ok]])
    assert merged == {
        "what": "status",
        "expected": 200,
        "actual": "500 (failed 1 of 3)",
        "passed": False,
    }
