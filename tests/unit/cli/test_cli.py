from __future__ import annotations

import json
from pathlib import Path

import pytest

from relrun import __version__
from relrun.cli import app
from relrun.cli.errors import run_cli
from tests.helpers import ROOT

FLAGSHIP = str(ROOT / "runbooks" / "release-v2.yml")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["--version"]) == 0
    assert capsys.readouterr().out == f"relrun {__version__}\n"


def test_validate_ok_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["validate", FLAGSHIP]) == 0
    assert "ok (release-v2 2.0.0)" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("apiVersion: relrun/v1\nkind: Runbook\n")
    assert run_cli(app, ["validate", FLAGSHIP, str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{bad}:1:1: error: missing required field 'metadata' (at metadata)\n"
    assert "Traceback" not in captured.err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["release", FLAGSHIP]) == 2
    assert "Missing option '-i' / '--inventory'" in capsys.readouterr().err
    assert run_cli(app, ["no-such-command"]) == 2


def test_missing_inventory_is_positioned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yml"
    assert run_cli(app, ["release", FLAGSHIP, "-i", str(missing)]) == 2
    assert capsys.readouterr().err == f"{missing}:1:1: error: no such file\n"


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "relrun runbook (relrun/v1)"
    assert "builds" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_docs_runbook_reference_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["schema", "--markdown"]) == 0
    generated = capsys.readouterr().out
    committed = (ROOT / "docs" / "runbook.md").read_text()
    assert generated in committed, "docs/runbook.md is stale: relrun schema --markdown"


def test_plan_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["plan", FLAGSHIP]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Plan for release-v2 2.0.0")
    assert 'Build "dev": run `python3 -m compileall -q relrun/sandbox`' in out


def test_render_to_file_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pb.yml"
    assert run_cli(app, ["render", FLAGSHIP, "-o", str(out)]) == 0
    assert run_cli(app, ["render", FLAGSHIP, "--check", str(out)]) == 0
    out.write_text(out.read_text() + "\n")
    assert run_cli(app, ["render", FLAGSHIP, "--check", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
