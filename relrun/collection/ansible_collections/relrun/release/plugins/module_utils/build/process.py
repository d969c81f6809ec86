"""Run one build command under a deadline, keeping the tail of its output.

Not ``AnsibleModule.run_command``: that waits for the command to end, and a build must be
stopped at its timeout with its whole process group (the shell and everything it started).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from typing import Any


def run_build(params: dict[str, Any], cwd: str) -> dict[str, Any]:
    """Run the build the module's parameters describe.

    Args:
        params: the module's parameters (argv or shell, env, timeout, tail_lines).
        cwd: the directory the build runs in.

    Returns:
        ``rc``, ``seconds``, ``status`` (passed, failed, timeout) and ``output_tail``.
    """
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (params["env"] or {}).items()})
    command: list[str] | str = params["argv"] if params["argv"] else params["shell"]
    tail: deque[str] = deque(maxlen=params["tail_lines"])
    started = time.monotonic()
    # A new session so the timeout kills the build's children too, not just the shell.
    proc = subprocess.Popen(
        command,
        shell=bool(params["shell"]),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    timed_out = False
    deadline = started + params["timeout"]
    if proc.stdout is None:  # cannot happen with stdout=PIPE; keeps the type checker honest
        raise RuntimeError("no pipe for the build's output")
    os.set_blocking(proc.stdout.fileno(), False)
    buffer = b""
    while True:
        # Look at the exit status before reading: output written before the exit is then
        # in the pipe for this read, and an empty read after an exit means all was read.
        exited = proc.poll() is not None
        chunk = b""
        with contextlib.suppress(BlockingIOError):
            chunk = proc.stdout.read() or b""
        if chunk:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            tail.extend(line.decode("utf-8", "replace") for line in lines)
        if exited and not chunk:
            break
        if time.monotonic() > deadline:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        if not chunk:
            time.sleep(0.05)
    if buffer:
        tail.append(buffer.decode("utf-8", "replace"))
    seconds = round(time.monotonic() - started, 3)
    rc = proc.returncode
    status = "timeout" if timed_out else ("passed" if rc == 0 else "failed")
    return {"rc": rc, "seconds": seconds, "status": status, "output_tail": "\n".join(tail)}
