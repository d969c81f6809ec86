"""The ``jwt_auth`` check kind: a token works, and every forged or missing token is refused."""

from __future__ import annotations

import time
from typing import Any

from .assertions import assertion, status_ok
from .client import RequestFailed
from .context import RunContext, build_result
from .jsonpath import JsonPathError, resolve
from .jwt import REFUSAL_CASES, NotAJwt, refusal_token, split_token

LOGIN_REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/auth/token",
    "json": {"username": "${credentials.username}", "password": "${credentials.password}"},
}
PROTECTED_REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/messages",
    "json": {"text": "relrun auth probe ${run.id}"},
}


def run_jwt_auth(ctx: RunContext, check: dict[str, Any]) -> dict[str, Any]:
    """Log in, use the token, then prove each refusal case gets 401.

    Check keys: ``login``, ``token_field``, ``capture_as``, ``protected``, ``refuse``,
    ``refusal_status``, ``www_authenticate``.
    """
    started = time.monotonic()
    latencies: list[float] = []
    login = check.get("login") or LOGIN_REQUEST
    try:
        resp = ctx.send(login)
    except RequestFailed as exc:
        failed = [assertion("login status", [200], "no response", False)]
        return build_result(
            check, failed, status=None, latencies=[], started=started, message=str(exc)
        )
    latencies.append(resp.latency_ms)
    login_status = check.get("login_status") or [200]
    assertions = [assertion("login status", login_status, resp.status, resp.status in login_status)]
    token = _token(resp.json(), str(check.get("token_field") or "access_token"))
    # Register before anything could echo it, so it is masked even in failure messages.
    ctx.redactor.add(token)
    try:
        split_token(token or "")
        is_jwt = True
    except NotAJwt:
        is_jwt = False
    assertions.append(
        assertion(
            "token issued",
            "a JWT",
            "a JWT" if is_jwt else ("<missing>" if not token else "not a JWT"),
            is_jwt,
        )
    )
    if not is_jwt or token is None:
        return build_result(
            check,
            assertions,
            status=resp.status,
            latencies=latencies,
            started=started,
            message="no usable token, nothing else tried",
        )
    ctx.capture(str(check.get("capture_as") or "token"), token, True)

    protected = check.get("protected") or PROTECTED_REQUEST
    accepted, _response = _send_with(ctx, protected, token, latencies)
    accepted_ok = isinstance(accepted, int) and status_ok(accepted, None)
    assertions.append(assertion("accepted with token", "2xx", accepted, accepted_ok))

    want = int(check.get("refusal_status") or 401)
    challenge = check.get("www_authenticate", True)
    for case in check.get("refuse") or REFUSAL_CASES:
        status, www = _send_with(ctx, protected, refusal_token(case, token), latencies)
        expected = f"{want} + WWW-Authenticate: Bearer" if challenge else want
        ok = status == want and (not challenge or (www or "").lower().startswith("bearer"))
        actual: Any = status
        if status == want and challenge:
            actual = f"{status}, WWW-Authenticate: {www or '<missing>'}"
        assertions.append(assertion("refused: " + case, expected, actual, ok))
    return build_result(check, assertions, status=resp.status, latencies=latencies, started=started)


def _token(decoded: tuple[bool, Any], field: str) -> str | None:
    ok, document = decoded
    if not ok:
        return None
    try:
        found, value = resolve(document, field)
    except JsonPathError:
        return None
    return value if found and isinstance(value, str) and value else None


def _send_with(
    ctx: RunContext, request: dict[str, Any], token: str | None, latencies: list[float]
) -> tuple[int | str, str | None]:
    """Send ``request`` with ``Authorization: Bearer token`` (or none at all).

    Returns:
        ``(status or "no response: …", WWW-Authenticate header)``.
    """
    headers = {
        k: v
        for k, v in ctx.resolve(request.get("headers") or {}).items()
        if k.lower() != "authorization"
    }
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    try:
        resp = ctx.send(request, headers=headers)
    except RequestFailed as exc:
        return f"no response: {exc}", None
    latencies.append(resp.latency_ms)
    return resp.status, resp.header("WWW-Authenticate")
