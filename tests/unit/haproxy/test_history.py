from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.haproxy_history import (  # noqa: E501
    DENSE_SECONDS,
    KEEP_SECONDS,
    SampleStore,
    counter_delta,
    pick_baseline,
    thin,
    window_counts,
)


def sample(t: float, process: str = "1@100", **servers: dict[str, int]) -> dict[str, Any]:
    return {"t": t, "process": process, "servers": servers}


def test_counter_delta_normal_and_reset() -> None:
    assert counter_delta(10, 15) == 5
    assert counter_delta(10, 10) == 0
    # Went down: reset; everything counted now happened since the reset.
    assert counter_delta(1000, 7) == 7
    assert counter_delta(None, 7) == 7


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_counter_delta_is_never_negative(old: int, new: int) -> None:
    assert 0 <= counter_delta(old, new) <= max(new, new - old)


def test_baseline_is_the_sample_closest_to_now_minus_window() -> None:
    samples = [sample(t) for t in (100.0, 104.0, 107.0, 109.5)]
    assert pick_baseline(samples, 110.0, 5.0)["t"] == 104.0
    assert pick_baseline(samples, 110.0, 3.0)["t"] == 107.0
    assert pick_baseline(samples, 110.0, 60.0)["t"] == 100.0
    # A very recent sample is closer to 107 than 104 is, but covers too little.
    assert pick_baseline([sample(104.0), sample(109.6)], 110.0, 3.0)["t"] == 104.0
    # With only recent samples, the oldest one gives what can be known.
    assert pick_baseline([sample(109.6), sample(109.8)], 110.0, 3.0)["t"] == 109.6
    # Samples from "the future" (a clock step) are never a baseline.
    assert pick_baseline([sample(120.0)], 110.0, 5.0) is None
    assert pick_baseline([], 110.0, 5.0) is None


def test_window_counts_from_deltas() -> None:
    old = sample(100.0, canary={"hrsp_2xx": 50, "hrsp_5xx": 2, "econ": 1, "eresp": 0})
    new = sample(105.0, canary={"hrsp_2xx": 80, "hrsp_5xx": 12, "econ": 1, "eresp": 0})
    counts = window_counts(old, new)["canary"]
    assert counts == {
        "requests": 40, "errors": 10, "faults": 0, "delayed": 0, "responses": 40, "seconds": 5.0
    }


def test_injected_failures_are_errors_of_their_server() -> None:
    # relrun's traffic fault replaced 6 of the server's 2xx answers with errors.
    old = sample(100.0, canary={"hrsp_2xx": 50, "hrsp_5xx": 0, "injected": 4, "delayed": 0})
    new = sample(105.0, canary={"hrsp_2xx": 70, "hrsp_5xx": 1, "injected": 10, "delayed": 20})
    counts = window_counts(old, new)["canary"]
    assert (counts["requests"], counts["errors"], counts["faults"]) == (21, 7, 6)
    assert counts["delayed"] == 20


def test_failed_attempts_count_as_requests_and_errors() -> None:
    old = sample(100.0, canary={"hrsp_2xx": 10, "econ": 0, "eresp": 0})
    new = sample(101.0, canary={"hrsp_2xx": 10, "econ": 3, "eresp": 1})
    assert window_counts(old, new)["canary"]["requests"] == 4
    assert window_counts(old, new)["canary"]["errors"] == 4


def test_counter_reset_counts_the_new_values() -> None:
    old = sample(100.0, canary={"hrsp_2xx": 5000, "hrsp_5xx": 100})
    new = sample(103.0, canary={"hrsp_2xx": 30, "hrsp_5xx": 3})
    assert window_counts(old, new)["canary"] == {
        "requests": 33, "errors": 3, "faults": 0, "delayed": 0, "responses": 33, "seconds": 3.0}


def test_reload_resets_even_counters_that_grew_past_the_old_value() -> None:
    # A new HAProxy process whose counters already exceed the old ones: without the
    # process identity this would look like +10 requests instead of 510.
    old = sample(100.0, "1@100", canary={"hrsp_2xx": 500})
    new = sample(104.0, "2@103", canary={"hrsp_2xx": 510})
    assert window_counts(old, new)["canary"]["requests"] == 510


def test_no_baseline_means_no_data_and_new_servers_count_from_zero() -> None:
    assert window_counts(None, sample(1.0, canary={"hrsp_2xx": 99}))["canary"]["requests"] == 0
    old = sample(100.0, stable={"hrsp_2xx": 1})
    new = sample(101.0, stable={"hrsp_2xx": 2}, canary={"hrsp_2xx": 4})
    assert window_counts(old, new)["canary"]["requests"] == 4


def test_store_survives_processes_and_prunes(tmp_path: Path) -> None:
    first = SampleStore(str(tmp_path / "h"), "k")
    assert first.record(sample(1000.0, canary={"hrsp_2xx": 1}), 5) is None
    # A new store object is what the next Ansible task (a new process) gets.
    second = SampleStore(str(tmp_path / "h"), "k")
    base = second.record(sample(1005.0, canary={"hrsp_2xx": 9}), 5)
    assert base is not None and base["t"] == 1000.0
    # Reads closer together than the spacing are not stored (confirm loops poll fast).
    second.record(sample(1005.1, canary={"hrsp_2xx": 9}), 5)
    stored = json.loads((tmp_path / "h" / "k.json").read_text())["samples"]
    assert [s["t"] for s in stored] == [1000.0, 1005.0]
    second.record(sample(1000.0 + KEEP_SECONDS + 10, canary={"hrsp_2xx": 9}), 5)
    stored = json.loads((tmp_path / "h" / "k.json").read_text())["samples"]
    assert [s["t"] for s in stored] == [1000.0 + KEEP_SECONDS + 10]


def test_a_damaged_history_file_starts_over(tmp_path: Path) -> None:
    (tmp_path / "k.json").write_text("{not json")
    store = SampleStore(str(tmp_path), "k")
    assert store.record(sample(1.0, canary={}), 5) is None
    assert store.record(sample(2.0, canary={}), 5) is not None


def test_a_long_history_is_thinned_to_a_bounded_size(tmp_path: Path) -> None:
    """15 minutes of reads every second: every recent sample, a few per doubling of age."""
    store = SampleStore(str(tmp_path), "k")
    for second in range(901):
        store.record(sample(1000.0 + second, canary={"hrsp_2xx": second}), 5)
    stored = [s["t"] for s in json.loads((tmp_path / "k.json").read_text())["samples"]]
    now = 1900.0
    assert 30 <= len(stored) <= 60
    assert [t for t in stored if now - t < DENSE_SECONDS] == [1897.0, 1898.0, 1899.0, 1900.0]
    assert stored == sorted(stored) and stored[0] <= now - 600  # a 10-minute window still


@settings(max_examples=60, deadline=None)
@given(
    interval=st.floats(min_value=0.2, max_value=5.0),
    duration=st.floats(min_value=10.0, max_value=900.0),
    fraction=st.floats(min_value=0.01, max_value=0.9),
)
def test_a_baseline_from_a_thinned_history_is_within_a_quarter_of_the_window(
    interval: float, duration: float, fraction: float
) -> None:
    """Thinned after every read, as the store does: no baseline drifts by more than
    a quarter of its window (plus one read interval) from where the whole history puts it.
    """
    whole: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    t = 0.0
    while t <= duration:
        whole.append(sample(t))
        kept = thin([*kept, sample(t)], t)
        t += interval
    now = whole[-1]["t"]
    window = max(1.0, fraction * now)
    full = pick_baseline(whole, now + 0.01, window)
    thinned = pick_baseline(kept, now + 0.01, window)
    assert full is not None and thinned is not None
    assert abs(thinned["t"] - full["t"]) <= window / 4 + interval
