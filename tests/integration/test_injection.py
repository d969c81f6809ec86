"""No string in a runbook ever executes through Ansible's templating.

Every string field of a valid runbook that reaches the playbook — builds, scan, API
checks, deploy steps, readiness, rollback hooks and cleanup, vars, metadata — holds
Jinja payloads (``{{ }}``, ``{% %}``, ``{# #}``, ``${{ }}``, nested quotes) that would
each create their own marker file if Ansible evaluated them. A real drill through the
sandbox runs every one of those tasks (gates, deploy, stage, rollback with hooks, verify
checks, cleanup); afterwards no marker exists, and the payloads arrived as written.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from relrun.render.playbook import render_playbook
from relrun.runbook.loader import load_runbook
from relrun.sandbox.layout import Layout
from tests.integration.sandbox_env import INVENTORY, run_relrun

pytestmark = pytest.mark.integration


def payload(markers: Path, tag: str) -> str:
    """Jinja in every form, each touching ``markers/<tag>-<form>`` when evaluated."""

    def touch(form: str) -> str:
        return f"lookup('pipe','touch {markers}/{tag}-{form}')"

    return (
        f"{{{{ {touch('expr')} }}}} "
        f"{{% set _x = {touch('stmt')} %}}{{% if {touch('if')} %}}{{% endif %}} "
        f"{{# {touch('comment')} #}} "
        f"${{{{ {touch('dollar')} }}}} "
        f"\"'{{{{ \"a\" ~ {touch('quoted')} ~ 'b' }}}}'\""
    )


def printf(markers: Path, tag: str) -> str:
    """A shell command printing the payload literally (if nothing templated it)."""
    return "printf '%s\\n' " + shlex.quote(payload(markers, tag))


def runbook(markers: Path) -> dict[str, object]:
    def p(tag: str) -> str:
        return payload(markers, tag)

    def step(tag: str, **extra: object) -> dict[str, object]:
        return {
            "name": tag,
            "shell": printf(markers, tag) + ' && printf "%s\\n" "$PAYLOAD"',
            "env": {"PAYLOAD": p(f"{tag}-env")},
            **extra,
        }

    sandbox_env = {
        "RELRUN_SERVICE_CTL": "relrun_service_ctl",
        "RELRUN_SANDBOX_DIR": "relrun_sandbox_state_dir",
    }
    return {
        "apiVersion": "relrun/v1",
        "kind": "Runbook",
        "metadata": {
            "name": "injection",
            "version": p("version"),
            "description": p("description"),
            "owners": [{"name": p("owner"), "role": p("role"), "contact": p("contact")}],
        },
        "vars": {"relrun_t_payload": p("vars")},
        "scan": {
            "paths": ["src", p("scan-path")],
            "exclude": [p("scan-exclude")],
            "forbidden_imports": {"python": [p("scan-python")], "js": [p("scan-js")]},
        },
        "builds": [
            {
                "name": "shell",
                "shell": printf(markers, "build-shell"),
                "env": {"PAYLOAD": p("build-env")},
                "chdir": "{{ relrun_source_dir }}",
                "artifacts": [p("build-artifact")],
            },
            {"name": "argv", "argv": ["printf", "%s\\n", p("build-argv")]},
            {
                # A runbook var used by a template field arrives as its literal value.
                "name": "vars",
                "argv": ["true"],
                "chdir": "{{ relrun_source_dir }}/{{ relrun_t_payload }}",
            },
        ],
        "api_checks": {
            "credentials": {"username": "demo", "from_file": "{{ relrun_api_credentials_file }}"},
            "checks": [
                {"name": "jwt", "kind": "jwt_auth", "description": p("check-description")},
                {
                    "name": "echo",
                    "kind": "http",
                    "request": {
                        "method": "POST",
                        "path": "/messages",
                        "headers": {
                            "Authorization": "Bearer ${captures.token}",
                            "X-Payload": p("check-header"),
                        },
                        "query": {"q": p("check-query")},
                        "json": {"text": p("check-json")},
                    },
                    "expect": {
                        "status": 201,
                        "json": {"text": {"equals": p("check-json")}},
                    },
                },
                {
                    "name": "expectations",
                    "kind": "http",
                    "required": False,
                    "request": {"path": "/health"},
                    "expect": {
                        "json": {"status": {"regex": re.escape(p("check-regex"))}},
                        "headers": {"x-payload": {"equals": p("check-expect-header")}},
                    },
                },
            ],
        },
        "deploy": {
            "steps": [
                step("deploy-payload"),
                {
                    "name": "start-canary",
                    "shell": "$RELRUN_SERVICE_CTL start canary --version 2.0",
                    "env_from_vars": sandbox_env,
                },
            ],
            # URLs cannot hold spaces: the compact form, with the shell's ${IFS} for one.
            "readiness": {
                "path": f"/health?p={{{{lookup('pipe','touch${{IFS}}{markers}/readiness')}}}}",
                "timeout": "30s",
            },
        },
        "traffic": {"driver": "sandbox"},
        "analysis": {"interval": "500ms", "window": "2s", "min_requests": 1},
        "rollout": {"stages": [{"name": "Canary 50%", "weight": 50, "bake": "20s"}]},
        "rollback": {
            "rto_budget": "30s",
            "drain": {"timeout": "5s"},
            "verify": {"analysis_window": "1s"},
            "hooks": {
                name: [step(f"hook-{name}")]
                for name in ("before_stop_deployment", "after_switch_traffic", "after_cleanup")
            },
            "cleanup": {
                "steps": [
                    step("cleanup-payload"),
                    {
                        "name": "stop-canary",
                        "shell": "$RELRUN_SERVICE_CTL stop canary",
                        "env_from_vars": sandbox_env,
                    },
                ]
            },
        },
        "drill": {"fault": {"kind": "error_rate", "value": 1.0, "stage": "Canary 50%"}},
    }


def test_runbook_strings_never_execute(sandbox: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    for scanned in ("src", payload(markers, "scan-path")):
        (tmp_path / scanned).mkdir(parents=True)
        (tmp_path / scanned / "app.py").write_text("import json\n", encoding="utf-8")
    (tmp_path / payload(markers, "vars")).mkdir(parents=True)
    artifact = tmp_path / payload(markers, "build-artifact")
    artifact.parent.mkdir(parents=True)
    artifact.write_text("built\n", encoding="utf-8")
    path = tmp_path / "injection.yml"
    path.write_text(yaml.safe_dump(runbook(markers), allow_unicode=True), encoding="utf-8")
    reports = tmp_path / "reports"

    proc = run_relrun(
        [
            "drill",
            str(path),
            "-i",
            str(INVENTORY),
            "--traffic-log",
            str(Layout.at(sandbox).traffic_log),
            "--report-dir",
            str(reports),
        ],
        sandbox,
        tmp_path,
    )

    assert sorted(p.name for p in markers.iterdir()) == []
    # Every payload-carrying task really ran, and the literals arrived intact.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    drill = json.loads((reports / "drill.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in drill["rollback"]["steps"]] == ["passed"] * 5
    ci = json.loads((reports / "ci.json").read_text(encoding="utf-8"))
    assert [b["status"] for b in ci["builds"]] == ["passed"] * 3
    assert ci["builds"][0]["artifacts"][0]["path"] == str(artifact)
    outputs = {b["name"]: b["output_tail"] for b in ci["builds"]}
    assert outputs["shell"] == payload(markers, "build-shell")
    assert outputs["argv"] == payload(markers, "build-argv")
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    for tag in (
        "deploy-payload",
        "hook-before_stop_deployment",
        "hook-after_cleanup",
        "cleanup-payload",
    ):
        for text in (payload(markers, tag), payload(markers, f"{tag}-env")):
            assert json.dumps(text)[1:-1] in journal, tag
    checks = {c["name"]: c for gate in ci["api_checks"] for c in gate["checks"]}
    assert checks["echo"]["passed"], checks["echo"]


def test_a_version_cannot_break_out_of_the_header_comment(tmp_path: Path) -> None:
    data = runbook(tmp_path)
    data["metadata"] = {"name": "x", "version": "1\n- hosts: all\n  tasks: [{command: id}]"}
    path = tmp_path / "rb.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    text = render_playbook(load_runbook(path))
    comments = text.split("---", 1)[0]
    assert all(line.startswith("#") for line in comments.splitlines())
