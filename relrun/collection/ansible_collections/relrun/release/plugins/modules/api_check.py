#!/usr/bin/python
"""Ansible module relrun.release.api_check: prove an HTTP API works before traffic moves."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: api_check
short_description: Run API checks (HTTP, JWT auth, rate limit, SSE, health) against a base URL
description:
  - Runs a list of named checks in order against one HTTP API and reports every assertion.
  - Later checks use values captured by earlier ones through C(${captures.NAME})
    placeholders, resolved by this module on the host (never by Ansible's templating).
  - Captured secrets (tokens) and the password are replaced by C(***) in everything the
    module returns, including error messages.
  - The checks create messages and spend rate-limit budget, so in check mode nothing is
    sent and the task reports C(skipped).
  - TLS settings come from C(ansible.module_utils.urls) (one SSL context per run); certificates
    are checked unless O(validate_certs=false).
  - Otherwise uses only the Python standard library (hmac, json, threading).
version_added: "0.1.0"
extends_documentation_fragment:
  - relrun.release.http_tls
author:
  - relrun developers (@relrun)
options:
  base_url:
    description: Base URL of the API; check paths are relative to it.
    type: str
    required: true
  checks:
    description:
      - The checks, as relrun's runbook model dumps them. Each has C(name) and C(kind)
        (C(http), C(health), C(jwt_auth), C(rate_limit), C(sse)) plus kind-specific keys;
        see docs/api-checks.md in relrun.
    type: list
    elements: dict
    required: true
  credentials:
    description:
      - Where the API credentials are on the host; used by C(${credentials.username})
        and C(${credentials.password}) placeholders (the default login of C(jwt_auth)).
    type: dict
    suboptions:
      username:
        description: The user name itself (not a secret).
        type: str
      username_env:
        description: Environment variable holding the user name.
        type: str
      password:
        description: The password itself (avoid; prefer a reference).
        type: str
      password_env:
        description: Environment variable holding the password.
        type: str
      password_file:
        description: File whose content is the password (trailing newline ignored).
        type: path
      from_file:
        description:
          - >-
            JSON file with C({"username", "password"}) or
            C({"users": [{"username", "password"}, ...]}) (the relrun sandbox's
            C(secrets/users.json)); with C(username) set, that user's entry is used.
        type: path
  base_dir:
    description: Directory that relative credential file paths are relative to.
    type: path
notes:
  - Supports check mode (reports skipped, sends nothing).
"""

EXAMPLES = r"""
- name: "API check: gate"
  relrun.release.api_check:
    base_url: "{{ relrun_api_base_url }}"
    credentials:
      username: demo
      from_file: /var/lib/relrun/sandbox/secrets/users.json
    checks:
      - name: health
        kind: health
        version: "2.0"
      - name: auth
        kind: jwt_auth
      - name: post a message
        kind: http
        request:
          method: POST
          path: /messages
          headers: {Authorization: "Bearer ${captures.token}"}
          json: {text: "hello from relrun"}
        expect:
          status: 201
          json: {text: {equals: "hello from relrun"}, id: {present: true}}
        capture:
          message_id: {json: id, secret: false}
  register: relrun_checks_gate
"""

RETURN = r"""
checks:
  description: One record per check, in order; secrets masked as C(***).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: The check's name., type: str}
    kind: {description: The check's kind., type: str}
    passed: {description: Whether every assertion passed., type: bool}
    required: {description: Whether a failure fails the task., type: bool}
    status:
      description: HTTP status of the check's main request (null without a response).
      type: int
    assertions:
      description: C({what, expected, actual, passed}) records.
      type: list
      elements: dict
    latency_ms:
      description: Mean latency of the check's requests (for C(sse), the event delivery time).
      type: float
    latency_p50_ms: {description: Median latency over the check's requests., type: float}
    latency_p95_ms: {description: 95th percentile latency over the check's requests., type: float}
    duration_ms: {description: Wall time of the whole check., type: float}
    message: {description: "C(ok), or what was expected and what came back.", type: str}
summary:
  description: Counts, and the names of failed required checks.
  returned: always
  type: dict
  sample: {total: 5, passed: 4, failed: 1, required_failed: [auth]}
msg:
  description: One line; names the failed required checks.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.http.client import Tls  # type: ignore[import-not-found, unused-ignore]
from ansible_collections.relrun.release.plugins.module_utils.http.options import (  # type: ignore[import-not-found, unused-ignore]
    CREDENTIAL_OPTIONS,
    TLS_OPTIONS,
)
from ansible_collections.relrun.release.plugins.module_utils.http.redact import Redactor  # type: ignore[import-not-found, unused-ignore]
from ansible_collections.relrun.release.plugins.module_utils.http.runner import run_checks  # type: ignore[import-not-found, unused-ignore]


def main() -> None:
    """Entry point: run the checks, exit with their results."""
    module = AnsibleModule(
        argument_spec={
            "base_url": {"type": "str", "required": True},
            "checks": {"type": "list", "elements": "dict", "required": True},
            "credentials": {"type": "dict", "options": CREDENTIAL_OPTIONS},
            "base_dir": {"type": "path"},
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
            summary={"total": 0, "passed": 0, "failed": 0, "required_failed": []},
            msg="API checks are skipped in check mode: they create messages and spend "
            "rate-limit budget",
        )
    try:
        tls = Tls(
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            client_cert=params["client_cert"],
            client_key=params["client_key"],
            use_proxy=params["use_proxy"],
        )
        outcome = run_checks(
            params["base_url"], params["checks"], params["credentials"], params["base_dir"], tls
        )
    except Exception as exc:  # the host must never print a traceback with a token in it
        scrub = Redactor()
        scrub.add((params.get("credentials") or {}).get("password"))
        module.fail_json(msg=scrub.text(f"api_check crashed: {type(exc).__name__}: {exc}"))
        return
    # Belt and braces: Ansible's own no_log filter also knows the secrets now.
    module.no_log_values.update(outcome.secrets)
    passed = sum(1 for c in outcome.checks if c["passed"])
    module.exit_json(
        changed=False,
        failed=outcome.failed,
        checks=outcome.checks,
        summary={
            "total": len(outcome.checks),
            "passed": passed,
            "failed": len(outcome.checks) - passed,
            "required_failed": outcome.failed_required,
        },
        msg=outcome.msg,
    )


if __name__ == "__main__":
    main()
