"""``relrun plan``: what the operator reads, in the order the playbook runs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, relrun

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"
TEST_RUNBOOKS = sorted((ROOT / "tests" / "data").glob("*.yml"))
ROLLBACK = ["1. stop_deployment:", "2. drain:", "3. switch_traffic:", "4. verify:", "5. cleanup:"]


def plan(path: Path) -> str:
    done = relrun("plan", str(path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def in_order(text: str, parts: list[str]) -> None:
    """Every part appears in text, each after the one before."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} missing after position {at}:\n{text[at:]}"
        at = found + len(part)


def stage_blocks(text: str) -> list[str]:
    """The text of each stage, from its heading to the next numbered step."""
    return re.findall(r"^ +\d+\. Stage .*?(?=^ +\d+\. )", text, flags=re.M | re.S)


def test_flagship_plan_says_everything_in_playbook_order() -> None:
    out = plan(FLAGSHIP)
    in_order(
        out,
        [
            "Plan for release-v2 2.0.0",
            'Gates, on the hosts of group "build"',
            "1. Security scan of the source directory (inventory variable relrun_source_dir),"
            " only relrun/sandbox, runbooks, for forbidden imports and dependencies, plaintext"
            " tokens and secret leaks.",
            "Python firebase_admin, firebase, pyrebase;",
            "Kotlin/Java com.google.firebase.*",
            "a finding of severity high or above fails the gate",
            '2. Build "dev": run `python3 -m compileall -q relrun/sandbox`',
            '3. Build "assemble"',
            "must produce build/messaging-api-2.0.zip",
            'Preflight, on the hosts of group "router"',
            "4. The router answers and knows the stable servers (stable); otherwise the release "
            "stops before anything is deployed.",
            'Deploy the new version, on the hosts of group "canary"',
            '5. Deploy step "start-canary": run `$RELRUN_SERVICE_CTL start canary --version 2.0`',
            'Rollout, on the hosts of group "router"',
            "6. Readiness: each canary server answers GET /health with status 200 within 30s.",
            "7. API checks against the new version (inventory variable relrun_canary_url)",
            "engine native",
            '1) "health" (health check): `GET /health` answers 200',
            '2) "jwt-auth" (JWT authentication): logs in with `POST /auth/token`',
            '3) "create-message" (HTTP request): `POST /messages` answers 201',
            '4) "events" (server-sent events)',
            '5) "rate-limit" (rate limiting): a burst of 60 `GET /messages`',
            "8. Dead man's switch armed on the router host, lease 15s",
            '9. Stage 1/4 "Canary 5%": 5% of traffic to the canary, bake 10s.',
            '10. Stage 2/4 "Blue-Green 25%": 25% of traffic to the canary, bake 10s.',
            '11. Stage 3/4 "Blue-Green 50%": 50% of traffic to the canary, bake 10s.',
            '12. Stage 4/4 "Full 100%": 100% of traffic to the canary, bake 10s.',
            "13. Promotion: every stage passed and every app host still answers; "
            "the canary keeps its final 100% of traffic, "
            "the dead man's switch is disarmed",
            "Rollback, the five steps",
            "Recovery budget (rto_budget): 30s from the fault to all traffic on stable.",
            ROLLBACK[0],
            "no further stage starts",
            ROLLBACK[1],
            "in-flight ones finish, waiting at most 10s",
            ROLLBACK[2],
            "all traffic to the stable servers",
            ROLLBACK[3],
            "watched for 3s (a sample every 500ms): health check, error rate at most 5%, "
            "p95 at most 5000 ms",
            "then the API checks above, against stable (inventory variable relrun_stable_url)",
            ROLLBACK[4],
            'cleanup step "stop-canary": run `$RELRUN_SERVICE_CTL stop canary`',
            "the canary servers go to maintenance in the router",
            "finally the dead man's switch is disarmed",
            "Drill (relrun drill; --fault and --at override the fault and the stage): the "
            'release above, with the fault injected into the canary at stage "Blue-Green 25%": '
            "error_rate 0.5, 50% of its requests fail. It passes when the rollback is triggered"
            " by the canary's error rate; the rollback completes within the 30s budget; no user"
            " request is lost.",
        ],
    )
    stages = stage_blocks(out)
    assert len(stages) == 4
    for block, min_requests, weight in zip(stages, [2, 5, 5, 5], [5, 25, 50, 100], strict=True):
        compared = (
            "the canary's odds of an error against stable's (worse only beyond 2x "
            "stable's, error_tolerance 1)"
            if weight < 100
            else "At 100% there is no stable traffic to compare with: the absolute limits "
            "alone decide"
        )
        in_order(
            block,
            [
                "then stable must be healthy: one sample of the stable servers "
                "(health check, error rate at most 5%, p95 at most 5000 ms)",
                "of traffic to the canary servers, read back from the router",
                "watch the canary for 10s, a sample every 500ms: each sample adds the interval's "
                "requests and errors of each version to anytime-valid sequential tests",
                "stays below alpha 1% over the whole bake",
                compared,
                "a breach is an error rate above 5%, a p95 latency above 5000 ms, each shown "
                "with confidence 1 - alpha",
                "one failed request is never a verdict",
                "a canary server failing its health check (GET /health, where a 4xx answer "
                f"is not healthy); a sample with fewer than {min_requests} requests in the "
                "last 5s is skipped (no_data: wait); a single failed health check rolls back.",
            ],
        )
    drilled = [i for i, block in enumerate(stages) if "in a drill only" in block]
    assert drilled == [1]
    in_order(stages[1], ["shift 25%", "in a drill only (relrun drill)", "watch the canary"])


@pytest.mark.parametrize("path", TEST_RUNBOOKS, ids=lambda p: p.stem)
def test_test_runbooks_plan_every_stage_and_the_rollback(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = plan(path)
    analysis = data["analysis"]
    stages = data["rollout"]["stages"]
    parts = ['Deploy step "start-canary"', "Readiness: each canary server answers"]
    if "api_checks" in data:
        parts.append("API checks against the new version")
        parts += [f'"{check["name"]}" (' for check in data["api_checks"]["checks"]]
    parts.append("Dead man's switch armed")
    for number, stage in enumerate(stages, start=1):
        parts.append(
            f'Stage {number}/{len(stages)} "{stage["name"]}": {stage["weight"]}% of traffic '
            f"to the canary, bake {stage['bake']}."
        )
        parts.append(
            f"error rate above {analysis['max_error_rate'] * 100:g}%, a p95 latency above "
            f"{analysis['max_p95_ms']} ms"
        )
        parts.append(f"fewer than {analysis['min_requests']} requests")
    parts.append(f"canary keeps its final {stages[-1]['weight']}% of traffic")
    parts.append(f"Recovery budget (rto_budget): {data['rollback']['rto_budget']}")
    parts += ROLLBACK
    parts += ['cleanup step "stop-canary"', "maintenance", "dead man's switch is disarmed"]
    parts.append("Drill (relrun drill")
    in_order(out, parts)
    assert "Gates" not in out  # no scan, no builds
    assert len(stage_blocks(out)) == len(stages)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runbook.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builds_only_runbook_gives_only_the_builds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: relrun/v1
kind: Runbook
metadata: {name: only, version: "1"}
builds:
  - {name: make, argv: [make, all], timeout: 2m}
  - {name: docs, shell: make docs, required: false}
""",
    )
    out = plan(path)
    sha = out.split("sha256 ")[1][:12]
    assert out == (
        f"Plan for only 1 ({path}, sha256 {sha})\n"
        "\n"
        'Gates, on the hosts of group "build":\n'
        '  1. Build "make": run `make all`, at most 120s. A failure stops the release.\n'
        "\n"
        '  2. Build "docs": run `make docs`, at most 1800s. Optional: a failure is reported,'
        " the release goes on.\n"
    )


def test_runbook_values_are_shown_not_evaluated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: sly
  version: "[[ 6*7 ]]"
  description: "{{ 6*7 }} [% if true %]yes[% endif %] [# c #]"
builds:
  - {name: b, shell: "echo [[ 6*7 ]] {{ lookup('pipe', 'id') }}"}
""",
    )
    out = plan(path)
    assert "Plan for sly [[ 6*7 ]] (" in out
    assert "{{ 6*7 }} [% if true %]yes[% endif %] [# c #]\n" in out
    assert "run `echo [[ 6*7 ]] {{ lookup('pipe', 'id') }}`" in out
    assert "42" not in out.replace(str(path), "PATH")  # the temp path may hold a 42


def test_plan_without_rollout_says_nothing_is_rolled_back(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: relrun/v1
kind: Runbook
metadata: {name: norollout, version: "1"}
scan: {enabled: false}
deploy:
  steps: [{name: go, argv: [start]}]
api_checks:
  checks:
    - {name: h, kind: health, version: "2.0", required: false}
""",
    )
    out = plan(path)
    in_order(
        out,
        [
            "No security scan: the runbook's scan section is disabled",
            'Deploy step "go": run `start`, at most 1800s. A failure stops the release.',
            'API checks, once, on a host of group "build"',
            '"h" (health check): `GET /health` answers 200, JSON `status` = "ok", and '
            '`version` = "2.0". Optional',
            "No rollout: traffic does not move, and nothing is rolled back.",
        ],
    )
    for absent in ("Gates", "Rollout", "Rollback", "Stage", "Drill", "Dead man"):
        assert absent not in out


def test_hooks_overrides_newman_and_default_drill_stage(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: relrun/v1
kind: Runbook
metadata: {name: hooks, version: "1"}
api_checks:
  engine: newman
  collection: "{{ coll }}"
traffic: {}
analysis: {no_data: fail, consecutive_breaches: 3}
rollout:
  stages:
    - {name: One, weight: 50, bake: 1m, analysis: {max_error_rate: 0.025, max_p95_ms: 800}}
    - {name: Two, weight: 80, bake: 2500ms}
rollback:
  verify: {api_checks: false}
  cleanup:
    steps: [{name: stop, argv: [stop]}]
  hooks:
    before_cleanup: [{name: page, argv: [pager]}]
    after_cleanup: [{name: note, shell: echo done}]
    after_drain: [{name: told, shell: "true"}]
""",
    )
    out = plan(path)
    one, two = stage_blocks(out)
    assert "error rate above 2.5%, a p95 latency above 800 ms" in one
    assert "error rate above 5%, a p95 latency above 5000 ms" in two
    for block in (one, two):
        assert "is a breach (no_data: fail); 3 failed health checks in a row roll back." in block
    assert "in a drill only" in two and "in a drill only" not in one
    assert "watch the canary for 2.5s" in two
    in_order(
        out,
        [
            "the Postman collection {{ coll }} run by newman, at most 300s.",
            "Promotion: every stage passed and every app host still answers; "
            "the canary keeps its final 80% of traffic",
            ROLLBACK[1],
            "in-flight ones finish",
            'then, on the router host, hook "told"',
            ROLLBACK[2],
            ROLLBACK[3],
            "the API checks are not run (verify.api_checks: false)",
            ROLLBACK[4],
            'first, on the router host, hook "page": run `pager`',
            'cleanup step "stop": run `stop`',
            "the canary servers go to maintenance in the router",
            'then, on the router host, hook "note": run `echo done`',
            "finally the dead man's switch is disarmed",
            'with the fault injected into the canary at stage "Two"',
        ],
    )
