"""What the plan (``relrun plan``) needs beyond the runbook itself, in plain words.

The plan follows the rendered playbook (:mod:`relrun.render.playbook`,
:mod:`relrun.render.rollout`) step by step; the wording lives in ``plan.txt.j2``. Here are
only the parts a template cannot say simply: each stage's thresholds after its overrides,
the stage a drill breaks, and the API checks described without their YAML.
"""

from __future__ import annotations

import json
from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.prometheus import (  # noqa: E501
    promql_duration,
    render_query,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.web import (
    render_url,
)
from relrun.render.rollout import health_path
from relrun.runbook.check_models import (
    AnyCheck,
    ApiChecksSection,
    Expectation,
    FieldExpectation,
    HeaderExpectation,
    HealthCheck,
    HttpCheck,
    HttpRequest,
    JwtAuthCheck,
    RateLimitCheck,
    SseCheck,
)
from relrun.runbook.loader import LoadedRunbook
from relrun.runbook.rollout_models import Fault, merged_analysis, stage_pause
from relrun.runbook.schema import Runbook
from relrun.runbook.steps import ROLLBACK_STEPS
from relrun.runbook.types import format_seconds

_KIND_WORDS = {
    "health": "health check",
    "http": "HTTP request",
    "jwt_auth": "JWT authentication",
    "rate_limit": "rate limiting",
    "sse": "server-sent events",
}
_REFUSAL_WORDS = {
    "missing": "no token",
    "malformed": "a malformed token",
    "wrong_key": "a token signed with a wrong key",
    "alg_none": "an `alg: none` token",
    "tampered": "a tampered token",
}
_TRIGGER_WORDS = {
    "error_rate": "the canary's error rate",
    "latency": "the canary's p95 latency",
    "health_check": "a failed health check",
    "guard": "a business-metric guard over its limit",
    "any": "any trigger (the fault's natural one)",
}


def plan_context(loaded: LoadedRunbook) -> dict[str, Any]:
    """The template context of ``plan.txt.j2``.

    Args:
        loaded: the runbook.

    Returns:
        The runbook and its file, plus the stages with their effective analysis, the
        drill (None without a rollout), the rollback hooks by step, and the API checks
        in words.
    """
    rb = loaded.runbook
    drill_stage = drill_stage_name(rb)
    stages = [
        {
            "number": index + 1,
            "stage": stage,
            "analysis": merged_analysis(rb.analysis, stage),
            "health_path": health_path(rb, merged_analysis(rb.analysis, stage)),
            "drill": stage.name == drill_stage,
            "gate": _gate_text(rb, index),
        }
        for index, stage in enumerate(rb.rollout.stages if rb.rollout else [])
    ]
    hooks = {
        step: {
            "before": rb.rollback.hooks.get(f"before_{step}", []),  # type: ignore[call-overload]
            "after": rb.rollback.hooks.get(f"after_{step}", []),  # type: ignore[call-overload]
        }
        for step in ROLLBACK_STEPS
    }
    drill = None
    if drill_stage is not None:
        expect = rb.drill.expect
        drill = {
            "stage": drill_stage,
            "fault": describe_fault(rb.drill.fault),
            "trigger": _TRIGGER_WORDS[expect.trigger],
            "within_rto": expect.within_rto,
            "max_lost_requests": expect.max_lost_requests,
        }
    return {
        "rb": rb,
        "sha256": loaded.sha256,
        "file": loaded.shown,
        "stages": stages,
        "drill": drill,
        "rollback_steps": ROLLBACK_STEPS,
        "hooks": hooks,
        "checks": describe_checks(rb.api_checks),
        "metrics": describe_metrics(rb),
        "guards": describe_guards(rb),
    }


def describe_guards(rb: Runbook) -> list[str]:
    """Each business-metric guard in words: its limit, and every query or URL it sends."""
    if rb.traffic is None:
        return []
    window = promql_duration(rb.analysis.window)
    lines = []
    for guard in rb.analysis.guards:
        limits = []
        if guard.max is not None:
            limits.append(f"at most {guard.max:g}")
        if guard.min is not None:
            limits.append(f"at least {guard.min:g}")
        if guard.max_vs_stable is not None:
            rel = guard.max_vs_stable
            plus = f" + {rel.delta:g}" if rel.delta else ""
            limits.append(f"at most stable x {rel.factor:g}{plus}")
        roles = [(n, "canary") for n in rb.traffic.canary_servers]
        if guard.max_vs_stable is not None:
            roles += [(n, "stable") for n in rb.traffic.stable_servers]
        if not guard.per_server:
            roles = [("service", "canary")]
        sent = []
        for server, role in roles:
            values = {"server": server, "role": role, "backend": rb.traffic.backend,
                      "window": window}
            if guard.provider == "prometheus":
                text = f"{guard.url} {render_query(guard.query or '', values)}"
            else:
                text = f"GET {render_url(guard.url, values)} -> {guard.path}"
            sent.append(text if not guard.per_server else f"{server} ({role}): {text}")
        in_a_row = f", {guard.consecutive} readings in a row" if guard.consecutive > 1 else ""
        wait = rb.analysis.no_data == "wait"
        holds = f" (holds up to {seconds(guard.max_outage)})" if wait else ""
        lines.append(
            f"{guard.name} ({guard.provider}): {' and '.join(limits)}{in_a_row}; "
            f"no reading within {seconds(guard.timeout)} is no data{holds}; reads "
            + "; ".join(sent)
        )
    return lines


def describe_metrics(rb: Runbook) -> dict[str, Any] | None:
    """The metric provider and the queries it will run, filled in per server (for the plan).

    Returns:
        None when the router's own counters are read.
    """
    metrics = rb.analysis.metrics
    if metrics is None or rb.traffic is None:
        return None
    roles = [(n, "canary") for n in rb.traffic.canary_servers]
    roles += [(n, "stable") for n in rb.traffic.stable_servers]
    window = promql_duration(rb.analysis.window)
    queries = []
    for name, text in metrics.queries.model_dump(exclude_none=True).items():
        for server, role in roles:
            values = {"server": server, "role": role, "backend": rb.traffic.backend,
                      "window": window}
            queries.append(f"{name} of {server} ({role}): {render_query(text, values)}")
    return {
        "provider": metrics.provider,
        "url": metrics.url,
        "timeout": seconds(metrics.timeout),
        "max_outage": seconds(metrics.max_outage),
        "no_data": rb.analysis.no_data,
        "queries": queries,
    }


PLAN_FORMAT = 1


def plan_data(loaded: LoadedRunbook) -> dict[str, Any]:
    """The plan as data, for ``relrun plan --json`` (shape documented in docs/operator.md).

    Args:
        loaded: the runbook.

    Returns:
        ``format``, ``runbook`` (name, version, file, sha256), ``gates`` (scan, builds),
        ``deploy``, ``stages`` (each with its effective analysis), ``api_checks`` in
        words, ``drill`` and ``rollback`` (the five steps, with their hooks).
    """
    context = plan_context(loaded)
    rb = loaded.runbook
    dumped = rb.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "format": PLAN_FORMAT,
        "runbook": {
            "name": rb.metadata.name,
            "version": rb.metadata.version,
            "file": loaded.shown,
            "sha256": loaded.sha256,
        },
        "gates": {"scan": dumped.get("scan"), "builds": dumped.get("builds", [])},
        "deploy": dumped.get("deploy"),
        "stages": [
            {
                "number": stage["number"],
                "name": stage["stage"].name,
                "stage": stage["stage"].model_dump(mode="json", by_alias=True, exclude_none=True),
                "analysis": stage["analysis"].model_dump(mode="json", by_alias=True),
                "drill": stage["drill"],
            }
            for stage in context["stages"]
        ],
        "api_checks": context["checks"],
        "drill": context["drill"],
        "rollback": {
            "steps": list(context["rollback_steps"]),
            "hooks": {
                step: {
                    when: [h.model_dump(mode="json", by_alias=True, exclude_none=True)
                           for h in hooks]
                    for when, hooks in sides.items()
                }
                for step, sides in context["hooks"].items()
            },
        },
    }


def _gate_text(runbook: Runbook, index: int) -> str:
    """The manual gate after stage ``index``, in words (empty: none)."""
    if runbook.rollout is None:
        return ""
    pause, why = stage_pause(runbook.rollout, index)
    if pause is None:
        return ""
    what = "the runbook's approval (rollout.approval: required)" if why == "approval" else (
        "an operator (pause)"
    )
    until = (
        f"; after {format_seconds(pause.timeout)} without one: {pause.default}"
        if pause.timeout is not None else ", indefinitely"
    )
    return (
        f"then hold this weight for {what} until `relrun promote`{until}; the analysis "
        "keeps judging the canary (a breach rolls back) and the dead man's switch is renewed"
    )


def drill_stage_name(runbook: Runbook) -> str | None:
    """The stage ``relrun drill`` breaks when not told otherwise (None: nothing to drill).

    Args:
        runbook: the runbook.

    Returns:
        The stage name, or None without a rollout and traffic section.
    """
    return None if runbook.traffic is None else runbook.default_drill_stage()


def describe_fault(fault: Fault) -> str:
    """A drill's fault in plain words."""
    if fault.kind == "error_rate":
        return f"error_rate {fault.value:g}, {percent(fault.value)} of its requests fail"
    if fault.kind == "latency":
        return f"latency {fault.value:g}, it answers {fault.value:g} ms late"
    if fault.kind == "crash":
        return "crash, its processes die"
    if fault.kind == "abort":
        return f"abort {fault.value:g}, {percent(fault.value)} of its connections close unanswered"
    if fault.kind == "command":
        where = "every canary host" if fault.run_on == "canary" else "the router host"
        inject = ", ".join(step.name for step in fault.inject)
        revert = ", ".join(step.name for step in fault.revert) or "nothing"
        return f"command, the runbook's steps {inject} on {where} (undone by: {revert})"
    return "none, nothing is broken"


def describe_checks(section: ApiChecksSection | None) -> list[str]:
    """Each API check as one line of plain words (engine newman: the collection run)."""
    if section is None:
        return []
    if section.engine == "newman":
        text = f"the Postman collection {section.collection} run by newman"
        if section.environment is not None:
            text += f" with the environment {section.environment}"
        return [f"{text}, at most {seconds(section.newman_timeout_s)}."]
    return [describe_check(check) for check in section.checks]


def describe_check(check: AnyCheck) -> str:
    """One native API check in plain words: what it sends and what it expects."""
    head = f'"{check.name}" ({_KIND_WORDS[check.kind]}): '
    if isinstance(check, HttpCheck | HealthCheck):
        body = _request(check.request)
        if check.repeat > 1:
            body += f" sent {check.repeat} times"
        body += " " + _expectation(check.expect, check.repeat)
        if isinstance(check, HealthCheck) and check.version is not None:
            body += f", and `version` = {_json(check.version)}"
        if check.capture:
            body += f"; captures {', '.join(check.capture)} for later checks"
    elif isinstance(check, JwtAuthCheck):
        refused = ", ".join(_REFUSAL_WORDS[case] for case in check.refuse)
        body = (
            f"logs in with {_request(check.login)} (status {_statuses(check.login_status)}), "
            f"takes the token from `{check.token_field}`, and {_request(check.protected)} "
            "with it must answer 2xx"
        )
        if refused:
            body += f"; {refused} must each be refused with {check.refusal_status}"
            if check.www_authenticate:
                body += " and `WWW-Authenticate: Bearer`"
    elif isinstance(check, RateLimitCheck):
        body = (
            f"a burst of {check.burst} {_request(check.request)} ({check.concurrency} at a "
            f"time): some must get {check.limited_status} with Retry-After, none a 5xx"
        )
    else:
        assert isinstance(check, SseCheck)
        body = (
            f"opens the event stream {_request(check.stream)}, sends "
            f"{_request(check.trigger)}, and within {seconds(check.timeout_s)} a "
            f'"{check.event}" event must arrive whose {", ".join(check.match)} equal the '
            "response's"
        )
    tail = "." if check.required else ". Optional: a failure is reported, nothing more."
    return head + body + tail


def _request(request: HttpRequest) -> str:
    return f"`{request.method} {request.path}`"


def _statuses(statuses: list[int]) -> str:
    return " or ".join(str(s) for s in statuses)


def _expectation(expect: Expectation, repeat: int) -> str:
    parts = [f"answers {_statuses(expect.status)}" if expect.status else "answers 2xx"]
    parts += [f"JSON `{path}` {_field(f)}" for path, f in expect.json_fields.items()]
    parts += [f"header {name} {_field(h)}" for name, h in expect.headers.items()]
    if expect.max_latency_ms is not None:
        which = "p95 latency" if repeat > 1 else "latency"
        parts.append(f"{which} at most {expect.max_latency_ms:g} ms")
    return ", ".join(parts)


def _field(expect: FieldExpectation | HeaderExpectation) -> str:
    words = []
    if expect.present is not None:
        words.append("present" if expect.present else "absent")
    if expect.equals is not None:
        words.append(f"= {_json(expect.equals)}")
    if isinstance(expect, FieldExpectation) and expect.type is not None:
        words.append(f"of type {expect.type}")
    if expect.regex:
        words.append(f"matching /{expect.regex}/")
    return " and ".join(words)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def seconds(value: float) -> str:
    """A duration as the runbook would write it: ``500ms``, ``10s``, ``2.5s``."""
    if 0 < value < 1:
        return f"{value * 1000:g}ms"
    return f"{value:g}s"


def ms(value: float) -> str:
    """Milliseconds: ``5000.0`` → ``5000 ms``."""
    return f"{value:g} ms"


def percent(value: float) -> str:
    """A share (0 to 1) as a percentage: ``0.05`` → ``5%``."""
    return f"{value * 100:g}%"
