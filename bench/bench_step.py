"""Where a traffic step's time goes: the module's own work, and Ansible's share of the task.

Run as root: ``uv run python bench/bench_step.py [--sizes 2,32] [--tasks 12]``. For each
size, builds a fleet (relrun.testenv: namespaces, sshd, HAProxy, 20 req/s of load; see
docs/fleet.md) and runs, with relrun's Ansible settings, one play on its router host of
``tasks`` rounds of the ``relrun.release.traffic`` actions a rollback uses: ``status``
(stop_deployment), ``drain`` and ``switch``, the same arguments a rendered rollback gives
them. Prints per action the median task duration (Ansible's event), the median
``module_seconds`` (the module's own work: reading and changing HAProxy, the stable
servers' health probes) and their difference, Ansible's share: the controller's worker,
SSH, and the module's start on the router host. The first round is left out (the SSH
connection and the module cache are made then).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relrun.run.runner import relrun_envvars  # noqa: E402
from relrun.testenv.netns import fleet, missing_requirements  # noqa: E402

ACTIONS = ("status", "drain", "switch")


def task(action: str, size: int) -> dict[str, Any]:
    """A traffic task as the rendered rollback has it (the fleet's inventory variables)."""
    return {
        "name": action,
        "relrun.release.traffic": {
            "driver": "{{ relrun_traffic_driver }}",
            "connection": {
                "socket": "{{ relrun_haproxy_socket }}",
                "history_dir": "{{ relrun_haproxy_history_dir }}",
                "backend": "{{ relrun_haproxy_backend }}",
            },
            "stable": [f"stable-{i}" for i in range(1, size + 1)],
            "canary": [f"canary-{i}" for i in range(1, size + 1)],
            "action": action,
            "timeout": 5,
            "health_path": "/health",
        },
    }


def one_size(size: int, tasks: int) -> dict[str, dict[str, float]]:
    """Run the rounds on a fresh fleet; medians per action, in ms."""
    with tempfile.TemporaryDirectory(prefix="relrun-bench-step-") as tmp, \
            fleet(size, Path(tmp) / "fleet") as env:
        play = [{"name": "steps", "hosts": "router", "gather_facts": False,
                 "tasks": [task(a, size) for _ in range(tasks) for a in ACTIONS]}]
        data = Path(tmp) / "runner"
        (data / "project").mkdir(parents=True)
        (data / "project" / "steps.yml").write_text(yaml.safe_dump(play), encoding="utf-8")
        run = ansible_runner.run(private_data_dir=str(data), playbook="steps.yml",
                                 inventory=str(env.inventory), envvars=relrun_envvars({}),
                                 quiet=True)
        if run.status != "successful":
            sys.exit(f"{size} hosts: the play ended {run.status}; see {data}/artifacts")
        seen: dict[str, list[tuple[float, float]]] = {a: [] for a in ACTIONS}
        for event in run.events:
            if event["event"] == "runner_on_ok":
                done = event["event_data"]
                seen[done["task"]].append((done["duration"], done["res"]["module_seconds"]))
    result = {}
    for action, pairs in seen.items():
        kept = pairs[1:]
        total = statistics.median(d for d, _ in kept) * 1000
        own = statistics.median(m for _, m in kept) * 1000
        result[action] = {"task": total, "module": own, "ansible": total - own}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2,32")
    parser.add_argument("--tasks", type=int, default=12)
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        sys.exit("bench_step needs " + ", ".join(missing))
    sizes = [int(s) for s in args.sizes.split(",")]
    print("load average: " + Path("/proc/loadavg").read_text().strip())
    print("app hosts | action | task ms | module ms | Ansible's share ms (medians)")
    for size in sizes:
        for action, row in one_size(size, args.tasks).items():
            print(f"{size} | {action} | {row['task']:.1f} | {row['module']:.1f} | "
                  f"{row['ansible']:.1f}", flush=True)
    print("load average: " + Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
