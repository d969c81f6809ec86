"""The one place the test environment starts programs (``ip``, ``ssh-keygen``, daemons)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from relrun.errors import RelrunError


class CommandFailed(RelrunError):
    """A setup command exited non-zero."""


def run(args: list[str], *, check: bool = True, timeout: float = 30.0) -> str:
    """Run a short command and return its standard output.

    Args:
        args: the command line.
        check: raise when it exits non-zero.
        timeout: seconds before it is killed.

    Returns:
        Standard output as text.

    Raises:
        CommandFailed: it exited non-zero (with ``check``) or timed out.
    """
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{' '.join(args)}: timed out after {timeout:g} s") from None
    if check and done.returncode != 0:
        raise CommandFailed(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a daemon detached (own session), output appended to ``log``.

    Args:
        args: the command line (usually ``ip netns exec NS ...``, which execs in place,
            so the pid is the daemon's own).
        log: its standard output and error.
        env: its environment (default: inherited).

    Returns:
        Its pid.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN.append(popen)
    return popen.pid


_CHILDREN: list[subprocess.Popen[bytes]] = []


def reap() -> None:
    """Collect exited children started by :func:`spawn` (no zombies left behind)."""
    for popen in list(_CHILDREN):
        if popen.poll() is not None:
            _CHILDREN.remove(popen)
