from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.report.history import (
    default_db_path,
    get_documents,
    judge,
    list_runs,
    record_run,
    trend,
)
from relrun.report.html import html_document
from relrun.report.rundocs import load_run_documents
from tests.unit.report.reportdata import NO_FAULT, drill_doc, run_dir, slowed, write_drill

HOUR = 3600.0


def record_series(tmp_path: Path, db: Path, extra_drains: list[float]) -> list[str]:
    """Drills of the same runbook an hour apart, each with its drain slowed by so much."""
    base = drill_doc()
    return [
        record_run(write_drill(tmp_path, f"drill-{i}", slowed(base, extra, i * HOUR)), db)
        for i, extra in enumerate(extra_drains)
    ]


def test_record_list_and_regenerate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "state" / "history.db"
    directory = run_dir(tmp_path)
    run_id = record_run(directory, db)
    assert record_run(directory, db) == run_id  # idempotent
    assert (db.stat().st_mode & 0o777) == 0o600
    record_run(run_dir(tmp_path, NO_FAULT), db)
    runs = list_runs(db)
    assert len(runs) == 2
    latest, first = runs
    assert (first.id, first.verdict, first.rto_seconds, first.detection_seconds) == (
        run_id, "pass", 1.223, 0.292)
    assert first.rollback_seconds == {"stop_deployment": 0.292, "drain": 0.303,
                                      "switch_traffic": 0.325, "verify": 1.517, "cleanup": 2.311}
    assert (first.lost, first.scan_findings, first.builds_failed, first.checks_failed) == (
        0, 2, 1, 1)
    assert first.rto_budget_seconds == 20.0 and first.runbook_sha256
    assert latest.verdict == "fail" and latest.rto_seconds is None
    expected = html_document(load_run_documents(directory))
    shutil.rmtree(directory)  # the report comes back from the database alone
    assert html_document(get_documents(run_id[:6], db)) == expected

    out = tmp_path / "again.html"
    assert run_cli(app, ["report", run_id, "--history-db", str(db), "-o", str(out)]) == 0
    assert out.read_text() == expected
    assert run_cli(app, ["report", run_id, "--history-db", str(db), "--format", "md"]) == 0
    assert "# relrun drill: quick 2.0.0 — PASS" in capsys.readouterr().out
    assert run_cli(app, ["report", run_id, "--history-db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["rto_seconds"] == 1.223
    assert run_cli(app, ["report", "ffffffff", "--history-db", str(db)]) == 2
    assert "no recorded run" in capsys.readouterr().err

    assert run_cli(app, ["history", "--history-db", str(db), "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(latest.id)
    assert run_cli(app, ["history", "--history-db", str(db), "--json", "--runbook", "quick"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [latest.id, run_id]
    assert run_cli(app, ["history", "--history-db", str(db), "--runbook", "other"]) == 0
    assert capsys.readouterr().out == ""


def test_missing_history_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["history", "--history-db", str(tmp_path / "none.db")]) == 2
    assert "no history at" in capsys.readouterr().err


def test_judge() -> None:
    assert judge(1.0, [], 20.0) == (False, "")
    assert judge(21.0, [], 20.0)[0]
    assert "above the budget" in judge(21.0, [], 20.0)[1]
    assert judge(1.2, [1.0, 1.0, 1.0], 20.0) == (False, "")  # exactly +20% is not more
    regression, why = judge(1.3, [5.0, 1.0, 1.0, 1.0, 1.0, 1.0], 20.0)
    assert regression and "previous 5 drill(s)" in why  # only the last five count
    assert judge(None, [1.0], 20.0) == (False, "")


def test_slowed_rollback_is_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "history.db"
    ids = record_series(tmp_path, db, [0.0, 0.05, -0.02, 0.03, 0.01, 3.0])
    points = trend(db, "quick")
    assert [p.run.id for p in points] == ids
    assert [p.regression for p in points] == [False] * 5 + [True]
    assert points[-1].baseline == pytest.approx(1.233)
    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 1
    captured = capsys.readouterr()
    assert "REGRESSION" in captured.out
    assert f"RTO regression in quick (drill {ids[-1]})" in captured.err
    assert run_cli(app, ["history", "--trend", "--json", "--history-db", str(db)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["regressions"] == [ids[-1]]
    assert data["drills"][-1]["baseline_rto_seconds"] == pytest.approx(1.233)


def test_a_good_drill_after_a_regression_clears_the_alert(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    record_series(tmp_path, db, [0.0, 0.0, 3.0, 0.0])
    assert [p.regression for p in trend(db)] == [False, False, True, False]
    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 0


def test_over_budget_is_a_regression_without_history(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    record_series(tmp_path, db, [20.0])
    (point,) = trend(db)
    assert point.regression and "above the budget of 20s" in point.why
    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 1


def test_default_db_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("RELRUN_HISTORY_DB", "RELRUN_STATE_DIR", "RELRUN_STATE", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / ".")
    assert default_db_path() == tmp_path / ".relrun" / "history.db"  # the project's own
    monkeypatch.setenv("RELRUN_STATE", "user")
    assert default_db_path() == tmp_path / ".local" / "state" / "relrun" / "history.db"
    monkeypatch.setenv("RELRUN_STATE_DIR", str(tmp_path / "s"))
    assert default_db_path() == tmp_path / "s" / "history.db"
    monkeypatch.setenv("RELRUN_HISTORY_DB", str(tmp_path / "h.db"))
    assert default_db_path() == tmp_path / "h.db"
    assert default_db_path(tmp_path / "x.db") == tmp_path / "x.db"


def test_history_names_how_the_canary_was_judged() -> None:
    from relrun.report.history import analysis_method

    documents = {
        "run": {
            "stages": [
                {"analysis": None},
                {"analysis": {"method": {"alpha": 0.01, "error_tolerance": 1.0}}},
            ]
        }
    }
    assert analysis_method(documents) == "e-process alpha 0.01, error tolerance x2"
    assert analysis_method({"run": {"stages": [{"name": "old run, no analysis record"}]}}) is None


def _drill_like(base: dict[str, object], shift: float, **changes: object) -> dict[str, object]:
    doc = slowed(base, 0.0, shift)
    doc.update(changes)
    return doc


def test_the_trend_counts_only_drills_that_injected_their_fault_and_were_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 17: `RTO regression: 7.51s is 115% above the median 3.50s` against a failed
    # drill. A drill whose fault never ran, one that was never judged, one recovered after
    # its controller died, and drills of another fault kind or inventory are no baseline.
    db = tmp_path / "history.db"
    base = drill_doc()
    others = [
        _drill_like(base, HOUR, fault_injected_at=None, rto_seconds=0.2, verdict="fail",
                    state="gates_failed"),
        _drill_like(base, 2 * HOUR, trigger=None, rto_seconds=0.3, state="incomplete"),
        _drill_like(base, 3 * HOUR, recovered=True, rto_seconds=0.25),
        _drill_like(base, 4 * HOUR, rto_seconds=0.1,
                    fault={"kind": "latency", "stage": "Blue-Green 50%", "value": 6000}),
        _drill_like(base, 5 * HOUR, rto_seconds=0.1,
                    inventory={"file": "/elsewhere/inventory.yml", "hosts": []}),
    ]
    ids = [record_run(write_drill(tmp_path, f"other-{i}", doc), db)
           for i, doc in enumerate(others)]
    first = record_run(run_dir(tmp_path), db)  # rto 1.223: the first comparable one
    latest = record_run(write_drill(tmp_path, "latest", slowed(base, 0.2, 6 * HOUR)), db)
    points = {p.run.id: p for p in trend(db)}
    assert [points[i].not_counted for i in ids[:3]] == [
        "its fault was never injected", "no rollback was triggered",
        "recovered after its controller died (RTO of another path)"]
    assert points[ids[3]].key.fault == "latency" and points[ids[3]].not_counted == ""
    assert points[ids[4]].key.inventory == "/elsewhere/inventory.yml"
    assert points[first].baseline is None and points[first].compared == 0
    assert (points[latest].baseline, points[latest].compared) == (1.223, 1)
    assert not any(p.regression for p in points.values())  # 1.423 is within 20% of 1.223

    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 0
    out = capsys.readouterr().out
    inventory = drill_doc()["inventory"]["file"]
    assert f"runbook quick, inventory {inventory}, fault error_rate: 2 counted drill(s), " \
        "3 not counted" in out
    assert f"latest drill {latest}: RTO 1.42s against the median 1.22s of the previous 1: " \
        "no regression" in out
    assert "not counted: its fault was never injected" in out
    assert "runbook quick, inventory /elsewhere/inventory.yml, fault error_rate" in out
    assert "nothing to compare yet" in out  # the latency and the other inventory's drills

    assert run_cli(app, ["history", "--trend", "--json", "--history-db", str(db)]) == 0
    data = json.loads(capsys.readouterr().out)
    (main,) = [g for g in data["compared"] if g["fault"] == "error_rate"
               and g["inventory"] == inventory]
    assert (main["counted"], main["not_counted"], main["latest"]) == (2, 3, latest)


def test_a_failed_drill_is_never_the_regression_nor_the_baseline(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    base = drill_doc()
    record_run(write_drill(tmp_path, "failed", _drill_like(
        base, 0.0, fault_injected_at=None, rto_seconds=0.5, state="gates_failed")), db)
    slow = record_run(write_drill(tmp_path, "slow", slowed(base, 6.0, HOUR)), db)
    point = {p.run.id: p for p in trend(db)}[slow]
    assert (point.baseline, point.regression) == (None, False)
    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 0


def test_trend_says_when_there_is_nothing_to_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "history.db"
    record_run(run_dir(tmp_path, NO_FAULT), db)  # a drill with no fault: nothing counted
    assert run_cli(app, ["history", "--trend", "--history-db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "0 counted drill(s), 1 not counted" in out
    assert "nothing to compare: no drill injected its fault and was judged" in out
    empty = tmp_path / "empty.db"
    record_run(write_drill(tmp_path, "x", drill_doc()), empty)
    with sqlite3.connect(empty) as conn:
        conn.execute("DELETE FROM runs")
    assert run_cli(app, ["history", "--trend", "--history-db", str(empty)]) == 0
    assert f"no drills recorded in {empty}: nothing to compare" in capsys.readouterr().out


def test_limit_with_trend_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "history.db"
    record_run(run_dir(tmp_path), db)
    assert run_cli(app, ["history", "--trend", "--limit", "3", "--history-db", str(db)]) == 2
    assert "--limit has no effect with --trend" in capsys.readouterr().err
