from __future__ import annotations

import json
from pathlib import Path

import pytest

from relrun.sandbox.loadgen import summarize
from relrun.sandbox.traffic import TrafficRecord, classify


def write(path: Path, records: list[dict[str, object]], torn: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + torn)
    return path


def rec(t: float, status: int | None = 200, **extra: object) -> dict[str, object]:
    return {"t": t, "method": "GET", "path": "/health", "status": status, **extra}


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        (rec(0, 200, served_by="1.0"), "ok"),
        (rec(0, 201), "ok"),
        (rec(0, 500, fault="injected"), "injected"),
        (rec(0, 500), "lost"),
        (rec(0, 502), "lost"),
        (rec(0, 503), "lost"),
        (rec(0, 504), "lost"),
        (rec(0, None, error="ClientConnectorError: refused"), "lost"),
        (rec(0, None, error="timeout: no answer within 10 s"), "lost"),
        (rec(0, 429), "rate_limited"),
        (rec(0, 401), "client_error"),
        ({"t": 0, "method": "-", "path": "-", "sent": False}, "skipped"),
    ],
)
def test_classify(record: dict[str, object], outcome: str) -> None:
    assert classify(TrafficRecord.model_validate(record)) == outcome


def test_summarize_counts_versions_failures_and_seconds(tmp_path: Path) -> None:
    log = write(
        tmp_path / "loadgen.jsonl",
        [
            rec(100.1, 200, served_by="1.0"),
            rec(100.5, 200, served_by="2.0"),
            rec(100.9, 500, served_by="2.0", fault="injected"),
            rec(101.2, 502),
            rec(101.3, None, error="ServerDisconnectedError: gone"),
            rec(101.4, 200, served_by="1.0"),
            {"t": 101.5, "method": "-", "path": "-", "sent": False},
        ],
        torn='{"t": 102.0, "meth',
    )
    summary = summarize(log)
    assert summary.requests == 6 and summary.ok == 3 and summary.skipped == 1
    assert summary.served_by == {"1.0": 2, "2.0": 2}
    assert summary.injected_failures == 1 and summary.lost == 2
    assert summary.lost_reasons == {"502": 1, "ServerDisconnectedError": 1}
    assert (summary.first_t, summary.last_t) == (100.1, 101.4)
    first, second = summary.seconds
    assert (first.second, first.requests, first.served_by, first.injected) == (
        100,
        3,
        {"1.0": 1, "2.0": 2},
        1,
    )
    assert (second.second, second.requests, second.lost) == (101, 3, 2)


def test_summarize_window_and_missing_file(tmp_path: Path) -> None:
    log = write(tmp_path / "l.jsonl", [rec(t, 200, served_by="1.0") for t in range(10)])
    assert summarize(log, since=3, until=7).requests == 4
    assert summarize(tmp_path / "absent.jsonl").requests == 0
