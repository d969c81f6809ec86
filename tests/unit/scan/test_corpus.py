"""The labelled corpus: per-class precision and recall must both be 100%."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    tokens as scan_tokens,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    RULES,
    Policy,
    scan,
)

CORPUS = Path(__file__).resolve().parents[2] / "scan_corpus"


@pytest.fixture(scope="module")
def result() -> dict:
    # untracked_env: the corpus .env files count whether or not git tracks them yet.
    return scan(str(CORPUS), Policy(untracked_env=True))


def _by_class(items: set[tuple[str, str, int]]) -> dict[str, set[tuple[str, str, int]]]:
    out: dict[str, set[tuple[str, str, int]]] = defaultdict(set)
    for item in items:
        out[RULES[item[0]].cls].add(item)
    return out


def test_precision_and_recall_per_class_are_100_percent(result: dict) -> None:
    labels = yaml.safe_load((CORPUS / "expected.yml").read_text())["findings"]
    expected = {(e["rule"], e["file"], e["line"]) for e in labels}
    got = {(f["rule"], f["path"], f["line"]) for f in result["findings"]}
    exp_by, got_by = _by_class(expected), _by_class(got)
    assert set(exp_by) == {"forbidden_import", "forbidden_dependency", "token", "secret_leak"}
    for cls in sorted(set(exp_by) | set(got_by)):
        true_pos = exp_by[cls] & got_by[cls]
        precision = len(true_pos) / len(got_by[cls]) if got_by[cls] else 1.0
        recall = len(true_pos) / len(exp_by[cls]) if exp_by[cls] else 1.0
        assert (precision, recall) == (1.0, 1.0), (
            cls, sorted(got_by[cls] - exp_by[cls]), sorted(exp_by[cls] - got_by[cls]))


def test_unparsable_file_is_reported_as_fallback(result: dict) -> None:
    assert [f["path"] for f in result["parse_fallbacks"]] == ["py/broken_syntax.py"]
    broken = [f for f in result["findings"] if f["path"] == "py/broken_syntax.py"]
    assert broken and all(f["meta"]["fallback"] for f in broken)


def test_no_secret_leaves_the_scan(result: dict) -> None:
    text = repr(result)
    secrets: set[str] = set()
    for path in CORPUS.rglob("*"):
        if path.is_file() and path.name != "expected.yml":
            content = path.read_text(errors="replace")
            secrets |= {m.group(0) for m in scan_tokens.JWT_RE.finditer(content)}
            secrets |= set(re.findall(r"rrtest[A-Za-z0-9]+|Rr[A-Za-z0-9!#%]{16}", content))
    assert len(secrets) > 30
    leaked = [s for s in secrets if s in text]
    assert leaked == []


def test_suppressions_and_notices(result: dict) -> None:
    suppressed = {(s["path"], s["line"], s["suppressed_by"]) for s in result["suppressed"]}
    assert suppressed == {("suppress/allowed.py", 1, "inline"),
                          ("suppress/allowed.py", 3, "inline"),
                          ("suppress/allowed.sh", 2, "inline")}
    messages = [n["message"] for n in result["notices"]]
    assert any("without a reason" in m for m in messages)
    assert any("must be pinned" in m for m in messages)
    assert any("does not match" in m for m in messages)
