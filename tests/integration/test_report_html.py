"""report.html in a real browser: headless Debian chromium loads it from disk.

The page is the one written for a run captured from a real drill (tests/data/reports).
A probe script, allowed by adding its hash to the report's own CSP, records errors,
CSP violations and every resource the page loaded, and writes them into the DOM that
``--dump-dom`` prints. Chromium's own console log (stderr) must be empty too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from relrun.report.html import write_html_report
from tests.helpers import ROOT
from tests.unit.report.reportdata import run_dir

pytestmark = pytest.mark.integration

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

PROBE = """
window.__probe = {errors: []};
window.addEventListener("error", function (e) {
  __probe.errors.push("error: " + e.message);
}, true);
document.addEventListener("securitypolicyviolation", function (e) {
  __probe.errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
});
["error", "warn"].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    __probe.errors.push(level + ": " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
});
window.addEventListener("load", function () {
  var svg = document.getElementById("timeline");
  var q = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  var series = {};
  q("#timeline [data-series]").forEach(function (g) {
    var lengths = q('#timeline [data-series="' + g.dataset.series + '"] path')
      .map(function (p) { return p.getTotalLength(); });
    series[g.dataset.series] = {
      paths: lengths.length, length: lengths.reduce(function (a, b) { return a + b; }, 0),
      rects: g.querySelectorAll("rect").length, dots: g.querySelectorAll("circle").length
    };
  });
  var button = document.querySelector('.legend button[data-toggle="weight"]');
  button.click();
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  var out = {
    errors: __probe.errors,
    resources: performance.getEntriesByType("resource").map(function (r) { return r.name; }),
    svg: {namespace: svg && svg.namespaceURI, width: box.width, height: box.height},
    series: series,
    markers: q("#timeline [data-marker]").map(function (m) { return m.dataset.marker; }),
    steps: q("#timeline [data-step]").map(function (m) { return m.dataset.step; }),
    hidden_after_click: q('#timeline [data-series="weight"].hidden').length,
    verdict: document.getElementById("verdict").textContent,
    page_width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    chart_text_px: svg ? parseFloat(getComputedStyle(svg).fontSize) * box.width /
      svg.viewBox.baseVal.width : 0,
    rto_bars: q("#rollback tbody .bar").length
  };
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  // In a frame (the phone test), report to the page that holds the frame.
  (window.parent !== window ? window.parent.document : document).body.appendChild(pre);
});
"""


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        # Any name lookup fails: a page that tried to fetch would show it, never wait on it.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=5000",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def probed(
    tmp_path: Path, html: str, name: str, frame_width: int | None = None
) -> tuple[dict[str, Any], str]:
    """Load ``html`` with the probe; return what it saw and chromium's console lines.

    With ``frame_width``, the page is shown in a frame that wide (headless chromium will not
    make its window narrower than 500 px), as a phone's browser would.
    """
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    html = html.replace("script-src '", f"script-src 'sha256-{digest}' '", 1)
    html = html.replace("<head>", f"<head><script>{PROBE}</script>", 1)
    page = tmp_path / name
    page.write_text(html)
    args: list[str] = []
    if frame_width is not None:
        outer = tmp_path / f"frame-{name}"
        outer.write_text(
            f'<!DOCTYPE html><html><body style="margin:0"><iframe src="{page.name}" '
            f'style="border:0;width:{frame_width}px;height:844px"></iframe></body></html>'
        )
        page, args = outer, ["--allow-file-access-from-files"]
    proc = chromium(tmp_path, page.as_uri(), "--dump-dom", *args)
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the probe did not run: {proc.stderr[-2000:]}"
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(text.replace("&amp;", "&")), "\n".join(console)


@needs_chromium
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    directory = run_dir(tmp_path)
    run = json.loads((directory / "drill.json").read_text())
    measured = [x for s in run["stages"] for x in s["samples"] if x["error_rate"] is not None]
    report = write_html_report(directory)
    seen, console = probed(tmp_path, report.read_text(), "probed.html")
    assert seen["errors"] == []
    assert console == ""
    assert seen["resources"] == []  # nothing fetched: not even from disk
    assert seen["verdict"] == "pass"
    assert seen["svg"]["namespace"] == "http://www.w3.org/2000/svg"
    assert seen["svg"]["width"] > 500 and seen["svg"]["height"] > 300
    series = seen["series"]
    for name in ("weight", "error_rate", "p95_ms", "injected", "lost"):
        assert series[name]["length"] > 100, name  # a drawn line, not an empty path
    assert series["error_rate"]["dots"] == len(measured) == 7  # a dot per measured sample
    assert series["traffic:1.0"]["rects"] >= 10 and series["traffic:2.0"]["rects"] >= 3
    assert seen["markers"] == ["fault", "trigger", "switched"]
    assert seen["steps"] == ["stop_deployment", "drain", "switch_traffic", "verify", "cleanup"]
    assert seen["hidden_after_click"] == 1  # the legend's script works under the CSP


@needs_chromium
def test_report_is_readable_on_a_phone(tmp_path: Path) -> None:
    """390 px wide: the page fits, the chart's text stays readable (it scrolls sideways)."""
    report = write_html_report(run_dir(tmp_path))
    seen, _ = probed(tmp_path, report.read_text(), "phone.html", frame_width=390)
    assert seen["errors"] == []
    assert seen["viewport"] == 390
    assert seen["page_width"] <= 390, seen["page_width"]
    assert seen["chart_text_px"] >= 8, seen["chart_text_px"]  # 11 px text at 960 → 4.5 px
    # Only the steps the RTO covers (up to the switch) get a share of its budget.
    assert seen["rto_bars"] == 3


@needs_chromium
def test_the_probe_sees_external_requests_and_errors(tmp_path: Path) -> None:
    # A control: the same checks must fail for a page that fetches and errs.
    report = write_html_report(run_dir(tmp_path)).read_text()
    bad = report.replace("</body>", '<img src="http://example.invalid/x.png"></body>')
    seen, _ = probed(tmp_path, bad, "bad.html")
    assert any(e.startswith("csp: img-src") for e in seen["errors"]), seen["errors"]


@needs_chromium
def test_screenshot(tmp_path: Path) -> None:
    report = write_html_report(run_dir(tmp_path))
    shot = tmp_path / "report.png"
    proc = chromium(
        tmp_path,
        report.as_uri(),
        f"--screenshot={shot}",
        "--window-size=1100,2600",
        "--hide-scrollbars",
    )
    assert shot.exists(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 2600)
    assert len(data) > 50_000  # a page with a chart, not a blank one
    # Kept for people to look at: test-artifacts/ in the checkout, or RELRUN_ARTIFACTS.
    artifacts = Path(os.environ.get("RELRUN_ARTIFACTS") or ROOT / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "report.png")
    shutil.copy(report, artifacts / "report.html")
