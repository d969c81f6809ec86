"""Benchmark the drill: detection, RTO and rollback step times over several real drills.

Run: ``uv run python bench/bench_drill.py [N] [RUNBOOK] [--hog]`` (default 5 drills of
runbooks/release-v2.yml, about 45 s each, loopback only). Each drill starts its own
sandbox with a steady 20 req/s load, injects the runbook's fault and rolls back. Prints
per-drill figures and the medians; targets on the sandbox with a 1 s analysis interval:
detection ≤ 2 s, fault → all traffic on stable ≤ 3 s, zero lost requests; detection →
canary out of new traffic (the analysis drains it itself) ≤ 50 ms, quiet or with
``--hog`` (one busy-looping process per core beside the drill, as a loaded controller).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")


def one_drill(runbook: Path, workdir: Path, index: int) -> dict[str, object]:
    reports = workdir / f"drill-{index}"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "relrun", "drill", str(runbook), "--report-dir", str(reports)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )
    wall = time.monotonic() - started
    report = json.loads((reports / "drill.json").read_text())
    steps = {s["name"]: s["seconds"] for s in report["rollback"]["steps"]}
    return {
        "exit": proc.returncode,
        "verdict": report["verdict"],
        "wall": wall,
        "detection": report["detection_seconds"],
        "canary_out": report.get("detection_to_canary_out_seconds"),
        "rto": report["rto_seconds"],
        "total": report["rollback"]["total_seconds"],
        "lost": (report.get("traffic") or {}).get("lost"),
        **{f"step:{name}": steps.get(name) for name in STEPS},
    }


def median(rows: list[dict[str, object]], key: str) -> str:
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return f"{statistics.median(values):.2f}" if values else "n/a"


def start_hog() -> list[subprocess.Popen[bytes]]:
    """One busy-looping process per core: the drill runs on a loaded machine."""
    cores = os.cpu_count() or 1
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--hog"]
    hog = "--hog" in sys.argv[1:]
    count = int(args[0]) if args else 5
    runbook = Path(args[1]) if len(args) > 1 else ROOT / "runbooks" / "release-v2.yml"
    rows = []
    hogs = start_hog() if hog else []
    try:
        run_all(count, runbook, rows)
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()
    report(count, runbook, rows, hog)


def run_all(count: int, runbook: Path, rows: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory(prefix="relrun-bench-") as tmp:
        for index in range(count):
            row = one_drill(runbook, Path(tmp), index)
            rows.append(row)
            print(
                f"drill {index + 1}/{count}: exit {row['exit']} verdict {row['verdict']} "
                f"detection {row['detection']}s canary out +{row['canary_out']}s "
                f"RTO {row['rto']}s rollback {row['total']}s "
                f"lost {row['lost']} (wall {row['wall']:.0f}s)",
                flush=True,
            )


def report(count: int, runbook: Path, rows: list[dict[str, object]], hog: bool) -> None:
    print(f"\nmedians over {count} drills of {runbook.name}{' with a CPU hog' if hog else ''}:")
    print(f"  detection_seconds (fault -> breach):       {median(rows, 'detection')}")
    print(f"  breach -> canary out of new traffic:       {median(rows, 'canary_out')}")
    print(f"  rto_seconds (fault -> all traffic stable): {median(rows, 'rto')}")
    print(f"  rollback.total_seconds:                    {median(rows, 'total')}")
    for name in STEPS:
        print(f"  step {name:<16}                      {median(rows, 'step:' + name)}")
    lost = [r["lost"] for r in rows]
    print(f"  lost requests per drill: {lost}")
    print(f"  passing drills: {sum(1 for r in rows if r['verdict'] == 'pass')}/{count}")


if __name__ == "__main__":
    main()
