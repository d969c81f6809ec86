"""Drills over real SSH against a fleet of network-namespace hosts behind a real HAProxy.

Each test builds its own fleet (relrun.testenv.netns: 2 app hosts, each with stable-i and
canary-i, one HAProxy host, a load generator) and tears it down. Root only.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from relrun.sandbox.layout import Layout
from relrun.sandbox.traffic import summarize
from relrun.testenv.netns import Fleet, fleet, missing_requirements
from tests.helpers import ROOT

MISSING = missing_requirements()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(MISSING), reason="needs " + ", ".join(MISSING)),
]

FLEET = str(ROOT / "tests" / "data" / "fleet.yml")
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")
SHIFT_1 = "Stage 1/3 Canary 10%: shift 10% to canary"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(2, tmp_path / "fleet") as running:
        yield running


def drill(
    env: Fleet,
    reports: Path,
    when: str | None = None,
    fault: Callable[[], None] | None = None,
    command: str = "drill",
    extra: tuple[str, ...] = (),
) -> tuple[int, dict[str, object], str]:
    """Run ``relrun drill`` (or ``release``) over SSH; call ``fault`` once task ``when`` has a
    result."""
    args = [
        sys.executable,
        "-c",
        "from relrun.cli import main; main()",
        command,
        FLEET,
        "-i",
        str(env.inventory),
        *(["--traffic-log", str(env.traffic_log)] if command == "drill" else []),
        "--report-dir",
        str(reports),
        *extra,
    ]
    with subprocess.Popen(
        args, cwd=env.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        if fault is not None:
            journal = reports / "journal.jsonl"
            deadline = time.monotonic() + 120
            while not _has_result(journal, when):
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, f"no result of {when!r}"
                time.sleep(0.05)
            fault()
        out, _ = proc.communicate(timeout=300)
    return proc.returncode, json.loads((reports / f"{command}.json").read_text()), out


def _has_result(journal: Path, task: str | None) -> bool:
    if not journal.exists():
        return False
    for line in journal.read_text(encoding="utf-8").splitlines():
        if f'"task": "{task}"' in line and '"kind": "task_result"' in line:
            return True
    return False


def steps(report: dict[str, object]) -> dict[str, str]:
    rollback = report["rollback"]
    assert isinstance(rollback, dict)
    return {s["name"]: s["status"] for s in rollback["steps"]}


def test_drill_over_ssh_rolls_back_every_host(env: Fleet, tmp_path: Path) -> None:
    code, report, out = drill(env, tmp_path / "reports")
    assert code == 0, out
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Blue-Green 50%")
    assert steps(report) == dict.fromkeys(STEPS, "passed")
    assert isinstance(report["detection_seconds"], float)
    assert isinstance(report["rto_seconds"], float)
    assert report["rto_seconds"] >= report["detection_seconds"] > 0
    assert report["unreachable_hosts"] == []
    traffic = report["traffic"]
    assert isinstance(traffic, dict)
    assert set(traffic["phases"]) == {"before_fault", "fault_to_switch", "after_switch"}
    assert traffic["lost"] == 0, traffic["lost_reasons"]
    assert traffic["injected_failures"] > 0
    assert set(traffic["served_by"]) == {"1.0", "2.0"}
    assert set(traffic["phases"]["after_switch"]["served_by"]) == {"1.0"}
    # Deployed on both hosts over SSH, faulted on both, cleaned up on both.
    servers = env.driver().servers(1)
    for i in (1, 2):
        assert (servers[f"canary-{i}"]["state"], servers[f"canary-{i}"]["weight"]) == ("maint", 0)
        assert (servers[f"stable-{i}"]["state"], servers[f"stable-{i}"]["weight"]) == ("ready", 1)
        state = Layout.at(env.hosts[f"app-{i}"].state_dir)
        assert not state.server_file(f"canary-{i}").exists()
        assert state.server_file(f"stable-{i}").exists()
    assert summarize(env.traffic_log).lost == 0


def test_a_crash_hits_every_canary_host_at_once_and_detection_counts_from_the_last(
    env: Fleet, tmp_path: Path
) -> None:
    """The crash runs on each canary host (its service control), in one play on the canary
    group: both hosts are hit, and both moments are recorded, first and last."""
    code, report, out = drill(env, tmp_path / "reports", extra=("--fault", "crash"))
    assert code == 0, out
    assert steps(report) == dict.fromkeys(STEPS, "passed"), out
    first, last = report["fault_first_injected_at"], report["fault_injected_at"]
    assert isinstance(first, float) and isinstance(last, float), out
    assert first <= last
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert report["detection_seconds"] == pytest.approx(trigger["at"] - last, abs=0.002)
    journal = (tmp_path / "reports" / "journal.jsonl").read_text().splitlines()
    crashed = {
        json.loads(line)["host"] for line in journal
        if '"task": "Stage 2/3 Blue-Green 50%: drill fault"' in line
        and '"kind": "task_result"' in line and '"status": "ok"' in line
    }
    assert crashed == {"app-1", "app-2"}, out
    for i in (1, 2):  # cleaned up on both hosts after the crash
        assert not Layout.at(env.hosts[f"app-{i}"].state_dir).server_file(f"canary-{i}").exists()


@pytest.mark.parametrize("how", ["link", "sshd"])
def test_app_host_unreachable_mid_stage(env: Fleet, tmp_path: Path, how: str) -> None:
    cut = env.cut_link if how == "link" else env.stop_sshd
    code, report, out = drill(env, tmp_path / "reports", SHIFT_1, lambda: cut("app-2"))
    assert code == 3, out
    assert report["verdict"] == "fail"
    assert report["state"] == "rollback_incomplete"
    assert report["unreachable_hosts"] == ["app-2"], out
    done = steps(report)
    # Traffic rolled back by the LB; app-1 cleaned up; app-2 could not be.
    assert {k: done[k] for k in STEPS[:3]} == dict.fromkeys(STEPS[:3], "passed"), out
    if how == "sshd":  # app-2 still serves: only its control channel is gone
        assert done["verify"] == "passed", out
    assert done["cleanup"] == "failed"
    assert any("cleanup incomplete on app-2" in r for r in report["reasons"]), report["reasons"]
    servers = env.driver().servers(1)
    assert [servers[f"canary-{i}"]["weight"] for i in (1, 2)] == [0, 0]
    assert servers["canary-1"]["state"] == "maint"
    assert not Layout.at(env.hosts["app-1"].state_dir).server_file("canary-1").exists()
    # app-2 really was cut off: its canary still runs there, for a human to stop.
    assert Layout.at(env.hosts["app-2"].state_dir).server_file("canary-2").exists()


def test_app_host_lost_mid_stage_stops_a_plain_release(env: Fleet, tmp_path: Path) -> None:
    """No drill fault contacts the app hosts here: the per-stage reachability check must."""
    lose = lambda: env.stop_sshd("app-2")  # noqa: E731
    code, report, out = drill(env, tmp_path / "reports", SHIFT_1, lose, command="release")
    assert code == 3, out
    assert report["state"] == "rollback_incomplete", out
    assert report["unreachable_hosts"] == ["app-2"], out
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert trigger["reason"] == "unreachable_host", trigger
    assert trigger["stage"] == "Blue-Green 50%", trigger  # found before shifting more traffic
    assert {k: v for k, v in steps(report).items() if k != "cleanup"} == dict.fromkeys(
        STEPS[:4], "passed"
    ), out
    servers = env.driver().servers(1)
    assert [servers[f"canary-{i}"]["weight"] for i in (1, 2)] == [0, 0]


def test_load_balancer_unreachable_is_a_rollback_failure(env: Fleet, tmp_path: Path) -> None:
    code, report, out = drill(env, tmp_path / "reports", SHIFT_1, lambda: env.cut_link("lb-1"))
    assert code == 3, out
    assert report["verdict"] == "fail"
    assert report["state"] == "rollback_incomplete", out
    assert report["unreachable_hosts"] == ["lb-1"], out
    assert steps(report)["switch_traffic"] != "passed", out
    assert any("load balancer host lb-1 is unreachable" in r for r in report["reasons"]), out


def test_an_unknown_host_key_fails_fast_instead_of_prompting(tmp_path: Path) -> None:
    """ssh would ask "continue connecting (yes/no)?" on ansible-runner's terminal, where no
    one can answer, and a scheduled drill would hang: relrun runs ssh in batch mode."""
    with fleet(1, tmp_path / "fleet", rate=0) as small:
        data = yaml.safe_load(small.inventory.read_text())
        common = data["all"]["vars"]["ansible_ssh_common_args"]
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        data["all"]["vars"]["ansible_ssh_common_args"] = re.sub(
            r"UserKnownHostsFile=\S+", f"UserKnownHostsFile={empty}", common
        ).replace("-o StrictHostKeyChecking=yes", "")
        # A fresh connection: no master the builder opened may carry it.
        data["all"]["vars"]["ansible_ssh_args"] = "-o ControlMaster=no -o ControlPath=none"
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump(data))
        runbook = tmp_path / "rb.yml"
        runbook.write_text(
            "apiVersion: relrun/v1\nkind: Runbook\nmetadata: {name: hk, version: '1'}\n"
            "builds:\n  - {name: hello, argv: ['true']}\n"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from relrun.cli import main; main()",
                "release",
                str(runbook),
                "-i",
                str(inventory),
                "--report-dir",
                str(tmp_path / "reports"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=tmp_path,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Host key verification failed" in done.stdout + done.stderr
