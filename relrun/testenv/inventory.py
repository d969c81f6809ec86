"""The Ansible inventory of a fleet: real SSH, host keys checked, the haproxy driver.

Shape (see inventories/fleet-example.yml): ``lb-1`` in ``router``; every app host in
``stable`` and ``canary`` (each runs one instance of each); the first app host in
``build``. Modules run with the hosts' system Python (they are standard library only);
the service control runs with the Python relrun is installed in, from the shared checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.sandbox.layout import Layout
from relrun.testenv.names import ADMIN_PORT, HTTP_PORT, LB_HOST, SSH_PORT, app_number
from relrun.testenv.servicectl import instance_name

# relrun passes relrun_launch_dir; a plain ansible-playbook run builds where it started.
SOURCE_DIR = "{{ relrun_launch_dir | default(lookup('env', 'PWD'), true) }}"


@dataclass(frozen=True)
class SshSettings:
    """How Ansible reaches the hosts.

    Attributes:
        key: the client's private key.
        known_hosts: the generated known_hosts file.
        control_dir: short private directory for ControlMaster sockets (unique per
            environment, so a master left from an earlier environment is never reused).
        pipelining: send modules over the SSH session's stdin instead of copying files.
        control_persist: seconds a ControlMaster stays up after its last session;
            0 turns connection sharing off (one SSH connection per task).
    """

    key: Path
    known_hosts: Path
    control_dir: Path
    pipelining: bool = True
    control_persist: int = 60


def ssh_vars(ssh: SshSettings) -> dict[str, Any]:
    """Connection variables for every host."""
    return {
        "ansible_user": "root",
        "ansible_port": SSH_PORT,
        "ansible_ssh_private_key_file": str(ssh.key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={ssh.known_hosts} -o StrictHostKeyChecking=yes "
            "-o IdentitiesOnly=yes -o ConnectTimeout=5 "
            # A host whose link is cut is declared unreachable in seconds, not minutes,
            # also by a ControlMaster that connected before the cut.
            "-o ServerAliveInterval=1 -o ServerAliveCountMax=3"
        ),
        "ansible_ssh_args": (
            f"-C -o ControlMaster=auto -o ControlPersist={ssh.control_persist}s "
            f"-o ControlPath={ssh.control_dir}/%C"
            if ssh.control_persist > 0
            else "-C -o ControlMaster=no -o ControlPath=none"
        ),
        "ansible_ssh_pipelining": ssh.pipelining,
    }


def inventory_data(
    *,
    lb_address: str,
    apps: dict[str, tuple[str, Path]],
    ssh: SshSettings,
    haproxy_socket: Path,
    history_dir: Path,
    module_python: str,
    relrun_python: str,
    backend: str = "api",
) -> dict[str, Any]:
    """The inventory as data (``yaml.safe_dump`` it).

    Args:
        lb_address: the load balancer's address.
        apps: app host name → (address, sandbox state directory on that host).
        ssh: connection settings.
        haproxy_socket: the UNIX stats socket on the LB host.
        history_dir: where the haproxy driver keeps samples (on the LB host).
        module_python: interpreter for Ansible modules on the hosts.
        relrun_python: interpreter with relrun importable (service control).
        backend: the HAProxy backend.

    Returns:
        The inventory.
    """
    app_hosts: dict[str, Any] = {}
    for name, (address, state_dir) in sorted(apps.items(), key=lambda a: app_number(a[0])):
        number = app_number(name)
        app_hosts[name] = {
            "ansible_host": address,
            "relrun_sandbox_state_dir": str(state_dir),
            # Which canary server runs here: if this host drops off, the report can say
            # whether its canary ever carried traffic.
            "relrun_canary_servers": [f"canary-{number}"],
            "relrun_service_ctl": (
                f"{relrun_python} -m relrun.testenv.servicectl --index {number} "
                f"--address {address} --lb {lb_address}:{ADMIN_PORT} --backend {backend} "
                f"--state-dir {state_dir}"
            ),
        }
    first = min(apps, key=app_number)
    first_address, first_layout = apps[first][0], Layout.at(apps[first][1])
    number = app_number(first)
    return {
        "all": {
            "vars": {
                **ssh_vars(ssh),
                "ansible_python_interpreter": module_python,
                "relrun_traffic_driver": "haproxy",
                "relrun_haproxy_socket": str(haproxy_socket),
                "relrun_haproxy_backend": backend,
                "relrun_haproxy_history_dir": str(history_dir),
                # The dead man's switch lease, on the load balancer (this environment's own).
                "relrun_deadman_dir": str(history_dir.parent / "deadman"),
                "relrun_api_base_url": f"http://{lb_address}:{HTTP_PORT}",
                # The API checks run once, on the build host, against one instance
                # directly: the gate its canary, the rollback's verify its stable. Their
                # ports are OS-chosen and announced in its state directory (the fleet's
                # hosts share this machine's file system), so they are read lazily.
                "relrun_canary_url": _announced_url(first_address, first_layout, "canary", number),
                "relrun_stable_url": _announced_url(first_address, first_layout, "stable", number),
                # A path only (the secrets every app host shares): no secret value enters
                # Ansible's variables or artifacts.
                "relrun_api_credentials_file": str(first_layout.users),
                "relrun_source_dir": SOURCE_DIR,
            },
            "children": {
                "router": {"hosts": {LB_HOST: {"ansible_host": lb_address}}},
                "stable": {"hosts": dict(app_hosts)},
                "canary": {"hosts": {name: None for name in app_hosts}},
                "build": {"hosts": {first: None}},
            },
        }
    }


def _announced_url(address: str, layout: Layout, role: str, number: int) -> str:
    """A template for the URL of instance ``ROLE-NUMBER``, from its announcement."""
    announced = layout.server_file(instance_name(role, number))
    return f"http://{address}:{{{{ (lookup('file', '{announced}') | from_json).port }}}}"
