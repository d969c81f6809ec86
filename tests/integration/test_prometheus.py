"""The canary judged from a real Prometheus scraping the sandbox router (Debian's package).

Each test starts its own Prometheus on a free loopback port with a generated config that
scrapes the router's ``/metrics`` every second, with its storage in the test's directory,
and kills it at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.sandbox.layout import Layout
from tests.helpers import ROOT
from tests.integration.prometheus_env import PROMETHEUS, Prometheus
from tests.integration.sandbox_env import INVENTORY, run_relrun, start_relrun, wait_for_journal

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
]

QUICK = ROOT / "tests" / "data" / "quick.yml"
QUERIES = """\
    queries:
      requests: sum(relrun_router_requests_total{server="${server}"})
      errors: sum(relrun_router_requests_total{server="${server}",code=~"5xx|error"})
      latency_buckets: >-
        sum by (le) (relrun_router_request_duration_seconds_bucket{server="${server}"})
"""


@pytest.fixture
def prometheus(sandbox: Path, tmp_path: Path) -> Iterator[Prometheus]:
    router = json.loads((sandbox / "router.json").read_text())
    server = Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{router['admin_port']}"])
    try:
        server.start()
        yield server
    finally:
        server.stop()


def runbook(
    tmp_path: Path, url: str, *, no_data: str = "wait", extra: str = "", first_bake: str = "3s"
) -> Path:
    """quick.yml judged from Prometheus at ``url``."""
    text = QUICK.read_text(encoding="utf-8")
    block = (
        f"  no_data: {no_data}\n  metrics:\n    provider: prometheus\n    url: {url}\n"
        f"    timeout: 2s\n{extra}{QUERIES}"
    )
    text = text.replace("  max_p95_ms: 1000\n", "  max_p95_ms: 1000\n" + block, 1)
    text = text.replace(
        "      weight: 10\n      bake: 3s\n", f"      weight: 10\n      bake: {first_bake}\n"
    )
    # RTO is not what these tests measure; a loaded machine must not fail them on it.
    # Nor the dead man's switch: a lease that outlasts a loaded machine's slowest task.
    text = text.replace("  rto_budget: 20s\n", "  rto_budget: 10m\n  lease: 2m\n")
    path = tmp_path / "prom.yml"
    path.write_text(text, encoding="utf-8")
    return path


def analyses(reports: Path) -> list[dict[str, object]]:
    """Every analysis module result in the journal (what the judgement saw)."""
    found = []
    for line in (reports / "journal.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        result = (event.get("data") or {}).get("result") or event.get("result") or {}
        if isinstance(result, dict) and isinstance(result.get("method"), dict):
            found.append(result)
    return found


def test_a_drill_judged_from_prometheus_detects_the_fault_and_loses_nothing(
    sandbox: Path, prometheus: Prometheus, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    path = runbook(tmp_path, prometheus.url)
    proc = run_relrun(
        [
            "drill",
            str(path),
            "-i",
            str(INVENTORY),
            "--traffic-log",
            str(Layout.at(sandbox).traffic_log),
            "--report-dir",
            str(reports),
        ],
        sandbox,
        tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    report = json.loads((reports / "drill.json").read_text())
    assert report["verdict"] == "pass"
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"]) == ("error_rate", "Blue-Green 50%"), trigger
    assert report["traffic"]["lost"] == 0
    assert [(s["name"], s["status"]) for s in report["stages"]] == [
        ("Canary 10%", "passed"),
        ("Blue-Green 50%", "breached"),
    ]
    # The stages were judged from Prometheus (its counters, with the router's states).
    judged = analyses(reports)
    sources = {str(r["method"].get("metrics")) for r in judged}  # type: ignore[union-attr]
    assert f"prometheus {prometheus.url}" in sources, sources
    # The breach's evidence counts canary requests Prometheus scraped.
    assert "e-value" in trigger["message"], trigger


@pytest.mark.parametrize("no_data", ["fail", "wait"])
def test_prometheus_killed_mid_stage_rolls_back_as_no_data_says(
    sandbox: Path, prometheus: Prometheus, tmp_path: Path, no_data: str
) -> None:
    reports = tmp_path / "reports"
    path = runbook(
        tmp_path, prometheus.url, no_data=no_data, extra="    max_outage: 2s\n", first_bake="5m"
    )
    proc = start_relrun(
        ["release", str(path), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=400)
    prometheus.stop()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err  # the release failed, the environment is safe
    report = json.loads((reports / "release.json").read_text())
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"]) == ("no_data", "Canary 10%"), trigger
    assert "Prometheus did not answer" in trigger["message"]
    if no_data == "wait":
        assert "holds at most 2s" in trigger["message"], trigger
    # The rollback's verify reads the router's own counters: the outage does not fail it.
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
