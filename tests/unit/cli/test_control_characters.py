"""Terminal escapes in runbook strings and command output reach no terminal raw (issue 14).

Each surface that prints text relrun did not write itself: the plan, the progress lines
(a failed command's output), the end-of-run summary, and relrun's own notices.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.cli.summary import print_release
from relrun.run.console import LiveProgress, PlainProgress
from relrun.run.events import TaskResult
from relrun.runbook.steps import StepRef
from relrun.workflows.lifecycle import ReleaseResult
from tests.helpers import ROOT

# Clear the screen, turn red, set the window title, ring the bell, a C1 CSI.
HOSTILE = "\x1b[2J\x1b[31mRED\x1b]0;pwned\x07\x9b"
ESCAPED = "\\x1b[2J\\x1b[31mRED\\x1b]0;pwned\\x07\\x9b"
FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"


def raw_controls(text: str) -> set[str]:
    return {c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0}


def hostile_runbook(tmp_path: Path) -> Path:
    text = FLAGSHIP.read_text(encoding="utf-8")
    yaml_hostile = '"\\e[2J\\e[31mRED\\e]0;pwned\\a\\x9b"'  # YAML's own escapes
    text = text.replace("  description: >-\n", f"  description: {yaml_hostile}\n  x: >-\n", 1)
    text = text.replace("  x: >-\n", "", 1)
    text = text.replace(
        "    Messaging API v2.0: JWT authentication instead of Firebase, rate limiting and\n"
        "    server-sent events. Canary 5% → Blue-Green 25% → Blue-Green 50% → Full 100%.\n",
        "",
        1,
    )
    text = text.replace("path: /messages\n", 'path: "/messages\\e[2J"\n', 1)
    path = tmp_path / "runbook.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_plan_escapes_runbook_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(app, ["plan", str(hostile_runbook(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == set()
    assert ESCAPED in out
    assert "/messages\\x1b[2J" in out


def failed_build(output: str) -> TaskResult:
    build: dict[str, Any] = {"name": "docs", "status": "failed", "rc": 1, "required": True}
    build["output_tail"] = output
    return TaskResult(
        play="Gates",
        task=StepRef.build(1, "docs").task,
        action="relrun.release.build",
        host="build1",
        status="failed",
        result={"msg": f"build docs exit code 1 {HOSTILE}", "build": build},
    )


def test_progress_lines_escape_a_failed_commands_output() -> None:
    stream = io.StringIO()
    PlainProgress(stream)(failed_build(f"compiling\n{HOSTILE}\n"))
    printed = stream.getvalue()
    assert raw_controls(printed) == set()
    assert f"| {ESCAPED}" in printed
    assert printed.count("\n") == 4, "the output's own lines stay lines"


def test_the_live_view_escapes_it_too() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    progress = LiveProgress(console)
    try:
        progress(failed_build(HOSTILE))
    finally:
        progress.close()
    assert ESCAPED in out.getvalue()
    assert "\x07" not in out.getvalue() and "]0;pwned" not in out.getvalue().replace(ESCAPED, "")


def test_the_summary_prints_reasons_as_text_not_markup_or_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "[/x]" read as rich markup raised MarkupError: a traceback at the very end of a run.
    reasons = [f"build docs failed: {HOSTILE}", "output said [/x] and [bold]"]
    print_release(ReleaseResult(tmp_path, "fail", 1, reasons))
    out = capsys.readouterr().out
    assert raw_controls(out) == set()
    assert f"  - build docs failed: {ESCAPED}" in out
    assert "  - output said [/x] and [bold]" in out
    assert "verdict: fail (exit 1)" in out
