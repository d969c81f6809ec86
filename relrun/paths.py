"""Where relrun keeps its own state (locks, run markers, history) and the sandbox's.

State belongs to the project, not to the account: by default it is ``.relrun/`` in the
project directory, so two checkouts (or two users of one account) never share a lock, a
run marker or an RTO baseline. The project directory is the nearest enclosing directory
of the working directory that already has a ``.relrun/``, else the top of the enclosing
git work tree, else the working directory itself. ``RELRUN_STATE_DIR`` names the state
directory explicitly; ``RELRUN_STATE=user`` asks for the account-wide one
(``$XDG_STATE_HOME/relrun``, by default ``~/.local/state/relrun``).

A project's ``.relrun/`` is created mode 0700 with a ``.gitignore`` of ``*`` (its files
name hosts and operators and must not be committed), and one that is a symlink, is owned
by another user, or is writable by group or others is refused: whoever controls it could
plant a marker that ``relrun recover`` acts on.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from relrun.errors import InputError

ENV_STATE_DIR = "RELRUN_STATE_DIR"
ENV_STATE = "RELRUN_STATE"
PROJECT_DIR_NAME = ".relrun"


def user_state_home() -> Path:
    """``$XDG_STATE_HOME``, or ``~/.local/state`` when it is unset or empty."""
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"


def account_state_dir() -> Path:
    """The account-wide state directory (``relrun`` under the user's state home)."""
    return user_state_home() / "relrun"


def project_dir(start: Path | None = None) -> Path:
    """The project a command run from ``start`` (default: the working directory) belongs to.

    The nearest enclosing directory holding a ``.relrun`` entry, else the top of the
    enclosing git work tree, else ``start`` itself.
    """
    here = (start or Path.cwd()).absolute()
    chain = [here, *here.parents]
    for directory in chain:
        if os.path.lexists(directory / PROJECT_DIR_NAME):
            return directory
    for directory in chain:
        if (directory / ".git").exists():
            return directory
    return here


def state_origin() -> str:
    """How the state directory was chosen: ``RELRUN_STATE_DIR``, ``account`` or ``project``."""
    if os.environ.get(ENV_STATE_DIR):
        return ENV_STATE_DIR
    if os.environ.get(ENV_STATE, "").strip().lower() in {"user", "account"}:
        return "account"
    return "project"


def relrun_state_dir(create: bool = False) -> Path:
    """The state directory (see the module's docstring for how it is chosen).

    Args:
        create: make a missing project state directory (mode 0700, with its .gitignore);
            explicit and account-wide directories are created by their writers.

    Returns:
        The directory (it may not exist unless ``create``).

    Raises:
        InputError: ``RELRUN_STATE`` has an unknown value, or the project's ``.relrun`` is
            not safe to use.
    """
    origin = state_origin()
    if origin == ENV_STATE_DIR:
        return Path(os.environ[ENV_STATE_DIR]).expanduser()
    if origin == "account":
        return account_state_dir()
    wanted = os.environ.get(ENV_STATE, "").strip().lower()
    if wanted not in {"", "project"}:
        raise InputError(
            f"RELRUN_STATE={os.environ[ENV_STATE]!r}: use 'project' (the default: "
            ".relrun/ in the project) or 'user' (the account-wide state directory)"
        )
    directory = project_dir() / PROJECT_DIR_NAME
    if create and not os.path.lexists(directory):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        with contextlib.suppress(OSError):
            (directory / ".gitignore").write_text(
                "# relrun's state (locks, run markers, history): never commit it\n*\n",
                encoding="utf-8",
            )
    _check_project_dir(directory)
    return directory


def _check_project_dir(directory: Path) -> None:
    """Refuse a project state directory that someone else could control."""
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return  # created by the first run that writes state
    except OSError as err:
        raise InputError(f"state directory {directory}: {err.strerror}") from None
    hint = (
        "; remove it, or choose a state directory with RELRUN_STATE_DIR=DIR "
        "(or RELRUN_STATE=user for the account-wide one)"
    )
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"state directory {directory} is a symlink: relrun does not follow it"
                         + hint)
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"state directory {directory} is not a directory" + hint)
    if info.st_uid != os.geteuid():
        raise InputError(
            f"state directory {directory} belongs to uid {info.st_uid}, not to you "
            f"(uid {os.geteuid()})" + hint
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InputError(
            f"state directory {directory} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); make it private: chmod 700 {directory}"
        )
