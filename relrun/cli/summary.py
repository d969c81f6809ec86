"""End-of-run summaries printed to standard output."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from relrun.workflows.release import ReleaseResult


def print_release(result: ReleaseResult) -> None:
    """Print the verdict, the builds table and where the reports are."""
    console = Console(highlight=False, soft_wrap=True)
    builds = result.ci.get("builds", [])
    if builds:
        table = Table(title="Builds", title_justify="left")
        for column in ("build", "host", "status", "seconds", "artifacts"):
            table.add_column(column)
        for build in builds:
            table.add_row(
                str(build.get("name")),
                str(build.get("host")),
                str(build.get("status")),
                f"{build.get('seconds', 0):.1f}",
                str(len(build.get("artifacts", []))),
            )
        console.print(table)
    for run in result.ci.get("api_checks", []):
        latency = run.get("latency", {})
        passed = sum(1 for c in run["checks"] if c["passed"])
        console.print(
            f"API checks ({run['phase']}): {passed}/{len(run['checks'])} passed"
            + (f", p50 {latency['p50_ms']:.0f} ms" if latency.get("p50_ms") is not None else "")
            + (f", p95 {latency['p95_ms']:.0f} ms" if latency.get("p95_ms") is not None else "")
        )
        for failed in (c for c in run["checks"] if not c["passed"]):
            console.print(f"  - {failed['name']}: {failed.get('message') or 'failed'}")
    report = result.report
    for stage in report.get("stages", []):
        metrics = stage.get("metrics", {})
        rate = metrics.get("max_error_rate")
        p95 = metrics.get("max_p95_ms")
        console.print(
            f"stage {stage['index']} {stage['name']} ({stage.get('weight')}%): {stage['status']}"
            + (f", max error rate {rate:.1%}" if rate is not None else "")
            + (f", max p95 {p95:.0f} ms" if p95 is not None else "")
        )
    rollback = report.get("rollback") or {}
    if rollback.get("ran"):
        steps = ", ".join(
            f"{s['name']} {s['status']} ({s['seconds'] or 0:.2f}s)" for s in rollback["steps"]
        )
        console.print(f"rollback: {steps}")
    for key, label in (("detection_seconds", "detection"), ("rto_seconds", "RTO")):
        if report.get(key) is not None:
            console.print(f"{label}: {report[key]:.2f}s")
    traffic = report.get("traffic")
    if traffic:
        console.print(
            f"traffic: {traffic['requests']} requests, served by {traffic['served_by']}, "
            f"{traffic['injected_failures']} injected failures, {traffic['lost']} lost"
        )
    colour = "green" if result.verdict == "pass" else "red"
    console.print(f"verdict: [{colour}]{result.verdict}[/{colour}]")
    for reason in result.reasons:
        console.print(f"  - {reason}")
    console.print(f"reports: {result.run_dir}")
