"""Secrets never leak: a unique value planted at every entry point appears in no file.

One real release against a sandbox, with a secret in each place one can enter a run:
the API password referenced by the runbook (an environment variable, or a file), an
inventory variable named like a secret (used by a deploy step that prints it), an
environment variable of the relrun process named like a secret (printed by a failing
build), and the JWT the ``jwt_auth`` check captures and later checks send. Afterwards
no file under the run directory — reports, journal, ansible-runner's ``command``,
``env/`` and ``job_events/`` — and neither stdout nor stderr may contain any of them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from relrun.sandbox.layout import Layout
from relrun.sandbox.settings import load_secrets
from tests.integration.sandbox_env import INVENTORY, env_for

pytestmark = pytest.mark.integration

# Any JSON Web Token: header and payload are base64url JSON objects ("eyJ" is '{"').
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")

RUNBOOK = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: secrets
  version: "2.0.0"
builds:
  - name: leaky
    # Hostile: prints a secret of the environment, then fails (failed results carry
    # the output twice: stdout and msg).
    shell: echo "env secret is $RELRUN_T_DEPLOY_SECRET"; exit 3
    required: false
api_checks:
  credentials:
    username: demo
{credentials}
  checks:
    - name: health
      kind: health
    - name: jwt-auth
      kind: jwt_auth
    - name: echo-token
      kind: http
      request:
        method: POST
        path: /messages
        headers: {{Authorization: "Bearer ${{captures.token}}"}}
        json: {{text: "token ${{captures.token}} password ${{credentials.password}}"}}
      expect:
        status: 201
deploy:
  steps:
    - name: start-canary
      shell: echo "deploying with $DEPLOY_TOKEN"; $RELRUN_SERVICE_CTL start canary --version 2.0
      env_from_vars:
        RELRUN_SERVICE_CTL: relrun_service_ctl
        RELRUN_SANDBOX_DIR: relrun_sandbox_state_dir
        DEPLOY_TOKEN: relrun_deploy_token
      timeout: 1m
  readiness:
    timeout: 30s
traffic:
  driver: sandbox
analysis:
  interval: 500ms
  window: 2s
  min_requests: 1
rollout:
  stages:
    - name: Full 100%
      weight: 100
      bake: 1s
rollback:
  cleanup:
    steps:
      - name: stop-canary
        shell: $RELRUN_SERVICE_CTL stop canary
        env_from_vars:
          RELRUN_SERVICE_CTL: relrun_service_ctl
          RELRUN_SANDBOX_DIR: relrun_sandbox_state_dir
"""

CREDENTIALS = {
    "env": "    password_env: RELRUN_T_API_PW",
    "file": '    password_file: "{{ relrun_t_password_file }}"',
}


def planted(tag: str) -> str:
    """A value that cannot occur anywhere by chance."""
    return f"{tag}-{secrets.token_hex(12)}"


def leaks(root: Path, values: dict[str, str]) -> list[str]:
    """Every (file, secret) pair where a planted value or a JWT occurs under ``root``."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path}: {name}" for name, v in values.items() if v.encode() in data]
        found += [f"{path}: a JWT" for _ in JWT.findall(data)[:1]]
    return found


@pytest.mark.parametrize("source", ["env", "file"])
def test_planted_secrets_appear_nowhere(sandbox: Path, tmp_path: Path, source: str) -> None:
    sandbox_secrets = load_secrets(Layout.at(sandbox))
    password = sandbox_secrets.password("demo")
    assert password is not None
    values = {
        "API password": password,
        "inventory secret": planted("INVSECRET"),
        "unused inventory secret": planted("INVPASSWORD"),
        "environment secret": planted("ENVSECRET"),
        "sandbox JWT key": sandbox_secrets.jwt_key,
        "sandbox admin token": sandbox_secrets.admin_token,
    }
    password_file = tmp_path / "api-password"
    password_file.write_text(password + "\n", encoding="utf-8")
    inventory = yaml.safe_load(INVENTORY.read_text(encoding="utf-8"))
    inventory["all"]["vars"].update(
        {
            "relrun_deploy_token": values["inventory secret"],
            "relrun_db_password": values["unused inventory secret"],
            "relrun_t_password_file": str(password_file),
        }
    )
    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    runbook = tmp_path / "secrets.yml"
    runbook.write_text(RUNBOOK.format(credentials=CREDENTIALS[source]), encoding="utf-8")
    env = {**env_for(sandbox), "RELRUN_T_DEPLOY_SECRET": values["environment secret"]}
    if source == "env":
        env["RELRUN_T_API_PW"] = password
    reports = tmp_path / "reports"

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from relrun.cli import main; main()",
            "release",
            str(runbook),
            "-i",
            str(inventory_path),
            "--report-dir",
            str(reports),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # The secrets were really used: the login worked, the token was sent, the echoes ran.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ci = json.loads((reports / "ci.json").read_text(encoding="utf-8"))
    (gate,) = ci["api_checks"]
    assert [c["passed"] for c in gate["checks"]] == [True] * 3
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    assert "deploying with ***" in journal
    assert "env secret is ***" in journal
    # Only relrun's own runner settings are on disk in env/ (no envvars, no extravars).
    env_dir = reports / "ansible" / "01-release" / "env"
    assert sorted(p.name for p in env_dir.iterdir()) == ["settings"]
    assert not list(reports.glob("ansible/*/artifacts/*/stdout"))
    command = json.loads(next(reports.glob("ansible/*/artifacts/*/command")).read_text())
    assert command["env"]["RELRUN_T_DEPLOY_SECRET"] == "***"

    found = leaks(reports, values)
    for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        found += [f"{name}: {n}" for n, v in values.items() if v in stream]
        found += [f"{name}: a JWT" for _ in JWT.findall(stream.encode())[:1]]
    assert found == []
    # The fixture's own files hold the password: the scan above would see a planted value.
    assert password.encode() in Layout.at(sandbox).users.read_bytes()
    assert os.environ.get("RELRUN_T_DEPLOY_SECRET") is None


def test_secrets_whose_names_look_harmless_are_masked_by_value(
    sandbox: Path, tmp_path: Path
) -> None:
    """Issue 14, item 7: redaction by value, not by name, with base64 and URL forms.

    A signing key passed through a harmless inventory name (marked in the runbook's
    ``secrets:``), a password inside ``DATABASE_URL``, and the base64 of a secret echoed
    by a build all reached the journal, ci.json, job_events/ and history.db before.
    """
    signing = planted("SIGNINGKEY")
    db_password = planted("DBPW")
    echoed = planted("ECHOED")
    values = {
        "signing key": signing,
        "base64 of the signing key": base64.b64encode(signing.encode()).decode(),
        "database password": db_password,
        "URL-encoded database password": quote(db_password + "/+", safe=""),
        "environment secret": echoed,
        "base64 of the environment secret": base64.b64encode(echoed.encode()).decode(),
    }
    runbook_text = RUNBOOK.format(credentials=CREDENTIALS["env"])
    runbook_text = runbook_text.replace(
        "builds:\n",
        "secrets: [relrun_release_material, RELEASE_NOTE_SEED]\n"
        "builds:\n"
        "  - name: chatty\n"
        '    shell: printf %s "$RELEASE_NOTE_SEED" | base64; echo "db is $DATABASE_URL"\n'
        "    required: false\n",
        1,
    ).replace(
        "        DEPLOY_TOKEN: relrun_deploy_token\n",
        "        DEPLOY_TOKEN: relrun_deploy_token\n"
        "        MATERIAL: relrun_release_material\n",
    ).replace(
        'shell: echo "deploying with $DEPLOY_TOKEN";',
        'shell: echo "material $MATERIAL"; printf %s "$MATERIAL" | base64;',
    )
    runbook = tmp_path / "harmless.yml"
    runbook.write_text(runbook_text, encoding="utf-8")
    inventory = yaml.safe_load(INVENTORY.read_text(encoding="utf-8"))
    inventory["all"]["vars"].update(
        {"relrun_deploy_token": planted("INVSECRET"), "relrun_release_material": signing}
    )
    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    password = load_secrets(Layout.at(sandbox)).password("demo")
    assert password is not None
    url_password = db_password + "/+"
    env = {
        **env_for(sandbox),
        "RELRUN_T_API_PW": password,
        "RELRUN_T_DEPLOY_SECRET": planted("ENVSECRET"),
        "RELEASE_NOTE_SEED": echoed,
        "DATABASE_URL": f"postgres://app:{quote(url_password, safe='')}@db.internal/app",
    }
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-c", "from relrun.cli import main; main()", "release", str(runbook),
         "-i", str(inventory_path), "--report-dir", str(reports)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    assert "material ***" in journal, "the deploy step really printed the signing key"
    assert "db is postgres://app:***@db.internal/app" in journal
    assert list(reports.glob("ansible/*/artifacts/*/job_events/*.json")), "events were kept"
    values["decoded database password"] = url_password
    found = leaks(reports, values) + leaks(Path(env["RELRUN_STATE_DIR"]), values)
    for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        found += [f"{name}: {n}" for n, v in values.items() if v in stream]
    assert found == []
    assert list(Path(env["RELRUN_STATE_DIR"]).rglob("history.db")), "history was checked"
