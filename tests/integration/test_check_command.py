"""`relrun check`: the flagship's API checks through real Ansible, native and Newman engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT
from tests.integration.sandbox_env import INVENTORY, run_relrun
from tests.integration.test_newman_sandbox import COLLECTION, newman  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"


def passed_checks(reports: Path) -> dict[str, bool]:
    ci = json.loads((reports / "ci.json").read_text())
    (run,) = ci["api_checks"]
    assert run["phase"] == "check"
    return {c["name"]: c["passed"] for c in run["checks"]}


def test_flagship_native_checks_pass_through_the_router(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["check", str(FLAGSHIP), "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert passed_checks(reports) == dict.fromkeys(
        ["health", "jwt-auth", "create-message", "events", "rate-limit"], True
    )
    assert "API checks (check): 5/5 passed" in proc.stdout


def test_flagship_with_the_newman_engine_passes(
    sandbox: Path,
    tmp_path: Path,
    newman: Path,  # noqa: F811
) -> None:
    runbook = yaml.safe_load(FLAGSHIP.read_text())
    runbook["api_checks"] = {
        "engine": "newman",
        "collection": str(COLLECTION),
        "newman_path": str(newman),
        "credentials": runbook["api_checks"]["credentials"],
    }
    variant = tmp_path / "release-v2-newman.yml"
    variant.write_text(yaml.safe_dump(runbook, sort_keys=False))
    reports = tmp_path / "reports"
    proc = run_relrun(
        ["check", str(variant), "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = passed_checks(reports)
    assert len(checks) >= 5 and all(checks.values()), checks
    junit = (reports / "junit.xml").read_text()
    assert "api_checks.check" in junit


def test_check_needs_an_api_checks_section(sandbox: Path, tmp_path: Path) -> None:
    proc = run_relrun(
        ["check", str(ROOT / "tests" / "data" / "quick.yml"), "-i", str(INVENTORY)],
        sandbox,
        tmp_path,
    )
    assert proc.returncode == 2
    assert "the runbook has no api_checks section" in proc.stderr
