"""The run report as Markdown, for tickets and chat (``relrun report ID --format md``)."""

from __future__ import annotations

from relrun.render.documents import jinja_env
from relrun.report.rundocs import RunDocuments
from relrun.report.view import millis, percent, run_view, seconds_text


def _cell(value: object) -> str:
    # Table cells must stay on one line and not end the cell early.
    return str(value).replace("\n", " ").replace("|", "\\|").replace("`", "'")


def markdown_document(docs: RunDocuments) -> str:
    """Render a run's report as Markdown.

    Args:
        docs: the run's JSON documents.

    Returns:
        The Markdown text.
    """
    env = jinja_env()
    env.filters["cell"] = _cell
    return env.get_template("report.md.j2").render(
        v=run_view(docs), percent=percent, millis=millis, seconds_text=seconds_text
    )
