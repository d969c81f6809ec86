"""What the HTTP metric providers share: credentials by reference, one opener, TLS options.

Standard library and ``ansible.module_utils`` only (runs on the host that runs the
analysis). The Prometheus provider and the web/JSON one both read a bearer token or basic
auth from where the runbook says it is (never a value in the runbook), and send every
request of a reading through one opener with one TLS context: building them per request
costs more than the request.
"""

from __future__ import annotations

import base64
import urllib.request
from typing import Any

from ansible.module_utils.urls import make_context

from ..http.client import Tls
from ..http.credentials import CredentialsError, resolve_credentials
from .base import MetricsUnavailable


def auth_headers(auth: dict[str, Any] | None, base_dir: str | None, who: str) -> dict[str, str]:
    """The ``Authorization`` header from a credentials reference.

    Args:
        auth: ``token_env`` / ``token_file``, or ``username`` / ``username_env`` with
            ``password_env`` / ``password_file``.
        base_dir: relative credential files are relative to it.
        who: the provider, for messages (``Prometheus``, ``web guard X``).

    Raises:
        MetricsUnavailable: a referenced credential cannot be read (no value in the message).
    """
    auth = {k: v for k, v in (auth or {}).items() if v not in (None, "")}
    if not auth:
        return {}
    try:
        if "token_env" in auth or "token_file" in auth:
            token = resolve_credentials(
                {"password_env": auth.get("token_env"), "password_file": auth.get("token_file")},
                base_dir,
            )["password"]
            return {"Authorization": f"Bearer {token.strip()}"}
        resolved = resolve_credentials(auth, base_dir)
    except CredentialsError as err:
        raise MetricsUnavailable(f"{who} credentials: {err}") from None
    if "password" not in resolved:
        raise MetricsUnavailable(f"{who} credentials: no password or token referenced")
    pair = f"{resolved.get('username', '')}:{resolved['password']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def tls_from(settings: dict[str, Any] | None) -> Tls:
    """The TLS options of a provider's ``tls`` setting (no section: no proxy)."""
    tls = settings or {}
    return Tls(
        validate_certs=bool(tls.get("validate_certs", True)),
        ca_path=tls.get("ca_path") or None,
        client_cert=tls.get("client_cert") or None,
        client_key=tls.get("client_key") or None,
        use_proxy=bool(tls.get("use_proxy", False)),
    )


def build_opener(url: str, tls: Tls) -> urllib.request.OpenerDirector:
    """One opener for every request to ``url``'s server, with its TLS context and proxy rule."""
    handlers: list[urllib.request.BaseHandler] = []
    if not tls.use_proxy:
        handlers.append(urllib.request.ProxyHandler({}))
    if url.startswith("https://"):
        context = make_context(
            cafile=tls.ca_path,
            validate_certs=tls.validate_certs,
            client_cert=tls.client_cert,
            client_key=tls.client_key,
        )
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)
