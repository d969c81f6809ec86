"""Run a list of checks against one API and return redacted results."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .assertions import assertion
from .client import DEFAULT_TLS, Tls
from .context import RunContext, build_result
from .credentials import CredentialsError, resolve_credentials
from .jwt import NotAJwt
from .kind_auth import run_jwt_auth
from .kind_basic import run_health, run_http
from .kind_burst import run_rate_limit
from .kind_stream import run_sse
from .placeholders import PlaceholderError
from .redact import Redactor

KINDS: dict[str, Callable[[RunContext, dict[str, Any]], dict[str, Any]]] = {
    "http": run_http,
    "health": run_health,
    "jwt_auth": run_jwt_auth,
    "rate_limit": run_rate_limit,
    "sse": run_sse,
}


class ChecksOutcome:
    """The redacted outcome of a run.

    Attributes:
        checks: one result record per check, in order.
        failed_required: names of required checks that failed.
        msg: one line for humans.
        secrets: the values that were masked (for Ansible's own no_log filter).
    """

    def __init__(self, checks: list[dict[str, Any]], msg: str, secrets: frozenset[str]):
        self.checks = checks
        self.secrets = secrets
        self.failed_required = [str(c["name"]) for c in checks if c["required"] and not c["passed"]]
        self.msg = msg

    @property
    def failed(self) -> bool:
        """True when a required check failed."""
        return bool(self.failed_required)


def run_checks(
    base_url: str,
    checks: list[dict[str, Any]],
    credentials: dict[str, Any] | None = None,
    base_dir: str | None = None,
    tls: Tls = DEFAULT_TLS,
) -> ChecksOutcome:
    """Run ``checks`` in order; later checks see earlier captures.

    Args:
        base_url: the API's base URL.
        checks: check definitions (the runbook model dumped to plain data).
        credentials: a credentials reference (see :mod:`.http_credentials`).
        base_dir: directory for relative credential file paths.
        tls: how requests reach the API (certificates, proxy).

    Returns:
        The outcome, with every secret (password, secret captures) masked as ``***``.
    """
    redactor = Redactor()
    if credentials and credentials.get("password"):
        redactor.add(credentials["password"])
    try:
        resolved = resolve_credentials(credentials, base_dir)
    except CredentialsError as exc:
        resolved, problem = {}, str(exc)
    else:
        problem = ""
    ctx = RunContext(base_url, resolved, redactor, tls)
    results = [_run_one(ctx, check, problem) for check in checks]
    outcome = ChecksOutcome(redactor.tree(results), "", redactor.secrets)
    passed = sum(1 for c in outcome.checks if c["passed"])
    if outcome.failed:
        msg = "required API checks failed: " + ", ".join(outcome.failed_required)
    else:
        msg = f"{passed} of {len(checks)} API checks passed"
    outcome.msg = redactor.text(msg)
    return outcome


def _run_one(ctx: RunContext, check: dict[str, Any], credentials_problem: str) -> dict[str, Any]:
    started = time.monotonic()
    kind = str(check.get("kind") or "http")
    runner = KINDS.get(kind)
    if runner is None:
        return _broken(check, started, f"unknown check kind {kind!r}")
    try:
        return runner(ctx, check)
    except PlaceholderError as exc:
        detail = str(exc)
        if credentials_problem and "credentials." in detail:
            detail += f" ({credentials_problem})"
        return _broken(check, started, detail)
    except (NotAJwt, ValueError, TypeError, KeyError) as exc:
        # A malformed check definition: report it on this check, keep running the others.
        return _broken(check, started, f"{type(exc).__name__}: {exc}")


def _broken(check: dict[str, Any], started: float, why: str) -> dict[str, Any]:
    result = build_result(
        check,
        [assertion("check could run", True, why, False)],
        status=None,
        latencies=[],
        started=started,
    )
    result["message"] = why
    return result
