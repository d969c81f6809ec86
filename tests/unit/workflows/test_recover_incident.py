"""``relrun recover`` tells the incident from the dead run's journal and its switch's lease.

Issue 17 item 4: the controller's last sign of life, when the dead man's switch reverted
traffic, and the RTO measured from those.
"""

from __future__ import annotations

import json
from pathlib import Path

from relrun.report.facts import Facts, StepFacts
from relrun.report.record import Incident
from relrun.report.verdict import recover_verdict
from relrun.run.events import Note
from relrun.runbook.steps import ROLLBACK_STEPS
from relrun.workflows.recover import _incident, _incident_timings, _on_stable

T = 1_800_000_000.0


def lease_dir(tmp_path: Path, lease: dict[str, object]) -> Path:
    directory = tmp_path / "leases"
    directory.mkdir()
    (directory / "relrun-deadman-api.json").write_text(json.dumps(lease))
    (directory / "relrun-deadman-other.json").write_text(json.dumps({**lease, "owner": "x"}))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  hosts:\n    router:\n      ansible_connection: local\n"
        f"      relrun_deadman_dir: {directory}\n"
    )
    return inventory


def test_the_switch_reverted_before_the_recovery_and_the_rto_runs_from_the_last_renewal(
    tmp_path: Path,
) -> None:
    lease = {"state": "fired", "owner": "run-1", "lease": 15.0, "expires": T + 20.0,
             "fired_at": T + 20.4, "reverted_at": T + 22.0, "attempt_count": 1}
    inventory = lease_dir(tmp_path, lease)
    journal = [Note(message="x", time=T + 3.0)]
    dead = {"pid": 4242, "run_id": "run-1", "started": T}
    incident = _incident(inventory, dead, {"run_id": "run-1"}, journal, T + 60.0)
    # Last renewal (expires - lease = T+5) is later than the journal's last event (T+3).
    assert (incident.controller_last_seen, incident.last_seen_from) == (T + 5.0, "lease renewal")
    assert (incident.deadman_fired_at, incident.deadman_reverted_at) == (T + 20.4, T + 22.0)
    incident = _on_stable(incident, T + 70.0)  # the recovery's own switch came later
    assert (incident.on_stable_at, incident.on_stable_by) == (T + 22.0, "dead man's switch")
    facts = Facts(trigger={"reason": "controller_lost", "at": T + 5.0},
                  rollback=[StepFacts(name=n, status="passed") for n in ROLLBACK_STEPS],
                  rollback_ran=True)
    assert _incident_timings(facts, incident) == {
        "detection_seconds": None, "switched_at": T + 22.0, "rto_seconds": 17.0}
    verdict = recover_verdict(facts, "release", incident)
    assert (verdict.verdict, verdict.exit_code) == ("pass", 0)
    assert verdict.reasons[1:] == [
        "controller (pid 4242) last seen at 08:00:05.0 UTC (lease renewal)",
        "dead man's switch fired at 08:00:20.4 UTC (15.40s after) and put traffic back on "
        "stable at 08:00:22.0 UTC (17.00s after)",
        "traffic all on stable at 08:00:22.0 UTC (17.00s after), by the dead man's switch",
    ]


def test_a_switch_that_fired_without_reverting_leaves_it_to_the_recovery(tmp_path: Path) -> None:
    lease = {"state": "fired", "owner": "run-1", "lease": 15.0, "expires": T + 20.0,
             "fired_at": T + 20.4, "revert_error": "DriverError: timed out", "attempt_count": 3}
    incident = _incident(lease_dir(tmp_path, lease), {"pid": 1, "run_id": "run-1"}, {},
                         [Note(message="x", time=T + 9.0)], T + 60.0)
    assert (incident.controller_last_seen, incident.last_seen_from) == (T + 9.0, "journal")
    assert incident.deadman_reverted_at is None and incident.deadman_attempts == 3
    incident = _on_stable(incident, T + 70.0)
    assert (incident.on_stable_at, incident.on_stable_by) == (T + 70.0, "recovery")
    facts = Facts(rollback=[StepFacts(name=n) for n in ROLLBACK_STEPS], rollback_ran=True)
    verdict = recover_verdict(facts, "drill", incident)
    assert (verdict.verdict, verdict.exit_code) == ("fail", 3)  # the rollback did not pass
    assert "did not put traffic back on stable (DriverError: timed out)" in verdict.reasons[-2]


def test_no_lease_and_no_journal_says_so() -> None:
    assert _on_stable(Incident(), None) == Incident()
    assert _incident_timings(Facts(), Incident()) == {"rto_seconds": None}
