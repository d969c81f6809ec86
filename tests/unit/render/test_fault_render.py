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
    tasks = {t["name"]: t for p in plays for t in walk(p["tasks"]) if "name" in t}
    inject = tasks["Stage 2/4 Canary 30%: drill fault"]
    args = module_args(inject)
    assert args["action"] == "inject"
    # Where relrun_drill says: the router host for traffic faults, else the canary hosts.
    assert "relrun_drill.on" in inject["loop"] and "groups['canary']" in inject["loop"]
    assert args["commands"][0]["argv"][:3] == ["tc", "qdisc", "add"]
    assert args["driver"] == "{{ relrun_traffic_driver | default('sandbox') }}"
    # Reverted when promoted, in the rollback's cleanup, and in the standalone rollback
    # (interrupts): the rescue and the rollback play each have their cleanup step.
    reverts = [
        t for p in plays for t in walk(p["tasks"])
        if t.get("name", "").endswith("revert the drill fault")
    ]
    assert len(reverts) == 3
    for task in reverts:
        assert module_args(task)["action"] == "revert"
        assert module_args(task)["commands"][0]["argv"] == ["tc", "qdisc", "del", "dev", "lo",
                                                           "root"]
        assert task["when"] == "relrun_drill is defined"


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
