"""Two controllers, one router backend: the second release is refused on the router host.

The controller's lock only sees runs of its own state directory. A second controller (here:
another RELRUN_STATE_DIR, so its lock and active-run marker are elsewhere) meets the first
release only at the router backend's dead man's switch lease, which refuses it before it
deploys or moves anything, and leaves the first release's traffic alone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relrun.sandbox import control
from tests.helpers import ROOT
from tests.integration.sandbox_env import (
    INVENTORY,
    env_for,
    patient_runbook,
    start_relrun,
    wait_for_journal,
)

pytestmark = [pytest.mark.integration, pytest.mark.under_load]

QUICK = str(ROOT / "tests" / "data" / "quick.yml")


def servers(state: Path) -> dict[str, tuple[int | None, str | None, bool]]:
    return {s.name: (s.weight, s.state, s.alive) for s in control.status(state).servers}


def journal_lines(reports: Path) -> list[str]:
    return (reports / "journal.jsonl").read_text(encoding="utf-8").splitlines()


def test_a_release_from_another_controller_is_refused_by_the_router_lease(
    sandbox: Path, tmp_path: Path
) -> None:
    first_reports = tmp_path / "first"
    # Its lease outlasts a task's start on a loaded machine, and its interrupt is rolled
    # back by its own playbook, whose tasks keep renewing the lease (no second run, no gap):
    # the switch never fires during this normal release.
    first = start_relrun(
        ["release", patient_runbook(tmp_path), "-i", str(INVENTORY), "--report-dir",
         str(first_reports)],
        sandbox,
        tmp_path,
    )
    wait_for_journal(first_reports, "Stage 1/3 Canary 10%: analysis", first)
    first_id = json.loads(journal_lines(first_reports)[0])["run_id"]
    lease_path = sandbox / "relrun-deadman-api.json"
    lease = json.loads(lease_path.read_text())
    assert (lease["state"], lease["owner"], lease["runbook"]) == ("armed", first_id, "slow")
    before = servers(sandbox)
    assert before["canary"][0], "the first release has moved traffic to its canary"

    second_reports = tmp_path / "second"
    other_controller = {**env_for(sandbox), "RELRUN_STATE_DIR": str(tmp_path / "elsewhere")}
    cli = [sys.executable, "-c", "from relrun.cli import main; main()"]
    second = subprocess.run(
        [*cli, "release", QUICK, "-i", str(INVENTORY), "--report-dir", str(second_reports)],
        cwd=tmp_path,
        env=other_controller,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert second.returncode == 1, second.stdout + second.stderr
    lock = "another release or drill is running in this environment"
    assert lock not in second.stderr, "the controller lock must not be what stops it"
    report = json.loads((second_reports / "release.json").read_text())
    refusal = next(r for r in report["reasons"] if "holds this router backend" in r)
    assert refusal.startswith("Preflight: claim backend api")
    assert f"run {first_id} of runbook slow (armed since" in refusal
    assert "expires at" in refusal and "nothing was moved" in refusal
    assert report["rollback"]["ran"] is False and report["stages"] == []
    journal = "\n".join(journal_lines(second_reports))
    assert "Deploy 1/" not in journal and '"label": "rollback"' not in journal

    # The first release's traffic, canary and lease are as they were, and it goes on.
    assert servers(sandbox) == before
    lease = json.loads(lease_path.read_text())
    assert (lease["state"], lease["owner"]) == ("armed", first_id)
    assert first.poll() is None, "the first release is still running"

    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 130, out + err
    rolled = json.loads((first_reports / "release.json").read_text())
    assert [s["status"] for s in rolled["rollback"]["steps"]] == ["passed"] * 5
    assert rolled["trigger"]["path"] == "in_playbook"
    assert json.loads(lease_path.read_text())["state"] == "disarmed"


def test_an_arm_refused_after_the_deploy_rolls_nothing_back(sandbox: Path, tmp_path: Path) -> None:
    """The claim lapsed during a long deploy and another run took the backend meanwhile.

    The deploy step itself plays that other run: it leaves the backend armed by
    ``run-other``. The rollout's arm is then refused, and neither the rescue nor relrun's
    standalone rollback may run: they would drain and switch the other run's traffic.
    """
    start = "shell: $RELRUN_SERVICE_CTL start canary --version 2.0"
    takeover = (
        start + ' && printf \'{"state": "armed", "owner": "run-other", "runbook": "other", '
        '"lease": 600, "expires": %s}\' $(( $(date +%s) + 600 ))'
        ' > "$RELRUN_SANDBOX_DIR/relrun-deadman-api.json"'
    )
    text = Path(QUICK).read_text()
    assert start in text
    runbook = tmp_path / "quick.yml"
    runbook.write_text(text.replace(start, "shell: >-\n        " + takeover[len("shell: ") :]))
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["release", str(runbook), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    report = json.loads((reports / "release.json").read_text())
    assert any("run run-other of runbook other" in r for r in report["reasons"]), report
    assert report["rollback"]["ran"] is False and report["stages"] == []
    journal = "\n".join(journal_lines(reports))
    assert "Rollback " not in journal and '"label": "rollback"' not in journal
    # The other run's backend is untouched: its lease, and no drain or maintenance.
    lease = json.loads((sandbox / "relrun-deadman-api.json").read_text())
    assert (lease["state"], lease["owner"]) == ("armed", "run-other")
    now = servers(sandbox)
    assert now["canary"][1] not in {"drain", "maint"} and now["stable"][1] == "ready"
