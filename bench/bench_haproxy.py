"""Benchmark rollback timings on a real HAProxy against the sandbox router.

Run: ``uv run python bench/bench_haproxy.py [--runs 3]`` (needs ``haproxy``; loopback
only; about 25 s per drill, so a few minutes in all, each drill bounded by a timeout).

Drills tests/data/quick.yml (error-rate fault at the 50% stage) ``--runs`` times on each
router, every drill in a fresh environment, and prints the medians side by side:
detection (fault → breach), drain, switch, the whole five-step rollback, RTO (fault →
all traffic on stable, confirmed) and lost requests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from relrun.sandbox import control, haproxy

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "tests" / "data" / "quick.yml"
DRILL_TIMEOUT_S = 300


def relrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from relrun.cli import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False,
    )


def figures(report: dict[str, Any], code: int) -> dict[str, float | None]:
    if code != 0:
        print(f"  drill exit {code}: {'; '.join(report.get('reasons') or [])}", flush=True)
    steps = {s["name"]: s["seconds"] for s in report["rollback"]["steps"]}
    return {
        "exit code": float(code),
        "detection s": report["detection_seconds"],
        "drain s": steps.get("drain"),
        "switch s": steps.get("switch_traffic"),
        "rollback total s": report["rollback"]["total_seconds"],
        "RTO s": report["rto_seconds"],
        "lost requests": float((report.get("traffic") or {}).get("lost") or 0),
    }


def sandbox_drill(work: Path) -> dict[str, float | None]:
    reports = work / "reports"
    proc = relrun(["drill", str(QUICK), "--report-dir", str(reports)], work)
    return figures(json.loads((reports / "drill.json").read_text()), proc.returncode)


def haproxy_drill(work: Path) -> dict[str, float | None]:
    state = work / "sandbox"
    control.up(state, loadgen=False)
    try:
        data = haproxy.start(state)
        control.start_loadgen(state, target=f"http://127.0.0.1:{data['port']}", rate=20)
        inventory = work / "inventory.yml"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, work / "history")))
        reports = work / "reports"
        proc = relrun(["drill", str(QUICK), "-i", str(inventory), "--traffic-log",
                       str(state / "loadgen.jsonl"), "--report-dir", str(reports)], work)
        return figures(json.loads((reports / "drill.json").read_text()), proc.returncode)
    finally:
        control.down(state)


def median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.3f}" if known else "-"


def run(kind: str, drill: Callable[[Path], dict[str, float | None]], runs: int) -> list[Any]:
    results = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as work:
            result = drill(Path(work))
        print(f"  {kind} drill {i + 1}/{runs}: " + ", ".join(
            f"{k} {v:g}" for k, v in result.items() if v is not None), flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        raise SystemExit("haproxy is not installed (apt-get install haproxy)")
    print(f"rollback timings, {args.runs} drills each of {QUICK.name} (error_rate=0.5 at 50%)")
    on_haproxy = run("haproxy", haproxy_drill, args.runs)
    on_sandbox = run("sandbox", sandbox_drill, args.runs)
    print(f"\n{'median':<18}{'HAProxy':>10}{'sandbox':>10}")
    for key in on_haproxy[0]:
        if key == "exit code":
            continue
        print(f"{key:<18}{median([r[key] for r in on_haproxy]):>10}"
              f"{median([r[key] for r in on_sandbox]):>10}")
    failed = [r for r in on_haproxy + on_sandbox if r["exit code"] != 0]
    if failed:
        print(f"\n{len(failed)} drill(s) did not pass (exit code != 0)")


if __name__ == "__main__":
    main()
