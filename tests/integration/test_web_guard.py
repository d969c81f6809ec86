"""A business-metric guard read from a real JSON service on loopback, in a real drill.

The service (``business_env``) reports failed payments per server; the drill's fault is a
``command`` that raises the canary's number over real HTTP. The router sees no errors at
all: only the guard can catch it, and the drill must roll back on it with nothing lost,
its evidence in every report, and the token it sent in none of them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from relrun.report.history import list_runs
from relrun.sandbox.layout import Layout
from tests.helpers import ROOT
from tests.integration.business_env import BusinessMetrics
from tests.integration.sandbox_env import (
    INVENTORY,
    history_db,
    run_relrun,
    start_relrun,
    wait_for_journal,
)

pytestmark = pytest.mark.integration

QUICK = ROOT / "tests" / "data" / "quick.yml"
TOKEN = "shop-metrics-token-5f2c9a"


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[BusinessMetrics]:
    service = BusinessMetrics(TOKEN)
    service.failed.update(stable=1.0, canary=1.0)
    monkeypatch.setenv("SHOP_METRICS_TOKEN", TOKEN)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def runbook(tmp_path: Path, url: str, no_data: str = "wait", first_bake: str = "3s") -> Path:
    """quick.yml with a failed-payments guard, and a fault that moves the canary's number."""
    text = QUICK.read_text(encoding="utf-8")
    guard = (
        "  guards:\n"
        "    - name: failed_payments_per_min\n"
        "      provider: web\n"
        f'      url: "{url}/stats?server=${{server}}"\n'
        "      path: payments.failed_per_min\n"
        "      auth: {token_env: SHOP_METRICS_TOKEN}\n"
        "      max: 5\n"
        "      max_vs_stable: {factor: 2, delta: 1}\n"
    )
    text = text.replace(
        "  max_p95_ms: 1000\n", f"  max_p95_ms: 1000\n  no_data: {no_data}\n" + guard, 1
    )
    text = text.replace(
        "      weight: 10\n      bake: 3s\n", f"      weight: 10\n      bake: {first_bake}\n"
    )
    argv = json.dumps(
        [sys.executable, "-c", "import sys, urllib.request; "
         "urllib.request.urlopen(sys.argv[1], data=b'', timeout=10).read()"]
    )
    fault = (
        "drill:\n  fault:\n    kind: command\n    stage: Blue-Green 50%\n"
        f"    inject:\n      - name: failed-payments-up\n        argv: {argv[:-1]}, "
        f'"{url}/set?server=canary&failed=40"]\n'
        f"    revert:\n      - name: failed-payments-down\n        argv: {argv[:-1]}, "
        f'"{url}/set?server=canary&failed=1"]\n'
        "  expect:\n    trigger: guard\n"
    )
    text = text[: text.index("drill:\n")] + fault
    text = text.replace("  rto_budget: 20s\n", "  rto_budget: 10m\n  lease: 2m\n")
    path = tmp_path / "shop.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_prints_the_guard_and_the_urls_it_reads(
    shop: BusinessMetrics, tmp_path: Path
) -> None:
    proc = run_relrun(["plan", str(runbook(tmp_path, shop.url))], tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "failed_payments_per_min (web): at most 5 and at most stable x 2 + 1" in proc.stdout
    assert f"canary (canary): GET {shop.url}/stats?server=canary -> payments.failed_per_min" \
        in proc.stdout
    assert f"stable (stable): GET {shop.url}/stats?server=stable" in proc.stdout
    assert "It passes when the rollback is triggered by a business-metric guard" in proc.stdout
    assert "command, the runbook's steps failed-payments-up on every canary host (undone by: " \
        "failed-payments-down)" in proc.stdout
    assert TOKEN not in proc.stdout


def test_a_drill_rolls_back_on_a_business_metric_the_router_cannot_see(
    sandbox: Path, shop: BusinessMetrics, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    proc = run_relrun(
        [
            "drill", str(runbook(tmp_path, shop.url)), "-i", str(INVENTORY),
            "--traffic-log", str(Layout.at(sandbox).traffic_log),
            "--report-dir", str(reports),
        ],
        sandbox,
        tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    report = json.loads((reports / "drill.json").read_text())
    assert report["verdict"] == "pass", report["reasons"]
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"], trigger["guard"]) == (
        "guard", "Blue-Green 50%", "failed_payments_per_min"
    ), trigger
    assert (trigger["observed"], trigger["threshold"]) == (40, 5)
    assert trigger["stable_value"] == 1
    assert "guard failed_payments_per_min: canary 40 above its limit 5" in trigger["message"]
    assert report["traffic"]["lost"] == 0
    assert [(s["name"], s["status"]) for s in report["stages"]] == [
        ("Canary 10%", "passed"),
        ("Blue-Green 50%", "breached"),
    ]
    # Every sample of the passed stage carries the guard's reading beside the router's.
    first = report["stages"][0]["samples"]
    assert first and all(s["guards"]["failed_payments_per_min"]["ok"] for s in first), first
    assert {"canary", "stable"} <= set(shop.reads)
    assert shop.refused == 0  # the token reached the service by reference
    # ci.json lists the guard per stage it watched, with what it read.
    ci = json.loads((reports / "ci.json").read_text())
    watched = {(g["stage"], g["breached"]) for g in ci["guards"]}
    assert watched == {("Canary 10%", False), ("Blue-Green 50%", True)}, ci["guards"]
    (hit,) = [g for g in ci["guards"] if g["breached"]]
    assert (hit["worst"], hit["limit"]) == (40, "<= 5 and <= stable x 2 + 1"), hit
    assert ci["summary"]["guards_breached"] == 1
    # The evidence is in the human reports and JUnit; the token is in no file at all.
    (recorded,) = list_runs(history_db(sandbox))
    markdown = run_relrun(["report", recorded.id, "--format", "md"], sandbox, tmp_path)
    assert markdown.returncode == 0, markdown.stderr
    assert "guard failed_payments_per_min: canary 40 above its limit 5" in markdown.stdout
    for name in ("report.html", "junit.xml"):
        assert "failed_payments_per_min" in (reports / name).read_text(), name
    for path in [*reports.rglob("*"), *tmp_path.rglob("artifacts/**/*")]:
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path


def test_the_guards_service_gone_mid_stage_is_no_data_never_a_pass(
    sandbox: Path, shop: BusinessMetrics, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    path = runbook(tmp_path, shop.url, no_data="fail", first_bake="5m")
    proc = start_relrun(
        ["release", str(path), "-i", str(INVENTORY), "--report-dir", str(reports)],
        sandbox,
        tmp_path,
    )
    wait_for_journal(reports, "Stage 1/3 Canary 10%: analysis", proc, timeout=400)
    shop.stop()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err  # the release failed, the environment is safe
    report = json.loads((reports / "release.json").read_text())
    trigger = report["trigger"]
    assert (trigger["reason"], trigger["stage"], trigger["guard"]) == (
        "no_data", "Canary 10%", "failed_payments_per_min"
    ), trigger
    assert "no data for guard failed_payments_per_min (no_data: fail)" in trigger["message"]
    assert [s["status"] for s in report["rollback"]["steps"]] == ["passed"] * 5
