"""Helpers shared by tests: local inventories, runbook text, running the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port the OS says is free now (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_inventory(
    tmp_path: Path,
    extra_hosts: dict[str, dict[str, object]] | None = None,
    source_dir: Path | None = None,
) -> Path:
    """An inventory where every role is localhost over the local connection."""
    build_hosts: dict[str, object] = {"localhost": None, **(extra_hosts or {})}
    data = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "relrun_source_dir": str(source_dir or tmp_path),
            },
            "children": {
                "build": {"hosts": build_hosts},
                "router": {"hosts": {"localhost": None}},
                "stable": {"hosts": {"localhost": None}},
                "canary": {"hosts": {"localhost": None}},
            },
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def relrun(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the real ``relrun`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from relrun.cli import main; main()", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
