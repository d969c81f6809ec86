"""A drill judged from HAProxy's built-in Prometheus exporter, scraped by a real Prometheus.

HAProxy (the sandbox's, on loopback) serves its exporter on a second OS-chosen port;
Debian's Prometheus scrapes it every second. The runbook's queries are docs/metrics.md's
worked example 2, word for word. The fault is the demo API's own (``via: app``): HAProxy's
per-server counters count what servers answered, and a fault HAProxy injects itself never
reaches them (the haproxy driver adds those from its stick table; the exporter cannot).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from relrun.sandbox import control, haproxy
from tests.helpers import ROOT, relrun
from tests.integration.prometheus_env import PROMETHEUS, Prometheus, docs_queries
from tests.integration.sandbox_env import reap_started

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed"),
]

QUICK = ROOT / "tests" / "data" / "quick.yml"


@dataclass
class Env:
    inventory: Path
    traffic_log: Path
    prometheus: Prometheus


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    state = tmp_path / "sandbox"
    control.up(state, loadgen=False)
    server: Prometheus | None = None
    try:
        data = haproxy.start(state)
        if "metrics_port" not in data:
            pytest.skip("this HAProxy has no Prometheus exporter")
        control.start_loadgen(state, target=f"http://127.0.0.1:{data['port']}", rate=20)
        inventory = tmp_path / "inventory.yml"
        history = tmp_path / "haproxy-history"
        inventory.write_text(yaml.safe_dump(haproxy.inventory(state, history)), encoding="utf-8")
        server = Prometheus(
            tmp_path / "prometheus", [f"127.0.0.1:{data['metrics_port']}"], job="haproxy"
        )
        server.start()
        yield Env(inventory, state / "loadgen.jsonl", server)
    finally:
        reap_started()
        if server is not None:
            server.stop()
        control.down(state)


def runbook(tmp_path: Path, url: str) -> Path:
    text = QUICK.read_text(encoding="utf-8")
    queries = "".join(f"    {line}\n" for line in docs_queries(2).splitlines())
    block = (
        "  metrics:\n    provider: prometheus\n"
        f"    url: {url}\n    timeout: 2s\n{queries}"
        # A service-wide Prometheus guard beside them: read at every sample, never over.
        "  guards:\n    - name: backend_queue\n      provider: prometheus\n"
        f"      url: {url}\n"
        '      query: sum(haproxy_backend_current_queue{proxy="${backend}"})\n'
        "      max: 1000\n"
    )
    text = text.replace("  max_p95_ms: 1000\n", "  max_p95_ms: 1000\n" + block, 1)
    text = text.replace("    value: 0.5\n", "    value: 0.5\n    via: app\n")
    text = text.replace("  rto_budget: 20s\n", "  rto_budget: 10m\n  lease: 2m\n")
    path = tmp_path / "haproxy-prom.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_drill_judged_from_haproxys_exporter_rolls_back_and_loses_nothing(
    env: Env, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    proc = relrun(
        "drill", str(runbook(tmp_path, env.prometheus.url)), "-i", str(env.inventory),
        "--traffic-log", str(env.traffic_log), "--report-dir", str(reports), cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
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
    # Judged from Prometheus, and the counts it judged are HAProxy's exporter's.
    journal = (reports / "journal.jsonl").read_text(encoding="utf-8")
    assert f"prometheus {env.prometheus.url}" in journal
    canary = env.prometheus.query(
        'sum(haproxy_server_http_responses_total{proxy="api",server="canary",code="5xx"})'
    )
    assert canary and float(canary[0]["value"][1]) > 0, canary  # type: ignore[index]
    # The Prometheus guard watched both bakes and never breached; the passed stage's whole
    # bake read it (the breached one may end at its first sample, before a reading).
    ci = json.loads((reports / "ci.json").read_text())
    assert [(g["stage"], g["breached"]) for g in ci["guards"]] == [
        ("Canary 10%", False), ("Blue-Green 50%", False)], ci["guards"]
    assert ci["guards"][0]["readings"] > 0 and ci["guards"][0]["worst"] == 0, ci["guards"]
