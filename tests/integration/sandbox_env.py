"""A running sandbox in a test's temporary directory, always torn down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT

INVENTORY = ROOT / "inventories" / "sandbox.yml"


def env_for(state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RELRUN_SANDBOX_DIR": str(state),
        "RELRUN_STATE_DIR": str(state.parent / "relrun-state"),
    }


# Every relrun a test starts in the background; conftest reaps what is still running.
STARTED: list[subprocess.Popen[str]] = []


def history_db(state: Path) -> Path:
    """The history database of the relrun processes started by :func:`env_for`."""
    return state.parent / "relrun-state" / "history.db"


def start_relrun(args: list[str], state: Path, cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from relrun.cli import main; main()", *args],
        cwd=cwd,
        env=env_for(state),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(proc)
    return proc


def reap_started() -> None:
    """Stop every background relrun still running (a test failed before it waited)."""
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.terminate()  # relrun rolls back on SIGTERM, then exits
            try:
                proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def run_relrun(args: list[str], state: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from relrun.cli import main; main()", *args],
        cwd=cwd,
        env=env_for(state),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def wait_for_journal(
    reports: Path, needle: str, proc: subprocess.Popen[str], timeout: float = 600
) -> None:
    """Poll the run's journal until a line contains ``needle`` (the run is at that point).

    ``timeout`` only bounds a hang: on a loaded 2-core machine a slow.yml release took
    more than 120 s to reach its first bake (every task starting in 5-16 s).
    """
    journal = reports / "journal.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and needle in journal.read_text(encoding="utf-8"):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"relrun ended early ({proc.returncode}): {out}{err}")
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared in {journal}")


def patient_runbook(tmp_path: Path, source: Path | None = None, lease: str = "120s") -> str:
    """A test runbook (default slow.yml) with a lease a loaded machine cannot outrun.

    A 5 s lease runs out between two tasks on a busy 2-core machine (a task starts in
    several seconds there), and the switch then fires during a normal release. Seen at a
    load average of 15 on 2 cores: 28-35 s between the rescue's last renewals (the switch,
    then the cleanup's maintenance), so even 30 s fired. Tests that are not about the
    switch firing use this copy.
    """
    import yaml

    text = (source or ROOT / "tests" / "data" / "slow.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["rollback"]["lease"] = lease
    path = tmp_path / f"patient-{data['metadata']['name']}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)
