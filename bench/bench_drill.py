"""Benchmark the drill: detection, RTO and rollback step times over several real drills.

Run: ``uv run python bench/bench_drill.py [N] [RUNBOOK]`` (default 5 drills of
runbooks/release-v2.yml, about 45 s each, loopback only). Each drill starts its own
sandbox with a steady 20 req/s load, injects the runbook's fault and rolls back. Prints
per-drill figures and the medians; targets on the sandbox with a 1 s analysis interval:
detection ≤ 2 s, fault → all traffic on stable ≤ 3 s, zero lost requests.
"""

from __future__ import annotations

import json
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
        "rto": report["rto_seconds"],
        "total": report["rollback"]["total_seconds"],
        "lost": (report.get("traffic") or {}).get("lost"),
        **{f"step:{name}": steps.get(name) for name in STEPS},
    }


def median(rows: list[dict[str, object]], key: str) -> str:
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return f"{statistics.median(values):.2f}" if values else "n/a"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    runbook = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "runbooks" / "release-v2.yml"
    rows = []
    with tempfile.TemporaryDirectory(prefix="relrun-bench-") as tmp:
        for index in range(count):
            row = one_drill(runbook, Path(tmp), index)
            rows.append(row)
            print(
                f"drill {index + 1}/{count}: exit {row['exit']} verdict {row['verdict']} "
                f"detection {row['detection']}s RTO {row['rto']}s rollback {row['total']}s "
                f"lost {row['lost']} (wall {row['wall']:.0f}s)",
                flush=True,
            )
    print(f"\nmedians over {count} drills of {runbook.name}:")
    print(f"  detection_seconds (fault -> breach):       {median(rows, 'detection')}")
    print(f"  rto_seconds (fault -> all traffic stable): {median(rows, 'rto')}")
    print(f"  rollback.total_seconds:                    {median(rows, 'total')}")
    for name in STEPS:
        print(f"  step {name:<16}                      {median(rows, 'step:' + name)}")
    lost = [r["lost"] for r in rows]
    print(f"  lost requests per drill: {lost}")
    print(f"  passing drills: {sum(1 for r in rows if r['verdict'] == 'pass')}/{count}")


if __name__ == "__main__":
    main()
