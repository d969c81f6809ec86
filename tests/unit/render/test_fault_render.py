"""How a drill's fault is rendered: where it runs, and its revert on every way out."""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.errors import InputError
from relrun.runbook.loader import load_runbook
from relrun.workflows.drill import parse_fault
from tests.helpers import ROOT
from tests.unit.render.test_lease_render import module_args, plays_of, walk

SHOP = ROOT / "runbooks" / "shop.yml"
COMMAND = """
drill:
  fault:
    kind: command
    run_on: router
    inject:
      - {name: slow-disk, argv: [tc, qdisc, add, dev, lo, root, netem, delay, 500ms]}
    revert:
      - {name: fast-disk, argv: [tc, qdisc, del, dev, lo, root], env: {LC_ALL: C}}
"""


def _command_runbook(tmp_path: Path) -> Path:
    text = SHOP.read_text(encoding="utf-8").split("drill:\n")[0]
    path = tmp_path / "command.yml"
    path.write_text(text.replace("cwd: ../examples/shop", "cwd: .") + COMMAND)
    return path


def test_faults_and_their_reverts_are_rendered_on_every_way_out(tmp_path: Path) -> None:
    plays = plays_of(_command_runbook(tmp_path))
    on_router = "(relrun_drill.on | default('canary')) == 'router'"
    # Where relrun_drill says: on the router host for traffic faults (a task of the stage's
    # router play), else on every canary host at once (a play of their own, no loop).
    injects = [
        (p, t) for p in plays for t in walk(p["tasks"])
        if t.get("name") == "Stage 2/4 Canary 30%: drill fault"
    ]
    assert [p["name"] for p, _ in injects] == [
        "Rollout stage 2/4, Canary 30%", "Rollout stage 2/4, Canary 30%: drill fault on the "
        "canary hosts"]
    (router, _), (canary, on_canary) = injects
    assert "groups['router']" in router["hosts"] and "groups['canary']" in canary["hosts"]
    assert "relrun_drill.stage == 2" in canary["hosts"] and f"not ({on_router})" in canary["hosts"]
    assert on_canary["register"] == "relrun_fault"
    for _, task in injects:
        assert "loop" not in task and "delegate_to" not in task
        args = module_args(task)
        assert args["action"] == "inject"
        assert args["commands"][0]["argv"][:3] == ["tc", "qdisc", "add"]
        assert args["driver"] == "{{ relrun_traffic_driver | default('sandbox') }}"
    # After stage 1, a stage's router tasks are skipped once an operator promoted --full.
    assert injects[0][1]["when"] == [
        f"relrun_drill is defined and {on_router} and relrun_drill.stage == 2",
        "not (relrun_promoted_full | default(false))",
    ]
    # Reverted when promoted, in the rollback's cleanup, and in the standalone rollback
    # (interrupts): the router's share on the router host, the canary hosts' in their own
    # play (each canary host reverts its own).
    reverts = [
        (p["name"], t) for p in plays for t in walk(p["tasks"])
        if t.get("name", "").endswith("revert the drill fault")
    ]
    assert [name for name, _ in reverts] == [
        "Promote: app hosts", "Promote", "Rollback (the rollout failed)", "Rollback",
        "Rollback cleanup on the canary hosts",
    ]
    for _, task in reverts:
        assert "loop" not in task
        assert module_args(task)["action"] == "revert"
        assert module_args(task)["commands"][0]["argv"] == ["tc", "qdisc", "del", "dev", "lo",
                                                           "root"]
    whens = [t["when"] for _, t in reverts]
    assert whens[0] == f"relrun_drill is defined and not ({on_router}) and " \
        "inventory_hostname in groups['canary']"
    assert whens[1:4] == [f"relrun_drill is defined and {on_router}"] * 3
    assert whens[4] == f"relrun_drill is defined and not ({on_router})"


def test_every_stage_pings_all_app_hosts_at_once_and_the_router_checks_the_answers() -> None:
    plays = plays_of(SHOP)
    names = [p["name"] for p in plays]
    ping_play = plays[names.index("Rollout stage 1/4, Canary 10%: app hosts")]
    (ping,) = ping_play["tasks"]
    assert ping["name"] == "Stage 1/4 Canary 10%: app hosts reachable"
    assert ping["ansible.builtin.ping"] == {"data": "stage-1"}
    assert "loop" not in ping and "delegate_to" not in ping
    assert "(groups['stable'] + groups['canary']) | unique" in ping_play["hosts"]
    # The router's stage play starts by checking that every app host answered this round.
    stage = plays[names.index("Rollout stage 1/4, Canary 10%")]
    first = stage["tasks"][0]["block"][0]
    assert first["name"] == "Stage 1/4 Canary 10%: every app host answered"
    assert "'stage-1'" in first["vars"]["relrun_unanswered"]
    # A failed stage records the rollback as due; the rollback's play reads it.
    assert stage["tasks"][0]["rescue"][0]["ansible.builtin.set_fact"]["relrun_phase"]
    assert "'rollback'" in plays[names.index("Rollback (the rollout failed)")]["hosts"]


def test_cleanup_runs_on_every_canary_host_at_once() -> None:
    """A play on the canary group (Ansible forks its hosts in parallel), not a loop on the
    router host delegated to one canary host after another."""
    plays = {p["name"]: p for p in plays_of(SHOP)}
    play = plays["Rollback cleanup on the canary hosts"]
    assert play["hosts"].startswith("{{ groups['canary'] if ")
    assert play["tags"] == ["rollback"]
    tasks = list(walk(play["tasks"]))
    assert not [t for t in tasks if "loop" in t or "delegate_to" in t]
    names = [t.get("name") for t in tasks]
    assert "Rollback 5/5 cleanup: stop-canary" in names
    assert "Rollback 5/5 cleanup: cleaned up on this host" in names
    # Then the router: every canary host reported, canary to maintenance, the outcome.
    outcome = [t.get("name") for t in walk(plays["Rollback outcome"]["tasks"])]
    assert "groups['router']" in plays["Rollback outcome"]["hosts"]
    assert outcome.index("Rollback 5/5 cleanup: every canary host cleaned up") < outcome.index(
        "Rollback 5/5 cleanup: canary servers to maintenance") < outcome.index(
        "Rollback: release failed")
    assert not [t for p in plays.values() for t in walk(p["tasks"])
                if t.get("name", "").startswith("Rollback 5/5") and "loop" in t]


def test_analysis_probes_the_readiness_path() -> None:
    plays = plays_of(SHOP)
    probes = {
        module_args(t).get("health_path")
        for p in plays for t in walk(p["tasks"]) if "relrun.release.analysis" in t
    }
    assert probes == {"/healthz"}


def test_parse_fault_resolves_where_each_kind_runs(tmp_path: Path) -> None:
    shop = load_runbook(SHOP).runbook
    latency = parse_fault(shop, None, None)
    assert (latency.kind, latency.via, latency.on) == ("latency", "traffic", "router")
    abort = parse_fault(shop, "abort=0.3", None)
    assert (abort.kind, abort.value, abort.on) == ("abort", 0.3, "router")
    crash = parse_fault(shop, "crash", None)
    assert crash.on == "canary"
    with pytest.raises(InputError, match="no `inject` steps"):
        parse_fault(shop, "command", None)
    with pytest.raises(InputError, match="value is a share between 0 and 1"):
        parse_fault(shop, "abort=2", None)
    command = load_runbook(_command_runbook(tmp_path)).runbook
    assert parse_fault(command, None, None).on == "router"
