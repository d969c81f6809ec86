"""``relrun history`` and ``relrun report``: past runs, the RTO trend, regenerated reports."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from relrun.cli.app import app
from relrun.cli.output import write_output
from relrun.errors import EXIT_FAILED, EXIT_OK, InputError
from relrun.report.history import (
    HistoryError,
    HistoryRun,
    TrendPoint,
    current_regressions,
    get_documents,
    list_runs,
    trend,
)
from relrun.report.view import NONE, timestamp

HistoryDbOpt = typer.Option(
    None,
    "--history-db",
    help="History database (default $RELRUN_HISTORY_DB, $RELRUN_STATE_DIR/history.db, "
    "~/.local/state/relrun/history.db).",
)


class ReportFormat(StrEnum):
    """Formats ``relrun report`` regenerates."""

    html = "html"
    json = "json"
    md = "md"


def _s(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}s"


def _run_line(run: HistoryRun) -> str:
    head = (
        f"{run.id}  {timestamp(run.started):<23}  {run.kind:<8}  "
        f"{run.runbook} {run.runbook_version or ''}  {run.verdict or NONE:<5}  "
    )
    if run.kind == "check":  # no rollout: what a check run has is its checks
        failed = NONE if run.checks_failed is None else run.checks_failed
        return head + f"checks failed {failed}"
    return head + (
        f"detect {_s(run.detection_seconds)}  RTO {_s(run.rto_seconds)}"
        f"/{_s(run.rto_budget_seconds)}  lost {NONE if run.lost is None else run.lost}"
        + (f"  judged by {run.analysis_method}" if run.analysis_method else "")
    )


def _trend_line(point: TrendPoint) -> str:
    flag = f"  REGRESSION: {point.why}" if point.regression else ""
    return (
        f"{point.run.id}  {timestamp(point.run.started):<23}  {point.run.runbook:<16}  "
        f"detect {_s(point.run.detection_seconds):>7}  RTO {_s(point.run.rto_seconds):>7}  "
        f"median-5 {_s(point.baseline):>7}  budget {_s(point.run.rto_budget_seconds)}{flag}"
    )


@app.command()
def history(
    runbook: str | None = typer.Option(None, "--runbook", help="Only this runbook's runs."),
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many runs."),
    as_json: bool = typer.Option(False, "--json", help="JSON on standard output."),
    show_trend: bool = typer.Option(
        False, "--trend", help="Detection and RTO across drills; exit 1 on an RTO regression."
    ),
    history_db: Path | None = HistoryDbOpt,
) -> int:
    """List recorded runs, or (--trend) flag drills whose rollback got slower."""
    try:
        if show_trend:
            points = trend(history_db, runbook)
            regressed = current_regressions(points)
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "drills": [p.to_json() for p in points],
                            "regressions": [p.run.id for p in regressed],
                        },
                        indent=2,
                        sort_keys=True,
                    )
                )
            else:
                for point in points:
                    typer.echo(_trend_line(point))
                for point in regressed:
                    typer.echo(
                        f"relrun: RTO regression in {point.run.runbook} "
                        f"(drill {point.run.id}): {point.why}",
                        err=True,
                    )
            return EXIT_FAILED if regressed else EXIT_OK
        runs = list_runs(history_db, runbook, limit)
    except HistoryError as err:
        raise InputError(str(err)) from None
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in runs], indent=2, sort_keys=True))
    else:
        for run in runs:
            typer.echo(_run_line(run))
    return EXIT_OK


@app.command()
def report(
    run_id: str | None = typer.Argument(
        None, help="A run id from `relrun history` (or a prefix).", metavar="RUN_ID"
    ),
    output_format: ReportFormat = typer.Option(
        ReportFormat.html, "--format", help="html, json (the stored documents) or md."
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write here (atomically); - or none: stdout."
    ),
    history_db: Path | None = HistoryDbOpt,
    from_artifacts: Path | None = typer.Option(
        None, "--from-artifacts", metavar="DIR",
        help="Instead of RUN_ID: build every report of a run relrun did not start, from its "
        "job events (ansible-runner artifacts, AWX job events JSON, or the "
        "relrun.release.journal callback's directory).",
    ),
    runbook: Path | None = typer.Option(
        None, "--runbook", help="With --from-artifacts: the runbook the playbook came from."
    ),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="With --from-artifacts: where the reports go."
    ),
    traffic_log: Path | None = typer.Option(
        None, "--traffic-log", help="With --from-artifacts: the load generator's log."
    ),
    job_id: str | None = typer.Option(
        None, "--run-id", help="With --from-artifacts: the engine's id of the run (AWX job)."
    ),
) -> int:
    """Regenerate a recorded run's report from the history, or build one from artifacts."""
    if from_artifacts is not None:
        if run_id is not None or runbook is None:
            raise InputError("--from-artifacts takes --runbook RUNBOOK and no RUN_ID")
        from relrun.cli.summary import print_release
        from relrun.workflows.artifacts import report_from_artifacts

        result = report_from_artifacts(from_artifacts, runbook, report_dir, traffic_log, job_id)
        print_release(result)
        return result.exit_code
    if run_id is None:
        raise InputError("give a RUN_ID from `relrun history`, or --from-artifacts DIR")
    try:
        docs = get_documents(run_id, history_db)
    except HistoryError as err:
        raise InputError(str(err)) from None
    if output_format is ReportFormat.html:
        from relrun.report.html import html_document

        text = html_document(docs)
    elif output_format is ReportFormat.md:
        from relrun.report.markdown import markdown_document

        text = markdown_document(docs)
    else:
        text = json.dumps(docs.to_json(), indent=2, sort_keys=True) + "\n"
    write_output(output, text)
    return EXIT_OK
