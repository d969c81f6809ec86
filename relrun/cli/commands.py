"""Core commands: validate, schema, plan, render, release."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from relrun.cli import errors
from relrun.cli.app import app
from relrun.cli.output import write_output
from relrun.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    InputError,
    Problem,
    printable,
)

if TYPE_CHECKING:
    from relrun.run.events import Handler
    from relrun.workflows.lifecycle import ReleaseResult

RunbookArg = typer.Argument(
    ..., help="The runbook YAML file.", show_default=False, metavar="RUNBOOK"
)
InventoryOpt = typer.Option(..., "-i", "--inventory", help="Ansible inventory file.")


@app.command()
def validate(
    runbooks: list[Path] = typer.Argument(
        ..., help="Runbook files.", show_default=False, metavar="RUNBOOK"
    ),
    inventory: Path | None = typer.Option(
        None,
        "-i",
        "--inventory",
        help="Also check the target groups, and the variables their hosts need, in this inventory.",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> int:
    """Check runbooks; print every problem as FILE:LINE:COL and exit 2 if there is any."""
    from relrun.run.inventory import load_inventory
    from relrun.runbook.loader import load_runbook
    from relrun.workflows.release import inventory_problems

    try:
        loaded_inventory = load_inventory(inventory, run_scripts=False) if inventory else None
    except InputError as err:
        if not as_json:
            raise
        typer.echo(json.dumps(validation_document([], err.problems), indent=2))
        return EXIT_BAD_INPUT
    groups = loaded_inventory.groups if loaded_inventory else None
    problems: list[Problem] = []
    valid: list[dict[str, str]] = []
    for path in runbooks:
        try:
            loaded = load_runbook(path, groups)
        except InputError as err:
            problems.extend(err.problems or [Problem(str(path), 1, 1, err.message)])
            continue
        if loaded_inventory is not None:
            missing = inventory_problems(loaded, loaded_inventory)
            if missing:
                problems.extend(missing)
                continue
        meta = loaded.runbook.metadata
        valid.append({"file": str(path), "name": meta.name, "version": meta.version})
        if not as_json:
            typer.echo(printable(f"{path}: ok ({meta.name} {meta.version})"))
    if as_json:
        typer.echo(json.dumps(validation_document(valid, problems), indent=2))
        return EXIT_BAD_INPUT if problems else EXIT_OK
    if problems:
        raise InputError(problems)
    return EXIT_OK


def validation_document(valid: list[dict[str, str]], problems: list[Problem]) -> dict[str, Any]:
    """``relrun validate --json``: the valid runbooks and every problem, positioned."""
    return {
        "format": 1,
        "ok": not problems,
        "runbooks": valid,
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "message": p.message,
                "path": p.path,
                "text": str(p),
            }
            for p in problems
        ],
    }


@app.command()
def schema(
    markdown: bool = typer.Option(False, "--markdown", help="The reference document instead."),
) -> int:
    """Print the runbook JSON Schema (for editors) or its Markdown reference."""
    from relrun.runbook.docs import json_schema, runbook_reference

    if markdown:
        sys.stdout.write(runbook_reference())
    else:
        typer.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


@app.command()
def plan(
    runbook: Path = RunbookArg,
    as_json: bool = typer.Option(False, "--json", help="The plan as one JSON document."),
) -> int:
    """Say what a release of RUNBOOK will do, in order, in plain words."""
    from relrun.render.documents import render_plan
    from relrun.render.plan import plan_data
    from relrun.runbook.loader import load_runbook

    loaded = load_runbook(runbook)
    if as_json:
        typer.echo(json.dumps(plan_data(loaded), indent=2))
    else:
        sys.stdout.write(render_plan(loaded))
    return EXIT_OK


@app.command()
def render(
    runbook: Path = RunbookArg,
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write here (atomically); - or none: stdout."
    ),
    check: Path | None = typer.Option(
        None,
        "--check",
        help="Exit 1 if this rendered playbook is out of date.",
    ),
) -> int:
    """Render RUNBOOK into an Ansible playbook (deterministic YAML)."""
    from relrun.render.playbook import render_playbook
    from relrun.runbook.loader import load_runbook

    text = render_playbook(load_runbook(runbook))
    if check is not None:
        try:
            current = check.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            typer.echo(
                f"{check}: out of date with {runbook}; run: relrun render {runbook} -o {check}",
                err=True,
            )
            return EXIT_FAILED
        typer.echo(f"{check}: up to date")
        return EXIT_OK
    write_output(output, text)
    return EXIT_OK


@app.command()
def release(
    runbook: Path = RunbookArg,
    inventory: Path = InventoryOpt,
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where reports go."),
) -> int:
    """Run a release: gates, deploy, stages; roll back on any breach."""
    from relrun.workflows.release import release as run_release

    return _with_progress(lambda shown: run_release(runbook, inventory, report_dir, shown, _say))


def _say(text: str) -> None:
    typer.echo(printable(f"relrun: {text}", keep_newlines=True), err=True)


def _with_progress(work: Callable[[Handler], ReleaseResult]) -> int:
    """Run a workflow under the live (or plain) progress display, then print its summary."""
    from relrun.cli.summary import print_release
    from relrun.run.console import LiveProgress, make_progress

    progress = make_progress(False if errors.NON_INTERACTIVE else None)
    try:
        result = work(progress)
    finally:
        if isinstance(progress, LiveProgress):
            progress.close()
    print_release(result)
    return result.exit_code


@app.command()
def drill(
    runbook: Path = RunbookArg,
    inventory: Path | None = typer.Option(
        None, "-i", "--inventory", help="Environment to drill; default: a private sandbox."
    ),
    fault: str | None = typer.Option(
        None, "--fault", help="KIND=VALUE: error_rate=0.5, latency=6000, crash, none."
    ),
    at: str | None = typer.Option(None, "--at", help="Stage name where the fault is injected."),
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where reports go."),
    traffic_log: Path | None = typer.Option(
        None, "--traffic-log", help="Load generator log of the environment (with -i)."
    ),
    rate: float = typer.Option(
        20.0, "--rate", help="Private sandbox: load generator requests per second."
    ),
    noise_errors: float = typer.Option(
        0.0, "--noise-errors", help="Private sandbox: background share of failing user requests, "
        "on both versions (injected faults add to it).",
    ),
    noise_latency: float = typer.Option(
        0.0, "--noise-latency-ms", help="Private sandbox: median of a heavy-tailed (lognormal) "
        "latency added to user requests on both versions.",
    ),
) -> int:
    """Rehearse the release with an injected fault and prove the rollback works."""
    from relrun.sandbox.settings import noise_config
    from relrun.workflows.drill import drill as run_drill

    config = noise_config(noise_errors, noise_latency)
    return _with_progress(
        lambda shown: run_drill(
            runbook, inventory, report_dir, fault, at, shown, _say, traffic_log, rate, config
        )
    )


@app.command()
def rollback(
    runbook: Path = RunbookArg,
    inventory: Path = InventoryOpt,
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where reports go."),
) -> int:
    """Roll the environment back to stable now, whatever state the release is in."""
    from relrun.workflows.rollback import rollback as run_rollback

    return _with_progress(lambda shown: run_rollback(runbook, inventory, report_dir, shown, _say))


@app.command()
def check(
    runbook: Path = RunbookArg,
    inventory: Path = InventoryOpt,
    target: str = typer.Option(
        "router", "--target", help="Whose URL to check: router, canary or stable."
    ),
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where reports go."),
) -> int:
    """Run just the runbook's API checks (by hand, or to verify stable after a rollback)."""
    from relrun.workflows.check import check as run_check

    return _with_progress(lambda shown: run_check(runbook, inventory, target, report_dir, shown))


@app.command()
def recover(
    inventory: Path | None = typer.Option(
        None, "-i", "--inventory",
        help="The environment; none: drills on a private sandbox whose relrun died.",
    ),
) -> int:
    """Finish the rollback of a run whose relrun died, and write its report."""
    from relrun.workflows.recover import recover as run_recover

    return _with_progress(lambda shown: run_recover(inventory, shown, _say))


@app.command()
def status(
    inventory: Path | None = typer.Option(
        None, "-i", "--inventory",
        help="This environment; none: every release and drill of this project, private "
        "sandbox drills included.",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    watch: bool = typer.Option(
        False, "--watch", help="Follow the running runs live (stage, weight, analysis, "
        "rollback steps) until they end; with --json, one document per change.",
    ),
    interval: float = typer.Option(
        0.5, "--interval", min=0.1, max=60.0, help="With --watch: seconds between looks."
    ),
) -> int:
    """Say what runs (or died) here: from any terminal, live with --watch."""
    from relrun.run.active import incomplete_run
    from relrun.run.inventory import load_inventory
    from relrun.run.leases import incidents
    from relrun.run.lock import environment_id, holder
    from relrun.workflows import status as runs_status

    if interval != 0.5 and not watch:
        raise InputError("--interval has no effect without --watch")
    fired = []
    mine: dict[str, Any] | None = None
    if inventory is not None:
        load_inventory(inventory)  # bad input is exit 2, not "idle"
        key = environment_id(inventory)
        fired = incidents(inventory)
        mine = holder(key) or incomplete_run(key)

    select = runs_status.find_runs
    def document(runs: list[runs_status.RunStatus]) -> dict[str, Any]:
        scope = [r for r in runs if inventory is None or _same_run(r.record, mine)]
        head = scope[0] if scope else None
        state = head.state if head else ("running" if mine else "idle")
        run = head.to_json() if head else (
            {k: mine.get(k) for k in ("kind", "runbook", "pid", "run_dir")} if mine else None
        )
        return {
            "format": 1, "state": state, "inventory": str(inventory) if inventory else None,
            "run": run, "runs": [r.to_json() for r in runs],
            "incidents": [i.describe() for i in fired],
        }

    def show(runs: list[runs_status.RunStatus], ended: list[runs_status.RunStatus]) -> None:
        if as_json:
            typer.echo(json.dumps(document(runs), indent=None if watch else 2))
            return
        if watch:
            typer.echo(f"-- {time.strftime('%H:%M:%S')}")
        for run in ended:
            if not any(str(r.run_dir) == str(run.run_dir) for r in runs):
                typer.echo(runs_status.finished(run))
        for incident in fired:
            typer.echo(incident.describe())
        ours = [r for r in runs if inventory is None or _same_run(r.record, mine)]
        for run in ours:
            for line in runs_status.describe(run):
                typer.echo(line)
        if not ours and not ended and not fired and not (inventory is not None and mine):
            typer.echo("idle: no release is running and none was left unfinished")
        elif not ours and mine:  # holds the lock, no marker yet (it is starting)
            typer.echo(f"running: {mine.get('kind')} of {mine.get('runbook')} "
                       f"(pid {mine.get('pid')}), reports in {mine.get('run_dir')}")
        for run in runs:
            if run not in ours:
                typer.echo("also on this machine: " + "\n  ".join(run.headline().splitlines()))

    if watch:
        try:
            runs_status.watch(select, show, interval)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        runs = select()
    else:
        runs = select()
        show(runs, [])
    dead = [r for r in runs if r.state == "incomplete"]
    if inventory is not None:
        dead = [r for r in dead if _same_run(r.record, mine)]
    return EXIT_FAILED if dead or fired else EXIT_OK


def _same_run(record: dict[str, Any], other: dict[str, Any] | None) -> bool:
    """Whether a marker and a lock holder (or marker) are the same run (by run directory)."""
    return other is not None and bool(other.get("run_dir")) and str(
        record.get("run_dir")) == str(other.get("run_dir"))
