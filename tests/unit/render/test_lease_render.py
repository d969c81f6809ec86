"""How the rendered playbook uses the dead man's switch lease: one per backend, one owner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from relrun.render.playbook import render_playbook
from relrun.runbook.loader import load_runbook
from tests.helpers import ROOT

SLOW = ROOT / "tests" / "data" / "slow.yml"
RUN_ID = "{{ relrun_run_id | default('') }}"
LEASE = "{{ relrun_deadman_dir | default('/tmp/relrun-deadman') }}/relrun-deadman-api.json"


def plays_of(path: Path) -> list[dict[str, Any]]:
    text = render_playbook(load_runbook(path)).replace("!unsafe", "")
    plays: list[dict[str, Any]] = yaml.load(text, Loader=yaml.SafeLoader)
    return plays


def walk(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for task in tasks:
        out.append(task)
        for key in ("block", "rescue", "always"):
            out += walk(task.get(key) or [])
    return out


def module_args(task: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in task.items() if k.startswith("relrun.release."))


def test_the_lease_is_keyed_on_the_backend_whatever_the_runbook(tmp_path: Path) -> None:
    other = tmp_path / "other.yml"
    other.write_text(SLOW.read_text().replace("name: slow", "name: another-runbook", 1))
    files = set()
    for path in (SLOW, other):
        for play in plays_of(path):
            for task in walk(play["tasks"]):
                relrun = any(k.startswith("relrun.release.") for k in task)
                if relrun and "lease_file" in module_args(task):
                    files.add(module_args(task)["lease_file"])
    assert files == {LEASE}


def test_the_backend_is_claimed_in_preflight_before_anything_is_deployed() -> None:
    plays = plays_of(SLOW)
    names = [p["name"] for p in plays]
    assert names.index("Preflight") < names.index("Deploy canary") < names.index("Rollout")
    preflight = plays[names.index("Preflight")]
    assert preflight["any_errors_fatal"] is True
    claim = next(t for t in preflight["tasks"] if "relrun.release.deadman" in t)[
        "relrun.release.deadman"
    ]
    assert claim["action"] == "claim" and claim["owner"] == RUN_ID
    assert claim["runbook"] == "slow" and claim["lease_file"] == LEASE
    # The claim outlasts the deploy (1m), readiness (30s), the API checks allowance and
    # the lease (5s): a live run always arms before it lapses.
    assert claim["lease"] == 60 + 30 + 600 + 5


def test_a_held_lease_stops_the_rollout_before_its_rollback() -> None:
    plays = plays_of(SLOW)
    names = [p["name"] for p in plays]
    rollout = plays[names.index("Rollout")]
    block = rollout["tasks"][0]["block"]
    arm = next(t for t in block if "Dead man's switch: arm" in t["name"])
    assert module_args(arm)["owner"] == RUN_ID
    first_shift = next(i for i, p in enumerate(plays) for t in walk(p["tasks"])
                       if ": shift " in t.get("name", ""))
    assert names.index("Rollout") < first_shift
    # Every router play of the rollout: a held lease is no rollback (phase ``held``, and
    # the run stops); anything else makes the rollback due.
    for play in plays[names.index("Rollout"):names.index("Rollback (the rollout failed)")]:
        if "rescue" not in play["tasks"][0]:
            continue  # an app hosts' play
        mark, stop = play["tasks"][0]["rescue"][:2]
        phase = mark["ansible.builtin.set_fact"]["relrun_phase"]
        assert phase == ("{{ 'held' if (ansible_failed_result.lease_held | default(false)) "
                         "else 'rollback' }}")
        assert stop["when"] == "ansible_failed_result.lease_held | default(false)"
        assert "ansible.builtin.fail" in stop
    assert "'rollback'" in plays[names.index("Rollback (the rollout failed)")]["hosts"]


def test_renewals_carry_the_run_id_and_the_rollback_disarms_whoever_owns_it() -> None:
    renewing = disarms = 0
    for play in plays_of(SLOW):
        for task in walk(play["tasks"]):
            if not any(k.startswith("relrun.release.") for k in task):
                continue
            args = module_args(task)
            if "relrun.release.deadman" in task:
                assert args["owner"] == RUN_ID
                if args["action"] == "disarm":
                    disarms += 1
                    rollback = task["name"].startswith("Rollback")
                    assert args.get("force", False) is rollback, task["name"]
            elif "lease_file" in args:
                renewing += 1
                assert args["owner"] == RUN_ID, task["name"]
    assert disarms == 2  # promoted; the rollback (rescue and standalone share its last play)
    assert renewing > 0


def test_the_standalone_rollback_first_checks_no_other_run_holds_the_backend() -> None:
    """recover and the interrupt path roll back as their run: never another run's traffic."""
    (rollback,) = [p for p in plays_of(SLOW) if p["name"] == "Rollback"]
    first = rollback["tasks"][0]
    assert "relrun.release.deadman" in first, first
    assert module_args(first)["action"] == "check"
    assert module_args(first)["owner"] == RUN_ID
