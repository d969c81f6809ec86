"""Manual gates on a release whose router host is reached over SSH (issue 17, item 1).

A real fleet (relrun.testenv.netns: app hosts and an HAProxy host in network namespaces,
real sshd): ``relrun release`` runs in one process; ``relrun pause`` then ``relrun promote
--full`` or ``relrun abort`` run in others with the same inventory. They reach the release
through its lease on the router host, which they reach only as Ansible does (one play of
relrun.release.gate over SSH). Root only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relrun.testenv.netns import Fleet, fleet, missing_requirements
from tests.helpers import ROOT

MISSING = missing_requirements()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(MISSING), reason="needs " + ", ".join(MISSING)),
]

FLEET = str(ROOT / "tests" / "data" / "fleet.yml")
RELRUN = [sys.executable, "-c", "from relrun.cli import main; main()"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(2, tmp_path / "fleet") as running:
        yield running


def verb(env: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RELRUN, *args, "-i", str(env.inventory)], cwd=env.workdir, capture_output=True,
        text=True, timeout=300, check=False,
    )


def status_until(env: Fleet, proc: subprocess.Popen[str], kind: str) -> dict[str, Any]:
    """`relrun status -i INVENTORY --json` until the running release waits for ``kind``."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the release ended early ({proc.returncode})"
        shown = verb(env, "status", "--json")
        document = json.loads(shown.stdout)
        gate = (document["run"] or {}).get("gate") or {} if document["state"] == "running" else {}
        if (gate.get("waiting") or {}).get("kind") == kind:
            return gate
    raise AssertionError(f"the release never waited for {kind}")


@pytest.mark.parametrize("ending", ["promote", "abort"])
def test_pause_then_promote_full_or_abort_over_ssh_from_another_process(
    env: Fleet, tmp_path: Path, ending: str
) -> None:
    reports = tmp_path / "reports"
    args = [*RELRUN, "release", FLEET, "-i", str(env.inventory), "--report-dir", str(reports)]
    with subprocess.Popen(
        args, cwd=env.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            deadline = time.monotonic() + 300
            while True:  # the preflight has claimed the backend's lease on lb-1
                paused = verb(env, "pause", "--reason", "db team first")
                if paused.returncode == 0 or time.monotonic() > deadline:
                    break
                assert "no release or drill is running" in paused.stderr or (
                    "holds no dead man's switch lease" in paused.stderr), paused.stderr
                assert proc.poll() is None, "the release ended before it could be paused"
            assert paused.returncode == 0, paused.stderr
            assert "gate state now" in paused.stderr and "db team first" in paused.stderr
            again = verb(env, "pause", "--reason", "twice")
            assert again.returncode == 2 and "already paused" in again.stderr, again.stderr
            gate = status_until(env, proc, "operator")
            assert gate["paused"]["reason"] == "db team first"
            if ending == "promote":
                ended = verb(env, "promote", "--full", "--reason", "CAB-7 approved")
            else:
                ended = verb(env, "abort", "--reason", "wrong build")
            assert ended.returncode == 0, ended.stderr
            out, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.communicate(timeout=120)
    report = json.loads((reports / "release.json").read_text())
    actions = [(g["action"], g.get("scope"), g["reason"]) for g in report["gates"]]
    if ending == "promote":
        assert proc.returncode == 0, out
        assert report["state"] == "promoted" and report["stages"][-1]["weight"] == 100
        assert actions == [("pause", None, "db team first"),
                           ("promote", "full", "CAB-7 approved")]
        return
    # An operator's rollback, inside the release's playbook: the environment is safe (exit 1).
    assert proc.returncode == 1, out
    assert actions[0] == ("pause", None, "db team first")
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["path"]) == ("manual", "in_playbook")
    assert trigger["by"].endswith("(relrun abort)") and "wrong build" in trigger["message"]
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    servers = env.driver().servers(1)
    assert {servers[f"canary-{i}"]["weight"] for i in (1, 2)} == {0}
