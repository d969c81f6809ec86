"""Windowed request and error counts from HAProxy's cumulative counters, standard library only.

HAProxy only exposes totals since its process started. The error rate over the last
``window`` seconds is the difference between now and a sample taken about ``window``
seconds ago. Every Ansible task is a fresh process, so samples are kept in a small JSON
file on the router host, shared by every task that reads the same backend.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from typing import Any

# Per-server cumulative counters of "show stat" that the window stats are made of.
RESPONSE_COUNTERS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
ERROR_COUNTERS = ("econ", "eresp")
COUNTERS = ("stot", *RESPONSE_COUNTERS, *ERROR_COUNTERS)
# Failures injected by relrun's traffic faults, from the ``relrun_faults`` stick table: the
# server's own counters saw its real answer, so these are added to its errors.
INJECTED = "injected"
DELAYED = "delayed"  # responses HAProxy delayed (a latency fault): read ttime, not rtime

KEEP_SECONDS = 900.0  # longer than any analysis window a runbook may ask for
MIN_SPACING = 0.2  # a read closer than this to the last stored sample adds nothing
MAX_SAMPLES = 2000
# Older samples are thinned (:func:`thin`): all are kept for DENSE_SECONDS, then about
# PER_DOUBLING per doubling of age, so a baseline is within a quarter of its window.
DENSE_SECONDS = 4.0
PER_DOUBLING = 4

Sample = dict[str, Any]
"""``{"t": epoch seconds, "process": HAProxy process identity, "servers": {name: counters}}``"""


def counter_delta(old: int | None, new: int) -> int:
    """Increase of a cumulative counter between two readings.

    A counter that went down was reset (HAProxy reloaded or restarted, or the server was
    re-created); everything it counts now happened since that reset, so the new value is
    the increase. With no earlier reading the whole value is new as well.
    """
    if old is None or new < old:
        return new
    return new - old


def pick_baseline(samples: list[Sample], now: float, window: float) -> Sample | None:
    """The stored sample closest to ``now - window`` that covers at least half the window.

    A sample a few tenths of a second old may be closer to ``now - window`` than one from
    well before it, but a delta over so short a span holds too few requests to judge; so
    only samples at least ``window / 2`` old compete. With none that old (a new history),
    the oldest earlier sample gives what can be known.
    """
    target = now - window
    earlier = [s for s in samples if float(s["t"]) < now]
    if not earlier:
        return None
    covering = [s for s in earlier if float(s["t"]) <= now - window / 2]
    if not covering:
        return min(earlier, key=lambda s: float(s["t"]))
    return min(covering, key=lambda s: abs(float(s["t"]) - target))


def thin(samples: list[Sample], now: float) -> list[Sample]:
    """The samples worth keeping: every recent one, ever fewer as they age.

    Each read stores a sample, so a history kept whole grows with the release's length
    (an analysis reading every second: 900 samples in 15 minutes), and every read loads
    and rewrites all of it, times the number of servers. A baseline only needs a sample
    near ``now - window``, with a precision relative to the window. So samples younger
    than :data:`DENSE_SECONDS` are all kept; an older one lies in a time bucket whose
    width doubles with each doubling of its age (:data:`PER_DOUBLING` buckets per
    doubling), and only the newest sample of each bucket is kept. Buckets are aligned on
    absolute time and nest, so thinning again at every read keeps about the same spacing
    (not exactly: a sample may cross into a coarser level before a newer one of its
    bucket does, leaving a gap; a property test bounds what that does to a baseline). At
    most about 60 samples remain, whatever the length.

    Args:
        samples: in time order.
        now: the current time.

    Returns:
        The kept samples, in time order.
    """
    kept: dict[tuple[int, int], Sample] = {}
    for index, sample in enumerate(samples):
        t = float(sample["t"])
        age = now - t
        if age < DENSE_SECONDS:
            kept[(-1, index)] = sample
            continue
        level = int(math.log2(age / DENSE_SECONDS))
        width = DENSE_SECONDS * 2.0**level / PER_DOUBLING
        kept[(level, math.floor(t / width))] = sample  # a later one replaces it
    return sorted(kept.values(), key=lambda s: float(s["t"]))


def window_counts(baseline: Sample | None, current: Sample) -> dict[str, dict[str, Any]]:
    """Per-server requests and errors between ``baseline`` and ``current``.

    Requests are responses of any class plus attempts that got none (connection and
    response errors); errors are 5xx responses plus those failed attempts, as the sandbox
    router counts a failed attempt as a server error. With no baseline nothing is known
    yet: every server has zero requests (the analysis waits for data).

    Returns:
        ``{server: {"requests", "errors", "faults", "responses", "seconds"}}``.
    """
    result: dict[str, dict[str, Any]] = {}
    if baseline is None:
        for name in current["servers"]:
            result[name] = {
                "requests": 0, "errors": 0, "faults": 0, "responses": 0, "seconds": 0.0
            }
        return result
    # A different HAProxy process (reload, restart) restarted every counter from zero.
    restarted = baseline.get("process") != current.get("process")
    old_servers: dict[str, dict[str, int]] = {} if restarted else baseline["servers"]
    seconds = round(float(current["t"]) - float(baseline["t"]), 3)
    for name, counters in current["servers"].items():
        old = old_servers.get(name, {})
        delta = {k: counter_delta(old.get(k), int(counters.get(k, 0))) for k in COUNTERS}
        responses = sum(delta[k] for k in RESPONSE_COUNTERS)
        failed = sum(delta[k] for k in ERROR_COUNTERS)
        requests = responses + failed
        injected = counter_delta(old.get(INJECTED), int(counters.get(INJECTED, 0)))
        delayed = counter_delta(old.get(DELAYED), int(counters.get(DELAYED, 0)))
        errors = min(requests, delta["hrsp_5xx"] + failed + injected)
        result[name] = {
            "requests": requests,
            "errors": errors,
            "faults": min(requests, injected),
            "delayed": delayed,
            "responses": responses,
            "seconds": seconds,
        }
    return result


class SampleStore:
    """Samples of one HAProxy backend in a JSON file, shared between processes.

    Every access holds an exclusive ``flock`` on a lock file next to it, and the file is
    replaced atomically, so concurrent tasks neither lose samples nor read half a file.
    """

    def __init__(self, directory: str, key: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, f"{key}.json")
        self.lock_path = self.path + ".lock"

    def record(self, current: Sample, window: float) -> Sample | None:
        """Store ``current`` and return the baseline for a ``window``-second delta."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(self.lock_path, "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                samples = self._load()
                now = float(current["t"])
                baseline = pick_baseline(samples, now, window)
                if not samples or now - float(samples[-1]["t"]) >= MIN_SPACING:
                    samples.append(current)
                kept = thin([s for s in samples if now - float(s["t"]) <= KEEP_SECONDS], now)
                self._save(kept[-MAX_SAMPLES:])
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return baseline

    def _load(self) -> list[Sample]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return []  # no history yet, or a damaged file: start a new one
        samples = data.get("samples") if isinstance(data, dict) else None
        if not isinstance(samples, list):
            return []
        return [s for s in samples if isinstance(s, dict) and "t" in s and "servers" in s]

    def _save(self, samples: list[Sample]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".samples.", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": 1, "samples": samples}, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
