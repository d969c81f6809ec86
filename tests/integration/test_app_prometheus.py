"""A drill judged from the demo API's own ``/metrics``, scraped by a real Prometheus.

Debian's Prometheus scrapes stable's and canary's own ``GET /metrics`` (not the router's)
every second, each target labelled with the server it is, as docs/metrics.md's worked
example 3 says; the runbook's queries are that example's, word for word. The canary is
started by the drill's deploy step on an OS-chosen port, so the targets are
file-discovered: the test adds the canary once it has announced its port, as a service
discovery would. The fault is the demo API's own (``via: app``), so only the app's metrics
and the router's see it; the judgement reads the app's.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.sandbox.layout import Layout
from tests.helpers import ROOT
from tests.integration.prometheus_env import PROMETHEUS, Prometheus, docs_queries
from tests.integration.sandbox_env import INVENTORY, start_relrun

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
]

QUICK = ROOT / "tests" / "data" / "quick.yml"
JOB = "api"  # the job name worked example 3's queries select


def target(layout: Layout, name: str) -> str:
    return f"127.0.0.1:{json.loads(layout.server_file(name).read_text())['port']}"


@pytest.fixture
def prometheus(sandbox: Path, tmp_path: Path) -> Iterator[Prometheus]:
    stable = target(Layout.at(sandbox), "stable")
    server = Prometheus(
        tmp_path / "prometheus", [stable], job=JOB, labels={stable: {"server": "stable"}}
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


def runbook(tmp_path: Path, url: str) -> Path:
    """quick.yml judged from the app's metrics, its fault injected by the app."""
    text = QUICK.read_text(encoding="utf-8")
    queries = "".join(f"    {line}\n" for line in docs_queries(3).splitlines())
    # no_data: wait: the canary's first readings come before its first scrape (no series).
    block = (
        "  no_data: wait\n  metrics:\n    provider: prometheus\n"
        f"    url: {url}\n    timeout: 2s\n    max_outage: 60s\n{queries}"
    )
    text = text.replace("  max_p95_ms: 1000\n", "  max_p95_ms: 1000\n" + block, 1)
    text = text.replace("    value: 0.5\n", "    value: 0.5\n    via: app\n")
    # Neither RTO nor the dead man's switch is what this measures; a loaded machine must
    # not fail it on them.
    text = text.replace("  rto_budget: 20s\n", "  rto_budget: 10m\n  lease: 2m\n")
    path = tmp_path / "app-prom.yml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_for_announcement(path: Path, proc: subprocess.Popen[str], timeout: float = 400) -> None:
    """Poll until the canary announces its port (the drill's deploy step started it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"relrun ended before the canary started: {out}{err}")
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def test_a_drill_judged_from_the_apps_own_histogram_rolls_back_and_loses_nothing(
    sandbox: Path, prometheus: Prometheus, tmp_path: Path
) -> None:
    layout = Layout.at(sandbox)
    reports = tmp_path / "reports"
    proc = start_relrun(
        ["drill", str(runbook(tmp_path, prometheus.url)), "-i", str(INVENTORY),
         "--traffic-log", str(layout.traffic_log), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    wait_for_announcement(layout.server_file("canary"), proc)
    stable = target(layout, "stable")
    prometheus.set_targets(
        {stable: {"server": "stable"}, target(layout, "canary"): {"server": "canary"}}
    )
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    report = json.loads((reports / "drill.json").read_text())
    assert report["verdict"] == "pass", report["reasons"]
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Blue-Green 50%"), trigger
    assert "e-value" in trigger["message"], trigger
    assert report["traffic"]["lost"] == 0
    assert [(s["name"], s["status"]) for s in report["stages"]] == [
        ("Canary 10%", "passed"),
        ("Blue-Green 50%", "breached"),
    ]
    # Judged from Prometheus, whose series are the app's own: the canary's 5xx, by version
    # (over time: the cleanup stopped the canary, so its series are stale by now).
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    assert f"prometheus {prometheus.url}" in journal
    failed = prometheus.query(
        f'max_over_time(http_requests_total{{job="{JOB}",server="canary",status="5xx"}}[10m])'
    )
    assert failed and float(failed[0]["value"][1]) > 0, failed  # type: ignore[index]
    assert failed[0]["metric"]["version"] == "2.0", failed  # type: ignore[index]
    stable_failed = prometheus.query(
        f'sum(http_requests_total{{job="{JOB}",server="stable",status="5xx"}}) or vector(0)'
    )
    assert stable_failed and float(stable_failed[0]["value"][1]) == 0, stable_failed  # type: ignore[index]
