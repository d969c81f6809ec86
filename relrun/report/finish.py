"""The end of every release, drill and rollback: human reports, history, notification.

Each part runs even when an earlier one failed, and none can change the run's outcome:
the environment is already safe or not by now, and a full disk or a dead webhook must not
turn a proven rollback into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from relrun.fsutil import write_atomic
from relrun.report.history import record_documents, record_notification, regression_of
from relrun.report.html import REPORT_NAME, html_document
from relrun.report.junit import junit_from_documents
from relrun.report.notify import NotifyResult, notify
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.runbook.notify_models import Notify

log = logging.getLogger(__name__)


@dataclass
class FinishResult:
    """What :func:`finish_run` did.

    Attributes:
        html: the HTML report, if written.
        junit: the JUnit file, if rewritten.
        run_id: the history id, if recorded.
        regression: the drill's RTO regressed (False for other kinds or unknown).
        regression_why: the reason, when it regressed.
        notification: what happened to the notification.
        errors: every step that failed, as ``step: message``.
    """

    html: Path | None = None
    junit: Path | None = None
    run_id: str | None = None
    regression: bool = False
    regression_why: str = ""
    notification: NotifyResult | None = None
    errors: list[str] = field(default_factory=list)


def finish_run(
    run_dir: Path, runbook_notify: Notify | None, history_db: Path | None = None
) -> FinishResult:
    """Write ``report.html`` and ``junit.xml``, record the run, notify. Never raises.

    Args:
        run_dir: the run directory, with its JSON reports written.
        runbook_notify: the runbook's ``notify`` section.
        history_db: the history database (default: see ``history.default_db_path``).

    Returns:
        What was done, and what failed.
    """
    try:
        docs = load_run_documents(run_dir)
    except Exception as err:  # no report at all: nothing else can be done
        log.warning("no reports to finish in %s: %s", run_dir, err)
        return FinishResult(errors=[f"reports: {err}"])
    return finish_documents(docs, runbook_notify, history_db)


def finish_documents(
    docs: RunDocuments, runbook_notify: Notify | None, history_db: Path | None = None
) -> FinishResult:
    """:func:`finish_run` for documents in hand (the record a run just built). Never raises.

    Args:
        docs: the run's documents (their ``run_dir`` is where the reports go).
        runbook_notify: the runbook's ``notify`` section.
        history_db: the history database.

    Returns:
        What was done, and what failed.
    """
    result = FinishResult()
    run_dir = Path(docs.run_dir)
    _step(result, "report.html", lambda: _write(result, "html", run_dir / REPORT_NAME,
                                                 html_document(docs)))
    _step(result, "junit.xml", lambda: _write(result, "junit", run_dir / "junit.xml",
                                               junit_from_documents(docs)))
    _step(result, "history", lambda: _record(result, docs, history_db))
    result.notification = notify(docs, runbook_notify, result.regression, run_id=result.run_id)
    if result.run_id is not None and result.notification.skipped is None:
        note = result.notification
        _step(result, "history", lambda: record_notification(
            str(result.run_id), note.sent, note.attempts, note.status, note.error, history_db))
    if result.notification.error:
        result.errors.append(f"notification: {result.notification.error}")
    return result


def _write(result: FinishResult, attr: str, path: Path, text: str) -> None:
    write_atomic(path, text)
    setattr(result, attr, path)


def _record(result: FinishResult, docs: RunDocuments, db: Path | None) -> None:
    result.run_id = record_documents(docs, db)
    if docs.kind != "drill":
        return
    point = regression_of(result.run_id, db)
    if point is not None:
        result.regression, result.regression_why = point.regression, point.why


def _step(result: FinishResult, name: str, action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as err:  # never fatal: the run's outcome is already decided
        log.warning("%s not written: %s", name, err)
        result.errors.append(f"{name}: {err}")
