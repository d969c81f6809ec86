"""Arguments that would change nothing are refused with exit 2 (issue 17, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from tests.helpers import ROOT

QUICK = ROOT / "tests" / "data" / "quick.yml"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--traffic-log", "log.jsonl"], "--traffic-log has no effect without -i"),
        (["-i", "inv.yml", "--traffic-log", "log.jsonl", "--rate", "5"],
         "--rate, --noise-errors and --noise-latency-ms set up the private sandbox"),
        (["-i", "inv.yml", "--traffic-log", "log.jsonl", "--noise-errors", "0.1"],
         "have no effect with -i"),
    ],
)
def test_a_drill_option_without_effect_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    extra: list[str], message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.jsonl").write_text("")
    (tmp_path / "inv.yml").write_text("all: {hosts: {a: {}}}\n")
    assert run_cli(app, ["drill", str(QUICK), "--report-dir", "reports", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()  # no run directory, no sandbox
