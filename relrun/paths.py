"""Where relrun keeps its own state (locks, run markers, history) and the sandbox's."""

from __future__ import annotations

import os
from pathlib import Path


def user_state_home() -> Path:
    """``$XDG_STATE_HOME``, or ``~/.local/state`` when it is unset or empty."""
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"


def relrun_state_dir() -> Path:
    """``$RELRUN_STATE_DIR``, else ``relrun`` under the user's state home."""
    explicit = os.environ.get("RELRUN_STATE_DIR")
    return Path(explicit) if explicit else user_state_home() / "relrun"
