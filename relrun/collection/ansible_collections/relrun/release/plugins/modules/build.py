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

import glob
import hashlib
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.build.process import run_build  # type: ignore[import-not-found, unused-ignore]


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
    result = run_build(params, cwd)
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
