"""Benchmark the drill: detection, RTO and rollback step times over several real drills.

Run: ``uv run python bench/bench_drill.py [N] [RUNBOOK] [--haproxy]`` (default 5 drills
of runbooks/release-v2.yml, about 45 s each, loopback only). Each drill starts its own
sandbox with a steady 20 req/s load, injects the runbook's fault and rolls back. Prints
per-drill figures and the medians; targets on the sandbox with a 1 s analysis interval:
detection ≤ 2 s, fault → all traffic on stable ≤ 3 s, zero lost requests.

``--haproxy`` drills behind a real HAProxy instead (needs ``haproxy``): the sandbox runs
the runbook's own application (its ``sandbox`` section, e.g. runbooks/shop.yml), HAProxy
in front of it, the load generator with the runbook's ``load`` mix aimed at HAProxy, and
the drill gets the generated HAProxy inventory, so the fault is HAProxy's (runtime API).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")


def one_drill(
    runbook: Path, workdir: Path, index: int, behind_haproxy: bool = False
) -> dict[str, object]:
    reports = workdir / f"drill-{index}"
    started = time.monotonic()
    command = [sys.executable, "-m", "relrun", "drill", str(runbook), "--report-dir", str(reports)]
    if behind_haproxy:
        with haproxy_env(runbook, workdir / f"env-{index}") as (inventory, log):
            command += ["-i", str(inventory), "--traffic-log", str(log)]
            proc = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
            )
    else:
        proc = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
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


@contextlib.contextmanager
def haproxy_env(runbook: Path, work: Path) -> Iterator[tuple[Path, Path]]:
    """The runbook's application behind a real HAProxy, loaded with its mix through it."""
    from relrun.runbook.loader import load_runbook
    from relrun.sandbox import control, haproxy
    from relrun.workflows.drill import sandbox_config

    loaded = load_runbook(runbook).runbook
    state = work / "sandbox"
    control.up(state, loadgen=False, config=sandbox_config(loaded, runbook))
    try:
        data = haproxy.start(state)
        target = f"http://127.0.0.1:{data['port']}"
        control.start_loadgen(state, target=target, rate=20, mix=loaded.load)
        inventory = work / "inventory.yml"
        history = work / "haproxy-history"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, history)), encoding="utf-8")
        yield inventory, state / "loadgen.jsonl"
    finally:
        control.down(state)


def median(rows: list[dict[str, object]], key: str) -> str:
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return f"{statistics.median(values):.2f}" if values else "n/a"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--haproxy"]
    behind_haproxy = "--haproxy" in sys.argv[1:]
    count = int(args[0]) if args else 5
    runbook = Path(args[1]).resolve() if len(args) > 1 else ROOT / "runbooks" / "release-v2.yml"
    rows = []
    with tempfile.TemporaryDirectory(prefix="relrun-bench-") as tmp:
        for index in range(count):
            row = one_drill(runbook, Path(tmp), index, behind_haproxy)
            rows.append(row)
            print(
                f"drill {index + 1}/{count}: exit {row['exit']} verdict {row['verdict']} "
                f"detection {row['detection']}s RTO {row['rto']}s rollback {row['total']}s "
                f"lost {row['lost']} (wall {row['wall']:.0f}s)",
                flush=True,
            )
    where = "behind HAProxy" if behind_haproxy else "on the sandbox router"
    print(f"\nmedians over {count} drills of {runbook.name} {where}:")
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
