"""The rollback handbook lists each step's work in the order the playbook runs it."""

from __future__ import annotations

import json
from pathlib import Path

from relrun.runbook.loader import load_runbook
from relrun.workflows.handbook import write_handbook
from tests.helpers import ROOT

RUNBOOK = """\
apiVersion: relrun/v1
kind: Runbook
metadata: {name: hooks, version: "1"}
traffic: {}
rollout:
  stages: [{name: One, weight: 100, bake: 1s}]
rollback:
  cleanup:
    steps: [{name: stop-canary, argv: [stop, canary]}]
  hooks:
    before_drain: [{name: warn, shell: "true"}]
    before_cleanup: [{name: page, argv: [pager]}]
    after_cleanup: [{name: note, shell: echo done}]
"""


def section(markdown: str, heading: str) -> list[str]:
    """The bullet lines under one ``### N. `step``` heading."""
    body = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    return [line for line in body.splitlines() if line.startswith("- ")]


def test_flagship_cleanup_runs_commands_then_maint_then_disarm(tmp_path: Path) -> None:
    write_handbook(tmp_path, load_runbook(ROOT / "runbooks" / "release-v2.yml"))
    bullets = section((tmp_path / "rollback-playbook.md").read_text(), "### 5. `cleanup`")
    assert [b.split(":")[0].split(" action=")[0] for b in bullets] == [
        "- command `stop-canary`",
        "- relrun.release.traffic",
        "- relrun.release.deadman",
    ]
    assert "action=maint servers=canary" in bullets[1]
    assert "action=disarm" in bullets[2]
    data = json.loads((tmp_path / "rollback-playbook.json").read_text())
    cleanup = data["steps"][4]
    assert [c["order"] for c in cleanup["commands"]] == ["before_actions"]
    assert cleanup["finally"] and "disarm" in cleanup["finally"][0]


def test_hooks_sit_around_the_actions(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yml"
    path.write_text(RUNBOOK, encoding="utf-8")
    write_handbook(tmp_path, load_runbook(path))
    markdown = (tmp_path / "rollback-playbook.md").read_text()
    drain = section(markdown, "### 2. `drain`")
    assert drain[0].startswith("- command `warn`")
    assert drain[1].startswith("- relrun.release.traffic action=drain")
    cleanup = section(markdown, "### 5. `cleanup`")
    assert [line.split(":")[0] for line in cleanup] == [
        "- command `page`",
        "- command `stop-canary`",
        "- relrun.release.traffic action=maint servers=canary",
        "- command `note`",
        "- relrun.release.deadman action=disarm (skipped when switch_traffic failed",
    ]
