"""vegeta's JSON results become relrun traffic records a drill can count."""

from __future__ import annotations

import json
from pathlib import Path

from relrun.sandbox.traffic import summarize
from relrun.sandbox.trafficimport import convert_vegeta, main, parse_time

OK = {
    "attack": "", "seq": 0, "code": 200, "timestamp": "2026-12-02T05:00:00.123456789Z",
    "latency": 2500000, "bytes_out": 0, "bytes_in": 12, "error": "", "body": "",
    "method": "GET", "url": "http://127.0.0.1:8080/products?limit=5",
    "headers": {"X-Served-By": ["canary"], "Content-Type": ["application/json"]},
}
INJECTED = {**OK, "seq": 1, "code": 503, "headers": {"X-Fault": ["injected"]}}
DROPPED = {**OK, "seq": 2, "code": 0, "error": "read: connection reset by peer", "headers": {}}


def test_times_keep_microseconds_of_nanosecond_stamps() -> None:
    assert parse_time("2026-12-02T05:00:00.123456789Z") == parse_time("2026-12-02T05:00:00.123456Z")
    assert parse_time("2026-12-02T06:00:00+01:00") == parse_time("2026-12-02T05:00:00Z")


def test_results_map_to_records(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in (OK, INJECTED, DROPPED)] + ["", '{"torn": ']
    records = list(convert_vegeta(lines))
    assert [(r.path, r.status, r.served_by, r.fault) for r in records] == [
        ("/products?limit=5", 200, "canary", None),
        ("/products?limit=5", 503, None, "injected"),
        ("/products?limit=5", None, None, None),
    ]
    assert records[0].latency_ms == 2.5
    assert records[2].error == "read: connection reset by peer"


def test_the_converted_log_is_counted_like_relruns_own(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text("\n".join(json.dumps(r) for r in (OK, INJECTED, DROPPED)) + "\n")
    log = tmp_path / "loadgen.jsonl"
    assert main(["vegeta", str(results), "-o", str(log)]) == 0
    summary = summarize(log)
    assert (summary.requests, summary.ok, summary.injected_failures, summary.lost) == (3, 1, 1, 1)
    assert summary.served_by == {"canary": 1}
