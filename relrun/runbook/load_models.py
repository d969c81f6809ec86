"""Runbook sections for drilling your own service: its sandbox commands and its load mix.

``sandbox`` says how `relrun drill` (no inventory) starts *your* application as stable and
canary instead of the demo API; ``load`` is the request mix of relrun's load generator for
any HTTP API (the same model reads a mix file: ``relrun sandbox up --mix FILE``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from relrun.runbook.base import StrictModel

Command = Annotated[list[str], Field(min_length=1)]
Status = Annotated[int, Field(ge=100, le=599)]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class SandboxApp(StrictModel):
    """Your application, started by the sandbox as stable and as canary."""

    stable: Command = Field(
        description="argv starting the old version; `{port}` is replaced by the port to "
        "listen on (127.0.0.1), `{version}` and `{name}` by the server's. Also given as the "
        "environment variables `PORT`, `RELRUN_VERSION` and `RELRUN_SERVER`."
    )
    canary: Command | None = Field(
        default=None, description="argv starting the new version; default the same as `stable`."
    )
    health_path: str = Field(
        default="/health", pattern=r"^/", description="GET here answers 200 once it serves."
    )
    cwd: str | None = Field(
        default=None,
        description="Directory the commands run in, relative to the runbook; default the "
        "runbook's directory.",
    )
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict, description="Extra environment variables (literals, not secrets)."
    )


class SandboxSection(StrictModel):
    """How the private sandbox of `relrun drill` (no `-i`) runs your service."""

    app: SandboxApp | None = Field(
        default=None, description="Your application; default relrun's demo messaging API."
    )


class MixRequest(StrictModel):
    """One kind of request of the load mix."""

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    path: str = Field(pattern=r"^/", description="Path and query, e.g. `/items?limit=5`.")
    headers: dict[HeaderName, str] = Field(default_factory=dict, description="Sent as given.")
    json_body: Any = Field(
        default=None, alias="json", description="A JSON body (sent as application/json)."
    )
    weight: int = Field(default=1, ge=1, description="Relative share of the mix.")
    ok: list[Status] = Field(
        default_factory=list,
        description="Statuses that count as success; default any status below 400. A 5xx "
        "is never a success (lost, unless the drill injected it).",
    )
    auth: bool = Field(default=True, description="Send the login's token (when `login` is set).")
    idempotency_key: bool = Field(
        default=False,
        description="Send a fresh `Idempotency-Key` header, so a router may safely retry it.",
    )


class MixLogin(StrictModel):
    """An optional login before the requests: its token goes into a header of each request."""

    method: Literal["POST", "GET", "PUT"] = "POST"
    path: str = Field(pattern=r"^/", description="The login endpoint.")
    json_body: dict[str, Any] = Field(
        default_factory=dict, alias="json", description="Non-secret fields of the login body."
    )
    credentials_file: str | None = Field(
        default=None,
        description="A JSON object file merged into the body (the secrets: never in a runbook).",
    )
    token_field: str = Field(
        default="access_token", description="Top-level key of the token in the JSON answer."
    )
    header: HeaderName = Field(default="Authorization", description="Header carrying it.")
    scheme: str = Field(default="Bearer", description="Prefix before the token; empty for none.")


class LoadMix(StrictModel):
    """What relrun's load generator sends: a weighted mix of requests, optionally logged in."""

    requests: list[MixRequest] = Field(min_length=1, description="The mix.")
    login: MixLogin | None = Field(default=None, description="Log in first (and on a 401).")

    @model_validator(mode="after")
    def _bodies_fit(self) -> LoadMix:
        for request in self.requests:
            if request.json_body is not None and request.method in {"GET", "HEAD"}:
                raise ValueError(f"{request.method} {request.path}: a GET or HEAD has no body")
        return self
