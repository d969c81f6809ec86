#!/usr/bin/python
"""Ansible module relrun.release.scan: the security scan gate on a source tree."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: scan
short_description: Security scan gate for forbidden imports, provider keys, tokens and secret leaks
version_added: "0.1.0"
description:
  - Scans a source tree for imports of forbidden modules (default the Firebase SDKs),
    forbidden packages in dependency manifests, hard-coded JWTs, plaintext Authorization
    credentials, provider keys (AWS, GCP, Azure, Stripe, GitHub, GitLab, Slack, npm, PyPI,
    private keys), secret values in code and configuration files, and secrets or the
    whole environment leaking to logs, consoles, HTTP responses and shell output.
  - Inside a git checkout with git on the host, files that C(.gitignore) ignores are left
    out (policy C(gitignore=false) keeps them); C(history=true) also scans the blobs past
    commits added.
  - Reading a variable is never a finding; only a leaked value is.
  - Read-only; supports check mode. Uses only the Python standard library on the host.
options:
  path:
    description:
      - Root of the source tree (or a single file). Finding paths and fingerprints are
        relative to it.
    type: path
    required: true
  include:
    description:
      - Sub-paths of O(path) to scan instead of the whole tree.
    type: list
    elements: str
    default: []
  policy:
    description:
      - The scan policy.
      - C(forbidden_imports) maps C(python), C(js) and C(jvm) to lists of module names
        (an entry ending in C(/*) or C(.*) forbids everything below it); a language left
        out keeps its default list.
      - C(fail_on) is the lowest severity that fails the task (C(low), C(medium), C(high),
        C(critical); default C(high)).
      - C(max_file_size) in bytes (default 1 MiB); C(exclude) is a list of glob patterns;
        C(untracked_env) also scans C(.env) files git does not track.
      - C(gitignore) (default true) leaves out what C(.gitignore) ignores; C(history)
        (default false) scans past commits with the git program, bounded by C(since)
        (a C(git log --since) date).
    type: dict
    default: {}
  baseline:
    description:
      - Path on the host of a baseline file (JSON) whose entries suppress findings by
        fingerprint, each with a reason.
    type: path
notes:
  - "Suppress a finding inline with a comment C(relrun: allow RULE [fp=PREFIX] -- REASON)."
  - A C(.relrun-scan-ignore) file at O(path) lists glob patterns to leave out.
author:
  - relrun developers (@relrun)
"""

EXAMPLES = r"""
- name: Scan the checked-out sources
  relrun.release.scan:
    path: /srv/build/src
    policy:
      fail_on: high
  register: relrun_scan

- name: Scan two directories with a baseline, fail only on critical findings
  relrun.release.scan:
    path: /srv/build/src
    include: [api, web]
    baseline: /srv/build/src/.relrun-scan-baseline.json
    policy:
      fail_on: critical
      forbidden_imports:
        python: [firebase_admin, firebase, pyrebase]
"""

RETURN = r"""
findings:
  description: Findings not suppressed. Excerpts are redacted; secrets never appear.
  returned: always
  type: list
  elements: dict
  sample:
    - class: token
      rule: jwt-literal
      severity: critical
      path: api/client.py
      line: 12
      column: 18
      message: hard-coded JWT (alg HS256)
      excerpt: 'TOKEN = "eyJh…(155 chars)"'
      fingerprint: 5f0c1d2e3a4b5c6d7e8f901a2b3c4d5e
      meta: {alg: HS256, exp: null}
suppressed:
  description: Findings suppressed inline or by the baseline, with C(suppressed_by) and C(reason).
  returned: always
  type: list
  elements: dict
suppressions:
  description:
    - Every suppression in force (inline allows and baseline entries) and whether it was used.
  returned: always
  type: list
  elements: dict
notices:
  description:
    - Ignored or stale suppressions (no reason, unpinned, fingerprint mismatch, stale
      baseline entry).
  returned: always
  type: list
  elements: dict
skipped_files:
  description:
    - Files and directories not scanned, each with a reason (vcs, dependencies, virtualenv,
      lock file, binary, too large, excluded, symlink, untracked .env).
    - Not named C(skipped), which Ansible reads as "the task was skipped".
  returned: always
  type: list
  elements: dict
skipped_counts:
  description: Number of skips per reason.
  returned: always
  type: dict
parse_fallbacks:
  description: Files that did not parse and were scanned by a line-based fallback.
  returned: always
  type: list
  elements: dict
stats:
  description: C(files), C(bytes), C(seconds), C(findings) and C(by_severity).
  returned: always
  type: dict
repo_root:
  description: The top of the git work tree around O(path) (empty outside one).
  returned: always
  type: str
repo_prefix:
  description: O(path) relative to RV(repo_root), ending in C(/) (empty at the top).
  returned: always
  type: str
history:
  description: With C(history=true), C(commits), C(blobs) and C(findings) of the history scan.
  returned: always
  type: dict
fail_on:
  description: The severity threshold applied.
  returned: always
  type: str
failing:
  description: Number of findings at or above C(policy.fail_on).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    Policy,
    PolicyError,
    ScanInputError,
    load_baseline,
    scan,
)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "include": {"type": "list", "elements": "str", "default": []},
            "policy": {"type": "dict", "default": {}},
            "baseline": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        policy = Policy.from_dict(params["policy"])
        baseline = load_baseline(params["baseline"]) if params["baseline"] else None
        result = scan(params["path"], policy, baseline, params["include"] or None)
    except (PolicyError, ScanInputError) as err:
        module.fail_json(msg=f"security scan: bad input: {err}", input_error=True)
        return
    result["changed"] = False
    if result["failed"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
