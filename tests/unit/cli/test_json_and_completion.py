from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from tests.helpers import ROOT

FLAGSHIP = str(ROOT / "runbooks" / "release-v2.yml")
SANDBOX = str(ROOT / "inventories" / "sandbox.yml")


def test_validate_json_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["validate", FLAGSHIP, "-i", SANDBOX, "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {
        "format": 1,
        "ok": True,
        "runbooks": [{"file": FLAGSHIP, "name": "release-v2", "version": "2.0.0"}],
        "problems": [],
    }
    assert out.err == ""


def test_validate_json_problems_are_positioned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("apiVersion: relrun/v1\nkind: Runbook\n")
    assert run_cli(app, ["validate", FLAGSHIP, str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert [r["name"] for r in doc["runbooks"]] == ["release-v2"]
    assert doc["problems"] == [
        {
            "file": str(bad),
            "line": 1,
            "column": 1,
            "message": "missing required field 'metadata'",
            "path": "metadata",
            "text": f"{bad}:1:1: error: missing required field 'metadata' (at metadata)",
        }
    ]


def test_validate_json_bad_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yml"
    assert run_cli(app, ["validate", FLAGSHIP, "-i", str(missing), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["problems"][0]["text"] == f"{missing}:1:1: error: no such file"


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["plan", FLAGSHIP, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == 1
    assert doc["runbook"]["name"] == "release-v2"
    assert len(doc["runbook"]["sha256"]) == 64
    assert [s["name"] for s in doc["stages"]] == [
        "Canary 5%", "Blue-Green 25%", "Blue-Green 50%", "Full 100%"
    ]
    assert [s["drill"] for s in doc["stages"]] == [False, True, False, False]
    assert doc["stages"][0]["analysis"]["max_error_rate"] == pytest.approx(0.05)
    assert doc["rollback"]["steps"] == [
        "stop_deployment", "drain", "switch_traffic", "verify", "cleanup"
    ]
    assert doc["drill"]["stage"] == "Blue-Green 25%"


def test_status_json_idle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["status", "-i", SANDBOX, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"format": 1, "state": "idle", "inventory": SANDBOX, "run": None, "runs": [],
                   "incidents": []}


def test_shell_completion_completes_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "_RELRUN_COMPLETE": "complete_bash",
        "COMP_WORDS": "relrun dri",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("relrun"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["drill"]
