"""``relrun sandbox down`` ends the dead man's switch watchers bound to its router.

A switch that fired while no stable server answers keeps retrying its revert (that is
its job while the router may come back). Once the sandbox is stopped the router never
comes back: the watcher must go with it, its lease too, and the attempt log must say why.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.lease.deadman import (  # noqa: E501
    arm,
    read_lease,
    start_ticks,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    make_driver,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.ops import (
    drain,
    switch_to_stable,
)
from relrun.sandbox import control
from tests.integration.sandbox_env import run_relrun

DEADLINE_S = 60.0


def _until(what: str, ready: Any) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE_S:.0f}s: {what}")


def _arm_a_switch_that_cannot_revert(sandbox: Path) -> tuple[Path, int, int]:
    """A real watcher on the sandbox's router, fired, failing: stable is dead."""
    control.start_server("canary", "v2", sandbox)
    driver = make_driver("sandbox", {"state_dir": str(sandbox)})
    driver.set_state("canary", "ready")
    driver.set_weight("canary", 1)  # mid-release: the canary serves users
    assert control.crash_server("stable", sandbox)
    health = ("/health", 200)

    def revert() -> dict[str, Any]:  # what relrun.release.deadman arms
        drain(driver, ["stable"], ["canary"], 1.0, health)
        return switch_to_stable(driver, ["stable"], ["canary"], health)

    lease = sandbox / "relrun-deadman-api.json"
    armed = arm(str(lease), 0.5, revert, owner="run-gone", runbook="api")
    pid = int(armed["pid"])
    _until("the switch fired and its revert failed", lambda: (
        read_lease(str(lease)).get("state") == "fired"
        and int(read_lease(str(lease)).get("attempt_count") or 0) >= 2
    ))
    ticks = start_ticks(pid)
    assert ticks is not None and read_lease(str(lease))["pid"] == pid
    return lease, pid, ticks


def test_sandbox_down_ends_a_fired_watcher_that_cannot_revert(
    sandbox: Path, tmp_path: Path
) -> None:
    lease, pid, ticks = _arm_a_switch_that_cannot_revert(sandbox)
    assert read_lease(str(lease)).get("revert_error")

    done = run_relrun(["sandbox", "down", "--state-dir", str(sandbox)], sandbox, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "watcher-api" in done.stdout
    _until(f"watcher {pid} gone", lambda: start_ticks(pid) != ticks)
    assert not lease.exists()
    log = [json.loads(line) for line in Path(f"{lease}.attempts.jsonl").read_text().splitlines()]
    assert log[-1]["abandoned"] is True
    assert "sandbox was stopped" in log[-1]["error"]
    assert not any(entry.get("abandoned") for entry in log[:-1])
