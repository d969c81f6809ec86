"""``relrun status`` reads every run marker of the project: dead private drills, corrupt files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.run.active import mark_active


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_dead_private_drill_and_a_corrupt_marker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "drill-1"
    (run_dir / "sandbox").mkdir(parents=True)
    key = f"sandbox|{run_dir / 'sandbox'}"
    mark_active(key, {"kind": "drill", "runbook": "/rb/quick.yml", "run_dir": str(run_dir),
                      "inventory": "/pkg/inventory.yml", "started": 1.0,
                      "envvars": {"RELRUN_SANDBOX_DIR": str(run_dir / "sandbox")}})
    marker = next((Path(os.environ["RELRUN_STATE_DIR"]) / "active").glob("*.json"))
    record = json.loads(marker.read_text())
    marker.write_text(json.dumps({**record, "pid": dead_pid()}))
    (marker.parent / "corrupt.json").write_text("{not json")
    assert run_cli(app, ["status"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"incomplete: a drill of /rb/quick.yml on its private sandbox {run_dir / 'sandbox'}")
    assert "finish its rollback with: relrun recover\n" in out
    assert run_cli(app, ["status", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "incomplete" and doc["run"]["recover"] == "relrun recover"
    assert run_cli(app, ["status", "--interval", "2"]) == 2
    assert "--interval has no effect without --watch" in capsys.readouterr().err
