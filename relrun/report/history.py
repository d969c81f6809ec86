"""The history of runs in SQLite, so scheduled drills notice a rollback that got slower.

One row per run: the figures people compare (verdict, detection, RTO, step durations,
lost requests, gate results) in columns, and the run's full JSON documents, so a report
can be regenerated after the run directory is gone. Recording the same run twice keeps
one row: the id is derived from the run's report.

Every kind is recorded (``drill``, ``release``, ``rollback``, ``check``); the RTO trend
reads drills only, so a check run (no RTO) or a release never shifts a drill's baseline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relrun.paths import relrun_state_dir
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.report.view import run_view

SCHEMA_VERSION = 1
REGRESSION_FACTOR = 1.2  # RTO more than 20% above the recent median
BASELINE_DRILLS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    recorded_at REAL NOT NULL,
    kind TEXT NOT NULL,
    runbook TEXT NOT NULL,
    runbook_version TEXT,
    runbook_sha256 TEXT,
    verdict TEXT,
    state TEXT,
    exit_code INTEGER,
    started REAL,
    ended REAL,
    detection_seconds REAL,
    rto_seconds REAL,
    rto_budget_seconds REAL,
    rollback_seconds TEXT,
    lost INTEGER,
    scan_findings INTEGER,
    builds_failed INTEGER,
    checks_failed INTEGER,
    run_dir TEXT,
    documents TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_runbook ON runs (runbook, kind, started);
CREATE TABLE IF NOT EXISTS notifications (
    run_id TEXT NOT NULL,
    at REAL NOT NULL,
    sent INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    status INTEGER,
    error TEXT
);
"""


class HistoryError(Exception):
    """The history store cannot answer (unknown or ambiguous run id, unreadable file)."""


@dataclass(frozen=True)
class HistoryRun:
    """One recorded run, as listed by ``relrun history``."""

    id: str
    kind: str
    runbook: str
    runbook_version: str | None
    runbook_sha256: str | None
    verdict: str | None
    state: str | None
    exit_code: int | None
    started: float | None
    ended: float | None
    detection_seconds: float | None
    rto_seconds: float | None
    rto_budget_seconds: float | None
    rollback_seconds: dict[str, float | None]
    lost: int | None
    scan_findings: int | None
    builds_failed: int | None
    checks_failed: int | None
    run_dir: str | None
    analysis_method: str | None = None  # from the stored record: how the canary was judged

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class TrendKey:
    """What makes two drills comparable: the same runbook, inventory and fault kind.

    A private sandbox's drills share the sandbox inventory shipped with relrun.
    """

    runbook: str
    inventory: str
    fault: str

    def describe(self) -> str:
        """In words, for ``history --trend``."""
        return f"runbook {self.runbook}, inventory {self.inventory or '?'}, fault {self.fault}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class TrendPoint:
    """One drill in the trend of its runbook, inventory and fault kind.

    Attributes:
        run: the drill.
        key: the drills it is compared with.
        baseline: median RTO of the previous five counted drills with the same key.
        regression: RTO above 120% of the baseline, or above the RTO budget.
        why: the reason, when a regression.
        not_counted: why the drill is neither judged nor part of any baseline (its fault
            never ran, it was not judged, it was recovered after its controller died), or
            "" for a counted drill.
        compared: how many earlier drills the baseline is the median of.
    """

    run: HistoryRun
    baseline: float | None
    regression: bool
    why: str
    key: TrendKey = TrendKey("", "", "")
    not_counted: str = ""
    compared: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**self.run.to_json(), "baseline_rto_seconds": self.baseline,
                "regression": self.regression, "why": self.why, "key": self.key.to_json(),
                "counted": not self.not_counted, "not_counted": self.not_counted or None,
                "compared_with": self.compared}


def default_db_path(explicit: Path | None = None) -> Path:
    """Where the history lives.

    Args:
        explicit: a ``--history-db`` option, which wins.

    Returns:
        ``explicit``, else ``$RELRUN_HISTORY_DB``, else ``history.db`` in the state
        directory (``$RELRUN_STATE_DIR``, or ``.relrun/`` in the project, or with
        ``RELRUN_STATE=user`` the account-wide one: see :mod:`relrun.paths`).
    """
    if explicit is not None:
        return explicit
    if os.environ.get("RELRUN_HISTORY_DB"):
        return Path(os.environ["RELRUN_HISTORY_DB"])
    return relrun_state_dir() / "history.db"


@contextmanager
def connect(db: Path | None = None, create: bool = True) -> Iterator[sqlite3.Connection]:
    """Open the store (creating it, mode 0600 in a 0700 directory, when asked).

    Args:
        db: the database file (default :func:`default_db_path`).
        create: create a missing database; False raises instead.

    Yields:
        A connection; committed on success, rolled back on error, closed after.

    Raises:
        HistoryError: missing (with ``create=False``) or unreadable database.
    """
    path = default_db_path(db)
    if not create and not path.exists():
        raise HistoryError(f"no history at {path} (record a run first)")
    if create and db is None and not os.environ.get("RELRUN_HISTORY_DB"):
        relrun_state_dir(create=True)  # a project's .relrun/, private, with its .gitignore
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # Scheduled drills of several runbooks may finish together: wait for the lock.
        conn = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as err:
        raise HistoryError(f"{path}: {err}") from err
    try:
        path.chmod(0o600)  # the documents name hosts and operators
        conn.row_factory = sqlite3.Row
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        with conn:
            yield conn
    except sqlite3.DatabaseError as err:
        raise HistoryError(f"{path}: {err}") from err
    finally:
        conn.close()


def run_id_of(docs: RunDocuments) -> str:
    """A stable id for a run: the start of the sha256 of its report."""
    canonical = json.dumps(docs.run.to_json(), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def record_documents(docs: RunDocuments, db: Path | None = None) -> str:
    """Store a run's documents and headline figures.

    Args:
        docs: the run's documents.
        db: the database (default :func:`default_db_path`).

    Returns:
        The run id.
    """
    view = run_view(docs)
    run_id = run_id_of(docs)
    steps = {s.name: s.seconds for s in view.steps}
    row = {
        "id": run_id, "recorded_at": time.time(), "kind": docs.kind, "runbook": view.runbook,
        "runbook_version": view.version, "runbook_sha256": view.audit.runbook_sha256,
        "verdict": view.verdict, "state": view.state, "exit_code": view.exit_code,
        "started": docs.run.started, "ended": docs.run.ended,
        "detection_seconds": view.detection_seconds, "rto_seconds": view.rto_seconds,
        "rto_budget_seconds": view.rto_budget_seconds,
        "rollback_seconds": json.dumps(steps), "lost": view.lost,
        "scan_findings": view.scan_findings, "builds_failed": view.builds_failed,
        "checks_failed": view.checks_failed, "run_dir": docs.run_dir,
        "documents": json.dumps(docs.to_json(), sort_keys=True, default=str),
    }
    columns = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    with connect(db) as conn:
        conn.execute(f"INSERT OR REPLACE INTO runs ({columns}) VALUES ({marks})", row)
    return run_id


def record_run(run_dir: Path, db: Path | None = None) -> str:
    """Record the run in a directory.

    Args:
        run_dir: the run directory.
        db: the database (default :func:`default_db_path`).

    Returns:
        The run id (``relrun report RUN_ID`` regenerates its reports).

    Raises:
        RunDirError: the directory holds no run report.
    """
    return record_documents(load_run_documents(run_dir), db)


def record_notification(
    run_id: str, sent: bool, attempts: int, status: int | None, error: str | None,
    db: Path | None = None,
) -> None:
    """Remember what happened to a run's notification.

    Args:
        run_id: the run.
        sent: the receiver accepted it.
        attempts: POSTs made.
        status: last HTTP status.
        error: last error (never holds the URL).
        db: the database.
    """
    with connect(db) as conn:
        conn.execute(
            "INSERT INTO notifications (run_id, at, sent, attempts, status, error) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, time.time(), int(sent), attempts, status, error),
        )


def analysis_method(documents: dict[str, Any]) -> str | None:
    """How the run's canary was judged, in a few words (None before the method was recorded)."""
    for stage in (documents.get("run") or {}).get("stages") or []:
        method = (stage.get("analysis") or {}).get("method")
        if isinstance(method, dict) and method.get("alpha") is not None:
            return (
                f"e-process alpha {method['alpha']:g}, error tolerance "
                f"x{1 + float(method.get('error_tolerance') or 0):g}"
            )
    return None


def _row(row: sqlite3.Row) -> HistoryRun:
    skip = {"documents", "recorded_at"}
    data = {k: row[k] for k in row.keys() if k not in skip}  # noqa: SIM118 - Row iterates values
    data["rollback_seconds"] = json.loads(row["rollback_seconds"] or "{}")
    if "documents" in row.keys():  # noqa: SIM118
        try:
            data["analysis_method"] = analysis_method(json.loads(row["documents"] or "{}"))
        except ValueError:
            data["analysis_method"] = None
    return HistoryRun(**data)


def list_runs(
    db: Path | None = None, runbook: str | None = None, limit: int | None = 20,
    kind: str | None = None,
) -> list[HistoryRun]:
    """Recorded runs, newest first.

    Args:
        db: the database.
        runbook: only this runbook's runs.
        limit: at most this many (None: all).
        kind: only runs of this kind (``drill``, ``release``, ``rollback``, ``check``).

    Returns:
        The runs.
    """
    where, args = [], []
    if runbook is not None:
        where.append("runbook = ?")
        args.append(runbook)
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY started DESC, recorded_at DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connect(db, create=False) as conn:
        return [_row(r) for r in conn.execute(sql, args)]


def get_documents(run_id: str, db: Path | None = None) -> RunDocuments:
    """The stored documents of a run.

    Args:
        run_id: the id, or an unambiguous prefix of it.
        db: the database.

    Returns:
        The documents, as they were when recorded.

    Raises:
        HistoryError: no run, or several, match.
    """
    if not re.fullmatch(r"[0-9a-f]{1,64}", run_id):
        raise HistoryError(f"{run_id!r} is not a run id (hex digits, see relrun history)")
    with connect(db, create=False) as conn:
        rows = conn.execute(
            "SELECT id, documents FROM runs WHERE id LIKE ? LIMIT 2", (run_id + "%",)
        ).fetchall()
    if not rows:
        raise HistoryError(f"no recorded run with id {run_id!r}")
    if len(rows) > 1:
        raise HistoryError(f"run id {run_id!r} is ambiguous: give more characters")
    return RunDocuments.from_json(json.loads(rows[0]["documents"]))


def judge(rto: float | None, previous: list[float], budget: float | None) -> tuple[bool, str]:
    """Whether an RTO is a regression.

    Args:
        rto: this drill's RTO.
        previous: RTOs of earlier drills of the runbook, oldest first.
        budget: the runbook's RTO budget.

    Returns:
        ``(regression, why)``.
    """
    if rto is None:
        return False, ""
    if budget is not None and rto > budget:
        return True, f"RTO {rto:.2f}s above the budget of {budget:g}s"
    recent = previous[-BASELINE_DRILLS:]
    if recent:
        median = statistics.median(recent)
        if rto > median * REGRESSION_FACTOR:
            return True, (f"RTO {rto:.2f}s is {rto / median * 100 - 100:.0f}% above the median "
                          f"{median:.2f}s of the previous {len(recent)} drill(s)")
    return False, ""


def not_counted_why(drill: dict[str, Any]) -> str:
    """Why a drill's RTO says nothing about the rollback's speed ("" when it does).

    Only a drill that injected its fault, was judged by a trigger, rolled back completely
    and measured its RTO is a measurement of the rollback.

    Args:
        drill: the drill's record (``drill.json``).
    """
    fault = drill.get("fault") or {}
    if drill.get("recovered"):
        return "recovered after its controller died (RTO of another path)"
    if not fault.get("kind") or fault.get("kind") == "none":
        return "no fault injected"
    if drill.get("fault_injected_at") is None:
        return "its fault was never injected"
    if not (drill.get("trigger") or {}).get("reason"):
        return "no rollback was triggered"
    if drill.get("state") != "rolled_back":
        return f"not rolled back ({drill.get('state') or 'unknown state'})"
    if drill.get("rto_seconds") is None:
        return "RTO not measured"
    return ""


def _key_of(drill: dict[str, Any], runbook: str) -> TrendKey:
    inventory = (drill.get("inventory") or {}).get("file") or ""
    return TrendKey(runbook, str(inventory), str((drill.get("fault") or {}).get("kind") or "none"))


def trend(db: Path | None = None, runbook: str | None = None) -> list[TrendPoint]:
    """Every drill with its baseline and regression flag, in time order per key.

    Drills are compared only with earlier drills of the same runbook, inventory and fault
    kind that count (:func:`not_counted_why`); a drill that does not count is listed,
    saying why, and is never a regression.

    Args:
        db: the database.
        runbook: only this runbook.

    Returns:
        The points, grouped by key, in time order within each.
    """
    sql = "SELECT * FROM runs WHERE kind = 'drill'" + (" AND runbook = ?" if runbook else "")
    with connect(db, create=False) as conn:
        rows = conn.execute(sql, (runbook,) if runbook else ()).fetchall()
    entries: list[tuple[TrendKey, HistoryRun, str]] = []
    for row in rows:
        try:
            documents = json.loads(row["documents"] or "{}")
        except ValueError:
            documents = {}
        drill = (documents.get("run") or {}) if isinstance(documents, dict) else {}
        run = _row(row)
        entries.append((_key_of(drill, run.runbook), run, not_counted_why(drill)))
    entries.sort(key=lambda e: (e[0].runbook, e[0].inventory, e[0].fault, e[1].started or 0.0))
    points: list[TrendPoint] = []
    previous: dict[TrendKey, list[float]] = {}
    for key, run, skip in entries:
        history = previous.setdefault(key, [])
        recent = history[-BASELINE_DRILLS:]
        baseline = statistics.median(recent) if recent else None
        if skip:
            points.append(TrendPoint(run, baseline, False, "", key, skip, len(recent)))
            continue
        regression, why = judge(run.rto_seconds, history, run.rto_budget_seconds)
        points.append(TrendPoint(run, baseline, regression, why, key, "", len(recent)))
        assert run.rto_seconds is not None  # a counted drill measured it
        history.append(run.rto_seconds)
    return points


def current_regressions(points: list[TrendPoint]) -> list[TrendPoint]:
    """Per key, its latest counted drill, if that one regressed.

    An old regression followed by a good drill is history, not an alert.

    Args:
        points: from :func:`trend`.

    Returns:
        The regressed latest drills.
    """
    latest: dict[TrendKey, TrendPoint] = {}
    for point in points:
        if not point.not_counted:
            latest[point.key] = point
    return [p for p in latest.values() if p.regression]


def regression_of(run_id: str, db: Path | None = None) -> TrendPoint | None:
    """The trend point of one recorded drill (None: not a recorded drill)."""
    for point in trend(db):
        if point.run.id == run_id:
            return point
    return None
