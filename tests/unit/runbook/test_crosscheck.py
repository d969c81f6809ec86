"""Every problem at once, in position order: schema and cross-field problems together."""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.errors import InputError
from relrun.runbook.loader import load_runbook

INVENTORY = """\
all:
  children:
    build: {}
    router: {}
    stable: {}
"""

MISTAKES = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
  version: "1.1"
targets:
  canary: web
builds:
  - name: dev
    argv: [make, dev]
    timeout: soon
  - name: dev
    shell: make
traffic:
  driver: sandbox
rollout:
  stages:
    - name: Canary 50%
      weight: 50
      bake: 10s
    - name: Canary 50%
      weight: 5
      bake: later
      analysis:
        interval: 20s
rollback:
  lease: 12s
drill:
  fault:
    stage: Canary 25%
"""

LEASE_12 = (
    "the dead man's switch lease (12s) can run out while relrun is alive: it is renewed once "
    "per analysis sample, and at stage 'Canary 50%' two renewals can be 26s apart: interval "
    "20s + 1 round(s) of canary health probes (1 server(s), up to 16 at once) of up to 5s each "
    "(max_p95_ms, at least 0.5s) + 1s margin to read the router and write the lease; make "
    "rollback.lease longer than 26s or the interval shorter"
)


def test_validate_reports_every_kind_of_mistake_in_position_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = tmp_path / "rb.yml"
    runbook.write_text(MISTAKES)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    assert run_cli(app, ["validate", str(runbook), "-i", str(inventory)]) == 2
    f = str(runbook)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"{f}:6:3: error: duplicate key 'version' (first defined at line 5) "
        "(at metadata.version)\n"
        f"{f}:8:3: error: inventory has no group 'web' for role 'canary' (at targets.canary)\n"
        f"{f}:12:5: error: expected a duration such as 30, 30s, 500ms, 5m or 1h "
        "(at builds[0].timeout)\n"
        f"{f}:13:5: error: duplicate build name 'dev' (first used by builds[0]) "
        "(at builds[1].name)\n"
        f"{f}:22:7: error: duplicate stage name 'Canary 50%' (first used by stages[0]) "
        "(at rollout.stages[1].name)\n"
        f"{f}:23:7: error: weights must not decrease: 5% after 50% "
        "(at rollout.stages[1].weight)\n"
        f"{f}:24:7: error: expected a duration such as 30, 30s, 500ms, 5m or 1h "
        "(at rollout.stages[1].bake)\n"
        f"{f}:28:3: error: {LEASE_12} (at rollback.lease)\n"
        f"{f}:31:5: error: no stage named 'Canary 25%' (stages: 'Canary 50%') "
        "(at drill.fault.stage)\n"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rb.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, groups: list[str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_runbook(path, groups)
    return str(caught.value).splitlines()


HEAD = 'apiVersion: relrun/v1\nkind: Runbook\nmetadata: {name: demo, version: "1"}\n'


def test_cross_checks_survive_a_schema_error_and_sort_by_position(tmp_path: Path) -> None:
    # The rules run builds first, inventory last; the report follows the file.
    path = write(
        tmp_path,
        HEAD
        + "targets: {build: ci}\n"
        + "builds:\n"
        + "  - {name: a, argv: [x]}\n"
        + "  - {name: b, argv: [x], timeout: -1}\n"
        + "  - {name: a, argv: [x]}\n",
    )
    assert problems(path, ["all", "build"]) == [
        f"{path}:4:11: error: inventory has no group 'ci' for role 'build' (at targets.build)",
        f"{path}:7:26: error: Input should be greater than or equal to 0 (at builds[1].timeout)",
        f"{path}:8:6: error: duplicate build name 'a' (first used by builds[0]) "
        "(at builds[2].name)",
    ]


def test_rules_stay_silent_about_values_the_schema_rejected(tmp_path: Path) -> None:
    # The second stage's name and the first's weight are invalid: no guessing about them.
    path = write(
        tmp_path,
        HEAD
        + "traffic: {}\n"
        + "rollout:\n"
        + "  stages:\n"
        + "    - {name: one, weight: lots, bake: 1}\n"
        + "    - {name: 'two!', weight: 10, bake: 1}\n"
        + "drill: {fault: {stage: 'two!'}}\n",
    )
    assert problems(path) == [
        f"{path}:7:19: error: Input should be a valid integer, unable to parse string as an "
        "integer (at rollout.stages[0].weight)",
        f"{path}:8:8: error: String should match pattern '^[A-Za-z0-9][A-Za-z0-9 _.%/+-]{{0,63}}$' "
        "(at rollout.stages[1].name)",
    ]


ROLLOUT = (
    HEAD
    + "traffic: {canary_servers: [c1, c2]}\n"
    + "analysis: {interval: 2s, max_p95_ms: 1000}\n"
    + "rollout:\n"
    + "  stages:\n"
    + "    - {name: first, weight: 10, bake: 30s}\n"
    + "    - {name: second, weight: 50, bake: 30s, analysis: {interval: 9s}}\n"
)


def lease_message(lease: str, stage: str, gap: str, interval: str) -> str:
    return (
        f"the dead man's switch lease ({lease}s) can run out while relrun is alive: it is "
        f"renewed once per analysis sample, and at stage {stage!r} two renewals can be {gap}s "
        f"apart: interval {interval}s + 1 round(s) of canary health probes (2 server(s), up to 16 "
        "at once) of up to 1s each (max_p95_ms, at least 0.5s) + 1s margin to read the router "
        "and write the lease; make "
        f"rollback.lease longer than {gap}s or the interval shorter"
    )


def test_lease_must_outlast_the_longest_gap_between_renewals(tmp_path: Path) -> None:
    # second: 9s interval + 1 round of 2 probes x 1s + 1s = 11s; a lease of 11s is not enough.
    path = write(tmp_path, ROLLOUT + "rollback: {lease: 11s}\n")
    assert problems(path) == [
        f"{path}:10:12: error: {lease_message('11', 'second', '11', '9')} (at rollback.lease)"
    ]
    assert load_runbook(write(tmp_path, ROLLOUT + "rollback: {lease: 11.5s}\n")).runbook


def test_the_lease_gap_counts_rounds_of_probes_not_every_server(tmp_path: Path) -> None:
    # 17 canary servers: two rounds of parallel probes (16 at once), not 17 in a row.
    servers = ", ".join(f"c{i}" for i in range(1, 18))
    body = ROLLOUT.replace("[c1, c2]", f"[{servers}]") + "rollback: {lease: 13s}\n"
    path = write(tmp_path, body)  # second: 9s + 2 x 1s + 1s = 12s < 13s
    assert load_runbook(path).runbook.rollback.lease == 13
    path = write(tmp_path, body.replace("lease: 13s", "lease: 12s"))
    assert "2 round(s) of canary health probes (17 server(s), up to 16 at once)" in "".join(
        problems(path)
    )


def test_lease_problem_points_at_the_interval_when_the_lease_is_the_default(
    tmp_path: Path,
) -> None:
    # The default lease is 15s; a stage's own interval of 13s makes renewals 15s apart.
    path = write(tmp_path, ROLLOUT.replace("interval: 9s", "interval: 13s"))
    assert problems(path) == [
        f"{path}:9:56: error: {lease_message('15', 'second', '15', '13')} "
        "(at rollout.stages[1].analysis.interval)"
    ]
    # Every stage inherits the default interval: the problem is there.
    path = write(tmp_path, ROLLOUT.replace("interval: 9s", "min_requests: 1").replace("2s", "20s"))
    assert problems(path) == [
        f"{path}:5:12: error: {lease_message('15', 'first', '22', '20')} (at analysis.interval)"
    ]


def test_shipped_lease_and_intervals_fit(tmp_path: Path) -> None:
    # Defaults: interval 1s, one canary, probes of up to 5s, lease 15s.
    path = write(
        tmp_path,
        HEAD + "traffic: {}\nrollout: {stages: [{name: only, weight: 100, bake: 1m}]}\n",
    )
    assert load_runbook(path).runbook.rollback.lease == 15


def test_a_traffic_fault_needs_a_router_with_a_fault_injector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every shipped router has an injector; a router added without one (no line in
    # module_utils/fault/registry.py) is refused for traffic-layer faults, not at run time.
    monkeypatch.setattr("relrun.runbook.crosscheck.INJECTOR_NAMES", ("sandbox",))
    body = (
        HEAD
        + "traffic: {driver: haproxy}\n"
        + "rollout:\n"
        + "  stages:\n"
        + "    - {name: one, weight: 10, bake: 1}\n"
        + "    - {name: two, weight: 50, bake: 1}\n"
    )
    path = write(tmp_path, body + "drill: {fault: {kind: abort, value: 0.5}}\n")
    assert problems(path) == [
        f"{path}:9:17: error: the haproxy router has no fault injector (routers with one: "
        "sandbox); use a `command` fault, or `via: app` for error_rate and latency "
        "(at drill.fault.kind)"
    ]
    write(tmp_path, body + "drill: {fault: {kind: error_rate, via: app}}\n")
    load_runbook(path, None)  # the app injects it: no router needed
