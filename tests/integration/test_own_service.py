"""Drilling a service that is not relrun's demo: the shop example, on both drivers.

examples/shop/app.py is a standard-library HTTP service with /healthz, two versions, no
JWT and no fault endpoint. Every fault here comes from outside it: the sandbox router or
a real HAProxy (runtime API, fault map, Lua), its crash from the service control, a
custom fault from the runbook's own commands.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from relrun.runbook.loader import load_runbook
from relrun.sandbox import control, haproxy
from relrun.sandbox.traffic import summarize
from relrun.workflows.drill import sandbox_config
from tests.helpers import ROOT, relrun
from tests.integration.sandbox_env import reap_started

pytestmark = pytest.mark.integration

SHOP = ROOT / "runbooks" / "shop.yml"
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")
ALL_PASSED = {n: "passed" for n in STEPS}


def _report(reports: Path) -> dict[str, object]:
    data = json.loads((reports / "drill.json").read_text())
    assert isinstance(data, dict)
    return data


def _steps(report: dict[str, object]) -> dict[str, str]:
    rollback = report["rollback"]
    assert isinstance(rollback, dict)
    return {s["name"]: s["status"] for s in rollback["steps"]}


def test_shop_drills_in_its_private_sandbox(tmp_path: Path) -> None:
    """No inventory: the runbook's sandbox section starts the shop; its mix loads it."""
    reports = tmp_path / "reports"
    proc = relrun("drill", str(SHOP), "--report-dir", str(reports), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = _report(reports)
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert (trigger["reason"], trigger["stage"]) == ("latency", "Canary 30%")
    assert _steps(report) == ALL_PASSED
    traffic = report["traffic"]
    assert isinstance(traffic, dict)
    assert traffic["lost"] == 0, traffic["lost_reasons"]
    # The shop does not say which version answered: the router names the server.
    assert set(traffic["served_by"]) == {"stable", "canary"}
    assert set(traffic["phases"]["after_switch"]["served_by"]) == {"stable"}
    # The mix's expected 404s are successes, its orders 201s: nothing else was answered.
    assert traffic["client_errors"] == 0
    # The shop's own log shows it ran as 1.0 and 2.0 (its argv had {version} replaced).
    logs = (reports / "sandbox" / "logs").glob("server-*.log")
    text = "".join(p.read_text() for p in logs)
    assert "shop 1.0 on 127.0.0.1:" in text and "shop 2.0 on 127.0.0.1:" in text


@pytest.fixture
def shop_behind_haproxy(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """The shop as stable behind a real HAProxy, loaded through HAProxy with its mix."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    runbook = load_runbook(SHOP).runbook
    state = tmp_path / "sandbox"
    control.up(state, loadgen=False, config=sandbox_config(runbook, SHOP))
    try:
        data = haproxy.start(state)
        control.start_loadgen(
            state, target=f"http://127.0.0.1:{data['port']}", rate=20, mix=runbook.load
        )
        inventory = tmp_path / "inventory.yml"
        history = tmp_path / "haproxy-history"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, history)), encoding="utf-8")
        yield state, inventory, state / "loadgen.jsonl"
    finally:
        reap_started()
        control.down(state)
        assert haproxy.announcement(state) is None


def test_shop_drills_behind_haproxy(
    shop_behind_haproxy: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """HAProxy fails half the canary's answers (map set at run time); nothing is lost.

    Error rate, not the runbook's latency fault: behind HAProxy the analysis has only the
    ``rtime`` average, judged once 1024 responses are fresh, which the shop's short bakes at
    this load never reach (docs/analysis.md). The latency fault is drilled in the sandbox.
    """
    state, inventory, log = shop_behind_haproxy
    reports = tmp_path / "reports"
    proc = relrun(
        "drill", str(SHOP), "-i", str(inventory), "--traffic-log", str(log),
        "--fault", "error_rate=0.5", "--report-dir", str(reports), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = _report(reports)
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Canary 30%")
    assert _steps(report) == ALL_PASSED
    traffic = report["traffic"]
    assert isinstance(traffic, dict)
    assert traffic["lost"] == 0, traffic["lost_reasons"]
    assert set(traffic["phases"]["after_switch"]["served_by"]) == {"stable"}
    # The fault was reverted: HAProxy's fault map holds no entry any more.
    socket = json.loads((state / "haproxy.json").read_text())["socket"]
    shown = _runtime(socket, f"show map {state / 'relrun-faults.map'}")
    assert "api/canary" not in shown
    assert summarize(log).lost == 0


def _runtime(socket_path: str, command: str) -> str:
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_runtime import (  # noqa: E501
        run_command,
    )

    return run_command(socket_path, command, 5.0)


def test_abort_fault_behind_haproxy_is_seen_as_canary_errors(
    shop_behind_haproxy: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Connections HAProxy closes for the fault count as the canary's errors: rollback."""
    _, inventory, log = shop_behind_haproxy
    reports = tmp_path / "reports"
    proc = relrun(
        "drill", str(SHOP), "-i", str(inventory), "--traffic-log", str(log),
        "--fault", "abort=0.5", "--report-dir", str(reports), cwd=tmp_path,
    )
    report = _report(reports)
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert trigger["reason"] == "error_rate", proc.stdout + proc.stderr
    assert _steps(report) == ALL_PASSED
    # The connections the fault closed are its failures, not lost requests, and the load
    # generator saw them: it once recorded none while HAProxy's counters showed the breach,
    # because aiohttp resent each aborted GET (onto stable) behind its back (issue 15).
    traffic = report["traffic"]
    assert isinstance(traffic, dict)
    assert traffic["lost"] == 0, traffic["lost_reasons"]
    assert traffic["injected_failures"] > 0, traffic
    assert proc.returncode == 0, proc.stdout + proc.stderr


COMMAND_FAULT = """\
  fault:
    kind: command
    stage: Canary 30%
    run_on: router
    inject:
      - name: mark
        argv: [python3, -c, "import pathlib,sys; pathlib.Path(sys.argv[1]).write_text('x')", MARK]
    revert:
      - name: unmark
        argv: [python3, -c, "REVERT", MARK]
  expect:
    max_lost_requests: 0
"""


REVERT = (
    "import pathlib,sys; p = pathlib.Path(sys.argv[1]); "
    "(p.parent / (p.name + '.reverted')).write_text(str(p.exists())); p.unlink(missing_ok=True)"
)


def test_command_fault_is_reverted_when_the_release_promotes(tmp_path: Path) -> None:
    """A custom fault that breaks nothing: the release promotes, and its revert still runs."""
    mark = tmp_path / "fault-mark"
    text = SHOP.read_text(encoding="utf-8")
    head, _, _ = text.partition("drill:\n")
    runbook = tmp_path / "shop-command.yml"
    body = head.replace("cwd: ../examples/shop", f"cwd: {ROOT / 'examples' / 'shop'}")
    fault = COMMAND_FAULT.replace("MARK", str(mark)).replace("REVERT", REVERT)
    runbook.write_text(body + "drill:\n" + fault)
    reports = tmp_path / "reports"
    proc = relrun("drill", str(runbook), "--report-dir", str(reports), cwd=tmp_path)
    output = proc.stdout + proc.stderr
    # Injected (the revert found the mark), then reverted on the way out.
    assert (tmp_path / "fault-mark.reverted").read_text() == "True", output
    assert not mark.exists(), output
    report = _report(reports)
    assert report["fault_injected_at"] is not None, output
    # The fault did not hurt the canary: no rollback to prove, the drill fails (exit 1).
    assert proc.returncode == 1, output


def test_crash_goes_through_the_service_control_behind_haproxy(
    shop_behind_haproxy: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """`crash` kills the shop through the inventory's service control (no pid matching)."""
    _, inventory, log = shop_behind_haproxy
    reports = tmp_path / "reports"
    proc = relrun(
        "drill", str(SHOP), "-i", str(inventory), "--traffic-log", str(log),
        "--fault", "crash", "--report-dir", str(reports), cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    report = _report(reports)
    trigger = report["trigger"]
    assert isinstance(trigger, dict)
    assert trigger["reason"] in {"health_check", "error_rate"}, output
    assert report["fault_injected_at"] is not None, output
    assert _steps(report) == ALL_PASSED
    assert proc.returncode == 0, output
    assert json.loads(log.read_text().splitlines()[-1])  # the load went on
