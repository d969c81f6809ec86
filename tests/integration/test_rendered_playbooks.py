"""Committed playbooks are current, and every rendered playbook passes Ansible's own checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relrun.run.runner import COLLECTIONS_PATH
from tests.helpers import ROOT, local_inventory, relrun

pytestmark = pytest.mark.integration

RUNBOOKS = sorted((ROOT / "runbooks").glob("*.yml"))
BIN = Path(sys.executable).parent


def ansible_env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH), "ANSIBLE_NOCOLOR": "1"}


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_committed_playbook_is_up_to_date(runbook: Path) -> None:
    playbook = ROOT / "playbooks" / runbook.name
    proc = relrun("render", str(runbook), "--check", str(playbook))
    assert proc.returncode == 0, proc.stderr


def test_render_check_detects_a_stale_playbook(tmp_path: Path) -> None:
    stale = tmp_path / "stale.yml"
    stale.write_text((ROOT / "playbooks" / "release-v2.yml").read_text() + "# edited\n")
    proc = relrun("render", "runbooks/release-v2.yml", "--check", str(stale))
    assert proc.returncode == 1
    assert "out of date" in proc.stderr


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_syntax_check(runbook: Path, tmp_path: Path) -> None:
    playbook = ROOT / "playbooks" / runbook.name
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            str(local_inventory(tmp_path)),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    lint = BIN / "ansible-lint"
    if not lint.exists():
        pytest.skip("ansible-lint is not installed in this environment (uv sync installs it)")
    # Lint copies in a scratch dir so ansible-lint sees no project config but its own.
    for playbook in sorted((ROOT / "playbooks").glob("*.yml")):
        shutil.copy(playbook, tmp_path / playbook.name)
    proc = subprocess.run(
        [
            str(lint),
            "--offline",
            "--profile",
            "production",
            "--nocolor",
            *sorted(p.name for p in tmp_path.glob("*.yml")),
        ],
        capture_output=True,
        text=True,
        env={**ansible_env(), "HOME": str(tmp_path)},
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
