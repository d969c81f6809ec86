from __future__ import annotations

from pathlib import Path

import yaml

from relrun.render.playbook import render_playbook
from relrun.runbook.loader import load_runbook

RUNBOOK = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
vars:
  greeting: "{{ lookup('pipe', 'id') }}"
builds:
  - name: dev
    shell: "echo {{ lookup('pipe', 'id') }}"
    chdir: "{{ source_dir }}"
    env:
      TOKEN_HINT: "{% raw %}x{% endraw %}"
    artifacts: ["dist/{{ x }}*"]
  - name: docs
    argv: [make, "{{ bad }}"]
    required: false
"""


def rendered(tmp_path: Path) -> str:
    path = tmp_path / "demo.yml"
    path.write_text(RUNBOOK, encoding="utf-8")
    return render_playbook(load_runbook(path))


def test_rendering_is_byte_identical(tmp_path: Path) -> None:
    assert rendered(tmp_path) == rendered(tmp_path)


def test_header_records_runbook_and_sha(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    loaded = load_runbook(tmp_path / "demo.yml")
    assert text.splitlines()[1] == "# runbook: demo 1.0"
    assert text.splitlines()[2] == f"# runbook sha256: {loaded.sha256}"


def test_runbook_strings_are_unsafe_and_templates_are_not(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    assert "shell: !unsafe 'echo {{ lookup(''pipe'', ''id'') }}'" in text
    assert "greeting: !unsafe '{{ lookup(''pipe'', ''id'') }}'" in text
    assert "TOKEN_HINT: !unsafe '{% raw %}x{% endraw %}'" in text
    assert "- !unsafe 'dist/{{ x }}*'" in text
    assert "- !unsafe '{{ bad }}'" in text
    # chdir is a Template field: left for Ansible to resolve.
    assert "chdir: '{{ source_dir }}'" in text


def test_tasks_are_named_and_fully_qualified(tmp_path: Path) -> None:
    plays = yaml.load(rendered(tmp_path).replace("!unsafe", ""), Loader=yaml.SafeLoader)
    tasks = plays[0]["tasks"]
    assert [t["name"] for t in tasks] == ["Build 1/dev", "Build 2/docs"]
    assert all("relrun.release.build" in t for t in tasks)
    assert tasks[1]["relrun.release.build"]["required"] is False


def test_stable_check_before_a_stage_can_fail_on_its_one_sample(tmp_path: Path) -> None:
    path = tmp_path / "quick.yml"
    text = (Path(__file__).parents[2] / "data" / "quick.yml").read_text(encoding="utf-8")
    path.write_text(
        text.replace("  max_p95_ms: 1000\n", "  max_p95_ms: 1000\n  consecutive_breaches: 3\n")
    )
    plays = yaml.load(
        render_playbook(load_runbook(path)).replace("!unsafe", ""), Loader=yaml.SafeLoader
    )
    tasks = {t["name"]: t for p in plays if p["name"].startswith("Rollout stage 1/3")
             for t in p["tasks"][0].get("block", [])}
    stable = tasks["Stage 1/3 Canary 10%: stable is healthy"]["relrun.release.analysis"]
    canary = tasks["Stage 1/3 Canary 10%: analysis for 3s"]["relrun.release.analysis"]
    assert (stable["duration"], stable["consecutive_breaches"]) == (0, 1)
    assert canary["consecutive_breaches"] == 3
