"""`relrun check`: the flagship's API checks through real Ansible, native and Newman engines."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from relrun.report.history import list_runs, trend
from relrun.sandbox import control
from tests.helpers import ROOT
from tests.integration.sandbox_env import INVENTORY, run_relrun
from tests.integration.test_newman_sandbox import COLLECTION, newman  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"
# Added to the collection's health item: the answer came from a 2.x server.
SERVED_BY_V2 = "served by 2.x"


def check_results(reports: Path) -> list[dict[str, Any]]:
    ci = json.loads((reports / "ci.json").read_text())
    (run,) = ci["api_checks"]
    assert run["phase"] == "check"
    checks: list[dict[str, Any]] = run["checks"]
    return checks


def passed_checks(reports: Path) -> dict[str, bool]:
    return {c["name"]: c["passed"] for c in check_results(reports)}


def assert_human_reports(reports: Path, names: list[str], target: str) -> None:
    """The run directory holds what every other run kind writes, about these checks."""
    run = json.loads((reports / "check.json").read_text())
    assert (run["kind"], run["verdict"], run["target"]) == ("check", "pass", target)
    html = (reports / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert 'class="verdict pass"' in html and 'id="timeline"' not in html
    for name in names:
        assert f"<td>{name}</td>" in html
    assert run["runbook"]["sha256"] in html  # the audit block
    root = ET.fromstring((reports / "junit.xml").read_text())
    cases = root.findall("testsuite[@name='gates']/testcase")
    assert [c.get("name", "").split(" @ ")[0] for c in cases] == names
    assert {c.get("classname") for c in cases} == {"gates.api_checks.check"}
    # Plus the verdict's case, passed.
    assert root.get("tests") == str(len(names) + 1) and root.get("failures") == "0"


def test_flagship_native_checks_pass_through_the_router(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["check", str(FLAGSHIP), "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = ["health", "jwt-auth", "create-message", "events", "rate-limit"]
    assert passed_checks(reports) == dict.fromkeys(names, True)
    assert "API checks (check): 5/5 passed" in proc.stdout
    assert_human_reports(reports, names, "router")
    # Recorded in the history with its kind; the RTO trend still compares drills only.
    db = sandbox.parent / "relrun-state" / "history.db"
    (recorded,) = list_runs(db)
    assert (recorded.kind, recorded.verdict, recorded.checks_failed) == ("check", "pass", 0)
    assert recorded.run_dir == str(reports.resolve())
    assert trend(db) == []
    listed = run_relrun(["history"], sandbox, ROOT)
    (line,) = listed.stdout.splitlines()
    assert "  check  " in line and line.endswith("pass   checks failed 0"), line
    assert "RTO" not in line


def collection_requiring_v2(tmp_path: Path) -> tuple[Path, list[str]]:
    """The shipped collection, whose health item also requires an answer from a 2.x server."""
    collection = json.loads(COLLECTION.read_text())
    (health,) = [item for item in collection["item"] if item["name"] == "health"]
    (tests,) = [e for e in health["event"] if e["listen"] == "test"]
    tests["script"]["exec"] += [
        f'pm.test("{SERVED_BY_V2}", function () {{',
        '    pm.expect(pm.response.headers.get("X-Served-By")).to.match(/^2\\./);',
        "    pm.expect(pm.response.json().version).to.match(/^2\\./);",
        "});",
    ]
    path = tmp_path / "messaging-api-v2.postman_collection.json"
    path.write_text(json.dumps(collection))
    return path, [item["name"] for item in collection["item"]]


def test_flagship_with_the_newman_engine_passes_against_the_v2_canary(
    sandbox: Path,
    tmp_path: Path,
    newman: Path,  # noqa: F811
) -> None:
    # The sandbox routes every request to stable (1.0): v2 runs as the canary, at weight 0.
    canary = control.start_server(control.CANARY, "2.0", sandbox)
    assert canary.version == "2.0"
    collection, items = collection_requiring_v2(tmp_path)
    runbook = yaml.safe_load(FLAGSHIP.read_text())
    runbook["api_checks"] = {
        "engine": "newman",
        "collection": str(collection),
        "newman_path": str(newman),
        "credentials": runbook["api_checks"]["credentials"],
    }
    variant = tmp_path / "release-v2-newman.yml"
    variant.write_text(yaml.safe_dump(runbook, sort_keys=False))
    reports = tmp_path / "reports"
    proc = run_relrun(
        [
            "check",
            str(variant),
            "-i",
            str(INVENTORY),
            "--target",
            "canary",
            "--report-dir",
            str(reports),
        ],
        sandbox,
        ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = check_results(reports)
    assert [c["name"] for c in checks] == items
    assert all(c["passed"] and c["kind"] == "newman" for c in checks), checks
    (health,) = [c for c in checks if c["name"] == "health"]
    assert {"what": SERVED_BY_V2, "expected": "passes", "actual": "passed", "passed": True} in (
        health["assertions"]
    )
    assert_human_reports(reports, items, "canary")


def test_check_needs_an_api_checks_section(sandbox: Path, tmp_path: Path) -> None:
    proc = run_relrun(
        ["check", str(ROOT / "tests" / "data" / "quick.yml"), "-i", str(INVENTORY)],
        sandbox,
        tmp_path,
    )
    assert proc.returncode == 2
    assert "the runbook has no api_checks section" in proc.stderr
