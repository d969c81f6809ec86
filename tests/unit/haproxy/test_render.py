"""The driver and its connection come from the inventory; the runbook only gives defaults."""

from __future__ import annotations

from pathlib import Path

import yaml

from relrun.render.rollout import CONNECTION_VARS, connection_arg, driver_arg
from relrun.runbook.rollout_models import Traffic
from tests.helpers import ROOT


def test_driver_is_the_inventory_variable_with_the_runbook_as_default() -> None:
    assert driver_arg(Traffic()) == "{{ relrun_traffic_driver | default('sandbox') }}"
    assert driver_arg(Traffic(driver="haproxy")) == (
        "{{ relrun_traffic_driver | default('haproxy') }}")


def test_connection_covers_every_driver() -> None:
    connection = connection_arg(Traffic(backend="web"))
    assert set(connection) == {"state_dir", "socket", "backend", "history_dir", "timeout"}
    assert connection["backend"] == "{{ relrun_haproxy_backend | default('web') }}"
    # Every value has a default, so an inventory for one driver need not define the other's.
    assert all("default(" in v for v in CONNECTION_VARS.values())


def test_committed_playbook_uses_the_inventory_driver() -> None:
    text = (ROOT / "playbooks" / "release-v2.yml").read_text()
    plays = yaml.safe_load(text.replace("!unsafe", ""))
    rollout = next(p for p in plays if p["name"] == "Rollout")
    tasks = rollout["tasks"][0]["block"]
    traffic = [t["relrun.release.traffic"] for t in tasks if "relrun.release.traffic" in t]
    assert traffic and all(
        t["driver"] == "{{ relrun_traffic_driver | default('sandbox') }}" for t in traffic)
    assert all(t["connection"]["socket"] == "{{ relrun_haproxy_socket | default('') }}"
               for t in traffic)


def test_example_inventory_defines_every_haproxy_variable() -> None:
    data = yaml.safe_load(Path(ROOT / "inventories" / "haproxy-example.yml").read_text())
    text = yaml.safe_dump(data)
    for var in ("relrun_traffic_driver", "relrun_haproxy_socket", "relrun_haproxy_backend",
                "relrun_haproxy_history_dir", "relrun_service_ctl"):
        assert var in text, var
    groups = data["all"]["children"]
    assert {"router", "stable", "canary"} <= set(groups)
