"""`analysis.metrics`: the Prometheus source in the runbook, its errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.errors import InputError
from relrun.render.rollout import metrics_arg
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
  metrics:
"""
GOOD = (
    HEAD
    + """\
    provider: prometheus
    url: "{{ relrun_prometheus_url }}"
    auth:
      token_env: PROM_TOKEN
    queries:
      requests: sum(http_requests_total{server="${server}"})
      errors: sum(http_requests_total{server="${server}",code=~"5.."}) or vector(0)
rollout:
  stages:
    - {name: Canary 5%, weight: 5, bake: 10s}
"""
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rb.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_runbook(path)
    return str(caught.value).splitlines()


def test_a_prometheus_source_loads_with_safe_defaults(tmp_path: Path) -> None:
    metrics = load_runbook(write(tmp_path, GOOD)).runbook.analysis.metrics
    assert metrics is not None
    assert (metrics.provider, metrics.timeout, metrics.max_outage) == ("prometheus", 2, 30)
    assert metrics.latency_unit == "seconds" and metrics.queries.latency_buckets is None
    args = metrics_arg(metrics, "api")
    # The token is referenced by name; only the URL is a template Ansible fills in.
    assert args["auth"] == {"token_env": "PROM_TOKEN"}
    assert args["url"] == "{{ relrun_prometheus_url }}"
    assert type(args["queries"]["requests"]).__name__ == "AnsibleUnsafeText" or (
        args["queries"]["requests"] == 'sum(http_requests_total{server="${server}"})'
    )


def test_every_mistake_is_reported_at_its_position(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + """\
    provider: graphite
    url: http://127.0.0.1:9090
    timeout: 0
    auth:
      token_env: PROM_TOKEN
      password_env: PROM_PASSWORD
    queries:
      requests: sum(x{host="${host}"})
      errors: sum(x{server="${server"})
""",
    )
    f = str(path)
    assert problems(path) == [
        f"{f}:10:5: error: unknown metric provider 'graphite'; one of prometheus "
        "(at analysis.metrics.provider)",
        f"{f}:12:5: error: 0ms is too short: at least 100ms (no process start or HTTP round "
        "trip between hosts fits in less) (at analysis.metrics.timeout)",
        f"{f}:13:5: error: give exactly one of token_env, token_file, password_env, "
        "password_file (at analysis.metrics.auth)",
        f"{f}:17:7: error: unknown query variable ${{host}} (known: ${{server}}, ${{role}}, "
        "${backend}, ${window}) (at analysis.metrics.queries.requests)",
        f"{f}:18:7: error: a `${{` in a query starts a variable: write ${{name}} "
        "(at analysis.metrics.queries.errors)",
    ]


def test_a_secret_cannot_be_written_in_the_runbook(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("token_env: PROM_TOKEN", "token: s3cr3t"))
    assert any("unknown field 'token'" in p for p in problems(path))


def test_validate_exits_2_and_plan_prints_the_queries(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("provider: prometheus", "provider: nagios"))
    proc = relrun("validate", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown metric provider 'nagios'" in proc.stderr
    good = write(tmp_path, GOOD)
    proc = relrun("plan", str(good), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'sum(http_requests_total{server="canary"})' in proc.stdout
    assert "prometheus" in proc.stdout.lower()


def test_the_lease_must_outlast_the_metrics_readings_between_two_renewals(
    tmp_path: Path,
) -> None:
    slow = GOOD.replace("    auth:\n", "    timeout: 10s\n    auth:\n")
    found = problems(write(tmp_path, slow))
    assert len(found) == 1
    assert "2 metrics readings of up to 10s (analysis.metrics.timeout)" in found[0]
    assert "lease (15s) can run out" in found[0]
