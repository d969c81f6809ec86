"""Benchmark the drill: detection, RTO and rollback step times over several real drills.

Run: ``uv run python bench/bench_drill.py [N] [RUNBOOK] [--hog] [--haproxy]`` (default 5
drills of runbooks/release-v2.yml, about 45 s each, loopback only). Each drill starts its own
sandbox with a steady 20 req/s load, injects the runbook's fault and rolls back. Prints
per-drill figures and the medians; targets on the sandbox with a 1 s analysis interval:
detection ≤ 2 s, fault → all traffic on stable ≤ 3 s, zero lost requests; detection →
canary out of new traffic (the analysis drains it itself) ≤ 50 ms, quiet or with
``--hog`` (one busy-looping process per core beside the drill, as a loaded controller).

``--haproxy`` drills behind a real HAProxy instead (needs ``haproxy``): the sandbox runs
the runbook's own application (its ``sandbox`` section, e.g. runbooks/shop.yml) as stable,
HAProxy in front of it, the load generator with the runbook's ``load`` mix aimed at
HAProxy, and the drill gets the generated HAProxy inventory and traffic log, so the fault
is HAProxy's (runtime API). The fault is ``error_rate=0.5`` unless ``--fault KIND=VALUE``
says otherwise: behind HAProxy a latency verdict needs 1024 fresh responses
(docs/analysis.md), which a short bake at 20 req/s does not reach.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    runbook: Path, workdir: Path, index: int, haproxy_fault: str | None = None
) -> dict[str, object]:
    reports = workdir / f"drill-{index}"
    started = time.monotonic()
    command = [sys.executable, "-m", "relrun", "drill", str(runbook), "--report-dir", str(reports)]
    if haproxy_fault is not None:
        with haproxy_env(runbook, workdir / f"env-{index}") as (inventory, log):
            command += ["-i", str(inventory), "--traffic-log", str(log), "--fault", haproxy_fault]
            proc = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
            )
    else:
        proc = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
        )
    wall = time.monotonic() - started
    if not (reports / "drill.json").exists():
        raise SystemExit(f"drill {index + 1}: exit {proc.returncode}, no report\n{proc.stderr}")
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
        control.start_loadgen(
            state, target=f"http://127.0.0.1:{data['port']}", rate=20, mix=loaded.load
        )
        inventory = work / "inventory.yml"
        history = work / "haproxy-history"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, history)), encoding="utf-8")
        yield inventory, state / "loadgen.jsonl"
    finally:
        control.down(state)


def median(rows: list[dict[str, object]], key: str) -> str:
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return f"{statistics.median(values):.2f}" if values else "n/a"


def start_hog() -> list[subprocess.Popen[bytes]]:
    """One busy-looping process per core: the drill runs on a loaded machine."""
    cores = os.cpu_count() or 1
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def main() -> None:
    argv = sys.argv[1:]
    fault = None
    if "--fault" in argv:
        at = argv.index("--fault")
        fault = argv[at + 1]
        del argv[at : at + 2]
    flags = {"--hog", "--haproxy"}
    args = [a for a in argv if a not in flags]
    hog = "--hog" in argv
    haproxy_fault = (fault or "error_rate=0.5") if "--haproxy" in argv else None
    count = int(args[0]) if args else 5
    runbook = Path(args[1]).resolve() if len(args) > 1 else ROOT / "runbooks" / "release-v2.yml"
    rows: list[dict[str, object]] = []
    hogs = start_hog() if hog else []
    try:
        run_all(count, runbook, rows, haproxy_fault)
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()
    where = f" behind HAProxy (--fault {haproxy_fault})" if haproxy_fault else ""
    report(count, runbook, rows, hog, where)


def run_all(
    count: int, runbook: Path, rows: list[dict[str, object]], haproxy_fault: str | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="relrun-bench-") as tmp:
        for index in range(count):
            row = one_drill(runbook, Path(tmp), index, haproxy_fault)
            rows.append(row)
            print(
                f"drill {index + 1}/{count}: exit {row['exit']} verdict {row['verdict']} "
                f"detection {row['detection']}s canary out +{row['canary_out']}s "
                f"RTO {row['rto']}s rollback {row['total']}s "
                f"lost {row['lost']} (wall {row['wall']:.0f}s)",
                flush=True,
            )


def report(
    count: int, runbook: Path, rows: list[dict[str, object]], hog: bool, where: str = ""
) -> None:
    loaded = " with a CPU hog" if hog else ""
    print(f"\nmedians over {count} drills of {runbook.name}{where}{loaded}:")
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
