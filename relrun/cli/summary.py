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
    colour = "green" if result.verdict == "pass" else "red"
    console.print(f"verdict: [{colour}]{result.verdict}[/{colour}]")
    for reason in result.reasons:
        console.print(f"  - {reason}")
    console.print(f"reports: {result.run_dir}")
