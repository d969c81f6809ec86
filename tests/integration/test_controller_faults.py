"""The controller's own faults still roll back (issue 14 item 6): a full disk mid-stage.

The run directory is on a small tmpfs this test mounts (root only) and fills while
stage 1 bakes; the fallback directory is named by RELRUN_FALLBACK_DIR.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from relrun.sandbox import control
from tests.helpers import ROOT
from tests.integration.sandbox_env import INVENTORY, STARTED, env_for, wait_for_journal

pytestmark = pytest.mark.integration

SLOW = ROOT / "tests" / "data" / "slow.yml"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB filesystem of its own, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs takes root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Write until the filesystem has no byte left."""
    with contextlib.suppress(OSError), (disk / "filler").open("wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()


def relrun(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from relrun.cli import main; main()", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    STARTED.append(proc)
    return proc


def variant(tmp_path: Path, bake: str) -> str:
    """slow.yml with stage 1 baking ``bake`` and a lease a loaded machine cannot outrun."""
    data = yaml.safe_load(SLOW.read_text(encoding="utf-8"))
    data["rollout"]["stages"][0]["bake"] = bake
    data["rollback"]["lease"] = "30s"
    path = tmp_path / f"bake-{bake}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def servers(state: Path) -> dict[str, tuple[int | None, str | None]]:
    return {s.name: (s.weight, s.state) for s in control.status(state).servers}


def test_a_full_disk_mid_stage_rolls_back_first_and_reports_elsewhere(
    sandbox: Path, tmp_path: Path, small_disk: Path
) -> None:
    reports = small_disk / "reports"
    fallback = tmp_path / "fallback"
    env = {**env_for(sandbox), "RELRUN_FALLBACK_DIR": str(fallback)}
    proc = relrun(
        ["release", variant(tmp_path, "8s"), "-i", str(INVENTORY), "--report-dir", str(reports)],
        env, tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    fill(small_disk)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert "No space left on device" in err and "was rolled back" in err
    assert "Traceback" not in err
    report = json.loads((fallback / "reports" / "release.json").read_text())
    assert report["state"] == "crashed"
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    assert servers(sandbox)["canary"] == (0, "maint")
    status = subprocess.run(
        [sys.executable, "-m", "relrun", "status", "-i", str(INVENTORY)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert status.returncode == 0 and "idle" in status.stdout, status.stdout + status.stderr


def test_recover_works_with_the_disk_still_full(
    sandbox: Path, tmp_path: Path, small_disk: Path
) -> None:
    reports = small_disk / "reports"
    fallback = tmp_path / "fallback"
    env = {**env_for(sandbox), "RELRUN_FALLBACK_DIR": str(fallback)}
    proc = relrun(
        ["release", variant(tmp_path, "120s"), "-i", str(INVENTORY), "--report-dir", str(reports)],
        env, tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    proc.kill()
    proc.communicate(timeout=60)
    fill(small_disk)
    recover = subprocess.run(
        [sys.executable, "-m", "relrun", "recover", "-i", str(INVENTORY)],
        env=env, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "Traceback" not in recover.stderr
    assert f"{reports} cannot be written" in recover.stdout + recover.stderr
    assert servers(sandbox)["canary"] == (0, "maint")
    report = json.loads((fallback / "reports" / "release.json").read_text())
    assert report["state"] == "recovered"


def test_a_run_directory_deleted_mid_stage_still_rolls_back(
    sandbox: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "doomed" / "reports"
    fallback = tmp_path / "fallback"
    env = {**env_for(sandbox), "RELRUN_FALLBACK_DIR": str(fallback)}
    proc = relrun(
        ["release", variant(tmp_path, "8s"), "-i", str(INVENTORY), "--report-dir", str(reports)],
        env, tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=300)
    shutil.rmtree(tmp_path / "doomed")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert f"was rolled back; reports in {fallback / 'reports'}" in err
    report = json.loads((fallback / "reports" / "release.json").read_text())
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
    assert servers(sandbox)["canary"] == (0, "maint")
