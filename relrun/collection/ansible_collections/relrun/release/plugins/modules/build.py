#!/usr/bin/python
"""Ansible module relrun.release.build: run one build, timed, with artifact checksums."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build
short_description: Run one release build with a timeout and record its artifacts
description:
  - Runs a command (argv without a shell, or a shell command line) in a directory with extra
    environment variables, kills its whole process group when the timeout passes, and
    records its exit code, duration, the tail of its output, and the path, size and sha256
    of every file matching the artifact patterns.
  - Uses only the Python standard library on the managed host.
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  name:
    description: Build name, used in results.
    type: str
    required: true
  argv:
    description: Program and arguments, run without a shell. Exactly one of I(argv) or I(shell).
    type: list
    elements: str
  shell:
    description: Shell command line, run with C(/bin/sh -c).
    type: str
  chdir:
    description: Working directory.
    type: path
  env:
    description: Extra environment variables.
    type: dict
    default: {}
  timeout:
    description: Seconds before the build is killed.
    type: float
    default: 1800
  artifacts:
    description: Glob patterns, relative to I(chdir), of files the build must produce.
    type: list
    elements: str
    default: []
  required:
    description: When false, a failed build is reported but the task does not fail.
    type: bool
    default: true
  tail_lines:
    description: How many lines of output to keep.
    type: int
    default: 40
"""

EXAMPLES = r"""
- name: "build: dev"
  relrun.release.build:
    name: dev
    argv: [make, dev]
    chdir: /srv/app
    timeout: 300
    artifacts: ["dist/*.whl"]
"""

RETURN = r"""
build:
  description: The build's result.
  returned: always
  type: dict
  contains:
    name: {description: Build name., type: str}
    status: {description: "C(passed), C(failed) or C(timeout).", type: str}
    rc: {description: Exit code (negative for a signal)., type: int}
    seconds: {description: Wall time of the build., type: float}
    output_tail: {description: Last lines of combined stdout and stderr., type: str}
    artifacts: {description: "Matched files: path, size, sha256.", type: list}
    missing_artifacts: {description: Patterns that matched nothing., type: list}
"""

import contextlib
import glob
import hashlib
import os
import signal
import subprocess
import time
from collections import deque
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _collect(patterns: list[str], base: str) -> tuple[list[dict[str, Any]], list[str]]:
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.join(base, pattern), recursive=True))
        files = [m for m in matches if os.path.isfile(m)]
        if not files:
            missing.append(pattern)
        for path in files:
            found.append({"path": path, "size": os.path.getsize(path), "sha256": _sha256(path)})
    return found, missing


def _run(params: dict[str, Any], cwd: str) -> dict[str, Any]:
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


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "argv": {"type": "list", "elements": "str"},
            "shell": {"type": "str"},
            "chdir": {"type": "path"},
            "env": {"type": "dict", "default": {}},
            "timeout": {"type": "float", "default": 1800},
            "artifacts": {"type": "list", "elements": "str", "default": []},
            "required": {"type": "bool", "default": True},
            "tail_lines": {"type": "int", "default": 40},
        },
        mutually_exclusive=[("argv", "shell")],
        required_one_of=[("argv", "shell")],
        supports_check_mode=True,
    )
    params = module.params
    cwd = params["chdir"] or os.getcwd()
    if not os.path.isdir(cwd):
        module.fail_json(msg=f"build {params['name']}: chdir {cwd} is not a directory")
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="check mode: build not run")
    result = _run(params, cwd)
    artifacts, missing = _collect(params["artifacts"], cwd)
    if result["status"] == "passed" and missing:
        result["status"] = "failed"
    build = {"name": params["name"], "artifacts": artifacts, "missing_artifacts": missing, **result}
    build["required"] = params["required"]
    if build["status"] != "passed":
        reason = {
            "timeout": f"timed out after {params['timeout']:g}s",
            "failed": f"exit code {result['rc']}"
            if result["rc"] != 0
            else f"missing artifacts: {', '.join(missing)}",
        }[build["status"]]
        msg = f"build {params['name']} {reason}"
        if params["required"]:
            module.fail_json(msg=msg, changed=True, build=build)
        module.warn(f"{msg} (not required, release goes on)")
    module.exit_json(changed=True, build=build)


if __name__ == "__main__":
    main()
