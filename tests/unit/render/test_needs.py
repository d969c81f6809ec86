from __future__ import annotations

from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.render.needs import RUN_VARIABLES, inventory_needs
from relrun.render.playbook import render_playbook_data
from relrun.render.yamlout import unsafe
from relrun.runbook.loader import load_runbook
from tests.helpers import ROOT

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"

# Everything the flagship needs but one canary host's relrun_service_ctl.
INCOMPLETE = """\
all:
  vars:
    ansible_connection: local
    relrun_api_base_url: http://127.0.0.1:1
    relrun_canary_url: http://127.0.0.1:2
    relrun_stable_url: http://127.0.0.1:3
    relrun_api_credentials_file: /nonexistent/users.json
    relrun_sandbox_state_dir: /nonexistent
    relrun_source_dir: /nonexistent
  children:
    build:
      hosts:
        b1:
    router:
      hosts:
        r1:
    stable:
      hosts:
        s1:
    canary:
      hosts:
        c1:
          relrun_service_ctl: /bin/true
        c2:
"""


def test_flagship_needs_come_from_its_tasks() -> None:
    loaded = load_runbook(FLAGSHIP)
    needs = inventory_needs(render_playbook_data(loaded.runbook, loaded.sha256))
    assert "relrun_service_ctl" in needs["canary"]
    assert {"relrun_canary_url", "relrun_stable_url"} <= needs["router"].keys()
    assert needs["build"] == {"relrun_source_dir": needs["build"]["relrun_source_dir"]}
    every = {v for per_group in needs.values() for v in per_group}
    # Variables with a default in the playbook, and the ones relrun passes, are not needed.
    assert "relrun_traffic_driver" not in every
    assert not every & RUN_VARIABLES


def test_guards_loops_literals_and_registered_results() -> None:
    plays = [
        {
            "hosts": "router",
            "tasks": [
                {"name": "plain", "debug": {"msg": "{{ relrun_plain }}"}},
                {"name": "defaulted", "debug": {"msg": "{{ relrun_d | default('x') }}"}},
                {
                    "name": "guarded",
                    "debug": {"msg": "{{ relrun_g.x if relrun_g is defined else 1 }}"},
                },
                {"name": "literal", "debug": {"msg": unsafe("{{ relrun_literal }}")}},
                {"name": "register", "command": "true", "register": "relrun_result"},
                {"name": "uses result", "debug": {"msg": "{{ relrun_result.rc }}"}},
                {
                    "name": "per canary",
                    "debug": {"msg": "{{ hostvars[item]['relrun_ctl'] }}"},
                    "loop": "{{ groups['canary'] }}",
                },
                {
                    "name": "block",
                    "block": [{"name": "inner", "debug": {"msg": "x"}, "when": "relrun_w > 1"}],
                },
            ],
        }
    ]
    assert inventory_needs(plays) == {
        "canary": {"relrun_ctl": "per canary"},
        "router": {"relrun_plain": "plain", "relrun_w": "inner"},
    }


def test_validate_names_each_host_that_lacks_a_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INCOMPLETE)
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(inventory)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{inventory}:24:9: error: host 'c2' (group 'canary') has no variable "
        "'relrun_service_ctl', which task 'Deploy 1/start-canary' needs "
        "(at all.children.canary.hosts.c2)"
    ]


def test_group_vars_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INCOMPLETE)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "canary.yml").write_text("relrun_service_ctl: /bin/true\n")
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(inventory)]) == 0


def test_ini_inventory_is_positioned_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[build]\nb1 relrun_source_dir=/x\n[router]\nr1\n[stable]\ns1\n[canary]\n  c1\n"
    )
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(inventory)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{inventory}:8:3: error: host 'c1' (group 'canary') has no variable " \
        "'relrun_service_ctl', which task 'Deploy 1/start-canary' needs (at c1)" in err
    assert any(line.startswith(f"{inventory}:4:1: error: host 'r1'") for line in err)


@pytest.mark.parametrize("command", ["release", "drill"])
def test_release_and_drill_refuse_before_claiming(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INCOMPLETE)
    reports = tmp_path / "reports"
    argv = [command, str(FLAGSHIP), "-i", str(inventory), "--report-dir", str(reports)]
    if command == "drill":
        log = tmp_path / "loadgen.jsonl"
        log.write_text("")
        argv += ["--traffic-log", str(log)]
    assert run_cli(app, argv) == 2
    err = capsys.readouterr().err
    assert f"{inventory}:24:9: error: host 'c2' (group 'canary') has no variable" in err
    assert not reports.exists()
