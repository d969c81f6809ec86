"""What one HAProxy read costs as the release grows longer and the fleet wider.

Run: ``uv run python bench/bench_history.py [--repeat 5]``. Every window-stats read of the
``haproxy`` provider (each analysis sample, every second by default) loads the sample
history, stores its sample and rewrites the file (``haproxy_history.SampleStore``). The
history is first filled as a release would fill it: one read a second for ``minutes``,
with HAProxy's counters for ``servers`` servers (two per app host); then ``repeat`` more
reads are timed, median printed. ``thinned`` is the store as it is (``thin``: every
sample of the last 4 s, then 4 per doubling of age); ``whole`` keeps every sample, as the
store did before thinning, for comparison. No HAProxy is needed: this is the file's cost,
on top of the runtime API exchange.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic import (  # noqa: E402
    haproxy_history as history,
)

# One server's counters as HAProxy's show stat gives them after a while of traffic.
COUNTERS = {name: 123456 for name in (*history.COUNTERS, history.INJECTED, history.DELAYED)}


def one(servers: int, minutes: int, repeat: int, keep_whole: bool) -> tuple[int, float, int]:
    """Fill a history, then time ``repeat`` reads: (samples kept, median ms, file bytes)."""
    thin = history.thin
    if keep_whole:
        history.thin = lambda samples, now: samples
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = history.SampleStore(tmp, "k")
            counters = {f"server-{i}": dict(COUNTERS) for i in range(servers)}
            filled: list[dict[str, Any]] = []
            start = 1_000_000.0
            for second in range(minutes * 60):
                filled.append({"t": start + second, "process": "1@1", "servers": counters})
                filled = history.thin(filled, start + second)
            store._save(filled[-history.MAX_SAMPLES:])
            times = []
            now = start + minutes * 60
            for i in range(repeat):
                began = time.perf_counter()
                store.record({"t": now + i, "process": "1@1", "servers": counters}, 5.0)
                times.append(time.perf_counter() - began)
            kept = len(store._load())
            size = Path(store.path).stat().st_size
    finally:
        history.thin = thin
    return kept, statistics.median(times) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("servers | minutes | thinned: samples, ms/read, KiB | whole: samples, ms/read, KiB")
    for servers in (4, 64, 200):
        for minutes in (1, 5, 15):
            thinned = one(servers, minutes, args.repeat, keep_whole=False)
            whole = one(servers, minutes, args.repeat, keep_whole=True)
            print(f"{servers} | {minutes} | {thinned[0]}, {thinned[1]:.1f}, {thinned[2] // 1024}"
                  f" | {whole[0]}, {whole[1]:.1f}, {whole[2] // 1024}", flush=True)


if __name__ == "__main__":
    main()
