"""Run directories for report tests, from the fixtures captured from real drills."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

from tests.helpers import ROOT

REPORTS = ROOT / "tests" / "data" / "reports"
ERROR_RATE = REPORTS / "drill-error-rate"
NO_FAULT = REPORTS / "drill-no-fault"


def run_dir(tmp_path: Path, fixture: Path = ERROR_RATE, name: str | None = None) -> Path:
    """A private copy of a fixture run directory."""
    target = tmp_path / (name or fixture.name)
    shutil.copytree(fixture, target)
    return target


def drill_doc(fixture: Path = ERROR_RATE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixture / "drill.json").read_text())
    return data


def slowed(doc: dict[str, Any], extra_drain: float, shift: float) -> dict[str, Any]:
    """A drill like ``doc`` whose drain took ``extra_drain`` seconds longer, ``shift`` later."""
    new = copy.deepcopy(doc)
    for key in ("started", "ended", "fault_injected_at"):
        new[key] += shift
    new["trigger"]["at"] += shift
    for stage in new["stages"]:
        for key in ("started", "ended"):
            stage[key] += shift
        for sample in stage["samples"]:
            sample["time"] += shift
    for step in new["rollback"]["steps"]:
        if step["name"] == "drain":
            step["seconds"] = round(step["seconds"] + extra_drain, 3)
    new["rollback"]["total_seconds"] = round(new["rollback"]["total_seconds"] + extra_drain, 3)
    # The drain comes before the switch: the RTO grows by the same amount.
    new["rto_seconds"] = round(new["rto_seconds"] + extra_drain, 3)
    new["ended"] += extra_drain
    return new


def write_drill(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    target = run_dir(tmp_path, ERROR_RATE, name)
    (target / "drill.json").write_text(json.dumps(doc, indent=2, sort_keys=True))
    return target
