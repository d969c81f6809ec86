"""Turn another load tool's results into relrun's traffic log (``loadgen.jsonl``).

``python -m relrun.sandbox.trafficimport vegeta RESULTS.json [-o loadgen.jsonl]`` reads
`vegeta encode --to json` output (one JSON object per line: ``timestamp``, ``method``,
``url``, ``code``, ``latency`` in nanoseconds, ``error``, ``headers``) and writes one
:class:`~relrun.sandbox.traffic.TrafficRecord` per result, so ``relrun drill -i INV
--traffic-log`` counts lost requests of a vegeta attack as of relrun's own generator.
Pure functions plus a small entry point.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relrun.sandbox.traffic import TrafficRecord

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(stamp: str) -> float:
    """RFC 3339 with up to nanoseconds (vegeta's) → epoch seconds (microsecond precision)."""
    text = _FRACTION.sub(r"\1", stamp.strip()).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            if isinstance(value, list):
                return str(value[0]) if value else None
            return str(value)
    return None


def from_vegeta(result: dict[str, Any]) -> TrafficRecord:
    """One vegeta result as a traffic record (status 0 means no answer: an error)."""
    parts = urlsplit(str(result.get("url", "")))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    code = int(result.get("code") or 0)
    error = str(result.get("error") or "") or None
    return TrafficRecord(
        t=parse_time(str(result["timestamp"])),
        method=str(result.get("method") or "GET"),
        path=path,
        status=code or None,
        latency_ms=round(float(result.get("latency") or 0) / 1e6, 3),
        served_by=_header(result.get("headers"), "X-Served-By"),
        fault=_header(result.get("headers"), "X-Fault"),
        error=error if error or code else "no answer",
    )


def convert_vegeta(lines: Iterable[str]) -> Iterator[TrafficRecord]:
    """Every readable result of a vegeta JSON stream (blank and torn lines skipped)."""
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "timestamp" in data:
            yield from_vegeta(data)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m relrun.sandbox.trafficimport")
    parser.add_argument("tool", choices=["vegeta"])
    parser.add_argument("results", type=Path, help="vegeta encode --to json output")
    parser.add_argument("-o", "--out", type=Path, default=None, help="default: stdout")
    args = parser.parse_args(argv)
    with args.results.open(encoding="utf-8") as handle:
        lines = [r.model_dump_json(exclude_none=True) + "\n" for r in convert_vegeta(handle)]
    if args.out is None:
        sys.stdout.writelines(lines)
    else:
        args.out.write_text("".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
