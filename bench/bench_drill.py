"""Benchmark the drill: detection, RTO and rollback step times over several real drills.

With ``--paths``: the rollback's speed by what asked for it, N rounds (default 3; runbook
default: tests/data/slow.yml with 20 s bakes) of three drills on one shared sandbox
(``-i inventories/sandbox.yml``): ``analysis`` (the runbook's fault, caught by the
analysis), ``signal`` (SIGINT to relrun during stage 1's bake), ``rollback`` (``relrun
rollback`` from a second process during stage 1's bake) and ``abort`` (``relrun abort``
from a second process, likewise). Each prints trigger → all
traffic on stable (the same clock for all four: the breach, the signal or the request →
the confirmed switch), the path the rollback took (in the playbook, or a standalone second
run), lost requests, and the medians per path; target (issue 17): the medians within
0.5 s of each other.

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

``--prometheus`` (needs ``prometheus``): the cost of judging from Prometheus. On one shared
sandbox (20 req/s) with one real Prometheus scraping the router's ``/metrics`` every second,
N rounds (default 3) of two drills of the same runbook (default tests/data/quick.yml: 500
ms samples, the 50% error fault at stage 2): ``router`` (the router's own counters) and
``prometheus`` (the same runbook with docs/metrics.md's queries). Prints detection (fault
-> breach), breach -> canary out of new traffic, breach -> all traffic on stable and RTO
(fault -> all traffic on stable) per drill and their medians side by side: the difference
is what the scrape interval and the query round trips cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
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
    flags = {"--hog", "--paths", "--haproxy", "--prometheus"}
    args = [a for a in argv if a not in flags]
    hog = "--hog" in argv
    paths = "--paths" in argv
    prometheus = "--prometheus" in argv
    haproxy_fault = (fault or "error_rate=0.5") if "--haproxy" in argv else None
    count = int(args[0]) if args else (3 if paths or prometheus else 5)
    default = ROOT / "runbooks" / "release-v2.yml"
    if prometheus:
        default = ROOT / "tests" / "data" / "quick.yml"
    runbook = Path(args[1]).resolve() if len(args) > 1 else (bench_runbook() if paths else default)
    rows: list[dict[str, object]] = []
    hogs = start_hog() if hog else []
    try:
        if paths:
            run_paths(count, runbook, rows)
        elif prometheus:
            run_sources(count, runbook, rows)
        else:
            run_all(count, runbook, rows, haproxy_fault)
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()
        if runbook.name.startswith("relrun-bench-"):
            runbook.unlink(missing_ok=True)  # the generated --paths runbook
    if paths:
        report_paths(count, runbook, rows, hog)
    elif prometheus:
        report_sources(count, runbook, rows, hog)
    else:
        where = f" behind HAProxy (--fault {haproxy_fault})" if haproxy_fault else ""
        report(count, runbook, rows, hog, where)


PATHS = ("analysis", "signal", "rollback", "abort")


def bench_runbook() -> Path:
    """tests/data/slow.yml with 20 s bakes and a 120 s lease, in a temporary file.

    No API checks (the flagship's rate-limit check fails on a loaded shared sandbox before
    any stage starts), time to interrupt stage 1, and a lease that outlasts slow tasks.
    """
    import yaml

    data = yaml.safe_load((ROOT / "tests" / "data" / "slow.yml").read_text(encoding="utf-8"))
    for stage in data["rollout"]["stages"][:2]:
        stage["bake"] = "20s"
    data["rollback"]["lease"] = "120s"
    data["rollback"]["rto_budget"] = "60s"
    fd, name = tempfile.mkstemp(prefix="relrun-bench-", suffix=".yml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    return Path(name)


INVENTORY = ROOT / "inventories" / "sandbox.yml"


def _relrun(args: list[str], env: dict[str, str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "relrun", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def _wait_for(journal: Path, needle: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if journal.exists() and needle in journal.read_text(encoding="utf-8"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"relrun ended before {needle!r}: {proc.communicate()}")
        time.sleep(0.05)
    raise RuntimeError(f"{needle!r} never appeared in {journal}")


def one_path(
    path: str, runbook: Path, reports: Path, state: Path, env: dict[str, str]
) -> dict[str, object]:
    """One drill on the shared sandbox, rolled back by ``path``."""
    args = [
        "drill",
        str(runbook),
        "-i",
        str(INVENTORY),
        "--report-dir",
        str(reports),
        "--traffic-log",
        str(state / "loadgen.jsonl"),
    ]
    proc = _relrun(args, env)
    if path != "analysis":
        _wait_for(reports / "journal.jsonl", "Stage 1/", proc)
        _wait_for(reports / "journal.jsonl", ": analysis for", proc)
        if path == "signal":
            proc.send_signal(signal.SIGINT)
        elif path == "abort":
            aborted = _relrun(["abort", "--reason", "bench_drill --paths"], env)
            aborted.communicate(timeout=600)
        else:
            manual = _relrun(
                [
                    "rollback",
                    str(runbook),
                    "-i",
                    str(INVENTORY),
                    "--report-dir",
                    str(reports.with_name(reports.name + "-manual")),
                ],
                env,
            )
            manual.communicate(timeout=600)
    proc.communicate(timeout=600)
    report = json.loads((reports / "drill.json").read_text())
    trigger = report.get("trigger") or {}
    switched = report.get("switched_at")
    at = trigger.get("at")
    return {
        "path": path,
        "exit": proc.returncode,
        "reason": trigger.get("reason"),
        "how": trigger.get("path") or "in_playbook",
        "to_stable": round(float(switched) - float(at), 3) if switched and at else None,
        "rto": report["rto_seconds"],
        "total": report["rollback"]["total_seconds"],
        "lost": (report.get("traffic") or {}).get("lost"),
    }


def run_paths(count: int, runbook: Path, rows: list[dict[str, object]]) -> None:
    from relrun.sandbox import control

    with tempfile.TemporaryDirectory(prefix="relrun-bench-paths-") as tmp:
        state = Path(tmp) / "sandbox"
        env = {
            **os.environ,
            "RELRUN_SANDBOX_DIR": str(state),
            "RELRUN_STATE_DIR": str(Path(tmp) / "relrun-state"),
        }
        control.up(state, rate=20)
        try:
            for index in range(count):
                for path in PATHS:
                    row = one_path(path, runbook, Path(tmp) / f"{path}-{index}", state, env)
                    rows.append(row)
                    print(
                        f"round {index + 1}/{count} {path:<8}: exit {row['exit']} trigger "
                        f"{row['reason']} ({row['how']}) trigger -> stable {row['to_stable']}s "
                        f"RTO {row['rto']}s rollback {row['total']}s lost {row['lost']}",
                        flush=True,
                    )
        finally:
            control.down(state)


def report_paths(count: int, runbook: Path, rows: list[dict[str, object]], hog: bool) -> None:
    print(f"\nmedians over {count} rounds of {runbook.name}{' with a CPU hog' if hog else ''}:")
    medians = {}
    for path in PATHS:
        mine = [r for r in rows if r["path"] == path]
        medians[path] = median(mine, "to_stable")
        hows = sorted({str(r["how"]) for r in mine})
        print(
            f"  {path:<8} trigger -> all traffic on stable: {medians[path]}s "
            f"(rollback {median(mine, 'total')}s; {', '.join(hows)}; "
            f"lost {[r['lost'] for r in mine]})"
        )
    known = [float(v) for v in medians.values() if v != "n/a"]
    if known:
        print(f"  spread of the medians: {max(known) - min(known):.2f}s (target <= 0.5s)")


SOURCES = ("router", "prometheus")
PROMETHEUS_QUERIES = {
    "requests": 'sum(relrun_router_requests_total{server="${server}"})',
    "errors": 'sum(relrun_router_requests_total{server="${server}",code=~"5xx|error"})',
    "latency_buckets": (
        'sum by (le) (relrun_router_request_duration_seconds_bucket{server="${server}"})'
    ),
}


def source_runbooks(runbook: Path, url: str, work: Path) -> dict[str, Path]:
    """The runbook as it is (router) and judged from Prometheus at ``url``, both relaxed.

    RTO budget and lease are loosened alike in both (a loaded machine must not fail a
    drill on them); only ``analysis.metrics`` differs.
    """
    data = yaml.safe_load(runbook.read_text(encoding="utf-8"))
    data.setdefault("rollback", {}).update(rto_budget="10m", lease="2m")
    found = {}
    for source in SOURCES:
        if source == "prometheus":
            data.setdefault("analysis", {})["metrics"] = {
                "provider": "prometheus", "url": url, "timeout": "2s",
                "queries": PROMETHEUS_QUERIES,
            }
        path = work / f"{source}.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        found[source] = path
    return found


def one_source(
    source: str, runbook: Path, reports: Path, state: Path, env: dict[str, str]
) -> dict[str, object]:
    """One drill on the shared sandbox, judged from ``source``."""
    args = ["drill", str(runbook), "-i", str(INVENTORY), "--report-dir", str(reports),
            "--traffic-log", str(state / "loadgen.jsonl")]
    proc = _relrun(args, env)
    proc.communicate(timeout=600)
    if not (reports / "drill.json").exists():
        raise SystemExit(f"{source} drill: exit {proc.returncode}, no report")
    report = json.loads((reports / "drill.json").read_text())
    trigger = report.get("trigger") or {}
    switched, at = report.get("switched_at"), trigger.get("at")
    return {
        "source": source,
        "exit": proc.returncode,
        "verdict": report["verdict"],
        "reason": trigger.get("reason"),
        "detection": report["detection_seconds"],
        "canary_out": report.get("detection_to_canary_out_seconds"),
        "to_stable": round(float(switched) - float(at), 3) if switched and at else None,
        "rto": report["rto_seconds"],
        "lost": (report.get("traffic") or {}).get("lost"),
    }


def run_sources(count: int, runbook: Path, rows: list[dict[str, object]]) -> None:
    from relrun.sandbox import control

    sys.path.insert(0, str(ROOT))
    from tests.integration.prometheus_env import Prometheus

    with tempfile.TemporaryDirectory(prefix="relrun-bench-prom-") as tmp:
        state = Path(tmp) / "sandbox"
        env = {
            **os.environ,
            "RELRUN_SANDBOX_DIR": str(state),
            "RELRUN_STATE_DIR": str(Path(tmp) / "relrun-state"),
        }
        control.up(state, rate=20)
        server = None
        try:
            router = json.loads((state / "router.json").read_text())
            server = Prometheus(Path(tmp) / "prometheus", [f"127.0.0.1:{router['admin_port']}"])
            server.start()
            runbooks = source_runbooks(runbook, server.url, Path(tmp))
            for index in range(count):
                for source in SOURCES:
                    reports = Path(tmp) / f"{source}-{index}"
                    row = one_source(source, runbooks[source], reports, state, env)
                    rows.append(row)
                    print(
                        f"round {index + 1}/{count} {source:<10}: exit {row['exit']} verdict "
                        f"{row['verdict']} trigger {row['reason']} detection "
                        f"{row['detection']}s canary out +{row['canary_out']}s breach -> "
                        f"stable {row['to_stable']}s RTO {row['rto']}s lost {row['lost']}",
                        flush=True,
                    )
        finally:
            if server is not None:
                server.stop()
            control.down(state)


def report_sources(count: int, runbook: Path, rows: list[dict[str, object]], hog: bool) -> None:
    loaded = " with a CPU hog" if hog else ""
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"\nmedians over {count} rounds of {runbook.name}{loaded} (scrape interval 1 s; "
          f"load average {' '.join(load)}):")
    print(f"  {'source':<10} {'detection':>10} {'canary out':>11} {'breach->stable':>15} "
          f"{'RTO':>8}  lost        passing")
    for source in SOURCES:
        mine = [r for r in rows if r["source"] == source]
        passing = sum(1 for r in mine if r["verdict"] == "pass")
        print(f"  {source:<10} {median(mine, 'detection'):>9}s {median(mine, 'canary_out'):>10}s "
              f"{median(mine, 'to_stable'):>14}s {median(mine, 'rto'):>7}s  "
              f"{[r['lost'] for r in mine]!s:<11} {passing}/{len(mine)}")


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
