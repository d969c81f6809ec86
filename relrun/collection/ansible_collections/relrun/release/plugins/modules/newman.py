#!/usr/bin/python
"""Ansible module relrun.release.newman: run a Postman collection with newman as API checks."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: newman
short_description: Run a Postman collection with the newman CLI and report it as API checks
description:
  - Runs C(newman run COLLECTION --reporters json) on the host and turns the JSON report
    into the same C(checks) records as M(relrun.release.api_check), one per collection
    item, with the Postman test assertions and the response times.
  - relrun sets the environment variables C(baseUrl), C(username) and C(password) (on top
    of an optional environment file) in a temporary file of mode 0600 that is deleted
    afterwards; no secret is ever on newman's command line.
  - Bearer tokens sent or received, secret environment values and the password are
    replaced by C(***) in everything returned.
  - Requires node and newman on the host (C(npm install -g newman), or C(npm ci) in the
    relrun checkout, which installs C(node_modules/.bin/newman)).
  - Collections create messages and spend rate-limit budget, so in check mode nothing
    runs and the task reports C(skipped).
version_added: "0.1.0"
author:
  - relrun developers (@relrun)
options:
  base_url:
    description: Base URL of the API, given to the collection as C(baseUrl).
    type: str
    required: true
  collection:
    description: Postman collection file (v2.x JSON); relative to O(base_dir).
    type: path
    required: true
  environment:
    description: Postman environment file to start from; relative to O(base_dir).
    type: path
  credentials:
    description: Credentials reference, as for M(relrun.release.api_check).
    type: dict
    suboptions:
      username: {description: The user name., type: str}
      username_env: {description: Environment variable holding the user name., type: str}
      password: {description: The password itself (avoid)., type: str}
      password_env: {description: Environment variable holding the password., type: str}
      password_file: {description: File whose content is the password., type: path}
      from_file: {description: JSON credentials file (see api_check)., type: path}
  newman_path:
    description:
      - The newman executable, or the directory holding it. Otherwise C(newman) on PATH,
        then C(node_modules/.bin/newman) under O(base_dir).
    type: path
  base_dir:
    description: Directory for relative paths (and its C(node_modules/.bin)).
    type: path
  timeout_s:
    description: Seconds the whole run may take.
    type: float
    default: 300
  request_timeout_s:
    description: Seconds one request may take.
    type: float
    default: 30
  validate_certs:
    description:
      - Check the server's certificate and host name (C(--insecure) when false). Turn off
        only for a test service.
    type: bool
    default: true
  ca_path:
    description:
      - PEM bundle of CAs to trust (C(--ssl-extra-ca-certs)). Unlike M(relrun.release.api_check),
        newman trusts them besides its own CAs, not instead of them.
    type: path
  client_cert:
    description: PEM client certificate to present (C(--ssl-client-cert)); it may contain the key too.
    type: path
  client_key:
    description: PEM key of O(client_cert), when the key is in a file of its own (C(--ssl-client-key)).
    type: path
  use_proxy:
    description:
      - Pass the C(https_proxy), C(http_proxy) (and upper-case) variables on to newman, which
        honours them with C(no_proxy); when false they are removed from newman's environment.
    type: bool
    default: true
notes:
  - Supports check mode (reports skipped, runs nothing).
"""

EXAMPLES = r"""
- name: "API check: gate"
  relrun.release.newman:
    base_url: "{{ relrun_canary_url }}"
    collection: runbooks/collections/messaging-api.postman_collection.json
    base_dir: "{{ relrun_launch_dir }}"
    credentials:
      username: demo
      from_file: "{{ relrun_api_credentials_file }}"
  register: relrun_checks_gate
"""

RETURN = r"""
checks:
  description:
    - One record per collection item, shaped like M(relrun.release.api_check)'s with
      C(kind) C(newman); assertions are the Postman tests (C(expected) C(passes),
      C(actual) C(passed) or the assertion's error message).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts, and the names of failed items.
  returned: always
  type: dict
missing_tool:
  description: C(newman) when the executable (or node) could not be found.
  returned: when newman is missing
  type: str
msg:
  description: One line; names the failed items, or how to install newman.
  returned: always
  type: str
"""

import json
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.http.credentials import (  # type: ignore[import-not-found, unused-ignore]
    CredentialsError,
    resolve_credentials,
)
from ansible_collections.relrun.release.plugins.module_utils.http.newman_report import (  # type: ignore[import-not-found, unused-ignore]
    checks_from_report,
    collect_secrets,
)
from ansible_collections.relrun.release.plugins.module_utils.http.newman_run import (  # type: ignore[import-not-found, unused-ignore]
    NewmanFailed,
    NewmanMissing,
    environment_document,
    find_newman,
    newman_environ,
    run_newman,
    tls_flags,
)
from ansible_collections.relrun.release.plugins.module_utils.http.options import (  # type: ignore[import-not-found, unused-ignore]
    CREDENTIAL_OPTIONS,
    TLS_OPTIONS,
)
from ansible_collections.relrun.release.plugins.module_utils.http.redact import Redactor  # type: ignore[import-not-found, unused-ignore]

EMPTY_SUMMARY: dict[str, Any] = {"total": 0, "passed": 0, "failed": 0, "required_failed": []}


def _path(path: str | None, base_dir: str | None) -> str | None:
    if path and base_dir and not os.path.isabs(path):
        return os.path.join(base_dir, path)
    return path


def main() -> None:
    """Entry point: run newman, exit with the checks."""
    module = AnsibleModule(
        argument_spec={
            "base_url": {"type": "str", "required": True},
            "collection": {"type": "path", "required": True},
            "environment": {"type": "path"},
            "credentials": {"type": "dict", "options": CREDENTIAL_OPTIONS},
            "newman_path": {"type": "path"},
            "base_dir": {"type": "path"},
            "timeout_s": {"type": "float", "default": 300.0},
            "request_timeout_s": {"type": "float", "default": 30.0},
            **TLS_OPTIONS,
        },
        supports_check_mode=True,
    )
    params = module.params
    if module.check_mode:
        module.exit_json(
            changed=False,
            skipped=True,
            checks=[],
            summary=EMPTY_SUMMARY,
            msg="newman is skipped in check mode: the collection creates messages",
        )
    base_dir = params["base_dir"]
    redactor = Redactor()
    try:
        executable = find_newman(params["newman_path"], base_dir)
    except NewmanMissing as exc:
        module.fail_json(msg=str(exc), missing_tool="newman", checks=[], summary=EMPTY_SUMMARY)
        return
    collection = _path(params["collection"], base_dir) or ""
    if not os.path.isfile(collection):
        module.fail_json(msg=f"Postman collection not found: {collection}", checks=[])
        return
    template = None
    env_path = _path(params["environment"], base_dir)
    if env_path:
        try:
            with open(env_path, encoding="utf-8") as handle:
                template = json.load(handle)
        except (OSError, ValueError) as exc:
            module.fail_json(msg=f"cannot read Postman environment {env_path}: {exc}", checks=[])
            return
    try:
        creds = resolve_credentials(params["credentials"], base_dir)
    except CredentialsError as exc:
        module.fail_json(msg=str(exc), checks=[])
        return
    redactor.add(creds.get("password"))
    variables = {"baseUrl": params["base_url"], **creds}
    try:
        report, code, tail = run_newman(
            executable,
            collection,
            environment_document(template, variables, {"password"}),
            timeout_s=params["timeout_s"],
            request_timeout_s=params["request_timeout_s"],
            flags=tls_flags(
                params["validate_certs"],
                _path(params["ca_path"], base_dir),
                _path(params["client_cert"], base_dir),
                _path(params["client_key"], base_dir),
            ),
            environ=newman_environ(params["use_proxy"]),
        )
    except NewmanMissing as exc:
        module.fail_json(
            msg=redactor.text(str(exc)), missing_tool="newman", checks=[], summary=EMPTY_SUMMARY
        )
        return
    except NewmanFailed as exc:
        module.fail_json(msg=redactor.text(str(exc)), checks=[], summary=EMPTY_SUMMARY)
        return
    collect_secrets(report, redactor)
    checks = redactor.tree(checks_from_report(report))
    module.no_log_values.update(redactor.secrets)
    failed = [c["name"] for c in checks if c["required"] and not c["passed"]]
    run_error = (report.get("run") or {}).get("error")
    if failed:
        msg = "required API checks failed: " + ", ".join(failed)
    elif run_error or (code != 0 and not checks):
        msg = f"newman exited {code}: {run_error or tail}"
    else:
        msg = f"{len(checks)} of {len(checks)} collection items passed"
    module.exit_json(
        changed=False,
        failed=bool(failed) or bool(run_error) or (code != 0 and not checks),
        checks=checks,
        summary={
            "total": len(checks),
            "passed": len(checks) - len([c for c in checks if not c["passed"]]),
            "failed": len([c for c in checks if not c["passed"]]),
            "required_failed": failed,
        },
        newman_exit_code=code,
        msg=redactor.text(msg),
    )


if __name__ == "__main__":
    main()
