"""The run directory and the journal header every workflow starts with."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from relrun import __version__
from relrun.errors import InputError
from relrun.run.inventory import Inventory
from relrun.run.retention import keep_runs, prune_runs
from relrun.runbook.loader import LoadedRunbook


def tool_versions() -> dict[str, str]:
    """Versions of relrun and the Ansible pieces it drives."""
    return {
        "relrun": __version__,
        "ansible-core": version("ansible-core"),
        "ansible-runner": version("ansible-runner"),
    }


def operator() -> str:
    """Who runs this: ``RELRUN_OPERATOR`` if set, else the login name."""
    try:
        return os.environ.get("RELRUN_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def new_run_dir(base: Path | None, kind: str, name: str) -> Path:
    """Create the directory for one run's reports and Ansible artifacts.

    Args:
        base: an explicit report directory, used as is; None means ``runs/`` under the cwd.
        kind: ``release``, ``drill``, ``check``, ``rollback`` …
        name: the runbook name.

    Returns:
        The created directory (mode 0700: Ansible artifacts may hold host details).
    """
    if base is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        base = Path("runs") / f"{stamp}-{kind}-{name}"
        base.parent.mkdir(parents=True, exist_ok=True)
        suffix = 1
        while True:  # mkdir, not exists(): two runs started in the same second differ
            try:
                base.mkdir(mode=0o700)
                break
            except FileExistsError:
                suffix += 1
                base = base.with_name(f"{stamp}-{kind}-{name}-{suffix}")
        prune_runs(base.parent, keep_runs())
    elif (base / "journal.jsonl").exists():
        raise InputError(
            f"--report-dir {base} already holds a run; give each run its own directory"
        )
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise InputError(f"--report-dir {base} exists and is not a directory") from None
    except OSError as err:
        raise InputError(f"--report-dir {base}: cannot create it: {err.strerror}") from None
    return base.resolve()


def playbook_sha256(text: str) -> str:
    """The sha256 a run's journal records for its rendered playbook."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RunContext:
    """Identity of a run, recorded at the top of its journal."""

    kind: str
    loaded: LoadedRunbook
    inventory: Inventory
    run_dir: Path
    playbook_text: str

    def header(self) -> dict[str, Any]:
        """The journal header."""
        runbook = self.loaded.runbook
        return {
            "run_kind": self.kind,
            "runbook": {
                "name": runbook.metadata.name,
                "version": runbook.metadata.version,
                "file": self.loaded.shown,
                "sha256": self.loaded.sha256,
            },
            "playbook_sha256": playbook_sha256(self.playbook_text),
            "tools": tool_versions(),
            "operator": operator(),
            "controller": socket.gethostname(),
            "inventory": {"file": str(self.inventory.path), "hosts": self.inventory.hosts},
            "started": time.time(),
        }
