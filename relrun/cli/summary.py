"""End-of-run summaries printed to standard output: a view of the run record."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from relrun.errors import printable
from relrun.workflows.lifecycle import ReleaseResult


class _Plain:
    """Prints lines as they are: no rich markup read in them, control characters escaped.

    Messages quote commands' output and runbook strings: ``[/x]`` in one would be read as
    markup (and fail), an escape sequence would reach the terminal.
    """

    def __init__(self, console: Console) -> None:
        self.console = console

    def print(self, line: str | Table | Text) -> None:
        if isinstance(line, str):
            line = Text(printable(line, keep_newlines=True))
        self.console.print(line)


def print_release(result: ReleaseResult) -> None:
    """Print the builds table, stages, rollback, the verdict and where the reports are."""
    console = _Plain(Console(highlight=False, soft_wrap=True))
    ci = result.ci
    if ci is not None and ci.builds:
        table = Table(title="Builds", title_justify="left")
        for column in ("build", "host", "status", "seconds", "artifacts"):
            table.add_column(column)
        for build in ci.builds:
            table.add_row(
                *(
                    Text(printable(cell))
                    for cell in (
                        build.name,
                        build.host,
                        build.status,
                        f"{build.seconds or 0:.1f}",
                        str(len(build.artifacts)),
                    )
                )
            )
        console.print(table)
    for run in ci.api_checks if ci is not None else []:
        latency = run.latency
        passed = sum(1 for c in run.checks if c.passed)
        console.print(
            f"API checks ({run.phase}): {passed}/{len(run.checks)} passed"
            + (f", p50 {latency.p50_ms:.0f} ms" if latency.p50_ms is not None else "")
            + (f", p95 {latency.p95_ms:.0f} ms" if latency.p95_ms is not None else "")
        )
        for failed in (c for c in run.checks if not c.passed):
            console.print(f"  - {failed.name}: {failed.message or 'failed'}")
    record = result.report
    if record is not None:
        for stage in record.stages:
            rate, p95 = stage.observed.peak_error_rate, stage.observed.peak_p95_ms
            console.print(
                f"stage {stage.index} {stage.name} ({stage.weight}%): {stage.status}"
                + (f", peak error rate {rate:.1%}" if rate is not None else "")
                + (f", peak p95 {p95:.0f} ms" if p95 is not None else "")
            )
        if record.rollback.ran:
            steps = ", ".join(
                f"{s.name} {s.status} ({s.seconds or 0:.2f}s)" for s in record.rollback.steps
            )
            console.print(f"rollback: {steps}")
        for value, label in ((record.detection_seconds, "detection"), (record.rto_seconds, "RTO")):
            if value is not None:
                console.print(f"{label}: {value:.2f}s")
        traffic = record.traffic
        if traffic is not None:
            console.print(
                f"traffic: {traffic.requests} requests, served by {traffic.served_by}, "
                f"{traffic.injected_failures} injected failures, {traffic.lost} lost"
            )
    colour = "green" if result.verdict == "pass" else "red"
    console.print(
        Text.assemble("verdict: ", (result.verdict, colour), f" (exit {result.exit_code})")
    )
    for reason in result.reasons:
        console.print(f"  - {reason}")
    console.print(f"reports: {result.run_dir}")
