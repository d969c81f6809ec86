from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from relrun.report.html import html_document, write_html_report
from relrun.report.markdown import markdown_document
from relrun.report.rundocs import load_run_documents
from tests.unit.report.reportdata import NO_FAULT, run_dir

HOSTILE = '<img src=x onerror="alert(1)">'


def test_report_shows_verdict_stages_rollback_gates_and_audit(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    path = write_html_report(directory)
    assert path == directory / "report.html"
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []  # atomic
    html = path.read_text()
    run = json.loads((directory / "drill.json").read_text())
    assert 'class="verdict pass"' in html
    for reason in run["reasons"]:
        assert reason in html
    for name in ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup"):
        assert f'data-step="{name}"' in html
    assert "Blue-Green 50%" in html and "breached" in html
    assert "14.3%" in html and "5.0%" in html  # observed error rate vs its limit
    assert run["runbook"]["sha256"] in html and run["playbook_sha256"] in html
    assert "ansible-core 2.19" in html and "sandbox-router" in html
    ci = json.loads((directory / "ci.json").read_text())
    assert ci["builds"][0]["artifacts"][0]["sha256"] in html
    assert "11.9 ms" in html and "18.2 ms" in html  # API check p50 / p95
    assert "forbidden-import" in html  # scan findings
    assert "@media print" in html


def test_chart_has_series_and_markers(tmp_path: Path) -> None:
    html = html_document(load_run_documents(run_dir(tmp_path)))
    for series in ("weight", "error_rate", "p95_ms", "traffic:1.0", "traffic:2.0", "injected",
                   "lost"):
        assert f'data-series="{series}"' in html
    for marker in ("fault", "trigger", "switched"):
        assert f'data-marker="{marker}"' in html
    assert 'data-limit="limit 5.0%"' in html


def test_no_fault_drill_has_no_rollback_markers(tmp_path: Path) -> None:
    html = html_document(load_run_documents(run_dir(tmp_path, NO_FAULT)))
    assert 'class="verdict fail"' in html
    assert "data-marker=" not in html
    assert "The rollback did not run." in html


def test_self_contained_with_a_strict_csp(tmp_path: Path) -> None:
    html = html_document(load_run_documents(run_dir(tmp_path)))
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!#|data:)[^"'\s>]""", html)
    assert "<link" not in html
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert "default-src 'none'" in html and f"script-src 'sha256-{digest}'" in html


def test_everything_is_escaped(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run["runbook"]["name"] = HOSTILE
    run["reasons"].append("</script><script>alert(2)</script>")
    run["stages"][0]["name"] = '"><svg onload=alert(3)>'
    run["trigger"]["message"] = "<b>x</b>"  # the reason is a closed enum: see test_record
    (directory / "drill.json").write_text(json.dumps(run))
    html = write_html_report(directory).read_text()
    for raw in (HOSTILE, "<script>alert(2)", "<svg onload", "<b>x</b>",
                "<script>alert(1)</script>"):  # the last one is in a build's output
        assert raw not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "&lt;/script&gt;&lt;script&gt;alert(2)" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # in the trigger's line, escaped by Jinja
    assert html.count("<script>") == 1


def test_markdown(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    run["stages"][0]["name"] = "a|b"
    (directory / "drill.json").write_text(json.dumps(run))
    text = markdown_document(load_run_documents(directory))
    assert text.startswith("# relrun drill: quick 2.0.0 — PASS")
    assert "| 2 | Blue-Green 50% | 50% | breached | 14.3% | 5.0% |" in text
    assert "a\\|b" in text
    assert "| 5 | cleanup | passed | 2.31 s |" in text


def test_rollback_steps_are_timed_from_the_fault(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    fault = run["fault_injected_at"]
    for i, step in enumerate(run["rollback"]["steps"]):
        step["started"], step["ended"] = fault + 0.5 + i, fault + 1.0 + i
    (directory / "drill.json").write_text(json.dumps(run))
    html = write_html_report(directory).read_text()
    rollback = html.split('id="rollback"')[1].split("</section>")[0]
    assert "+0.50 s" in rollback and "+4.50 s" in rollback
    assert str(int(fault))[:6] not in rollback  # no epoch seconds
    # The RTO budget bars: stop_deployment, drain, switch_traffic; not verify, cleanup.
    assert rollback.count('class="bar"') == 3
    assert rollback.count("outside the RTO") == 2


def test_the_chart_draws_the_evidence_against_its_bound() -> None:
    from relrun.report.record import RunRecord
    from relrun.report.svg import timeline_svg

    def look(t: float, e: float) -> dict[str, object]:
        return {"time": t, "evidence": {"error_limit": {"e_value": e, "bound": 400.0}}}

    record = RunRecord.model_validate(
        {
            "kind": "drill",
            "verdict": "pass",
            "state": "rolled_back",
            "exit_code": 0,
            "started": 0.0,
            "ended": 10.0,
            "stages": [
                {
                    "index": 2,
                    "name": "Blue-Green 25%",
                    "status": "breached",
                    "started": 1.0,
                    "ended": 4.0,
                    "samples": [look(2.0, 20.0), look(3.0, 800.0)],
                }
            ],
        }
    )
    svg = timeline_svg(record)
    assert 'data-series="evidence"' in svg
    assert "bound 1/alpha: breach" in svg
