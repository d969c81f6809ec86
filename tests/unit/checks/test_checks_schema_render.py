"""The api_checks schema and its rendering into tasks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from relrun.render.check_tasks import render_check_tasks
from relrun.render.yamlout import Unsafe, dump_yaml
from relrun.runbook.check_models import ApiChecksSection, HttpCheck

CREDS = {"username": "demo", "from_file": "{{ relrun_sandbox_credentials_file }}"}
NATIVE: dict[str, Any] = {
    "credentials": CREDS,
    "checks": [
        {"name": "health", "kind": "health", "version": "2.0"},
        {"name": "auth", "kind": "jwt_auth"},
        {
            "name": "post",
            "kind": "http",
            "request": {
                "method": "POST",
                "path": "/messages",
                "headers": {"Authorization": "Bearer ${captures.token}"},
                "json": {"text": "{{ lookup('pipe', 'id') }}"},
            },
            "expect": {"status": 201},
            "capture": {"message_id": {"json": "id"}, "session": {"header": "Set-Cookie"}},
        },
    ],
}


def errors(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        ApiChecksSection.model_validate(data)
    return str(info.value)


def test_defaults_and_secret_resolution() -> None:
    section = ApiChecksSection.model_validate(NATIVE)
    assert (section.engine, section.host_group) == ("native", "build")
    post = section.checks[2]
    assert isinstance(post, HttpCheck)
    assert post.expect.status == [201]
    assert post.capture["message_id"].secret is False
    assert post.capture["session"].secret is True  # named like a session
    login = ApiChecksSection.model_validate(
        {
            "checks": [
                {
                    "name": "l",
                    "kind": "http",
                    "request": {"method": "POST", "path": "/auth/token"},
                    "capture": {"t": {"json": "access_token"}},
                }
            ]
        }
    ).checks[0]
    assert isinstance(login, HttpCheck) and login.capture["t"].secret is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "checks": [
                    {
                        "name": "a",
                        "kind": "http",
                        "request": {"path": "/", "headers": {"A": "${captures.t}"}},
                    }
                ]
            },
            "${captures.t} is not captured by an earlier check",
        ),
        ({"checks": [{"name": "auth", "kind": "jwt_auth"}]}, "add a `credentials` section"),
        (
            {"checks": [{"name": "a", "kind": "health"}, {"name": "a", "kind": "health"}]},
            "duplicate check name 'a'",
        ),
        (
            {"checks": [{"name": "a", "kind": "http", "request": {"path": "/${oops}"}}]},
            "bad placeholder ${oops}",
        ),
        ({"checks": [{"name": "a", "kind": "smoke"}]}, "does not match any of the expected tags"),
        (
            {
                "checks": [
                    {"name": "a", "kind": "health", "expect": {"json": {"x": {"regex": "("}}}}
                ]
            },
            "invalid regex",
        ),
        (
            {"checks": [{"name": "a", "kind": "health", "timeout": 3}]},
            "Extra inputs are not permitted",
        ),
        ({"checks": []}, "engine native needs at least one check"),
        ({"engine": "newman"}, "engine newman needs `collection`"),
        (
            {
                "engine": "newman",
                "collection": "c.json",
                "checks": [{"name": "a", "kind": "health"}],
            },
            "remove `checks`",
        ),
        (
            {"credentials": {"username": "u"}, "checks": [{"name": "a", "kind": "health"}]},
            "exactly one of password_env",
        ),
        (
            {
                "credentials": {"username": "u", "password_file": "{{ lookup('env', 'X') }}"},
                "checks": [{"name": "a", "kind": "health"}],
            },
            "template fields",
        ),
    ],
)
def test_invalid_sections_say_why(data: dict[str, Any], message: str) -> None:
    assert message in errors(data)


def test_render_native_task() -> None:
    (task,) = render_check_tasks(ApiChecksSection.model_validate(NATIVE), phase="gate")
    args = task["relrun.release.api_check"]
    assert task["name"] == "API check: gate" and task["register"] == "relrun_checks_gate"
    assert task["run_once"] is True
    assert args["base_url"] == "{{ relrun_api_base_url }}" and not isinstance(
        args["base_url"], Unsafe
    )
    assert args["credentials"]["from_file"] == "{{ relrun_sandbox_credentials_file }}"
    assert isinstance(args["credentials"]["username"], Unsafe)
    text = dump_yaml([task])
    # Runbook strings are literals for Ansible: placeholders and Jinja-looking text alike.
    assert "!unsafe 'Bearer ${captures.token}'" in text
    assert "!unsafe '{{ lookup(''pipe'', ''id'') }}'" in text
    assert text == dump_yaml(
        render_check_tasks(ApiChecksSection.model_validate(NATIVE), phase="gate")
    )


def test_render_verify_phase_uses_the_stable_url() -> None:
    section = ApiChecksSection.model_validate(NATIVE)
    (gate,) = render_check_tasks(section, phase="gate", base_url_var="relrun_canary_url")
    assert gate["relrun.release.api_check"]["base_url"] == "{{ relrun_canary_url }}"
    (verify,) = render_check_tasks(section, phase="verify", base_url_var="relrun_stable_url")
    assert verify["relrun.release.api_check"]["base_url"] == "{{ relrun_stable_url }}"
    assert verify["register"] == "relrun_checks_verify"
    with pytest.raises(ValueError, match="phase"):
        render_check_tasks(section, phase="Verify now")
    with pytest.raises(ValueError, match="base_url_var"):
        render_check_tasks(section, phase="verify", base_url_var="x }}{{ y")


def test_render_newman_task() -> None:
    section = ApiChecksSection.model_validate(
        {
            "engine": "newman",
            "collection": "runbooks/collections/messaging-api.postman_collection.json",
            "credentials": {"username_env": "API_USER", "password_env": "API_PASSWORD"},
        }
    )
    (task,) = render_check_tasks(section, phase="gate")
    args = task["relrun.release.newman"]
    assert args["collection"] == "runbooks/collections/messaging-api.postman_collection.json"
    assert args["newman_path"] == "{{ relrun_newman_path | default(omit) }}"
    assert args["credentials"] == {"username_env": "API_USER", "password_env": "API_PASSWORD"}
    assert "checks" not in args
    assert (
        yaml.safe_load(dump_yaml([task]).replace("!unsafe", ""))[0]["register"]
        == "relrun_checks_gate"
    )


def test_the_runbook_names_no_url_the_inventory_does() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        ApiChecksSection.model_validate({**NATIVE, "base_url": "https://api.example.com"})
