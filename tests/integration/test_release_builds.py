"""Real ansible-runner on localhost: the builds gate end to end through the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import free_port, local_inventory, relrun

pytestmark = pytest.mark.integration

HEAD = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
"""


def runbook(tmp_path: Path, builds: str) -> Path:
    path = tmp_path / "rb.yml"
    path.write_text(HEAD + "builds:\n" + builds, encoding="utf-8")
    return path


def test_builds_run_and_reports_are_written(tmp_path: Path) -> None:
    rb = runbook(
        tmp_path,
        """\
  - name: dev
    shell: mkdir -p out && echo built > out/app.txt && echo done
    chdir: "{{ relrun_source_dir }}"
    artifacts: [out/*.txt]
  - name: docs
    argv: [sh, -c, "echo 'no docs today' >&2; exit 3"]
    required: false
""",
    )
    reports = tmp_path / "reports"
    proc = relrun(
        "release", str(rb), "-i", str(local_inventory(tmp_path)), "--report-dir", str(reports)
    )
    assert proc.returncode == 0, proc.stderr
    assert "verdict: pass" in proc.stdout
    assert "all required gates passed" in proc.stdout
    assert "optional builds failed (not required, the release went on): docs @ localhost" in (
        proc.stdout
    )
    assert "Build 2/docs @ localhost: FAILED (optional)" in proc.stderr
    ci = json.loads((reports / "ci.json").read_text())
    dev, docs = ci["builds"]
    assert (dev["name"], dev["status"], dev["rc"], dev["output_tail"]) == (
        "dev",
        "passed",
        0,
        "done",
    )
    (artifact,) = dev["artifacts"]
    assert artifact["path"] == str(tmp_path / "out" / "app.txt")
    assert artifact["size"] == 6

    import hashlib

    assert artifact["sha256"] == hashlib.sha256(b"built\n").hexdigest()
    assert (docs["status"], docs["rc"], docs["output_tail"]) == ("failed", 3, "no docs today")
    junit = ET.parse(reports / "junit.xml").getroot()
    names = [c.get("name") for c in junit.findall("testsuite[@name='gates']/testcase")]
    assert names == ["dev @ localhost", "docs @ localhost"]
    assert (reports / "playbook.yml").read_text().startswith("# Rendered by relrun")
    assert (reports / "journal.jsonl").is_file()
    # ansible-runner's raw stdout (unredacted) is never written; the journal has it all.
    assert not list(reports.glob("ansible/*/artifacts/*/stdout"))
    # Progress is plain timestamped lines when not on a terminal.
    assert "Build 1/dev @ localhost: ok" in proc.stderr


def test_failed_required_build_stops_the_release(tmp_path: Path) -> None:
    rb = runbook(
        tmp_path,
        """\
  - name: first
    shell: exit 7
  - name: never
    shell: touch never-ran
    chdir: "{{ relrun_source_dir }}"
""",
    )
    reports = tmp_path / "reports"
    proc = relrun(
        "release", str(rb), "-i", str(local_inventory(tmp_path)), "--report-dir", str(reports)
    )
    assert proc.returncode == 1
    assert "verdict: fail" in proc.stdout
    assert "build first exit code 7" in proc.stdout
    assert not (tmp_path / "never-ran").exists()
    ci = json.loads((reports / "ci.json").read_text())
    assert [b["name"] for b in ci["builds"]] == ["first"]
    failure = ET.parse(reports / "junit.xml").getroot().find(".//failure")
    assert failure is not None


def test_build_timeout_kills_the_build(tmp_path: Path) -> None:
    rb = runbook(tmp_path, "  - name: slow\n    argv: [sleep, '30']\n    timeout: 1s\n")
    reports = tmp_path / "reports"
    proc = relrun(
        "release", str(rb), "-i", str(local_inventory(tmp_path)), "--report-dir", str(reports)
    )
    assert proc.returncode == 1
    (build,) = json.loads((reports / "ci.json").read_text())["builds"]
    assert build["status"] == "timeout"
    assert build["seconds"] < 10


def test_missing_artifact_fails_the_build(tmp_path: Path) -> None:
    rb = runbook(tmp_path, "  - name: dev\n    shell: 'true'\n    artifacts: [dist/*.whl]\n")
    reports = tmp_path / "reports"
    proc = relrun(
        "release", str(rb), "-i", str(local_inventory(tmp_path)), "--report-dir", str(reports)
    )
    assert proc.returncode == 1
    (build,) = json.loads((reports / "ci.json").read_text())["builds"]
    assert build["missing_artifacts"] == ["dist/*.whl"]


def test_templating_payload_reaches_the_shell_literally(tmp_path: Path) -> None:
    payload = "{{ lookup('pipe', 'id') }}"
    rb = runbook(
        tmp_path,
        f"""\
  - name: echo
    argv: [sh, -c, 'printf "%s" "$1" > payload.txt', sh, "{payload}"]
    chdir: "{{{{ relrun_source_dir }}}}"
  - name: shell
    shell: "printf '%s' \\"{payload}\\" > shell.txt"
    chdir: "{{{{ relrun_source_dir }}}}"
    env:
      PAYLOAD: "{payload}"
""",
    )
    proc = relrun(
        "release",
        str(rb),
        "-i",
        str(local_inventory(tmp_path)),
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "payload.txt").read_text() == payload
    assert (tmp_path / "shell.txt").read_text() == payload


def test_unreachable_host_is_named(tmp_path: Path) -> None:
    rb = runbook(tmp_path, "  - name: dev\n    shell: 'true'\n")
    port = free_port()
    inventory = local_inventory(
        tmp_path,
        extra_hosts={
            "ghost": {
                "ansible_host": "127.0.0.1",
                "ansible_port": port,
                "ansible_connection": "ssh",
                "ansible_ssh_timeout": 5,
            }
        },
    )
    reports = tmp_path / "reports"
    proc = relrun("release", str(rb), "-i", str(inventory), "--report-dir", str(reports))
    assert proc.returncode == 1
    assert "host ghost unreachable" in proc.stdout
    builds = json.loads((reports / "ci.json").read_text())["builds"]
    assert {b["host"]: b["status"] for b in builds}["ghost"] == "unreachable"


def test_invalid_runbook_runs_nothing(tmp_path: Path) -> None:
    rb = runbook(tmp_path, "  - name: dev\n    shell: touch ran\n    colour: red\n")
    reports = tmp_path / "reports"
    proc = relrun(
        "release", str(rb), "-i", str(local_inventory(tmp_path)), "--report-dir", str(reports)
    )
    assert proc.returncode == 2
    assert proc.stderr == f"{rb}:9:5: error: unknown field 'colour' (at builds[0].colour)\n"
    assert not reports.exists()
