"""A private-sandbox drill leaves nothing behind: signals at start-up, kill -9 mid-stage.

Issue 14 items 8 and 9. Processes of a sandbox are found by its state directory, which
every one of them has on its command line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.integration.sandbox_env import INVENTORY, env_for, start_relrun, wait_for_journal

pytestmark = pytest.mark.integration

QUICK = str(ROOT / "tests" / "data" / "quick.yml")
SLOW = str(ROOT / "tests" / "data" / "slow.yml")  # stage 1 bakes 120 s; lease 5 s


def processes_of(state_dir: Path) -> list[int]:
    """Live processes whose command line names ``state_dir``."""
    needle = str(state_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if needle in cmdline and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_for(what: str, predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened within {timeout:g}s: {what}")


def test_a_signal_while_the_sandbox_starts_stops_it_and_exits_130(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    sandbox = reports / "sandbox"
    proc = start_relrun(["drill", QUICK, "--report-dir", str(reports)], tmp_path / "x", tmp_path)
    # The reaper is spawned first, the router next: signal while the rest still starts.
    wait_for("the router was spawned", lambda: (sandbox / "run" / "router.json").exists(), 60)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "stopped after starting the sandbox" in err
    assert processes_of(sandbox) == []
    assert not (sandbox / "secrets").exists()


def test_a_drill_killed_with_9_leaves_no_sandbox_behind(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    sandbox = reports / "sandbox"
    state = tmp_path / "x"
    runbook = tmp_path / "slow.yml"  # a lease a loaded machine cannot outrun
    runbook.write_text(Path(SLOW).read_text().replace("lease: 5s", "lease: 20s"))
    proc = start_relrun(["drill", str(runbook), "--report-dir", str(reports)], state, tmp_path)
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    assert len(processes_of(sandbox)) >= 5  # reaper, router, stable, canary, load generator
    (lease_file,) = sandbox.glob("relrun-deadman-*.json")
    watcher = int(json.loads(lease_file.read_text())["pid"])
    proc.kill()
    proc.communicate(timeout=60)
    # Its lease is 20 s: the reaper waits for it, then stops the whole sandbox.
    wait_for("every sandbox process stopped", lambda: not processes_of(sandbox), 90)
    wait_for("the switch's watcher left", lambda: not Path(f"/proc/{watcher}").exists()
             or Path(f"/proc/{watcher}/stat").read_text().rpartition(")")[2].split()[0] == "Z",
             60)
    assert not list(sandbox.glob("relrun-deadman-*.json"))

    env = env_for(state)
    status = subprocess.run(
        [sys.executable, "-m", "relrun", "status", "-i", str(INVENTORY)],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert f"also on this machine: incomplete: a drill of {runbook.resolve()} on its private " \
        f"sandbox {sandbox}" in status.stdout, status.stdout
    cleaned = subprocess.run(
        [sys.executable, "-c",
         "from relrun.workflows.drill import clean_dead_sandboxes as c; print(c(print))"],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert str(sandbox) in cleaned.stdout, cleaned.stdout + cleaned.stderr
    assert "cleaned up the private sandbox of a drill whose relrun died" in cleaned.stdout
    again = subprocess.run(
        [sys.executable, "-m", "relrun", "status", "-i", str(INVENTORY)],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert "on its private sandbox" not in again.stdout
