"""Manual gates on a real sandbox release, driven from a second process (issue 17).

`relrun pause`, `resume`, `promote` and `abort` run as separate processes, as an operator in
another terminal would, and reach the release through its lease's gate and control files.
Every wait is on a condition (`relrun status --json`, the journal) with a deadline.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from relrun.sandbox import control
from relrun.sandbox.traffic import summarize
from tests.agreement import assert_signals_agree
from tests.integration.sandbox_env import (
    INVENTORY,
    env_for,
    history_db,
    patient_runbook,
    run_relrun,
    start_relrun,
    wait_for_journal,
)

pytestmark = pytest.mark.integration

ALL_PASSED = ["passed"] * 5


def gated_runbook(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    """slow.yml with a lease a loaded machine cannot outrun, short bakes, and ``change``."""
    path = Path(patient_runbook(tmp_path))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["rollout"]["stages"][0]["bake"] = "3s"
    data.pop("drill", None)
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def status_until(
    sandbox: Path, tmp_path: Path, proc: subprocess.Popen[str],
    condition: Callable[[dict[str, Any]], bool], timeout: float = 600,
) -> dict[str, Any]:
    """`relrun status --json` until ``condition`` holds for the running run."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"relrun ended early ({proc.returncode}): {out}{err}")
        shown = run_relrun(["status", "--json"], sandbox, tmp_path)
        runs = json.loads(shown.stdout or "{}").get("runs") or []
        last = runs[0] if runs else {}
        if last and condition(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"status never met the condition; last: {last}")


WEIGHTS = {"Canary 10%": 10, "Blue-Green 50%": 50, "Full 100%": 100}


def waiting(kind: str, stage: str | None) -> Callable[[dict[str, Any]], bool]:
    def check(run: dict[str, Any]) -> bool:
        wait = (run.get("gate") or {}).get("waiting") or {}
        return wait.get("kind") == kind and stage in {None, wait.get("stage")}

    return check


def release(runbook: str, sandbox: Path, reports: Path, tmp_path: Path) -> subprocess.Popen[str]:
    return start_relrun(
        ["release", runbook, "-i", str(INVENTORY), "--report-dir", str(reports)], sandbox, tmp_path
    )


def weights(state: Path) -> dict[str, tuple[int, str]]:
    return {s.name: (s.weight, s.state) for s in control.status(state).servers}


def canary_share(state: Path) -> int:
    """The canary's share of the traffic, in percent (the router's weights are relative)."""
    servers = {s.name: s.weight for s in control.status(state).servers}
    total = servers["canary"] + servers["stable"]
    return round(100 * servers["canary"] / total) if total else 0


def gates_of(reports: Path, kind: str = "release") -> list[dict[str, Any]]:
    return list(json.loads((reports / f"{kind}.json").read_text())["gates"])


def test_a_breach_while_paused_still_rolls_back(sandbox: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    runbook = gated_runbook(tmp_path, lambda data: None)
    proc = release(runbook, sandbox, reports, tmp_path)
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    paused = run_relrun(["pause", "--reason", "check the dashboards"], sandbox, tmp_path)
    assert paused.returncode == 0, paused.stderr
    assert "asked the release of " in paused.stderr and "patient-slow.yml" in paused.stderr
    # It holds at the end of the bake that read the request (stage 1's, unless that 3 s bake
    # ended before: a pause between two stages holds at the end of the next one's).
    run = status_until(sandbox, tmp_path, proc, waiting("operator", None))
    stage = run["gate"]["waiting"]["stage"]
    assert run["gate"]["paused"]["reason"] == "check the dashboards"
    assert canary_share(sandbox) == WEIGHTS[stage], "a paused stage holds its weight"
    # The switch is renewed while paused: the lease's expiry keeps moving.
    lease = json.loads((sandbox / "relrun-deadman-api.json").read_text())
    expires = lease["expires"]
    status_until(
        sandbox, tmp_path, proc,
        lambda _: json.loads((sandbox / "relrun-deadman-api.json").read_text())["expires"]
        > expires,
    )
    again = run_relrun(["pause", "--reason", "twice"], sandbox, tmp_path)
    assert again.returncode == 2 and "already paused" in again.stderr
    control.set_fault("canary", error_rate=1.0, state_dir=sandbox)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    report = json.loads((reports / "release.json").read_text())
    assert report["trigger"]["reason"] == "error_rate", report["trigger"]
    assert report["trigger"]["stage"] == stage
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    [pause] = report["gates"]
    assert (pause["action"], pause["stage"], pause["reason"]) == (
        "pause", stage, "check the dashboards"
    )
    assert "@" in pause["by"] and pause["taken_at"] >= pause["at"]
    assert "paused" in (reports / "report.html").read_text()
    assert weights(sandbox)["canary"] == (0, "maint")
    assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))


@pytest.mark.parametrize(("default", "code"), [("promote", 0), ("rollback", 1)])
def test_a_pause_with_a_timeout_takes_its_default(
    sandbox: Path, tmp_path: Path, default: str, code: int
) -> None:
    reports = tmp_path / "reports"

    def change(data: dict[str, Any]) -> None:
        data["rollout"]["stages"][0]["pause"] = {"timeout": "2s", "default": default}

    proc = release(gated_runbook(tmp_path, change), sandbox, reports, tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == code, out + err
    report = json.loads((reports / "release.json").read_text())
    [timeout] = report["gates"]
    assert (timeout["action"], timeout["default"], timeout["by"]) == ("timeout", default, "runbook")
    if default == "promote":
        assert [s["status"] for s in report["stages"]] == ["passed"] * 3
        assert report["state"] == "promoted"
    else:
        assert report["trigger"]["reason"] == "pause_timeout"
        assert report["trigger"]["stage"] == "Canary 10%"
        assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
        assert weights(sandbox)["canary"] == (0, "maint")
    assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))


def test_approval_required_then_promote_full_from_another_controller(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"

    def change(data: dict[str, Any]) -> None:
        data["rollout"]["approval"] = "required"
        data["rollout"]["stages"][1]["bake"] = "2s"
        data["rollout"]["stages"][2]["bake"] = "600s"  # skipped by --full

    proc = release(gated_runbook(tmp_path, change), sandbox, reports, tmp_path)
    status_until(sandbox, tmp_path, proc, waiting("approval", "Blue-Green 50%"))
    assert canary_share(sandbox) == 50, "the release holds before its last stage"
    # Another controller: its own state directory (no marker, no lock of this release),
    # the same inventory, so the same router backend lease.
    other = {**env_for(sandbox), "RELRUN_STATE_DIR": str(tmp_path / "other-controller")}
    resume = subprocess.run(
        [*RELRUN, "resume", "-i", str(INVENTORY), "--reason", "go"], cwd=tmp_path, env=other,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert resume.returncode == 2 and "waits for its approval: relrun promote" in resume.stderr
    promoted = subprocess.run(
        [*RELRUN, "promote", "--full", "-i", str(INVENTORY), "--reason", "CAB-1234 approved"],
        cwd=tmp_path, env=other, capture_output=True, text=True, timeout=300, check=False,
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "through " in promoted.stderr, "found through the lease, not a marker"
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    report = json.loads((reports / "release.json").read_text())
    assert [s["status"] for s in report["stages"]] == ["passed", "passed", "skipped"]
    assert report["stages"][2]["weight"] == 100 and report["state"] == "promoted"
    [promote] = report["gates"]
    assert (promote["action"], promote["scope"], promote["stage"], promote["reason"]) == (
        "promote", "full", "Blue-Green 50%", "CAB-1234 approved"
    )
    assert "relrun promote --full" in report["reasons"][0]
    assert canary_share(sandbox) == 100
    ci = json.loads((reports / "ci.json").read_text())
    assert ci["gates"][0]["by"] == promote["by"]
    assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))


def test_abort_rolls_back_inside_the_playbook_and_loses_nothing(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    log = sandbox / "loadgen.jsonl"
    proc = start_relrun(
        ["drill", patient_runbook(tmp_path), "-i", str(INVENTORY), "--report-dir", str(reports),
         "--traffic-log", str(log)],
        sandbox, tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    aborted = run_relrun(["abort", "--reason", "wrong build"], sandbox, tmp_path)
    out, err = proc.communicate(timeout=300)
    assert aborted.returncode == 0, aborted.stderr
    assert "asked the drill of " in aborted.stderr, aborted.stderr
    # An operator's rollback: the run failed, the environment is safe (exit 1).
    assert proc.returncode == 1, out + err
    report = json.loads((reports / "drill.json").read_text())
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["path"], trigger["stage"]) == (
        "manual", "in_playbook", "Canary 10%"
    )
    assert trigger["by"].endswith("(relrun abort)") and "wrong build" in trigger["message"]
    assert [s["status"] for s in report["rollback"]["steps"]] == ALL_PASSED
    assert report["traffic"]["lost"] == 0, report["traffic"]
    labels = [
        json.loads(line).get("label")
        for line in (reports / "journal.jsonl").read_text().splitlines()
        if json.loads(line).get("kind") == "run_started"
    ]
    assert labels == ["drill"], "rolled back in the drill's own playbook run"
    assert summarize(log).lost == 0
    assert_signals_agree(reports, proc.returncode, out + err, history_db(sandbox))


RELRUN = [__import__("sys").executable, "-c", "from relrun.cli import main; main()"]


@pytest.mark.parametrize("verb", ["pause", "resume", "promote", "abort"])
@pytest.mark.parametrize("where", [[], ["-i", str(INVENTORY)]])
def test_verbs_with_nothing_running_are_refused(
    sandbox: Path, tmp_path: Path, verb: str, where: list[str]
) -> None:
    done = run_relrun([verb, *where, "--reason", "nothing runs"], sandbox, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no release or drill is running" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(sandbox.glob("relrun-deadman-*.gate"))
