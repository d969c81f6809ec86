from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml

from relrun.run.events import Event, EventBus, TaskResult
from relrun.run.redact import (
    MASK,
    Redactor,
    environment_secrets,
    inventory_secrets,
    is_secret_name,
    playbook_env_references,
    run_redactor,
    sandbox_secrets,
    scrub_command_files,
)
from relrun.run.runner import RunSpec, run_playbook


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("API_TOKEN", True),
        ("relrun_db_password", True),
        ("ansible_become_pass", True),
        ("GITHUB_SECRET_KEY", True),
        ("stripe_api_key", True),
        ("relrun_sandbox_admin_token_file", False),
        ("password_env", False),
        ("relrun_api_base_url", False),
        ("PATH", False),
        ("passenger", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redactor_masks_longest_first_and_ignores_short_values() -> None:
    redactor = Redactor(["hunter2", "hunter2-and-more", "ab"])
    assert redactor.text("x hunter2-and-more y hunter2 ab") == f"x {MASK} y {MASK} ab"
    assert redactor.tree({"k hunter2": ["hunter2", 5, True]}) == {f"k {MASK}": [MASK, 5, True]}
    assert Redactor(["123456"]).tree({"n": 123456}) == {"n": MASK}
    assert not Redactor(["ab"])


def test_scrub_event_is_in_place_and_finds_escaped_secrets() -> None:
    secret = 'pa"ss\\wörd'
    raw: dict[str, Any] = {"stdout": f"said {secret}", "event_data": {"res": {"msg": secret}}}
    same = raw
    Redactor([secret]).scrub_event(raw)
    assert same is raw
    assert raw == {"stdout": f"said {MASK}", "event_data": {"res": {"msg": MASK}}}
    untouched = {"stdout": "nothing here"}
    Redactor([secret]).scrub_event(untouched)
    assert untouched == {"stdout": "nothing here"}


def test_playbook_env_references_reads_unsafe_module_args() -> None:
    text = """\
---
- hosts: build
  tasks:
    - relrun.release.api_check:
        credentials:
          username: !unsafe 'demo'
          password_env: !unsafe 'MY_PW'
"""
    assert playbook_env_references(text) == {"MY_PW"}
    assert playbook_env_references("{ not: yaml") == set()


def test_environment_secrets_by_reference_and_by_name() -> None:
    environ = {
        "MY_PW": "short",
        "CI_JOB_TOKEN": "abcdef123",
        "USE_SECRETS": "yes",
        "HOME": "/home/op",
    }
    assert environment_secrets(environ, ["MY_PW", "UNSET"]) == {"short", "abcdef123"}


def test_inventory_secrets_are_literal_secret_named_values(tmp_path: Path) -> None:
    inventory = {
        "all": {
            "vars": {
                "relrun_deploy_token": "tok-123456",
                "relrun_admin_token_file": "/secrets/admin.token",
                "relrun_db_password": "{{ lookup('env', 'DB') }}",
                "relrun_api_base_url": "http://127.0.0.1:1",
            },
            "children": {
                "web": {
                    "hosts": {
                        "h1": {"ansible_become_pass": "become-me-1", "db": {"secret": 987654}},
                    }
                }
            },
        }
    }
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    assert inventory_secrets(path) == {"tok-123456", "become-me-1", "987654"}
    assert inventory_secrets(tmp_path / "missing.yml") == frozenset()


def test_scrub_command_files_keeps_only_relrun_variables(tmp_path: Path) -> None:
    command = tmp_path / "artifacts" / "ident" / "command"
    command.parent.mkdir(parents=True)
    command.write_text(
        json.dumps(
            {
                "command": ["ansible-playbook", "-e", '{"x": "s3cret-value"}'],
                "cwd": "/p",
                "env": {"HOME": "/home/op", "ANSIBLE_NOCOLOR": "1", "API_TOKEN": "s3cret-value"},
            }
        ),
        encoding="utf-8",
    )
    scrub_command_files(tmp_path, {"ANSIBLE_NOCOLOR": "1"}, Redactor(["s3cret-value"]))
    record = json.loads(command.read_text(encoding="utf-8"))
    assert record["env"] == {"HOME": MASK, "ANSIBLE_NOCOLOR": "1", "API_TOKEN": MASK}
    assert record["command"] == ["ansible-playbook", "-e", f'{{"x": "{MASK}"}}']
    assert command.stat().st_mode & 0o777 == 0o600


def test_run_redactor_combines_every_source(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": {"a_secret": "from-inventory"}}}))
    playbook = "- hosts: all\n  tasks: [{x: {credentials: {password_env: PW}}}]\n"
    redactor = run_redactor(playbook, path, {"PW": "from-env", "OTHER": "not-secret"})
    assert redactor.text("from-inventory from-env not-secret") == "*** *** not-secret"
    assert {"from-inventory", "from-env"} <= set(redactor.secrets)


def test_execute_scrubs_events_before_handlers_and_job_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ansible_runner

    monkeypatch.setenv("RELRUN_T_API_TOKEN", "tok-abcdef-123")
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"h1": None}}}))
    written: list[str] = []

    def run(**kwargs: Any) -> Any:
        raw = {
            "event": "runner_on_ok",
            "stdout": "ok: tok-abcdef-123",
            "event_data": {
                "host": "h1",
                "res": {"stdout": "tok-abcdef-123", "invocation": {"module_args": {"a": 1}}},
            },
        }
        kwargs["event_handler"](raw)
        written.append(json.dumps(raw))  # what ansible-runner would write to job_events/
        return SimpleNamespace(status="successful", rc=0)

    monkeypatch.setattr(ansible_runner, "run", run)
    seen: list[Event] = []
    spec = RunSpec(label="release", playbook_text="---\n", inventory=inventory, run_dir=tmp_path)
    run_playbook(spec, EventBus([seen.append]))
    (result,) = [e for e in seen if isinstance(e, TaskResult)]
    assert result.result == {"stdout": MASK}
    assert "tok-abcdef-123" not in written[0]


def test_a_secret_is_masked_in_base64_and_url_encoded_forms() -> None:
    secret = "s3cr3t/value+with=signs"
    redactor = Redactor([secret])
    for form in (
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        quote(secret, safe=""),
        quote_plus(secret),
    ):
        assert redactor.text(f"echoed: {form}.") == "echoed: ***."


def test_passwords_inside_urls_are_secrets_whatever_the_variable_is_called(
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": "postgres://app:pa%2Fss-word@db/app", "HOME": "/root"}
    found = environment_secrets(env, [])
    assert {"pa%2Fss-word", "pa/ss-word"} <= found
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  vars:\n    upstream: https://deploy:hunter2-xyz@git.example/repo.git\n"
        "    release_material: harmless-looking-9f3c\n  hosts:\n    h1: {}\n",
        encoding="utf-8",
    )
    assert "hunter2-xyz" in inventory_secrets(inventory)
    assert "harmless-looking-9f3c" not in inventory_secrets(inventory)
    assert "harmless-looking-9f3c" in inventory_secrets(inventory, ["release_material"])


def test_a_runbook_marks_any_variable_secret_through_the_playbook(tmp_path: Path) -> None:
    playbook = (
        "- name: Gates\n  hosts: build\n  vars:\n"
        "    relrun_secret_vars: [release_material, NOTE_SEED, signing_value]\n"
        "    signing_value: !unsafe 'from-the-runbook-42'\n  tasks: []\n"
    )
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  vars:\n    release_material: inventory-value-77\n  hosts:\n    h1: {}\n",
        encoding="utf-8",
    )
    redactor = run_redactor(playbook, inventory, {"NOTE_SEED": "env-value-55", "PATH": "/bin"})
    text = "inventory-value-77 env-value-55 from-the-runbook-42 /bin"
    assert redactor.text(text) == "*** *** *** /bin"


def test_the_sandbox_secrets_are_known_from_its_files(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "admin.token").write_text("admin-token-value\n", encoding="utf-8")
    (secrets_dir / "jwt.key").write_text("jwt-key-value\n", encoding="utf-8")
    (secrets_dir / "users.json").write_text(
        json.dumps({"users": [{"username": "demo", "password": "demo-password-1"}]}),
        encoding="utf-8",
    )
    found = sandbox_secrets({"RELRUN_SANDBOX_DIR": str(tmp_path)})
    assert {"admin-token-value", "jwt-key-value", "demo-password-1"} <= found
    assert "demo" not in found
