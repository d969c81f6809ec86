"""What a killed run left in ansible-runner's artifacts is scrubbed by a later process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from relrun.run.redact import MASK
from relrun.run.runner import scrub_earlier_runs

PLAYBOOK = "- hosts: all\n  tasks: [{x: {credentials: {password_env: RELRUN_T_PW}}}]\n"


def test_scrub_earlier_runs_learns_the_secrets_from_the_dead_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELRUN_T_TOKEN", raising=False)  # only the dead run knew them
    monkeypatch.delenv("RELRUN_T_PW", raising=False)
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": {"a_secret": "from-inventory"}}}))
    private = tmp_path / "ansible" / "01-release"
    artifacts = private / "artifacts" / "ident"
    (artifacts / "job_events").mkdir(parents=True)
    (private / "env").mkdir()
    env = {
        "RELRUN_T_TOKEN": "by-name-123456",  # named like a secret
        "RELRUN_T_PW": "referenced-password",  # the playbook reads a password from it
        "HOME": "/root",
        "ANSIBLE_NOCOLOR": "1",
        "RELRUN_SANDBOX_DIR": "/sb/by-name-123456",
    }
    (artifacts / "command").write_text(json.dumps({"command": ["x"], "cwd": "/", "env": env}))
    partial = artifacts / "job_events" / "u1-partial.json"
    partial.write_text(json.dumps({"stdout": "by-name-123456 referenced-password from-inventory"}))
    torn = artifacts / "job_events" / "u2-partial.json"
    torn.write_text('{"stdout": "by-name-123456')
    (private / "env" / "envvars").write_text("RELRUN_T_TOKEN: by-name-123456\n")
    (private / "env" / "settings").write_text('{"job_timeout": 0}')

    scrubbed = scrub_earlier_runs(
        tmp_path, PLAYBOOK, inventory, {"RELRUN_SANDBOX_DIR": "/sb/by-name-123456"}
    )

    assert scrubbed == [private]
    left = [p for p in tmp_path.rglob("*") if p.is_file() and p != inventory]
    for secret in ("by-name-123456", "referenced-password", "from-inventory"):
        assert [p for p in left if secret in p.read_text()] == [], secret
    record = json.loads((artifacts / "command").read_text())
    # relrun's own variables keep their (redacted) values; everything else is masked.
    assert record["env"]["ANSIBLE_NOCOLOR"] == "1"
    assert record["env"]["RELRUN_SANDBOX_DIR"] == f"/sb/{MASK}"
    assert record["env"]["HOME"] == MASK
    assert json.loads(partial.read_text())["stdout"] == f"{MASK} {MASK} {MASK}"
    assert not torn.exists()
    assert (private / "env" / "settings").read_text() == '{"job_timeout": 0}'
    # Idempotent, and a directory without ansible-runner runs is fine.
    assert scrub_earlier_runs(tmp_path, PLAYBOOK, inventory, {}) == [private]
    assert scrub_earlier_runs(tmp_path / "none", PLAYBOOK, inventory, {}) == []
