"""Build a fleet of SSH hosts in network namespaces, drill against it, tear it down.

One environment (root only)::

    bridge rrtXXXXbr 10.231.N.1/24 (root namespace)
      ├─ lb-1    10.231.N.2   sshd, HAProxy (frontend :80, stats :9999 + UNIX socket)
      ├─ client  10.231.N.3   the load generator, aimed at http://10.231.N.2
      └─ app-i   10.231.N.(10+i)  sshd, demo API stable-i (v1.0); canary-i once deployed

Use :func:`fleet` as a context manager. Everything is removed on exit, also after a
failure, at interpreter exit if the ``with`` was skipped, and by :func:`cleanup_stale`
after a killed run.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy import (  # noqa: E501
    HAProxyDriver,
)
from relrun.errors import RelrunError
from relrun.sandbox import haproxy_faults
from relrun.sandbox.layout import Layout, read_json
from relrun.sandbox.settings import SandboxConfig, write_settings
from relrun.testenv import cmd, lb, network, registry, ssh
from relrun.testenv.inventory import SshSettings, inventory_data
from relrun.testenv.names import (
    ADMIN_PORT,
    CLIENT,
    HTTP_PORT,
    LB_HOST,
    SSH_PORT,
    Names,
    app_host,
    app_number,
    host_last_octet,
    new_id,
)
from relrun.testenv.servicectl import instance_name

BACKEND = "api"
STABLE_VERSION = "1.0"
_POLL_S = 0.02


@dataclass(frozen=True)
class Host:
    """One host of the fleet.

    Attributes:
        name: inventory name (``lb-1``, ``app-2``, ``client``).
        index: its number (veth name); app-i has index i.
        address: its address.
        namespace: its network namespace.
        directory: its files (sshd config and keys, state directory, logs).
    """

    name: str
    index: int
    address: str
    namespace: str
    directory: Path

    @property
    def state_dir(self) -> Path:
        """The sandbox state directory of this host (instances, secrets, logs)."""
        return self.directory / "state"


@dataclass
class Fleet:
    """A running environment and the faults a test can inject into it."""

    names: Names
    workdir: Path
    hosts: dict[str, Host]
    inventory: Path
    traffic_log: Path
    haproxy_socket: Path
    sshd_pids: dict[str, int] = field(default_factory=dict)

    @property
    def app_hosts(self) -> list[str]:
        """App host names, in order."""
        return sorted((h for h in self.hosts if h.startswith("app-")), key=host_last_octet)

    @property
    def lb(self) -> Host:
        """The load balancer host."""
        return self.hosts[LB_HOST]

    def driver(self, history_dir: Path | None = None) -> HAProxyDriver:
        """A client of HAProxy's runtime API (TCP socket, from the root namespace)."""
        history = history_dir or self.workdir / "test-history"
        return HAProxyDriver(f"{self.lb.address}:{ADMIN_PORT}", BACKEND, str(history))

    def cut_link(self, host: str) -> None:
        """Unplug ``host``: its veth end on the bridge goes down (packets vanish)."""
        network.set_link(self.names, self.hosts[host].index, up=False)

    def restore_link(self, host: str) -> None:
        """Plug ``host`` back in."""
        network.set_link(self.names, self.hosts[host].index, up=True)

    def stop_sshd(self, host: str) -> None:
        """Stop ``host``'s sshd and drop its sessions (its services keep running).

        Stopping only the listener would leave the per-connection sshd processes, and
        Ansible's ControlMaster would keep reaching the host through them.
        """
        self.sshd_pids.pop(host, None)
        pids = network.namespace_pids(self.hosts[host].namespace)
        network.stop_pids([p for p in pids if network.program(p) == "sshd"], 5.0)

    def start_sshd(self, host: str, timeout: float = 10.0) -> None:
        """Start ``host``'s sshd again (after :meth:`stop_sshd`)."""
        self.sshd_pids[host] = _start_sshd(self.names, self.hosts[host], timeout)

    def ssh_command(self, host: str, *remote: str) -> list[str]:
        """An ``ssh`` command line reaching ``host`` the way Ansible does."""
        base = self.workdir / "ssh"
        return [
            "ssh", "-i", str(base / "id_ed25519"),
            "-o", f"UserKnownHostsFile={base / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            f"root@{self.hosts[host].address}", *remote,
        ]


def missing_requirements() -> list[str]:
    """What this machine lacks to build a fleet (empty when it can)."""
    missing = []
    if not Path("/proc/self").exists() or _euid() != 0:
        missing.append("root (network namespaces)")
    for program, package in (("ip", "iproute2"), ("haproxy", "haproxy"),
                             ("ssh", "openssh-client"), ("ssh-keygen", "openssh-client")):
        if shutil.which(program) is None:
            missing.append(f"{program} ({package})")
    if ssh.sshd_path() is None:
        missing.append("sshd (openssh-server)")
    return missing


def _euid() -> int:
    import os

    return os.geteuid()


HAPROXY_SOCKET = "haproxy.sock"


def cleanup_stale() -> list[str]:
    """Remove environments left by killed runs (their owner process is gone).

    Returns:
        The environment ids removed.
    """
    return registry.cleanup_stale(_destroy)


def _destroy(env_id: str) -> None:
    control = registry.registry_dir() / f"cp-{env_id}"
    if control.is_dir():
        for sock in control.iterdir():
            if sock.name == HAPROXY_SOCKET:
                continue
            # Ansible's ControlMaster processes: ask them to exit through their own socket.
            cmd.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                    check=False, timeout=5)
        shutil.rmtree(control, ignore_errors=True)
    network.destroy(env_id)


@contextlib.contextmanager
def fleet(app_hosts: int, workdir: Path, *, rate: float = 20.0, pipelining: bool = True,
          control_persist: int = 60, timeout: float = 60.0) -> Iterator[Fleet]:
    """Build a fleet, yield it, tear it down whatever happens.

    Args:
        app_hosts: how many app hosts (each a stable and, once deployed, a canary).
        workdir: where its files go (keys, configs, state directories, inventory).
        rate: load generator requests per second (0: no load generator).
        pipelining: the inventory's ``ansible_ssh_pipelining``.
        control_persist: SSH ControlPersist seconds; 0 turns connection sharing off.
        timeout: seconds allowed for each program to come up.

    Yields:
        The running fleet.

    Raises:
        RelrunError: a requirement is missing or a program did not come up.
    """
    missing = missing_requirements()
    if missing:
        raise RelrunError("cannot build a fleet: missing " + ", ".join(missing))
    cleanup_stale()
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env_id = new_id()
    record = registry.claim(env_id, workdir)
    names = Names(env_id, int(record["subnet"]))
    atexit.register(_teardown, env_id)
    try:
        ssh_options = {"pipelining": pipelining, "control_persist": control_persist}
        yield _build(names, workdir, app_hosts, rate, ssh_options, timeout)
    finally:
        _teardown(env_id)
        atexit.unregister(_teardown)


def _teardown(env_id: str) -> None:
    _destroy(env_id)
    registry.release(env_id)


def _build(names: Names, workdir: Path, count: int, rate: float,
           ssh_options: dict[str, Any], timeout: float) -> Fleet:
    hosts = _make_hosts(names, workdir, count)
    network.create_bridge(names)
    for host in hosts.values():
        network.add_host(names, host.name, host.index, host.address)
    keys = workdir / "ssh"
    client_public = ssh.keygen(keys / "id_ed25519", f"relrun-testenv {names.env_id}")
    ssh.privsep_dir()
    known = []
    sshd_pids = {}
    for host in hosts.values():
        if host.name == CLIENT:
            continue
        _, public = ssh.write_sshd_config(
            host.directory / "ssh", host.name, host.address, SSH_PORT, client_public
        )
        known.append(ssh.known_hosts_line(host.address, SSH_PORT, public))
        sshd_pids[host.name] = _start_sshd(names, host, None)
    (keys / "known_hosts").write_text("\n".join(known) + "\n", encoding="utf-8")
    apps = [h for h in hosts.values() if h.name.startswith("app-")]
    _share_secrets(workdir / "secrets-seed", [h.state_dir for h in apps] + [_client_dir(hosts)])
    with ThreadPoolExecutor(max_workers=min(8, len(apps))) as pool:
        ports = dict(zip([h.name for h in apps],
                         pool.map(lambda h: _start_stable(names, h, timeout), apps),
                         strict=True))
    lb_host = hosts[LB_HOST]
    control_dir = registry.registry_dir() / f"cp-{names.env_id}"
    control_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A UNIX socket path has a small limit (HAProxy: 97 bytes); pytest's temp dirs under
    # xdist are longer, so the socket lives in the environment's short control dir.
    socket_path = control_dir / HAPROXY_SOCKET
    config = lb_host.directory / "haproxy.cfg"
    haproxy_faults.ensure_map(socket_path.parent / haproxy_faults.MAP_NAME)
    config.write_text(lb.config_text(
        names.env_id, lb_host.address, socket_path, BACKEND,
        {instance_name("stable", app_number(h.name)): f"{h.address}:{ports[h.name]}"
         for h in apps},
        {instance_name("canary", app_number(h.name)): h.address for h in apps},
    ), encoding="utf-8")
    cmd.spawn(network.in_namespace(names, LB_HOST, lb.haproxy_command(config)),
              lb_host.directory / "haproxy.log")
    ssh.wait_port(lb_host.address, ADMIN_PORT, timeout, "haproxy stats socket")
    ssh.wait_port(lb_host.address, HTTP_PORT, timeout, "haproxy frontend")
    for name in sshd_pids:
        ssh.wait_port(hosts[name].address, SSH_PORT, timeout, f"sshd of {name}")
    data = inventory_data(
        lb_address=lb_host.address,
        apps={h.name: (h.address, h.state_dir) for h in apps},
        ssh=SshSettings(keys / "id_ed25519", keys / "known_hosts", control_dir,
                        **ssh_options),
        haproxy_socket=socket_path,
        history_dir=lb_host.directory / "history",
        module_python="/usr/bin/python3" if Path("/usr/bin/python3").exists()
        else sys.executable,
        relrun_python=sys.executable,
        backend=BACKEND,
    )
    inventory = workdir / "inventory.yml"
    inventory.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    traffic_log = _client_dir(hosts) / "loadgen.jsonl"
    if rate > 0:
        _start_loadgen(names, hosts[CLIENT], lb_host.address, rate, timeout)
    return Fleet(names, workdir, hosts, inventory, traffic_log, socket_path, sshd_pids)


def _make_hosts(names: Names, workdir: Path, count: int) -> dict[str, Host]:
    if count < 1:
        raise RelrunError("a fleet needs at least one app host")
    order = [(LB_HOST, 0), (CLIENT, 1)] + [(app_host(i), i + 1) for i in range(1, count + 1)]
    hosts = {}
    for name, veth in order:
        hosts[name] = Host(
            name=name,
            index=veth,
            address=names.address(host_last_octet(name)),
            namespace=names.namespace(name),
            directory=workdir / "hosts" / name,
        )
    return hosts


def _client_dir(hosts: dict[str, Host]) -> Path:
    return hosts[CLIENT].state_dir


def _share_secrets(seed: Path, state_dirs: list[Path]) -> None:
    """One set of secrets for every host: tokens signed by one are valid on all."""
    write_settings(Layout.at(seed), SandboxConfig())
    for directory in state_dirs:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy2(seed / "config.json", directory / "config.json")
        shutil.copytree(seed / "secrets", directory / "secrets", dirs_exist_ok=True)


def _start_sshd(names: Names, host: Host, timeout: float | None) -> int:
    config = host.directory / "ssh" / "sshd_config"
    pid = cmd.spawn(network.in_namespace(names, host.name, ssh.sshd_command(config)),
                    host.directory / "sshd.log")
    if timeout is not None:
        ssh.wait_port(host.address, SSH_PORT, timeout, f"sshd of {host.name}")
    return pid


def _start_stable(names: Names, host: Host, timeout: float) -> int:
    """Start stable-i on app host i (inside its namespace, not yet behind HAProxy)."""
    number = app_number(host.name)
    args = [sys.executable, "-m", "relrun.testenv.servicectl", "--index", str(number),
            "--address", host.address, "--lb", "-", "--state-dir", str(host.state_dir),
            "start", "stable", "--version", STABLE_VERSION]
    cmd.run(network.in_namespace(names, host.name, args), timeout=timeout)
    data = read_json(Layout.at(host.state_dir).server_file(instance_name("stable", number)))
    if not isinstance(data, dict):
        raise RelrunError(f"stable did not announce itself on {host.name}")
    return int(data["port"])


def _start_loadgen(names: Names, client: Host, lb_address: str, rate: float,
                   timeout: float) -> None:
    layout = Layout.at(client.state_dir)
    layout.loadgen_file.unlink(missing_ok=True)
    args = [sys.executable, "-m", "relrun.sandbox.loadgen", "--state-dir", str(layout.root),
            "--rate", f"{rate:g}", "--target", f"http://{lb_address}:{HTTP_PORT}"]
    pid = cmd.spawn(network.in_namespace(names, CLIENT, args), layout.log_file("loadgen"))
    deadline = time.monotonic() + timeout
    while True:
        data = read_json(layout.loadgen_file)
        if isinstance(data, dict) and data.get("pid") == pid:
            return
        if time.monotonic() >= deadline:
            raise RelrunError(f"the load generator did not start; see {layout.log_file('loadgen')}")
        time.sleep(_POLL_S)
