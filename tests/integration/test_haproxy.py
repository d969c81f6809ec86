"""The haproxy driver against a real HAProxy in front of the sandbox's API servers.

HAProxy runs on loopback (its frontend port chosen by the OS), with the sandbox's stable
and canary API processes as servers of backend ``api`` and the load generator aimed at
HAProxy. The runbook is the sandbox's own (tests/data/quick.yml, ``driver: sandbox``):
only the inventory says HAProxy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.base import (
    DriverError,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy import (  # noqa: E501
    HAProxyDriver,
)
from relrun.sandbox import control, haproxy
from relrun.sandbox.traffic import summarize
from tests.helpers import ROOT, relrun
from tests.integration.sandbox_env import reap_started

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed"),
]

QUICK = str(ROOT / "tests" / "data" / "quick.yml")
FLAGSHIP = str(ROOT / "runbooks" / "release-v2.yml")
STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")


@dataclass
class Env:
    state: Path
    inventory: Path
    driver: HAProxyDriver
    traffic_log: Path

    def servers(self) -> dict[str, dict[str, object]]:
        return self.driver.servers(1)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    state = tmp_path / "sandbox"
    control.up(state, loadgen=False)
    try:
        data = haproxy.start(state)
        control.start_loadgen(state, target=f"http://127.0.0.1:{data['port']}", rate=20)
        history = tmp_path / "haproxy-history"
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, history)), encoding="utf-8")
        # The test's own reads keep their samples apart from the release's.
        driver = HAProxyDriver(data["socket"], data["backend"], str(tmp_path / "test-history"))
        yield Env(state, inventory, driver, state / "loadgen.jsonl")
    finally:
        reap_started()  # a background relrun still rolling back needs HAProxy
        # Stops the load generator first, then HAProxy, then the API servers.
        control.down(state)
        assert haproxy.announcement(state) is None


def test_release_without_fault_reaches_full_canary(env: Env, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = relrun(
        "release", QUICK, "-i", str(env.inventory), "--report-dir", str(reports), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "release.json").read_text())
    assert report["state"] == "promoted"
    assert [s["status"] for s in report["stages"]] == ["passed"] * 3
    servers = env.servers()
    canary, stable = servers["canary"], servers["stable"]
    # Read back from HAProxy itself: all new traffic goes to the canary.
    assert (canary["state"], canary["weight"]) == ("ready", 1)
    assert stable["weight"] == 0
    assert canary["address"] is not None
    # The analysis read real counters: the last stage saw canary requests.
    assert report["stages"][-1]["observed"]["max_window_requests"] > 0


def drill(env: Env, runbook: str, reports: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``relrun drill`` behind this HAProxy, counting lost requests from its load generator."""
    return relrun(
        "drill",
        runbook,
        "-i",
        str(env.inventory),
        "--traffic-log",
        str(env.traffic_log),
        "--report-dir",
        str(reports),
        cwd=cwd,
    )


def test_drill_error_rate_rolls_back_without_losing_requests(env: Env, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = drill(env, QUICK, reports, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "drill.json").read_text())
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Blue-Green 50%")
    assert {s["name"]: s["status"] for s in report["rollback"]["steps"]} == {
        n: "passed" for n in STEPS
    }
    assert isinstance(report["detection_seconds"], float) and report["detection_seconds"] > 0
    assert report["rto_seconds"] >= report["detection_seconds"]
    # The same report fields as on the sandbox router.
    traffic = report["traffic"]
    assert set(traffic["phases"]) == {"before_fault", "fault_to_switch", "after_switch"}
    assert traffic["injected_failures"] > 0
    assert traffic["lost"] == 0, traffic["lost_reasons"]
    assert set(traffic["phases"]["after_switch"]["served_by"]) == {"1.0"}
    # HAProxy's own view: canary parked with no sessions, stable takes everything.
    servers = env.servers()
    assert (servers["canary"]["state"], servers["canary"]["weight"]) == ("maint", 0)
    assert servers["canary"]["in_flight"] == 0
    assert (servers["stable"]["state"], servers["stable"]["weight"]) == ("ready", 1)
    # And the load generator, which goes through HAProxy, lost nothing over the whole run.
    assert summarize(env.traffic_log).lost == 0


def test_flagship_runbook_drills_behind_haproxy(env: Env, tmp_path: Path) -> None:
    """runbooks/release-v2.yml as committed: scan, builds, API checks, stages, rollback."""
    # The builds write into the checkout they run in: a copy of what they read, not this one.
    checkout = tmp_path / "checkout"
    for part in ("relrun/sandbox", "runbooks"):
        shutil.copytree(ROOT / part, checkout / part, ignore=shutil.ignore_patterns("__pycache__"))
    reports = tmp_path / "reports"
    proc = drill(env, FLAGSHIP, reports, checkout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / "drill.json").read_text())
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Blue-Green 25%")
    assert {s["name"]: s["status"] for s in report["rollback"]["steps"]} == {
        n: "passed" for n in STEPS
    }
    assert report["traffic"]["lost"] == 0, report["traffic"]["lost_reasons"]
    ci = json.loads((reports / "ci.json").read_text())
    checks = {
        run["phase"]: {c["name"]: c["passed"] for c in run["checks"]} for run in ci["api_checks"]
    }
    names = ("health", "jwt-auth", "create-message", "events", "rate-limit")
    # The gate reached the canary and the rollback's verify reached stable, each directly.
    assert checks == {"gate": dict.fromkeys(names, True), "verify": dict.fromkeys(names, True)}
    assert (checkout / "build" / "messaging-api-2.0.zip").is_file()
    # HAProxy's own view after the rollback: the canary parked, stable takes everything.
    servers = env.servers()
    assert (servers["canary"]["state"], servers["canary"]["weight"]) == ("maint", 0)
    assert (servers["stable"]["state"], servers["stable"]["weight"]) == ("ready", 1)


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[HAProxyDriver]:
    """HAProxy before the sandbox's stable and canary servers, with no load and no release."""
    state = tmp_path / "sandbox"
    control.up(state, loadgen=False)
    try:
        data = haproxy.start(state)
        yield HAProxyDriver(data["socket"], data["backend"], str(tmp_path / "history"))
    finally:
        control.down(state)


def test_split_over_several_stable_and_canary_servers(bare: HAProxyDriver) -> None:
    """Weights over 2 stable + 3 canary servers: HAProxy holds what split_weights asked."""
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.ops import (  # noqa: E501
        apply_split,
        switch_to_stable,
    )

    driver = bare
    # Servers added at runtime (HAProxy >= 2.4 'add server'): two stable, three canary.
    stable_port = int(str(driver.servers(1)["stable"]["address"]).rsplit(":", 1)[1])
    for name in ("stable2", "canary2", "canary3"):
        reply = driver.command(f"add server api/{name} 127.0.0.1:{stable_port} weight 0")
        assert "New server registered" in reply, reply
        driver.set_state(name, "maint")
    stable, canary = ["stable", "stable2"], ["canary", "canary2", "canary3"]
    driver.set_address("canary", "127.0.0.1", stable_port)
    result = apply_split(driver, stable, canary, 25)
    weights = {n: s["weight"] for n, s in result["servers"].items()}
    share = sum(weights[c] for c in canary) / sum(weights[n] for n in stable + canary)
    assert share == pytest.approx(0.25)
    assert all(0 < weights[n] <= 256 for n in stable + canary)
    assert all(result["servers"][n]["state"] == "ready" for n in canary)
    switched = switch_to_stable(driver, stable, canary)["servers"]
    assert [switched[c]["weight"] for c in canary] == [0, 0, 0]


def test_one_step_changes_hundreds_of_servers_in_few_sessions(
        bare: HAProxyDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real HAProxy runs every command of a batch, split at MAX_BATCH_BYTES, and a
    refused one is named while the others are made."""
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy import (  # noqa: E501
        MAX_BATCH_BYTES,
    )
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_runtime import (  # noqa: E501
        parse_servers_state,
    )

    driver = bare
    names = [f"fleet{i:03d}" for i in range(300)]
    for start in range(0, len(names), 50):
        added = ";".join(f"add server api/{n} 127.0.0.1:9 weight 0 disabled"
                         for n in names[start:start + 50])
        assert driver.command(added).count("New server registered") == 50
    changes = [c for i, n in enumerate(names)
               for c in ((n, "state", "drain"), (n, "weight", i % 200 + 1))]
    changes.insert(301, ("ghost", "weight", 5))
    sent: list[str] = []
    command = driver.command
    monkeypatch.setattr(driver, "command", lambda line: sent.append(line) or command(line))
    with pytest.raises(DriverError) as refused:
        driver.apply(changes)
    assert len(sent) == 3  # 601 commands, 21 kB: three sessions
    assert all(len(line) <= MAX_BATCH_BYTES for line in sent)
    assert str(refused.value) == "HAProxy refused weight 5 for api/ghost: No such server."
    table = parse_servers_state(driver.command("show servers state api"))
    rows = {r["srv_name"]: r for r in table}
    assert [int(rows[n]["srv_uweight"]) for n in names] == [i % 200 + 1 for i in range(300)]
    seen = driver.servers(1)
    assert {seen[n]["state"] for n in names} == {"drain"}


def test_killed_release_is_reverted_behind_haproxy(env: Env, tmp_path: Path) -> None:
    """kill -9 relrun mid-stage: the dead man's switch on the router host reverts HAProxy."""
    import signal
    import time

    from tests.integration.sandbox_env import start_relrun, wait_for_journal

    reports = tmp_path / "reports"
    slow = str(ROOT / "tests" / "data" / "slow.yml")
    proc = start_relrun(
        ["release", slow, "-i", str(env.inventory), "--report-dir", str(reports)],
        env.state,
        tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc)
    assert env.servers()["canary"]["weight"] != 0
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 5 + 10  # the runbook's lease, plus the watcher's poll
    while True:
        servers = env.servers()
        canary, stable = servers["canary"], servers["stable"]
        if canary["weight"] == 0 and canary["state"] == "drain" and stable["weight"]:
            break
        assert time.monotonic() < deadline, f"HAProxy still sends to the canary: {servers}"
        time.sleep(0.2)
    lease = json.loads((env.state / "relrun-deadman-api.json").read_text())
    assert lease["state"] == "fired"


def test_the_handbooks_by_hand_commands_work_on_a_real_haproxy(env: Env) -> None:
    """rollback-playbook.md tells on-call what to type if relrun cannot run: it must work."""
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_runtime import (  # noqa: E501
        run_command,
    )
    from relrun.render.handbook import handbook_data
    from relrun.runbook.loader import load_runbook

    socket = yaml.safe_load(env.inventory.read_text())["all"]["vars"]["relrun_haproxy_socket"]
    steps = {s["name"]: s for s in handbook_data(load_runbook(QUICK))["steps"]}
    for step in ("stop_deployment", "drain", "switch_traffic", "cleanup"):
        for line in steps[step]["by_hand_haproxy"]:
            command = line.split("'")[1]  # echo '<command>' | socat stdio SOCKET …
            answer = run_command(socket, command, 5)
            if command.startswith("set "):
                assert answer.strip() == "", f"{command!r}: {answer!r}"
            else:
                assert "canary" in answer and "stable" in answer, answer
    servers = env.servers()
    assert (servers["canary"]["state"], servers["canary"]["weight"]) == ("maint", 0)
    assert (servers["stable"]["state"], servers["stable"]["weight"]) == ("ready", 1)
