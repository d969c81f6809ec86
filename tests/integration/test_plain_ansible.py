"""The flagship's rendered playbook run as AWX or a person runs it: plain ansible-playbook.

No relrun process around it: the collection comes from ANSIBLE_COLLECTIONS_PATH, nothing
but the inventory (and, for the drill, ``relrun_drill``) is passed, and the collection's
journal callback records the run. The rollback must be the same as under relrun, and
``relrun report --from-artifacts`` must turn the recording into the usual reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml

from relrun.sandbox import control
from tests.helpers import ROOT, relrun

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
RUNBOOK = ROOT / "runbooks" / "release-v2.yml"
DRILL = {"relrun_drill": {"kind": "error_rate", "value": 0.5, "stage": 2}}


def _source_checkout(where: Path) -> Path:
    """What the flagship scans and builds (relrun_source_dir is where ansible-playbook starts)."""
    where.mkdir()
    shutil.copytree(ROOT / "relrun" / "sandbox", where / "relrun" / "sandbox",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "runbooks", where / "runbooks")
    return where


# The flagship as it is (10 s bakes, builds, scan, API checks twice): about 3 minutes of
# playbook idle, 5-6 on a loaded CI machine, so it gets more than the suite's 600 s.
@pytest.mark.timeout(1200)
def test_rendered_playbook_drill_rolls_back_and_reports_from_artifacts(
    tmp_path: Path, sandbox: Path
) -> None:
    rendered = tmp_path / "release-v2.yml"
    done = relrun("render", str(RUNBOOK), "-o", str(rendered))
    assert done.returncode == 0, done.stderr
    checkout = _source_checkout(tmp_path / "src")
    artifacts = tmp_path / "artifacts"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "RELRUN_"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "relrun" / "collection"),
        ANSIBLE_CALLBACKS_ENABLED="relrun.release.journal",
        RELRUN_ARTIFACTS_DIR=str(artifacts),
        RELRUN_SANDBOX_DIR=str(sandbox),
        PWD=str(checkout),
    )
    played = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "sandbox.yml"),
         str(rendered), "-e", json.dumps(DRILL)],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=1000, check=False,
    )
    output = played.stdout + played.stderr
    # The playbook ends failed on purpose once it has rolled back: rc 2, saying so.
    assert played.returncode == 2, output
    assert '"msg": "rolled back"' in output, output
    assert "rollback incomplete" not in output, output
    assert "required API checks failed" not in output, output  # the verify step's checks
    after = {s.name: s for s in control.status(sandbox).servers}
    assert after["stable"].alive and after["stable"].state == "ready"
    assert after["stable"].weight
    assert not after["canary"].alive
    assert not after["canary"].weight

    reports = tmp_path / "reports"
    built = relrun(
        "report", "--from-artifacts", str(artifacts), "--runbook", str(RUNBOOK),
        "--report-dir", str(reports), "--traffic-log", str(sandbox / "loadgen.jsonl"),
        "--history-db", str(tmp_path / "history.db"),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    drill = json.loads((reports / "drill.json").read_text())
    assert (drill["kind"], drill["verdict"], drill["exit_code"]) == ("drill", "pass", 0)
    assert drill["trigger"]["reason"] == "error_rate"
    assert drill["trigger"]["stage"] == "Blue-Green 25%"
    assert {s["name"]: s["status"] for s in drill["rollback"]["steps"]} == {
        n: "passed" for n in ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")
    }
    assert drill["traffic"]["lost"] == 0
    ci = json.loads((reports / "ci.json").read_text())
    phases = {p["phase"]: p for p in ci["api_checks"]}
    assert set(phases) == {"gate", "verify"}
    for phase in phases.values():  # the rate-limit burst is throttled in both
        limited = next(c for c in phase["checks"] if c["name"] == "rate-limit")
        assert limited["passed"] and limited["status"] == 429, limited
    suites = {s.name: s for s in JUnitXml.fromfile(str(reports / "junit.xml"))}
    assert suites and all(s.failures == 0 and s.errors == 0 for s in suites.values()), suites
    assert (reports / "report.html").stat().st_size > 0

    # The same recording refuses a runbook other than the one the playbook came from.
    other = tmp_path / "other.yml"
    other.write_text(RUNBOOK.read_text().replace('version: "2.0.0"', 'version: "2.0.1"'))
    refused = relrun("report", "--from-artifacts", str(artifacts), "--runbook", str(other),
                     "--report-dir", str(tmp_path / "refused"))
    assert refused.returncode == 2
    assert f"{other}:1:1: error: the run's playbook was rendered from runbook release-v2" in (
        refused.stderr
    )
