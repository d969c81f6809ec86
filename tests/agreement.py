"""Every signal of a finished run tells the same verdict: record, exit code, JUnit, HTML,
Markdown, history and the console's last lines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from relrun.report.history import default_db_path, list_runs
from relrun.report.markdown import markdown_document
from relrun.report.record import RunRecord
from relrun.report.rundocs import load_run_documents


def assert_signals_agree(
    run_dir: Path, exit_code: int, console: str | None, history_db: Path | None = None
) -> RunRecord:
    """Check every report of the run in ``run_dir`` against its exit code; return its record.

    Args:
        run_dir: the run directory.
        exit_code: what the relrun process exited with.
        console: its standard output and error (None: not captured).
        history_db: the history the run was recorded in (default: this process's).
    """
    docs = load_run_documents(run_dir)  # the record validates
    run = docs.run
    passed = run.verdict == "pass"
    assert run.exit_code == exit_code, (run.exit_code, exit_code, run.reasons)
    assert passed == (exit_code == 0), (run.verdict, exit_code)
    assert all(s.status != "running" for s in run.stages), [s.status for s in run.stages]

    root = ET.parse(run_dir / "junit.xml").getroot()
    failures = int(root.get("failures", "-1"))
    assert (failures == 0) == passed, (failures, run.verdict)
    verdict_case = root.find("testsuite[@name='verdict']/testcase")
    assert verdict_case is not None
    assert (verdict_case.find("failure") is None) == passed

    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f'class="verdict {run.verdict}"' in html
    assert f"— {run.verdict.upper()}" in markdown_document(docs).splitlines()[0]

    where = str(run_dir.resolve())
    rows = [r for r in list_runs(default_db_path(history_db), limit=None) if r.run_dir == where]
    assert rows, "the run is not in the history"
    assert (rows[-1].verdict, rows[-1].exit_code) == (run.verdict, exit_code)

    if console is not None:
        verdicts = [line for line in console.splitlines() if line.startswith("verdict: ")]
        if verdicts:
            assert verdicts[-1] == f"verdict: {run.verdict} (exit {exit_code})", verdicts
        else:
            assert "relrun: error:" in console, console[-2000:]
        for line in console.splitlines():
            # ansible-playbook's own status is not a verdict, and the rollback's outcome
            # task is not a failure when the rollback did its job.
            assert not line.rstrip().endswith((": successful", ": failed")), line
            if "rollback outcome" in line and run.rollback.complete:
                assert "FAILED" not in line, line
    return run
