"""Benchmark drills over real SSH as the fleet grows: 2, 4, 8, 16 and 32 app hosts.

Run as root: ``uv run python bench/bench_fleet.py [--sizes 2,4,8,16,32] [--repeat 1]
[--configs default,no-pipelining,no-controlpersist]``. Each drill builds its own fleet
(relrun.testenv: namespaces, sshd, HAProxy, 20 req/s of load; see docs/fleet.md), runs
``relrun drill`` with tests/data/fleet.yml rewritten for N hosts, and tears it down.

Ansible settings are relrun's: ansible-runner with ``forks`` 10 (RunSpec default; all app
hosts of one task in parallel up to 10) and the ``linear`` strategy. The configurations
vary only SSH: ``default`` = pipelining on + ControlPersist 60 s (what the fleet
inventory sets), ``no-pipelining``, ``no-controlpersist`` (a new SSH connection per task).

Prints per drill: wall time, the deploy play (the slowest host's ``Deploy`` task), every
rollback step, detection (from the moment the fault was in force on its last host), RTO
and lost requests, and ``controller_cpu``: the CPU seconds of relrun's own process tree
(Ansible's workers and SSH clients, not the hosts' side) over the drill; then medians per
size and config, and each median as a ratio to the smallest size's (how it grows: 1.00 is
flat, N/2 would be linear from 2 hosts).
``switch_traffic`` runs on the load balancer alone, so it must not grow with N. The load
average is printed before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from relrun.testenv.netns import fleet, missing_requirements
from relrun.testenv.runbooks import fleet_runbook

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {"pipelining": True, "control_persist": 60},
    "no-pipelining": {"pipelining": False, "control_persist": 60},
    "no-controlpersist": {"pipelining": True, "control_persist": 0},
}


def deploy_seconds(journal: Path) -> float | None:
    """From the first Deploy task start to the last Deploy result."""
    starts: list[float] = []
    ends: list[float] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if str(event.get("task", "")).startswith("Deploy "):
            (starts if event.get("kind") == "task_started" else ends).append(event["time"])
    return round(max(ends) - min(starts), 2) if starts and ends else None


def one_drill(size: int, config: str, workdir: Path) -> dict[str, Any]:
    runbook = fleet_runbook(ROOT / "tests" / "data" / "fleet.yml", size,
                            workdir / f"fleet-{size}.yml")
    reports = workdir / "reports"
    with fleet(size, workdir / "fleet", **CONFIGS[config]) as env:
        started = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [sys.executable, "-m", "relrun", "drill", str(runbook), "-i", str(env.inventory),
             "--traffic-log", str(env.traffic_log), "--report-dir", str(reports)],
            cwd=workdir, capture_output=True, text=True, check=False, timeout=900,
        )
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if not (reports / "drill.json").exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        print(f"{size} hosts: no drill.json (exit {proc.returncode}):\n{tail}", flush=True)
        return {"hosts": size, "config": config, "exit": proc.returncode, "wall": round(wall, 2)}
    report = json.loads((reports / "drill.json").read_text())
    steps = {s["name"]: s["seconds"] for s in report["rollback"]["steps"]}
    return {
        "hosts": size,
        "config": config,
        "exit": proc.returncode,
        "verdict": report["verdict"],
        "wall": round(wall, 2),
        "deploy": deploy_seconds(reports / "journal.jsonl"),
        "rollback": report["rollback"].get("total_seconds"),
        **{name: steps.get(name) for name in STEPS},
        "detection": report["detection_seconds"],
        "fault_spread": _spread(report),
        "rto": report["rto_seconds"],
        "lost": (report.get("traffic") or {}).get("lost"),
        "controller_cpu": round(cpu, 2),
    }


def _spread(report: dict[str, Any]) -> float | None:
    """First host faulted → last host faulted (0 for a fault injected once, at the router)."""
    first, last = report.get("fault_first_injected_at"), report.get("fault_injected_at")
    return round(last - first, 3) if first is not None and last is not None else None


COLUMNS = ("hosts", "config", "exit", "wall", "deploy", "rollback", *STEPS,
           "detection", "fault_spread", "rto", "lost", "controller_cpu")
GROWTH = ("deploy", "rollback", *STEPS, "detection", "rto", "controller_cpu")


def show(row: dict[str, Any]) -> str:
    cells = []
    for key in COLUMNS:
        value = row.get(key)
        cells.append(f"{value:.2f}" if isinstance(value, float) else str(value))
    return " | ".join(cells)


def median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return round(statistics.median(values), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2,4,8,16,32")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--configs", default="default,no-pipelining,no-controlpersist")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        sys.exit("bench_fleet needs " + ", ".join(missing))
    sizes = [int(s) for s in args.sizes.split(",")]
    configs = args.configs.split(",")
    print("load average: " + Path("/proc/loadavg").read_text().strip())
    print("Ansible: forks 10 (relrun's RunSpec default), strategy linear; "
          "SSH configs: " + ", ".join(f"{c}={CONFIGS[c]}" for c in configs))
    print(" | ".join(COLUMNS))
    rows = []
    for config in configs:
        for size in sizes:
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="h6-bench-") as tmp:
                    row = one_drill(size, config, Path(tmp))
                rows.append(row)
                print(show(row), flush=True)
    print("load average: " + Path("/proc/loadavg").read_text().strip())
    print("\nmedians")
    print(" | ".join(COLUMNS))
    for config in configs:
        for size in sizes:
            group = [r for r in rows if r["hosts"] == size and r["config"] == config]
            summary = {"hosts": size, "config": config,
                       "exit": ",".join(str(r["exit"]) for r in group)}
            summary.update({k: median(group, k) for k in COLUMNS[3:]})
            print(show(summary))
    print("\ngrowth: each median / the same median at " + str(sizes[0]) + " hosts")
    print(" | ".join(("hosts", "config", *GROWTH)))
    for config in configs:
        base = {k: median([r for r in rows if r["hosts"] == sizes[0] and r["config"] == config], k)
                for k in GROWTH}
        for size in sizes:
            group = [r for r in rows if r["hosts"] == size and r["config"] == config]
            cells = [str(size), config]
            for key in GROWTH:
                value, ref = median(group, key), base[key]
                cells.append(f"{value / ref:.2f}" if value is not None and ref else "-")
            print(" | ".join(cells))


if __name__ == "__main__":
    main()
