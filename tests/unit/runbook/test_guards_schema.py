"""`analysis.guards` in the runbook: what loads, what is refused where, what the plan says."""

from __future__ import annotations

from pathlib import Path

from relrun.render.rollout import guard_arg
from relrun.runbook.loader import load_runbook
from tests.helpers import relrun

HEAD = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
traffic:
  driver: sandbox
analysis:
  guards:
"""
TAIL = """\
rollout:
  stages:
    - {name: Canary 5%, weight: 5, bake: 10s}
"""
GOOD = """\
    - name: failed_payments_per_min
      provider: web
      url: "{{ shop_url }}/stats?server=${server}"
      path: payments.failed_per_min
      headers_env: {X-Api-Key: SHOP_KEY}
      max: 5
      max_vs_stable: {factor: 1.2}
    - name: p99
      provider: prometheus
      url: http://127.0.0.1:9090
      query: histogram_quantile(0.99, sum by (le) (rate(h_bucket{role="${role}"}[1m])))
      max_vs_stable: {delta: 0.05}
      consecutive: 2
"""


def write(tmp_path: Path, guards: str) -> Path:
    path = tmp_path / "rb.yml"
    path.write_text(HEAD + guards + TAIL, encoding="utf-8")
    return path


def test_guards_load_and_reach_the_module_as_literals(tmp_path: Path) -> None:
    guards = load_runbook(write(tmp_path, GOOD)).runbook.analysis.guards
    assert [(g.name, g.per_server, g.timeout, g.consecutive) for g in guards] == [
        ("failed_payments_per_min", True, 2, 1),
        ("p99", True, 2, 2),
    ]
    args = guard_arg(guards[0], "api")
    assert args["url"] == "{{ shop_url }}/stats?server=${server}"  # Ansible fills the var
    assert args["headers_env"] == {"X-Api-Key": "SHOP_KEY"}  # a name, never the key
    assert args["max_vs_stable"] == {"factor": 1.2, "delta": 0.0}


def test_bad_guards_are_refused_at_their_positions_with_exit_2(tmp_path: Path) -> None:
    bad = """\
    - name: a
      provider: web
      url: "http://user:pw@shop/stats"
      path: "x[y"
      max: 1
    - name: b
      provider: web
      url: http://shop/stats
      path: failed
      headers: {Authorization: Bearer abc}
      max: 1
    - name: c
      provider: datadog
      url: http://x
      max: 1
    - name: d
      provider: web
      url: http://shop/stats
      path: failed
      max_vs_stable: {factor: 2}
    - name: e
      provider: prometheus
      url: http://p
      query: sum(x{server="${srv}"})
      max: 1
    - name: f
      provider: web
      url: http://shop/stats
      path: failed
    - name: f
      provider: prometheus
      url: http://p
      path: failed
      max: 1
    - name: g
      provider: prometheus
      url: http://p/${server}
      query: up
      max: 1
"""
    proc = relrun("validate", str(write(tmp_path, bad)))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    expected = [
        (":12:7:", "credentials go in `auth`", "analysis.guards[0].url"),
        (":13:7:", "bad JSON path 'x[y'", "analysis.guards[0].path"),
        (":19:7:", "header Authorization carries a secret", "analysis.guards[1].headers"),
        (":22:7:", "unknown guard provider 'datadog'", "analysis.guards[2].provider"),
        (":25:", "must name ${server} or ${role}", "analysis.guards[3]"),
        (":33:7:", "unknown query variable ${srv}", "analysis.guards[4].query"),
        (":35:", "a guard needs a limit", "analysis.guards[5]"),
        (":39:", "a prometheus guard needs a `query`", "analysis.guards[6]"),
        (":44:", "put ${...} variables in its `query`", "analysis.guards[7]"),
    ]
    for where, words, field in expected:
        assert any(where in line and words in line and field in line for line in lines), (
            where, words, lines)
    # Nothing echoes the would-be secrets.
    assert "pw@" not in proc.stderr and "Bearer abc" not in proc.stderr


def test_plan_prints_each_guard_with_the_queries_and_urls_it_sends(tmp_path: Path) -> None:
    proc = relrun("plan", str(write(tmp_path, GOOD)))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "failed_payments_per_min (web): at most 5 and at most stable x 1.2" in out
    assert "canary (canary): GET {{ shop_url }}/stats?server=canary -> payments.failed_per_min" \
        in out
    assert "p99 (prometheus): at most stable x 1 + 0.05, 2 readings in a row" in out
    assert 'stable (stable): http://127.0.0.1:9090 histogram_quantile(0.99, sum by (le) ' \
        '(rate(h_bucket{role="stable"}[1m])))' in out


def test_the_guards_example_of_docs_metrics_md_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text()
    section = docs[docs.index("## Business-metric guards") :]
    block = section[section.index("```yaml\n") + len("```yaml\n") :]
    example = block[: block.index("```")]
    assert example.startswith("analysis:\n")
    text = HEAD[: HEAD.index("analysis:\n")] + example + TAIL
    path = tmp_path / "docs.yml"
    path.write_text(text, encoding="utf-8")
    guards = load_runbook(path).runbook.analysis.guards
    assert [g.name for g in guards] == ["failed_payments_per_min", "signups_per_min"]


def test_the_lease_check_counts_the_guards_readings(tmp_path: Path) -> None:
    guard = """\
    - name: slow
      provider: web
      url: http://shop/stats
      path: failed
      max: 1
      timeout: 10s
"""
    text = HEAD.replace("analysis:\n", "analysis:\n  max_p95_ms: 500\n") + guard + TAIL
    path = tmp_path / "rb.yml"
    path.write_text(text + "rollback:\n  lease: 5s\n", encoding="utf-8")
    proc = relrun("validate", str(path))
    assert proc.returncode == 2
    assert "10s for the guards' readings (analysis.guards[].timeout)" in proc.stderr
    assert "longer than 12.5s" in proc.stderr
    path.write_text(text + "rollback:\n  lease: 13s\n", encoding="utf-8")
    assert relrun("validate", str(path)).returncode == 0
