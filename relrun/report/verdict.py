"""From facts to a verdict and an exit code: the one place every kind of run is judged.

Release, drill, rollback, recover and check, and a run relrun could not finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from relrun.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROLLBACK_FAILED
from relrun.report.facts import Facts
from relrun.report.record import Incident
from relrun.runbook.schema import Runbook

NATURAL_TRIGGERS = {
    "error_rate": {"error_rate"},
    "latency": {"latency"},
    "crash": {"health_check", "error_rate"},
    # Connections closed without an answer are failed requests, like a crashed server's.
    "abort": {"error_rate", "health_check"},
}


@dataclass
class Verdict:
    """The outcome of a run as people and schedulers read it."""

    verdict: str  # pass | fail
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    state: str = ""  # promoted | rolled_back | rollback_incomplete | gates_failed | …


def _rollback_state(facts: Facts) -> tuple[str, list[str]]:
    if facts.rollback_complete:
        return "rolled_back", []
    problems: list[str] = []
    notes: list[str] = []
    router_lost: list[str] = []
    for step in facts.rollback:
        if step.status == "passed":
            continue
        hosts = list(step.details.get("unreachable_hosts") or [])
        if step.details.get("router_unreachable"):
            router_lost = router_lost or hosts
            problems.append(
                f"rollback failed at {step.name}: the load balancer host "
                f"{', '.join(hosts)} is unreachable, so traffic could not be moved back"
            )
        elif hosts and all(facts.carried_no_traffic(h) for h in hosts):
            # Harmless: say so, but this alone does not make the rollback incomplete.
            notes.append(
                f"{', '.join(hosts)} unreachable during {step.name}; its canary "
                f"({', '.join(s for h in hosts for s in facts.canary_servers[h])}) never "
                "carried traffic, so no user was on it"
            )
        elif hosts:
            problems.append(
                f"rollback step {step.name} incomplete on {', '.join(hosts)} (unreachable): "
                "the new version may still run there; done on every other host"
            )
        elif step.status == "not_run" and router_lost:
            problems.append(f"rollback step {step.name} did not run ({router_lost[0]} unreachable)")
        else:
            error = step.details.get("error")
            problems.append(
                f"rollback step {step.name} did not pass" + (f": {error}" if error else "")
            )
    if not problems:
        return "rolled_back", notes
    return "rollback_incomplete", problems + notes


def release_verdict(facts: Facts, interrupted: bool, has_rollout: bool = False) -> Verdict:
    """Verdict of ``relrun release``."""
    if facts.rollback_ran:
        state, problems = _rollback_state(facts)
        reasons = [_trigger_text(facts.trigger), *problems]
        if state == "rollback_incomplete":
            return Verdict("fail", EXIT_ROLLBACK_FAILED, reasons, state)
        return Verdict("fail", EXIT_INTERRUPTED if interrupted else EXIT_FAILED, reasons, state)
    if interrupted:
        return Verdict(
            "fail", EXIT_INTERRUPTED, ["interrupted before anything moved"], "interrupted"
        )
    if facts.promoted:
        skipped = [s.name for s in facts.stages if s.status == "skipped"]
        passed = "every stage passed" if not skipped else (
            f"promoted by an operator (relrun promote --full): skipped {', '.join(skipped)}"
        )
        return Verdict(
            "pass",
            EXIT_OK,
            [
                f"{passed}; the canary has 100% of traffic"
                if facts.stages and facts.stages[-1].weight == 100
                else passed
            ],
            "promoted",
        )
    if facts.failures:
        return Verdict("fail", EXIT_FAILED, facts.failures[:5], "gates_failed")
    if any(status != "successful" for status in facts.runs.values()):
        return Verdict("fail", EXIT_FAILED, ["the run did not finish"], "incomplete")
    if not facts.stages:
        if has_rollout:
            return Verdict(
                "fail",
                EXIT_FAILED,
                ["no stage ran: the rollout's hosts matched nothing in the inventory"],
                "incomplete",
            )
        return Verdict("pass", EXIT_OK, ["all gates passed"], "gates_passed")
    return Verdict("fail", EXIT_FAILED, ["the release did not finish"], "incomplete")


def _trigger_text(trigger: dict[str, Any] | None) -> str:
    if not trigger:
        return "rolled back"
    where = f" at stage {trigger['stage']}" if trigger.get("stage") else ""
    message = trigger.get("message") or ""
    return f"rollback triggered by {trigger.get('reason')}{where}: {message}".rstrip(": ")


def drill_verdict(
    facts: Facts,
    runbook: Runbook,
    fault_kind: str,
    interrupted: bool,
    rto_seconds: float | None,
    lost: int | None,
) -> Verdict:
    """Verdict of ``relrun drill``: a rollback, for the right reason, fast, losing nothing?"""
    if interrupted:
        base = release_verdict(facts, interrupted)
        return Verdict("fail", base.exit_code, ["drill interrupted", *base.reasons], base.state)
    if facts.promoted:
        if fault_kind == "none":
            return Verdict(
                "fail",
                EXIT_FAILED,
                [
                    "no fault was injected: the release reached 100%, so this drill could not "
                    "prove the rollback"
                ],
                "promoted",
            )
        return Verdict(
            "fail",
            EXIT_FAILED,
            [
                f"the {fault_kind} fault was injected but no stage breached within its bake: "
                "the analysis did not see it"
            ],
            "promoted",
        )
    if not facts.rollback_ran:
        return Verdict(
            "fail", EXIT_FAILED, facts.failures[:5] or ["the drill did not finish"], "gates_failed"
        )
    state, problems = _rollback_state(facts)
    if state == "rollback_incomplete":
        return Verdict(
            "fail", EXIT_ROLLBACK_FAILED, [_trigger_text(facts.trigger), *problems], state
        )
    reasons = [_trigger_text(facts.trigger), *problems]
    failed: list[str] = []
    expect = runbook.drill.expect
    reason = (facts.trigger or {}).get("reason")
    # The runbook's expectation is about the runbook's fault; a --fault of another kind is
    # judged by that kind's natural triggers.
    own_fault = fault_kind == runbook.drill.fault.kind
    natural = NATURAL_TRIGGERS.get(fault_kind, set())
    wanted = {expect.trigger} if own_fault and expect.trigger != "any" else natural
    if fault_kind != "none" and facts.fault_error is not None:
        failed.append(f"the {fault_kind} fault could not be injected: {facts.fault_error}")
    elif fault_kind != "none" and facts.fault_injected_at is None:
        failed.append("the fault was never injected (the drill stage was not reached)")
    elif wanted and reason not in wanted:
        failed.append(f"rollback triggered by {reason}, expected {' or '.join(sorted(wanted))}")
    budget = runbook.rollback.rto_budget
    if expect.within_rto:
        if rto_seconds is None:
            failed.append("RTO unknown: the switch to stable was not confirmed")
        elif rto_seconds > budget:
            failed.append(f"RTO {rto_seconds:.2f}s above the budget of {budget:g}s")
        else:
            reasons.append(f"RTO {rto_seconds:.2f}s within the budget of {budget:g}s")
    if lost is None:
        failed.append("lost requests unknown: no load generator log for this environment")
    elif lost > expect.max_lost_requests:
        failed.append(f"{lost} user requests lost (allowed {expect.max_lost_requests})")
    else:
        reasons.append(f"{lost} user requests lost")
    if failed:
        return Verdict("fail", EXIT_FAILED, failed + reasons, state)
    return Verdict("pass", EXIT_OK, ["rollback proven: " + reasons[0], *reasons[1:]], state)


def rollback_verdict(facts: Facts) -> Verdict:
    """Verdict of ``relrun rollback``: all five steps passed (0), else exit 3."""
    if facts.rollback_complete:
        return Verdict("pass", EXIT_OK, ["all five rollback steps passed"], "rolled_back")
    failed = [s.name for s in facts.rollback if s.status != "passed"] or ["all"]
    reasons = [f"rollback step {n} did not pass" for n in failed] + facts.failures[:3]
    return Verdict("fail", EXIT_ROLLBACK_FAILED, reasons, "rollback_incomplete")


def recover_verdict(
    facts: Facts,
    kind: str,
    incident: Incident | None = None,
    ended: dict[str, Any] | None = None,
) -> Verdict:
    """Verdict of ``relrun recover``: the dead run's rollback finished (0), else exit 3.

    The recovery is what the command did, and it succeeded when every step passed: the
    environment is back on stable. The record's ``state: recovered`` keeps the fact that
    the run itself was cut short; the reasons tell the incident as it happened: the
    controller's last sign of life, what the dead man's switch did, when traffic was back
    on stable.

    Args:
        facts: the run's and its recovery's events.
        kind: release, drill or rollback.
        incident: what the journal and the dead man's switch say about its end.
        ended: the run's own report when relrun ended it itself with exit 3 (its
            rollback could not restore traffic, or relrun crashed): the controller was
            not lost, so the story is the run's own reasons instead.
    """
    story = _incident_story(incident, lost=ended is None)
    how = ended_itself(kind, ended) if ended is not None else None
    if facts.rollback_complete:
        if how:
            headline = f"recovered: the {kind}'s rollback is now finished, traffic on stable"
            return Verdict("pass", EXIT_OK, [headline, how, *story], "recovered")
        headline = f"recovered: the {kind} was cut short and is now rolled back"
        return Verdict("pass", EXIT_OK, [headline, *story], "recovered")
    reasons = ["recovery incomplete"] + [
        f"rollback step {s.name} did not pass" for s in facts.rollback if s.status != "passed"
    ]
    return Verdict(
        "fail", EXIT_ROLLBACK_FAILED, reasons + ([how] if how else []) + story,
        "rollback_incomplete",
    )


def ended_itself(kind: str, ended: dict[str, Any]) -> str:
    """One line for a run relrun ended with exit 3: its state, what that means, its reasons."""
    state = str(ended.get("state") or "?")
    what = {
        "rollback_incomplete": "its rollback could not restore traffic to stable",
        "crashed": "relrun could not finish it",
    }.get(state, "the environment may be half-moved")
    reasons = ended.get("reasons")
    why = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else ""
    return (
        f"the {kind} ended itself with exit 3 ({state}): {what}, a human was needed"
        + (f"; its reasons: {why}" if why else "")
    )


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 10)} UTC"


def _incident_story(incident: Incident | None, lost: bool = True) -> list[str]:
    if incident is None:
        return []
    # A run that ended itself was not lost: its last sign of life tells nothing.
    seen = incident.controller_last_seen if lost else None
    lines = []
    if seen is not None:
        lines.append(
            f"controller (pid {incident.controller_pid}) last seen at {_clock(seen)} "
            f"({incident.last_seen_from})"
        )

    def after(stamp: float) -> str:
        return f" ({stamp - seen:.2f}s after)" if seen is not None else ""

    fired, reverted = incident.deadman_fired_at, incident.deadman_reverted_at
    if fired is not None and reverted is not None:
        lines.append(
            f"dead man's switch fired at {_clock(fired)}{after(fired)} and put traffic back "
            f"on stable at {_clock(reverted)}{after(reverted)}"
        )
    elif fired is not None:
        lines.append(
            f"dead man's switch fired at {_clock(fired)}{after(fired)} but did not put traffic "
            f"back on stable ({incident.deadman_error or 'no revert finished'})"
        )
    else:
        lines.append("dead man's switch had not fired")
    if incident.on_stable_at is not None:
        lines.append(
            f"traffic all on stable at {_clock(incident.on_stable_at)}"
            f"{after(incident.on_stable_at)}, by the {incident.on_stable_by}"
        )
    return lines


def check_verdict(ran: bool, status: str, failed: list[str]) -> Verdict:
    """Verdict of ``relrun check``.

    Args:
        ran: ansible-playbook ended successfully.
        status: how it ended (for the reason when it did not).
        failed: ``name: why`` of every required check that failed.
    """
    if ran and not failed:
        return Verdict("pass", EXIT_OK, ["every required check passed"], "checks_passed")
    if failed:
        return Verdict("fail", EXIT_FAILED, failed, "checks_failed")
    return Verdict(
        "fail", EXIT_FAILED, [f"the checks did not run: ansible-playbook ended {status}"],
        "checks_not_run",
    )


def crash_verdict(what: str, code: int, notes: list[str]) -> Verdict:
    """Verdict of a run relrun itself could not finish."""
    return Verdict("fail", code, [f"relrun crashed: {what}", *notes], "crashed")


def with_optional_failures(verdict: Verdict, failed: list[str]) -> Verdict:
    """A pass that skipped failed optional builds says so, rather than "all gates passed"."""
    if not failed:
        return verdict
    note = "optional builds failed (not required, the release went on): " + ", ".join(failed)
    reasons = [
        "all required gates passed" if r == "all gates passed" else r for r in verdict.reasons
    ]
    return Verdict(verdict.verdict, verdict.exit_code, [*reasons, note], verdict.state)
