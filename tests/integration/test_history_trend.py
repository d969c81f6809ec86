"""Real drills sharing one history: a rollback made slower is flagged by ``history --trend``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml

from relrun.report.history import REGRESSION_FACTOR, default_db_path
from tests.helpers import ROOT, relrun

pytestmark = pytest.mark.integration

QUICK = ROOT / "tests" / "data" / "quick.yml"


def drill(tmp_path: Path, runbook: Path, name: str) -> tuple[dict[str, object], str]:
    """One real drill on its own private sandbox; its report and what it printed to stderr."""
    reports = tmp_path / name
    proc = relrun("drill", str(runbook), "--report-dir", str(reports), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "drill.json").read_text())
    assert isinstance(report, dict) and report["verdict"] == "pass"
    return report, proc.stderr


def slowed_runbook(tmp_path: Path, seconds: int) -> Path:
    """quick.yml (same name, so the same series) with a sleep before the rollback's drain."""
    data = yaml.safe_load(QUICK.read_text(encoding="utf-8"))
    data["rollback"]["hooks"] = {
        "before_drain": [{"name": "slow-drain", "shell": f"sleep {seconds}"}]
    }
    path = tmp_path / "quick-slow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_slower_rollback_is_flagged_as_an_rto_regression(tmp_path: Path) -> None:
    db = default_db_path()
    assert db.parent == Path(os.environ["RELRUN_STATE_DIR"])  # this test's own history

    # The trend judges a drill against the median RTO of up to five earlier ones: one
    # earlier drill is the least that gives a baseline.
    baseline, said = drill(tmp_path, QUICK, "baseline")
    assert "RTO regression" not in said
    base_rto = baseline["rto_seconds"]
    assert isinstance(base_rto, float) and base_rto > 0
    trend = relrun("history", "--trend", "--runbook", "quick", cwd=tmp_path)
    assert trend.returncode == 0, trend.stdout + trend.stderr
    assert "REGRESSION" not in trend.stdout + trend.stderr

    # The sleep lies between the fault and the switch, so it adds to the RTO. At least twice
    # the baseline RTO, so the slowed drill is over 120% of it however noisy the baseline
    # was; its RTO must still fit the 20s budget so that only the median can flag it.
    sleep = max(3, math.ceil(2 * base_rto))
    slow, said = drill(tmp_path, slowed_runbook(tmp_path, sleep), "slow")
    slow_rto = slow["rto_seconds"]
    assert isinstance(slow_rto, float) and slow_rto > base_rto * REGRESSION_FACTOR
    rollback = slow["rollback"]
    assert isinstance(rollback, dict)
    names = [s["name"] for s in rollback["steps"]]
    assert names == ["stop_deployment", "drain", "switch_traffic", "verify", "cleanup"]

    trend = relrun("history", "--trend", "--runbook", "quick", cwd=tmp_path)
    assert trend.returncode == 1, trend.stdout + trend.stderr
    shown = [" ".join(line.split()) for line in trend.stdout.splitlines()]  # columns padded
    # One group (runbook, inventory, fault kind), a header saying what it counted, then a row
    # per drill.
    assert len(shown) == 3, trend.stdout
    header, lines = shown[0], shown[1:]
    assert header.startswith("runbook quick, inventory "), trend.stdout
    assert header.endswith("fault error_rate: 2 counted drill(s), 0 not counted"), trend.stdout
    assert "REGRESSION" not in lines[0]
    why = (
        f"RTO {slow_rto:.2f}s is {slow_rto / base_rto * 100 - 100:.0f}% above the median "
        f"{base_rto:.2f}s of the previous 1 drill(s)"
    )
    assert f"RTO {base_rto:.2f}s" in lines[0], trend.stdout
    assert "first counted drill: nothing to compare with" in lines[0], trend.stdout
    assert f"RTO {slow_rto:.2f}s" in lines[1], trend.stdout
    assert f"median of 1 {base_rto:.2f}s" in lines[1], trend.stdout
    assert f"REGRESSION: {why}" in lines[1], trend.stdout
    slow_id = lines[1].split()[0]
    assert f"relrun: RTO regression in quick (drill {slow_id}): {why}" in trend.stderr
    # The drill itself said so as it ended, not only the later trend.
    assert f"RTO regression: {why} (see relrun history --trend)" in said

    listed = relrun("history", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    runs = listed.stdout.splitlines()
    assert len(runs) == 2, listed.stdout
    # Newest first: the slow drill, then the baseline, each with its RTO.
    for line, rto in zip(runs, (slow_rto, base_rto), strict=True):
        assert "drill" in line and "quick 2.0.0" in line and "pass" in line, line
        assert f"RTO {rto:.2f}s/20.00s" in line, line
