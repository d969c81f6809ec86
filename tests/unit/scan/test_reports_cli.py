from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    scan,
)
from relrun.render.scan_tasks import render_scan_tasks
from relrun.render.yamlout import Unsafe
from relrun.runbook.scan_models import ScanSection
from relrun.scan import run_scan
from relrun.scan.reports import write_scan_reports
from tests.unit.scan.helpers import make_jwt

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def dirty(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f'import firebase_admin\nT = "{make_jwt()}"\n')
    return src


def test_write_scan_reports_from_module_result(dirty: Path, tmp_path: Path) -> None:
    result = scan(str(dirty))
    result.update({"changed": False, "invocation": {"module_args": {}}})  # as Ansible returns it
    json_path, sarif_path = write_scan_reports(result, tmp_path / "run")
    data = json.loads(json_path.read_text())
    assert [f["rule"] for f in data["findings"]] == ["forbidden-import", "jwt-literal"]
    sarif = json.loads(sarif_path.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"jwt-literal", "forbidden-import"}
    for res in run["results"]:
        assert res["ruleId"] and res["level"] in ("error", "warning", "note")
        assert res["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
        assert len(res["partialFingerprints"]["relrunFingerprint/v1"]) == 32
    assert make_jwt() not in json_path.read_text() + sarif_path.read_text()


def test_repository_itself_is_clean() -> None:
    result = run_scan(ROOT)
    assert [(f.path, f.line, f.rule) for f in result.findings] == []
    assert result.stats.files > 50


def test_cli_exit_codes_and_output(
    dirty: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    assert run_cli(app, ["scan", str(dirty), "--output-dir", str(out_dir)]) == 1
    out = capsys.readouterr().out
    assert "a.py:1:1: high forbidden-import" in out and "a.py:2:" in out
    assert make_jwt() not in out
    assert (out_dir / "scan.json").exists() and (out_dir / "scan.sarif").exists()
    assert run_cli(app, ["scan", str(dirty), "--fail-on", "critical", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["failing"] == 1
    (dirty / "a.py").write_text("import firebase_admin\n")
    assert run_cli(app, ["scan", str(dirty), "--fail-on", "critical"]) == 0
    capsys.readouterr()


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["scan", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    baseline = tmp_path / "b.json"
    baseline.write_text("{")
    assert run_cli(app, ["scan", str(tmp_path), "--baseline", str(baseline)]) == 2
    assert f"{baseline}:1:1: error:" in capsys.readouterr().err


def test_cli_audit_lists_suppressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.py").write_text("import firebase  # relrun: allow forbidden-import -- shim\n")
    assert run_cli(app, ["scan", str(tmp_path), "--audit"]) == 0
    assert "inline   a.py:1: allow forbidden-import -- shim (used)" in capsys.readouterr().out


def test_render_scan_tasks() -> None:
    section = ScanSection(paths=["api", "{{ evil }}"], baseline=".baseline.json")
    [task] = render_scan_tasks(section, "/srv/src")
    assert task["name"].startswith("Scan:") and task["register"] == "relrun_scan"
    args = task["relrun.release.scan"]
    assert isinstance(args["include"][1], Unsafe)
    # The baseline reaches the module through an unsafe task variable, never templated.
    assert args["baseline"] == "/srv/src/{{ relrun_scan_baseline }}"
    assert task["vars"] == {"relrun_scan_baseline": ".baseline.json"}
    assert isinstance(task["vars"]["relrun_scan_baseline"], Unsafe)
    python = args["policy"]["forbidden_imports"]["python"]
    assert python == ["firebase_admin", "firebase", "pyrebase"]
    assert render_scan_tasks(ScanSection(enabled=False), "/srv/src") == []


def test_scan_section_rejects_bad_input() -> None:
    for bad in ({"fail_on": "urgent"}, {"paths": ["/abs"]}, {"paths": ["../up"]}, {"typo": 1}):
        with pytest.raises(ValidationError):
            ScanSection.model_validate(bad)


RUNBOOK = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
scan:
  fail_on: {fail_on}
  forbidden_imports:
    python: [requests]
  baseline: {baseline}
"""


def test_cli_runbook_supplies_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import requests\nimport firebase_admin\n")
    runbook = tmp_path / "rb.yml"
    runbook.write_text(RUNBOOK.format(fail_on="high", baseline="null"))
    assert run_cli(app, ["scan", str(src), "--runbook", str(runbook), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [("forbidden-import", 1)]
    # --fail-on on the command line wins over the runbook's fail_on.
    assert run_cli(app, ["scan", str(src), "--runbook", str(runbook), "--fail-on", "critical"]) == 0
    runbook.write_text(RUNBOOK.format(fail_on="critical", baseline="null"))
    assert run_cli(app, ["scan", str(src), "--runbook", str(runbook)]) == 0
    # A relative scan.baseline is relative to PATH, the source directory.
    runbook.write_text(RUNBOOK.format(fail_on="high", baseline="accepted.json"))
    assert run_cli(app, ["scan", str(src), "--runbook", str(runbook)]) == 2
    assert f"{src / 'accepted.json'}:1:1: error: cannot read baseline" in capsys.readouterr().err
    assert (
        run_cli(
            app,
            [
                "scan",
                str(src),
                "--runbook",
                str(runbook),
                "--write-baseline",
                str(src / "accepted.json"),
                "--baseline",
                str(tmp_path / "none.json"),
            ],
        )
        == 2
    )
    capsys.readouterr()


def test_cli_invalid_runbook_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = tmp_path / "rb.yml"
    runbook.write_text(RUNBOOK.format(fail_on="urgent", baseline="null"))
    assert run_cli(app, ["scan", str(tmp_path), "--runbook", str(runbook)]) == 2
    err = capsys.readouterr().err
    assert f"{runbook}:7:3: error:" in err and "scan.fail_on" in err
    assert run_cli(app, ["scan", str(tmp_path), "--runbook", str(tmp_path / "missing.yml")]) == 2
    assert f"{tmp_path / 'missing.yml'}:" in capsys.readouterr().err


def test_cli_write_baseline_then_rescan_is_clean(
    dirty: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    assert run_cli(app, ["scan", str(dirty), "--write-baseline", str(baseline)]) == 0
    assert "wrote 2 baseline entries" in capsys.readouterr().err
    entries = json.loads(baseline.read_text())["entries"]
    assert [(e["rule"], e["path"]) for e in entries] == [
        ("forbidden-import", "a.py"),
        ("jwt-literal", "a.py"),
    ]
    assert all(e["reason"] and len(e["fingerprint"]) == 32 for e in entries)
    assert make_jwt() not in baseline.read_text()
    assert run_cli(app, ["scan", str(dirty), "--baseline", str(baseline), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["findings"] == [] and data["failing"] == 0 and len(data["suppressed"]) == 2
    # Rewriting in place keeps the reasons already given and adds the new finding.
    entries[0]["reason"] = "migration shim, removed in 2.1"
    baseline.write_text(json.dumps({"version": 1, "entries": entries}))
    (dirty / "b.py").write_text("import pyrebase\n")
    assert (
        run_cli(
            app,
            ["scan", str(dirty), "--baseline", str(baseline), "--write-baseline", str(baseline)],
        )
        == 0
    )
    rewritten = json.loads(baseline.read_text())["entries"]
    assert [e["path"] for e in rewritten] == ["a.py", "a.py", "b.py"]
    assert rewritten[0]["reason"] == "migration shim, removed in 2.1"
    assert run_cli(app, ["scan", str(dirty), "--baseline", str(baseline)]) == 0
    capsys.readouterr()
