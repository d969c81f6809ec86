"""``relrun scan PATH``: the security scan gate, standalone."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from relrun.cli.app import app
from relrun.errors import EXIT_FAILED, EXIT_OK, InputError, Problem
from relrun.runbook.scan_models import ScanSection


class OutputFormat(StrEnum):
    """What ``relrun scan`` prints on standard output."""

    text = "text"
    json = "json"
    sarif = "sarif"


class Severity(StrEnum):
    """Severity thresholds."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


@app.command()
def scan(
    path: Path = typer.Argument(..., help="Directory or file to scan.", metavar="PATH"),
    output_format: OutputFormat = typer.Option(
        OutputFormat.text, "--format", help="Standard output: text, json or sarif."
    ),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="Also write scan.json and scan.sarif into this directory."
    ),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="Baseline file of accepted findings (JSON or YAML); overrides the runbook's.",
        metavar="FILE",
    ),
    new_baseline: Path | None = typer.Option(
        None,
        "--write-baseline",
        help="Write every finding to this baseline file (keeping entries --baseline "
        "already accepted), then exit 0. Review each entry's reason.",
        metavar="FILE",
    ),
    runbook: Path | None = typer.Option(
        None,
        "--runbook",
        help="Take the scan settings (forbidden imports, fail_on, paths, exclude, "
        "max_file_size, baseline) from this runbook's scan section.",
        metavar="RUNBOOK",
    ),
    fail_on: Severity | None = typer.Option(
        None,
        "--fail-on",
        help="Lowest severity that makes the exit code 1 (default: the runbook's, else high).",
        show_default=False,
    ),
    audit: bool = typer.Option(
        False, "--audit", help="List every suppression in force (inline, baseline, ignore)."
    ),
    history: bool = typer.Option(
        False,
        "--history",
        help="Also scan every blob past commits added (git on this machine); findings "
        "carry the commit.",
    ),
    since: str = typer.Option(
        "", "--since", help="With --history: only commits since this date (git log --since).",
        metavar="DATE",
    ),
    no_ignore: bool = typer.Option(
        False, "--no-ignore", help="Also scan what .gitignore ignores (default: left out)."
    ),
) -> int:
    """Scan for forbidden imports, plaintext tokens and secret leaks (exit 1 on findings)."""
    # Here, not at the top: the scan engine's import costs every other command's start-up
    # (about a quarter of it).
    from relrun.scan import run_scan
    from relrun.scan.baseline import write_baseline
    from relrun.scan.reports import scan_json, scan_sarif, write_scan_reports
    from relrun.scan.text import format_audit, format_findings, format_notices

    if since and not history:
        raise InputError([Problem(str(path), 1, 1, "--since needs --history")])
    section = _section(runbook)
    if fail_on is not None:
        section = section.model_copy(update={"fail_on": fail_on.value})
    result = run_scan(path, section, baseline, history=history, since=since,
                      gitignore=not no_ignore)
    if output_dir is not None:
        try:
            write_scan_reports(scan_json(result), output_dir)
        except OSError as err:
            raise InputError(f"--output-dir {output_dir}: cannot write: {err.strerror}") from None
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(scan_json(result), indent=2, sort_keys=True))
    elif output_format is OutputFormat.sarif:
        typer.echo(json.dumps(scan_sarif(result), indent=2))
    else:
        for line in format_findings(result):
            typer.echo(line)
    for line in format_notices(result):
        print(line, file=sys.stderr)
    if audit:
        for line in format_audit(result):
            typer.echo(line, err=output_format is not OutputFormat.text)
    if new_baseline is not None:
        try:
            count = write_baseline(result, new_baseline)
        except OSError as err:
            raise InputError(f"cannot write {new_baseline}: {err.strerror}") from None
        typer.echo(
            f"relrun: wrote {count} baseline entries to {new_baseline}; give each its reason",
            err=True,
        )
        return EXIT_OK
    return EXIT_FAILED if result.failed else EXIT_OK


def _section(runbook: Path | None) -> ScanSection:
    """The runbook's scan section (defaults without one); exit 2 if the runbook is invalid."""
    if runbook is None:
        return ScanSection()
    from relrun.runbook.loader import load_runbook

    return load_runbook(runbook).runbook.scan or ScanSection()
