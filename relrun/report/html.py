"""``report.html``: one self-contained page a person reads after a release, drill or rollback.

Everything is inline (CSS, the SVG chart, a few lines of script) and a Content Security
Policy forbids any fetch, so the page opens offline, from an e-mail attachment or a CI
artefact store, and prints. Every value comes from the run's JSON reports, which hold no
secrets, and is escaped by the template engine or by ElementTree.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files
from pathlib import Path

from markupsafe import Markup

from relrun import __version__
from relrun.fsutil import write_atomic
from relrun.render.documents import jinja_env
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.report.svg import VERSION_COLOURS, timeline_svg
from relrun.report.view import millis, percent, run_view, seconds_text

REPORT_NAME = "report.html"


def _script() -> str:
    return files("relrun.render").joinpath("templates/report.js").read_text(encoding="utf-8")


def html_document(docs: RunDocuments) -> str:
    """Render the HTML report of a run.

    Args:
        docs: the run's JSON documents.

    Returns:
        The HTML text.
    """
    view = run_view(docs)
    script = _script()
    # The CSP allows exactly this script, by hash, rather than any inline script.
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    budget = view.rto_budget_seconds

    def share(seconds: float | None) -> str:
        if seconds is None or not budget:
            return "0"
        return f"{min(seconds / budget * 100, 100):.1f}"

    seconds = docs.run.traffic.per_second if docs.run.traffic is not None else []
    versions = sorted({v for s in seconds for v in s.served_by})
    template = jinja_env(autoescape=True).get_template("report.html.j2")
    return template.render(
        v=view,
        # A check run moved no traffic: it has no timeline, stages or rollback to show.
        svg=None if view.checks_only else Markup(timeline_svg(docs.run)),
        script=Markup(script),  # our own file, allowed by its hash
        script_hash=f"sha256-{digest}",
        versions=[(v, VERSION_COLOURS[i % len(VERSION_COLOURS)]) for i, v in enumerate(versions)],
        over_budget=view.rto_seconds is not None
        and budget is not None
        and view.rto_seconds > budget,
        share=share,
        percent=percent,
        millis=millis,
        seconds_text=seconds_text,
        relrun_version=__version__,
    )


def write_html_report(run_dir: Path) -> Path:
    """Write ``report.html`` into a run directory from the JSON reports there.

    Args:
        run_dir: the run directory (holding ``drill.json``, ``release.json``,
            ``rollback.json`` or ``check.json``, and ``ci.json`` / ``scan.json`` when
            present).

    Returns:
        The path of the report.

    Raises:
        RunDirError: the directory holds no run report.
    """
    path = run_dir / REPORT_NAME
    write_atomic(path, html_document(load_run_documents(run_dir)))
    return path
