"""Where everything of one sandbox lives inside its state directory.

One state directory is one sandbox; two directories are two independent sandboxes. Every
file name is decided here so the programs, the control library and the docs agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.fsutil import write_atomic
from relrun.paths import user_state_home

ENV_STATE_DIR = "RELRUN_SANDBOX_DIR"


def default_state_dir() -> Path:
    """Return the state directory used when none is given.

    ``$RELRUN_SANDBOX_DIR`` wins, then ``$XDG_STATE_HOME/relrun/sandbox``, then
    ``~/.local/state/relrun/sandbox``.

    Returns:
        An absolute path (it may not exist yet).
    """
    explicit = os.environ.get(ENV_STATE_DIR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return (user_state_home() / "relrun" / "sandbox").resolve()


@dataclass(frozen=True)
class Layout:
    """The file layout of one sandbox state directory.

    Attributes:
        root: the state directory itself.
    """

    root: Path

    @classmethod
    def at(cls, state_dir: Path | str | None) -> Layout:
        """Build the layout of ``state_dir`` (or of the default directory)."""
        root = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
        return cls(root)

    @property
    def config(self) -> Path:
        """Non-secret settings shared by every program (``config.json``)."""
        return self.root / "config.json"

    @property
    def secrets_dir(self) -> Path:
        """Directory (mode 0700) of the files below, each mode 0600."""
        return self.root / "secrets"

    @property
    def jwt_key(self) -> Path:
        """The HS256 signing secret of the demo API."""
        return self.secrets_dir / "jwt.key"

    @property
    def admin_token(self) -> Path:
        """The token guarding the API's and the router's admin endpoints."""
        return self.secrets_dir / "admin.token"

    @property
    def users(self) -> Path:
        """Demo credentials: ``{"users": [{"username", "password", ...}]}``."""
        return self.secrets_dir / "users.json"

    @property
    def run_dir(self) -> Path:
        """Pid records written by the starter right after spawning a process."""
        return self.root / "run"

    def pid_file(self, process: str) -> Path:
        """Pid record of ``process`` (``router``, ``loadgen``, ``server-NAME``)."""
        return self.run_dir / f"{process}.json"

    @property
    def servers_dir(self) -> Path:
        """Announcements of listening API servers."""
        return self.root / "servers"

    def server_file(self, name: str) -> Path:
        """Announcement of API server ``name``: pid, port, version (written once listening)."""
        return self.servers_dir / f"{name}.json"

    @property
    def router_file(self) -> Path:
        """Announcement of the router: pid, port, admin port (written once listening)."""
        return self.root / "router.json"

    @property
    def loadgen_file(self) -> Path:
        """Announcement of the load generator (written once it sends traffic)."""
        return self.root / "loadgen.json"

    @property
    def traffic_log(self) -> Path:
        """One JSON line per request the load generator made."""
        return self.root / "loadgen.jsonl"

    @property
    def logs_dir(self) -> Path:
        """Standard output and error of every process (never secrets)."""
        return self.root / "logs"

    def log_file(self, process: str) -> Path:
        """Log file of ``process``."""
        return self.logs_dir / f"{process}.log"


def write_json(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Write ``data`` as JSON to a temporary name, then rename it into place.

    Readers polling for the file therefore never see a half-written document.

    Args:
        path: destination.
        data: anything ``json.dumps`` accepts.
        mode: permission bits of the file (0600 for secrets).
    """
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode)


def read_json(path: Path) -> Any | None:
    """Read a JSON file, or return None when it does not exist or is not (yet) valid."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
