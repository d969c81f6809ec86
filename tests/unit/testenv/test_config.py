"""Pure parts of the fleet builder: names, HAProxy config, inventory, runbooks, sshd."""

from __future__ import annotations

from pathlib import Path

import yaml

from relrun.runbook.loader import load_runbook
from relrun.testenv import lb, ssh
from relrun.testenv.inventory import SshSettings, inventory_data
from relrun.testenv.names import Names, app_host, host_last_octet, new_id
from relrun.testenv.runbooks import fleet_runbook
from tests.helpers import ROOT


def test_names_fit_interface_limits_and_share_the_prefix() -> None:
    names = Names(new_id(), 7)
    for name in (names.bridge, names.veth(12), names.namespace("app-12")):
        assert name.startswith(names.env_id)
    assert len(names.bridge) <= 15 and len(names.veth(99)) <= 15
    assert names.gateway == "10.231.7.1"
    assert names.address(host_last_octet("lb-1")) == "10.231.7.2"
    assert names.address(host_last_octet(app_host(3))) == "10.231.7.13"


def test_haproxy_config_parks_canaries_and_serves_stables(tmp_path: Path) -> None:
    text = lb.config_text("rrt0001", "10.231.1.2", tmp_path / "admin.sock", "api",
                          {"stable-1": "10.231.1.11:4000"}, {"canary-1": "10.231.1.11"})
    assert "bind 10.231.1.2:80" in text
    assert "stats socket ipv4@10.231.1.2:9999 level admin" in text
    assert "server stable-1 10.231.1.11:4000 weight 1" in text
    assert "server canary-1 10.231.1.11:0 disabled weight 0" in text


def test_inventory_uses_real_ssh_with_host_key_checking(tmp_path: Path) -> None:
    ssh_settings = SshSettings(tmp_path / "id", tmp_path / "known_hosts", tmp_path / "cp")
    data = inventory_data(
        lb_address="10.231.1.2",
        apps={"app-2": ("10.231.1.12", tmp_path / "a2"), "app-1": ("10.231.1.11", tmp_path / "a1")},
        ssh=ssh_settings, haproxy_socket=tmp_path / "admin.sock", history_dir=tmp_path / "h",
        module_python="/usr/bin/python3", relrun_python="/venv/bin/python",
    )
    top = data["all"]["vars"]
    assert "ansible_connection" not in top
    assert top["ansible_user"] == "root"
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in top["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in top["ansible_ssh_common_args"]
    assert top["relrun_traffic_driver"] == "haproxy"
    children = data["all"]["children"]
    assert list(children["stable"]["hosts"]) == ["app-1", "app-2"]
    assert list(children["canary"]["hosts"]) == ["app-1", "app-2"]
    assert list(children["build"]["hosts"]) == ["app-1"]
    ctl = children["stable"]["hosts"]["app-2"]["relrun_service_ctl"]
    assert "--index 2 --address 10.231.1.12 --lb 10.231.1.2:9999" in ctl


def test_fleet_runbook_names_every_host_and_still_validates(tmp_path: Path) -> None:
    path = fleet_runbook(ROOT / "tests" / "data" / "fleet.yml", 4, tmp_path / "fleet-4.yml")
    traffic = yaml.safe_load(path.read_text())["traffic"]
    assert traffic["stable_servers"] == [f"stable-{i}" for i in range(1, 5)]
    assert traffic["canary_servers"] == [f"canary-{i}" for i in range(1, 5)]
    assert load_runbook(path).runbook.traffic.canary_servers[-1] == "canary-4"


def test_sshd_config_and_known_hosts(tmp_path: Path) -> None:
    config = tmp_path / "sshd_config"
    config.parent.mkdir(exist_ok=True)
    key = "ssh-ed25519 AAAA c"
    assert ssh.known_hosts_line("10.231.1.2", 22, key) == "10.231.1.2 ssh-ed25519 AAAA"
    assert ssh.known_hosts_line("10.231.1.2", 2222, key).startswith("[10.231.1.2]:2222 ")
    text = ssh.SSHD_CONFIG.format(host="h", address="10.231.1.2", port=22, host_key="k",
                                  pid_file="p", authorized_keys="a")
    assert "PasswordAuthentication no" in text and "ListenAddress 10.231.1.2:22" in text
